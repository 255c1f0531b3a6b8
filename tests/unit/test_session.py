"""LabSession: the one rule for the current and open steps, and each verb's progress, saved.

The cluster half is a recording fake at our own boundary (session.StepActions); what the
verbs do on a real cluster is proven in tests/live (test_live_cli.py, test_live_half_done.py)."""

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from labrunner.checks import CheckResult
from labrunner.errors import UsageError
from labrunner.loader import discover_labs
from labrunner.progress import ProgressStore
from labrunner.runner import StepReport
from labrunner.session import LabSession

REPO = Path(__file__).resolve().parents[2]
SERVICES = discover_labs(REPO / "labs" / "services").labs[0]
A, B, C = (step.id for step in SERVICES.steps)  # three steps, in order
QUIZ = discover_labs(REPO / "labs" / "sidecars").labs[0]


class Actions:
    """Records the cluster half of each verb; reports what `verdicts` says for a step."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.verdicts: dict[str, bool] = {}

    def start_step(self, lab, step, *, namespace, on_progress=None):  # noqa: ANN001, ANN201
        self.calls.append(("start", step.id, namespace))

    def reach_step(self, lab, step, *, namespace, passed=frozenset(), on_progress=None):  # noqa: ANN001, ANN201
        self.calls.append(("reach", step.id, namespace, frozenset(passed)))

    def solve_step(self, lab, step, *, namespace):  # noqa: ANN001, ANN201
        self.calls.append(("solve", step.id, namespace))
        return "because"

    def reset_step(self, lab, step, *, namespace, on_progress=None):  # noqa: ANN001, ANN201
        self.calls.append(("reset-step", step.id, namespace))

    def reset_lab(self, lab, *, namespace, on_progress=None):  # noqa: ANN001, ANN201
        self.calls.append(("reset-lab", lab.id, namespace))

    def run_checks(self, lab, step, *, namespace, answers):  # noqa: ANN001, ANN201
        ok = self.verdicts.get(step.id, False)
        result = CheckResult.passed("there") if ok else CheckResult.failed("not there")
        return StepReport(lab.id, step.id, (replace(result, check_id="c", title="c"),))

    def watch_checks(self, lab, step, *, namespace, answers, on_report, stop):  # noqa: ANN001, ANN201
        failing = self.run_checks(lab, step, namespace=namespace, answers=answers)
        on_report(replace(failing, results=tuple(r.while_settling("kube-proxy lags") for r in failing.results)))
        on_report(failing)
        self.verdicts[step.id] = True
        on_report(self.run_checks(lab, step, namespace=namespace, answers=answers))


@pytest.fixture
def session(tmp_path):
    return LabSession(SERVICES, store=ProgressStore(tmp_path / "progress.json"), actions=Actions())


def passed(session, *step_ids):
    for step_id in step_ids:
        session.actions.verdicts[step_id] = True
        session.check(session.lab.step(step_id))


def test_the_current_step_is_the_first_not_passed_until_one_is_started(session):
    assert session.current_step().id == A
    assert [session.is_open(i) for i in range(3)] == [True, False, False]
    passed(session, A)
    assert session.current_step().id == B
    assert [session.is_open(i) for i in range(3)] == [True, True, False]


def test_a_started_step_stays_current_until_it_passes_then_the_learner_moves_on(session):
    session.start(session.step(C))  # `labrunner start services <third step>`, earlier steps not passed
    assert session.current_step().id == C
    assert [session.is_open(i) for i in range(3)] == [True, False, True]  # open because current; the second is not
    passed(session, C)
    assert session.current_step().id == A  # nothing after it: the first not passed before it
    passed(session, A)
    assert session.current_step().id == B
    passed(session, B)
    assert session.current_step().id == C  # every step passed: the one last started
    assert all(session.is_open(i) for i in range(3))


def test_every_step_passed_with_one_started_gives_the_one_started(session):
    session.start(session.step(B))
    passed(session, A, B, C)
    assert session.current_step().id == B


def test_a_named_step_is_always_allowed_and_an_unknown_one_is_bad_input(session):
    assert session.step(C).id == C
    with pytest.raises(UsageError, match=rf"lab services has no step 'nope' \(steps: {A}, {B}, {C}\)"):
        session.step("nope")


def test_start_remembers_the_step_and_catch_up_skips_what_passed(session):
    passed(session, A)
    session.start(session.step(C), catch_up=True)
    assert session.actions.calls == [("reach", C, "lab-services", frozenset({A}))]
    assert session.progress().lab("services").current_step == C
    other = LabSession(SERVICES, store=session.store, actions=session.actions)
    other.start(other.step(B), remember=False)  # the TUI remembers on its own, once set up
    assert session.progress().lab("services").current_step == C


def test_reach_brings_the_cluster_and_the_progress_to_step_n(session):
    session.reach(session.step(C))
    assert session.actions.calls == [("reach", C, "lab-services", frozenset())]
    assert session.statuses()[:2] == ["passed", "passed"] and session.current_step().id == C


def test_check_records_the_verdict_and_watch_records_no_settling_report(session):
    step = session.step(A)
    assert not session.check(step).passed
    seen = []
    session.watch(step, on_report=seen.append, stop=threading.Event())
    assert [r.settling for r in seen] == [True, False, False]
    state = session.progress().lab("services").step(A)
    assert state.attempts == 3 and state.status == "passed"  # one check, two verdicts in the watch
    session.check(step, record=False)
    assert session.progress().lab("services").step(A).attempts == 3
    assert session.record(session.check(step, record=False)) == "passed"  # the status before it


def test_hint_solve_and_reset_save_their_progress(session):
    step = session.step(A)
    number, text = session.hint(step)
    assert number == 1 and "${LAB_NAMESPACE}" not in text
    assert session.solve(step) == "because"
    assert session.progress().lab("services").step(A).solved
    session.reset(step)
    assert session.progress().lab("services").step(A).hints_shown == 0
    passed(session, B)
    session.reset()
    assert session.statuses() == ["not-started"] * 3
    assert [c[0] for c in session.actions.calls] == ["solve", "reset-step", "reset-lab"]


def test_a_quiz_is_answered_never_solved(tmp_path):
    session = LabSession(QUIZ, store=ProgressStore(tmp_path / "progress.json"), actions=Actions())
    quiz = next(step for step in QUIZ.steps if step.is_quiz)
    with pytest.raises(UsageError, match=f"`labrunner answer sidecars {quiz.id} CHOICE` answers it"):
        session.solve(quiz)
    assert session.actions.calls == []
    result = session.answer(quiz, quiz.quiz.choices[0].id)
    assert session.progress().answers("sidecars")[quiz.id] == quiz.quiz.choices[0].id
    assert session.progress().lab("sidecars").step(quiz.id).attempts == 1
    assert result.status.value in ("pass", "fail")
