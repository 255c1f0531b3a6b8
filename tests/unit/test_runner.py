from pathlib import Path

import pytest

from labrunner import runner
from labrunner.checks import CheckResult, Status
from labrunner.errors import LabrunnerError
from labrunner.loader import find_curriculum, load_curriculum, load_lab
from labrunner.progress import Progress
from labrunner.session import answer_quiz, record_report, reveal_hint, shown_hints

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services():
    folder = REPO / "tests" / "fixtures" / "labs" / "nodeport-basics"
    return load_lab(folder, load_curriculum(find_curriculum(folder)))


def test_hints_are_revealed_one_at_a_time(services):
    progress = Progress()
    step = services.step("clusterip")
    shown = [reveal_hint(progress, services, step) for _ in range(len(step.hints) + 1)]
    assert [s[0] for s in shown[:-1]] == list(range(1, len(step.hints) + 1))
    assert shown[-1] is None
    assert progress.lab("nodeport-basics").step("clusterip").hints_shown == len(step.hints)
    assert shown_hints(progress, services, step) == list(step.hints)


def test_quiz_answers_are_judged_and_recorded(services):
    progress = Progress()
    step = services.step("externalname")
    assert answer_quiz(progress, services, step, "a").status is Status.FAIL
    assert progress.lab("nodeport-basics").step("externalname").status == "failed"
    assert answer_quiz(progress, services, step, "b").ok
    assert progress.lab("nodeport-basics").step("externalname").status == "passed"
    with pytest.raises(LabrunnerError, match="not a choice"):
        answer_quiz(progress, services, step, "z")


def test_step_report_status():
    ok = CheckResult.passed("ok")
    bad = CheckResult.failed("missing")
    broken = CheckResult.errored("cluster down")
    assert runner.StepReport("l", "s", (ok, ok)).status is Status.PASS
    assert runner.StepReport("l", "s", (ok, bad)).status is Status.FAIL
    assert runner.StepReport("l", "s", (bad, broken)).status is Status.ERROR
    assert runner.StepReport("l", "s", ()).status is Status.FAIL


def test_a_pass_is_kept_when_a_later_run_fails():
    progress = Progress()
    record_report(progress, runner.StepReport("l", "s", (CheckResult.passed("ok"),)))
    record_report(progress, runner.StepReport("l", "s", (CheckResult.failed("no"),)))
    state = progress.lab("l").step("s")
    assert state.status == "passed" and state.attempts == 2 and state.passed_at


def test_render_text_fills_in_the_namespace(services):
    assert runner.render_text(services, "kubectl -n ${LAB_NAMESPACE} get pods") == "kubectl -n lab-nodeport-basics get pods"
    assert runner.render_text(services, "${LAB_NAMESPACE}", namespace="x") == "x"


def test_cluster_scoped_kinds_cover_every_manifest(services):
    kinds = runner.cluster_scoped_kinds(services)
    assert ("apps/v1", "Deployment") in kinds and ("v1", "Service") in kinds
