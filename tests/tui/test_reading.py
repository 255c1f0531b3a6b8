"""The reading pane's Markdown: namespace filled in, hints counted, solution on request."""

from labrunner.tui.reading import reading_markdown


def test_step_text_hints_and_solution(demo_labs):
    lab = demo_labs[0]
    step = lab.steps[0]
    plain = reading_markdown(lab, step, namespace="ns1", hints_shown=0, solution_shown=False)
    assert "kubectl -n ns1 get pods" in plain and "${LAB_NAMESPACE}" not in plain
    assert "Hint" not in plain and "Solution" not in plain
    hinted = reading_markdown(lab, step, namespace="ns1", hints_shown=2, solution_shown=True)
    assert "Hint 1 of 2" in hinted and "Hint 2 of 2" in hinted and "expose deployment web" in hinted
    assert "## Solution" in hinted and "targetPort: 8080" in hinted and "```yaml" in hinted


def test_quiz_shows_the_question(demo_labs):
    quiz = demo_labs[0].steps[1]
    text = reading_markdown(demo_labs[0], quiz, namespace="ns1", hints_shown=0, solution_shown=True)
    assert quiz.quiz.question in text and "## Solution" not in text


def test_a_solution_file_swapped_for_a_fifo_is_said_not_waited_on(demo_labs, tmp_path):
    import os
    import shutil
    from dataclasses import replace

    lab = demo_labs[0]
    copy = tmp_path / "demo"
    shutil.copytree(lab.path, copy)
    step = lab.steps[0]
    target = copy / step.solution.actions.apply[0].path
    target.unlink()
    os.mkfifo(target)  # an open for reading would wait for a writer forever
    text = reading_markdown(replace(lab, path=copy), step, namespace="ns1", hints_shown=0, solution_shown=True)
    assert f"# cannot show {step.solution.actions.apply[0].path}: is a FIFO, not a regular file" in text
