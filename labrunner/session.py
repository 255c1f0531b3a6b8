"""One learner's session with one lab: which steps are current and open, and every verb a learner
uses (start, check, watch, hint, answer, solve, reset), each saving progress under the progress
file's cross-process lock (progress.ProgressStore).

The faces hold a `LabSession` and never re-derive "current" or "done"; rustlings' `AppState`
plays this part there. The cluster half of each verb is a `StepActions` (actions.py:
`ClusterActions` on a real cluster; the TUI's tests hand in their own at that boundary).

The rule for steps, the same in the CLI and the TUI (README.md says it to learners):

- A step is **open** when it passed, when every step before it passed, or when it is current.
- The **current** step is the one the learner last started (`labrunner start LAB STEP`, or
  opened in the TUI) while it has not passed. Once it passed, the learner has moved on: the
  first step after it that has not passed, else the first not passed before it. With nothing
  started, the first step not passed; with every step passed, the one last started (or the
  last step).

A step named explicitly (`labrunner check LAB --step S`) is always allowed: the learner asked
for it, and `start --catch-up` brings the namespace there.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable, Protocol, TypeVar

from .actions import ClusterActions, OnProgress, OnReport, StepActions, connect_cluster, ping_cluster
from .checks import CheckContext, CheckResult, Status, check_kinds, plugin_problems, run_check
from .errors import UsageError
from .model import CheckSpec, Lab, Step
from .progress import Progress, ProgressStore
from .report import StepReport

# What the faces may name of the check machinery, from here (the import contract keeps them
# out of labrunner.checks and labrunner.cluster): a result and its status, the kinds for the
# schema, and what is wrong with a plug-in.
__all__ = ["CheckResult", "ClusterActions", "LabSession", "OnProgress", "OnReport", "Status", "StepActions", "StepReport",
           "answer_quiz", "check_kinds", "connect_cluster", "ping_cluster", "plugin_problems", "record_report",
           "reveal_hint", "shown_hints", "step_named"]


T = TypeVar("T")


class Recorder(Protocol):
    """Told a lab's progress after each change (a workshop seat's record for the room view)."""

    def __call__(self, lab: Lab, progress: Progress, *, namespace: str, current: str) -> None: ...


def step_named(lab: Lab, step_id: str) -> Step:
    """The step `step_id` of `lab`. Raises UsageError naming the lab's steps when it has none of that id."""
    try:
        return lab.step(step_id)
    except KeyError:
        raise UsageError(f"lab {lab.id} has no step {step_id!r} (steps: {', '.join(s.id for s in lab.steps)})") from None


# -- the progress side of the verbs: pure changes of a Progress, made under the store's lock ----------

def record_report(progress: Progress, report: StepReport) -> None:
    """Count a verdict in the learner's progress; a report made while settling is no verdict."""
    if report.settling:
        return
    step = progress.lab(report.lab_id).step(report.step_id)
    step.attempts += 1
    if report.passed:
        if step.status != "passed":
            step.passed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        step.status = "passed"
    elif step.status != "passed":
        step.status = report.status.value + ("ed" if report.status is Status.FAIL else "")


def answer_quiz(progress: Progress, lab: Lab, step: Step, choice: str) -> CheckResult:
    """Record a quiz answer and judge it. Raises UsageError for a step that is no quiz or a choice it does not offer."""
    if step.quiz is None:
        raise UsageError(f"step {step.id} is not a quiz")
    if choice not in {c.id for c in step.quiz.choices}:
        raise UsageError(f"{choice!r} is not a choice; pick one of {', '.join(c.id for c in step.quiz.choices)}")
    progress.lab(lab.id).step(step.id).answer = choice
    ctx = CheckContext(cluster=None, namespace=lab.namespace, lab=lab, step=step,  # type: ignore[arg-type]
                       answers=progress.answers(lab.id))
    result = run_check(ctx, CheckSpec(id="answer", kind="quiz", params={}, title="quiz answer"))
    record_report(progress, StepReport(lab.id, step.id, (result,)))
    return result


def reveal_hint(progress: Progress, lab: Lab, step: Step) -> tuple[int, str] | None:
    """The next hint (1-based number, text), counted; None when all are shown."""
    state = progress.lab(lab.id).step(step.id)
    if state.hints_shown >= len(step.hints):
        return None
    state.hints_shown += 1
    return state.hints_shown, step.hints[state.hints_shown - 1]


def shown_hints(progress: Progress, lab: Lab, step: Step) -> list[str]:
    """The hints of `step` the learner has revealed, in order."""
    return list(step.hints[: progress.lab(lab.id).step(step.id).hints_shown])


class LabSession:
    """One learner and one lab: the step rule (see the module) and the verbs, saving progress.

    `namespace` is where the lab runs (default lab-<id>; the TUI's tests and `dev check` use
    others). `actions` does the cluster half (default: a ClusterActions connecting on first use).
    Every change of progress goes through `store.update`, which re-reads the file under its lock,
    so a CLI command and a TUI open on the same lab never lose each other's changes.
    """

    def __init__(self, lab: Lab, *, store: ProgressStore, actions: StepActions | None = None,
                 namespace: str | None = None, recorder: Recorder | None = None):
        self.lab = lab
        self.store = store
        self.actions: StepActions = actions if actions is not None else ClusterActions()
        self.namespace = namespace or lab.namespace
        # A workshop seat's: told the progress after each change (workshop.records.SeatRecorder).
        self.recorder = recorder

    def _update(self, change: Callable[[Progress], T]) -> T:
        """store.update(change), then the recorder (if any) told the progress as saved."""
        result = self.store.update(change)
        if self.recorder is not None:
            progress = self.progress()
            self.recorder(self.lab, progress, namespace=self.namespace, current=self.current_step(progress).id)
        return result

    # -- the step rule ---------------------------------------------------------------
    def progress(self) -> Progress:
        """The learner's progress now (a fresh read)."""
        return self.store.read()

    def statuses(self, progress: Progress | None = None) -> list[str]:
        """Each step's status ("passed", "failed", "errored", "not-started"), in the lab's order."""
        state = (progress or self.progress()).lab(self.lab.id)
        return [state.step(s.id).status for s in self.lab.steps]

    def current_index(self, progress: Progress | None = None) -> int:
        """The index of the current step (the rule is in the module's docstring)."""
        progress = progress or self.progress()
        statuses = self.statuses(progress)
        recorded = progress.lab(self.lab.id).current_step
        ids = [s.id for s in self.lab.steps]
        started = ids.index(recorded) if recorded in ids else None
        if started is not None and statuses[started] != "passed":
            return started
        first = 0 if started is None else started + 1
        for index in [*range(first, len(ids)), *range(first)]:
            if statuses[index] != "passed":
                return index
        return len(ids) - 1 if started is None else started

    def current_step(self, progress: Progress | None = None) -> Step:
        return self.lab.steps[self.current_index(progress)]

    def is_open(self, index: int, progress: Progress | None = None, *, statuses: list[str] | None = None,
                current: int | None = None) -> bool:
        """True when the learner may go to step `index` (0-based): it passed, every step before it
        passed, or it is current. `statuses` and `current` (as `statuses()` and `current_index()`
        gave them) spare a face that asks often a read of the progress file."""
        if statuses is None:
            progress = progress or self.progress()
            statuses = self.statuses(progress)
        if statuses[index] == "passed" or all(s == "passed" for s in statuses[:index]):
            return True
        return index == (current if current is not None else self.current_index(progress))

    def step(self, step_id: str | None = None, progress: Progress | None = None) -> Step:
        """The step named `step_id`, or the current one when None. Raises UsageError for an id the lab does not have."""
        if step_id:
            return step_named(self.lab, step_id)
        return self.current_step(progress)

    def answers(self) -> dict[str, str]:
        """The learner's quiz answers in this lab, by step id."""
        return self.progress().answers(self.lab.id)

    def hints_shown(self, step: Step) -> int:
        return self.progress().lab(self.lab.id).step(step.id).hints_shown

    def render(self, text: str) -> str:
        """A text of the lab as the learner types it: `${LAB_NAMESPACE}` filled in with this session's namespace."""
        return self.lab.render(text, namespace=self.namespace)

    # -- verbs ---------------------------------------------------------------------------
    def start(self, step: Step, *, catch_up: bool = False, on_progress: OnProgress | None = None,
              remember: bool = True) -> None:
        """Set `step` up on the cluster; with `catch_up`, first the setup and solution of every
        earlier step not passed (runner.reach_step). With `remember` (the default) the step
        becomes the current one; the TUI remembers it itself once the set-up is reported, so a
        set-up the learner left meanwhile does not take "current" back."""
        if catch_up:
            passed = frozenset(s.id for s, status in zip(self.lab.steps, self.statuses()) if status == "passed")
            self.actions.reach_step(self.lab, step, namespace=self.namespace,  # type: ignore[attr-defined]
                                    passed=passed, on_progress=on_progress)
        else:
            self.actions.start_step(self.lab, step, namespace=self.namespace, on_progress=on_progress)
        if remember:
            self.remember(step)

    def remember(self, step: Step) -> None:
        """Record `step` as the one the learner last started."""
        self._update(lambda p: setattr(p.lab(self.lab.id), "current_step", step.id))

    def reach(self, step: Step, *, on_progress: OnProgress | None = None) -> None:
        """The state a learner who solved every earlier step reaches `step` in, on the cluster
        (runner.reach_step) and in the progress (earlier steps passed, `step` current): for
        demonstrations and benchmarks that start in the middle of a lab."""
        self.actions.reach_step(self.lab, step, namespace=self.namespace,  # type: ignore[attr-defined]
                                on_progress=on_progress)

        def reached(progress: Progress) -> None:
            state = progress.lab(self.lab.id)
            for earlier in self.lab.steps[: self.lab.step_index(step.id)]:
                state.step(earlier.id).status = "passed"
            state.current_step = step.id

        self._update(reached)

    def record(self, report: StepReport) -> str:
        """Count a verdict in the progress (record_report: a settling report is no verdict);
        the step's status before it, so a face can tell a step that has just passed."""
        def change(progress: Progress) -> str:
            before = progress.lab(report.lab_id).step(report.step_id).status
            record_report(progress, report)
            return before

        return self._update(change)

    def check(self, step: Step, *, wait: float | None = None, on_report: OnReport | None = None,
              record: bool = True) -> StepReport:
        """Run `step`'s checks once, or with `wait` re-run failing ones until they pass or `wait`
        seconds passed (settling reports go to `on_report`); with `record`, the verdict is counted.
        A quiz is judged on the saved answer, without a cluster. Never raises for a cluster fault
        inside a check (an `error` result); raises when the cluster cannot be reached at all."""
        if wait is None or step.is_quiz:
            report = self.actions.run_checks(self.lab, step, namespace=self.namespace, answers=self.answers())
        else:
            report = self.actions.settle_checks(self.lab, step, namespace=self.namespace,  # type: ignore[attr-defined]
                                                answers=self.answers(), seconds=wait, on_report=on_report)
        if record:
            self.record(report)
        return report

    def namespace_note(self, step: Step) -> str | None:
        """Why every check of `step` would fail now whatever the learner did, or None (ClusterActions.namespace_note)."""
        return self.actions.namespace_note(self.lab, step, namespace=self.namespace)  # type: ignore[attr-defined]

    def watch(self, step: Step, *, on_report: OnReport, stop: threading.Event, record: bool = True) -> None:
        """Check `step` now and after each change of the namespace until `stop` is set; each
        report goes to `on_report`, each verdict (not a settling report) counted first with `record`."""

        def seen(report: StepReport) -> None:
            if record and not report.settling:
                self.record(report)
            on_report(report)

        self.actions.watch_checks(self.lab, step, namespace=self.namespace, answers=self.answers(), on_report=seen,
                                  stop=stop)

    def hint(self, step: Step) -> tuple[int, str] | None:
        """Reveal and count the next hint: (1-based number, text with the namespace filled in); None when all are shown."""
        hint = self._update(lambda p: reveal_hint(p, self.lab, step))
        return None if hint is None else (hint[0], self.render(hint[1]))

    def answer(self, step: Step, choice: str) -> CheckResult:
        """Record and judge a quiz answer (counted as a verdict). Raises UsageError for a step that
        is no quiz or a choice it does not offer."""
        return self._update(lambda p: answer_quiz(p, self.lab, step, choice))

    def solve(self, step: Step) -> str:
        """Apply `step`'s solution and note that it was solved; its explanation. Raises UsageError for
        a quiz (before any cluster work) and for a namespace absent or being deleted."""
        if step.is_quiz:
            raise UsageError(f"step {step.id} has no solution to apply (it is a quiz); "
                             f"`labrunner answer {self.lab.id} {step.id} CHOICE` answers it")
        explanation = self.actions.solve_step(self.lab, step, namespace=self.namespace)
        self._update(lambda p: setattr(p.lab(self.lab.id).step(step.id), "solved", True))
        return explanation

    def reset(self, step: Step | None = None, *, on_progress: OnProgress | None = None) -> None:
        """Put `step` back to its start (its objects deleted, set up again), or with no step remove
        everything the lab created; then forget its progress. Waits until the deleted objects are gone."""
        if step is None:
            self.actions.reset_lab(self.lab, namespace=self.namespace, on_progress=on_progress)
            self._update(lambda p: p.forget_lab(self.lab.id))
        else:
            self.actions.reset_step(self.lab, step, namespace=self.namespace, on_progress=on_progress)
            self._update(lambda p: p.forget_step(self.lab.id, step.id))
