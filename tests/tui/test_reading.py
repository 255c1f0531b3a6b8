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
