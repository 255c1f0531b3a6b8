"""One lab: read a step, watch its checks and the namespace, hints, solution, reset."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from ...errors import LabrunnerError
from ...model import Lab, Step
from ..messages import ActionProgressed, ChecksFinished, LabReset, ResourcesListed, SolutionApplied, StepReset, StepSetUp
from ..reading import reading_markdown
from ..widgets.check_panel import CheckPanel
from ..widgets.error_banner import ErrorBanner
from ..widgets.resource_panel import ResourcePanel
from ..widgets.step_text import StepText
from .confirm import ConfirmScreen
from .evidence import EvidenceScreen
from .working import WorkingScreen

if TYPE_CHECKING:
    from ...session import LabSession  # loaded on first use: the first paint does without the engine

_STEP_MARK = {"passed": ("✔", "green"), "current": ("▶", "bold yellow"), "open": ("○", ""), "locked": ("·", "dim")}


class LabViewScreen(WorkingScreen):
    BINDINGS = [
        Binding("c", "check", "Check"),
        Binding("e", "evidence", "Evidence"),
        Binding("h", "hint", "Hint"),
        Binding("s", "solution", "Solution"),
        Binding("a", "apply_solution", "Apply solution", show=False),
        Binding("n", "next_step", "Next"),
        Binding("p", "previous_step", "Prev", show=False),
        Binding("1", "copy_code(1)", "Copy code block 1-9", key_display="1-9", show=False),
        *[Binding(str(i), f"copy_code({i})", "", show=False) for i in range(2, 10)],
        Binding("x", "reset_step", "Reset step", show=False),
        Binding("X", "reset_lab", "Reset lab", key_display="X", show=False),
        Binding("r", "retry", "Retry what failed", show=False),
        Binding("escape", "dismiss_banner", "Back"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit", show=False),
    ]
    # Workers that take arguments are retried through these zero-argument methods.
    RETRY = {"set_up_step": "restart_step", "watch_checks": "restart_step", "check_now": "action_check",
             "apply_solution": "restart_step", "reset_step": "restart_step", "reset_lab": "restart_step"}

    def __init__(self, lab: Lab, *, namespace: str) -> None:
        super().__init__()
        self.lab = lab
        self.namespace = namespace
        self.index = 0
        self.revealed: set[str] = set()  # steps whose solution the learner chose to see
        self._watch_stop = threading.Event()
        self._resource_stop = threading.Event()
        self._resources_changed = threading.Event()
        self._busy = ""  # a cluster action running now; one at a time
        self._statuses: list[str] = []  # as of the last render_header, for check_action (called often)
        self._session: LabSession | None = None
        self._current = 0  # the session's current step, as of the last render_header

    @property
    def session(self) -> LabSession:
        """The learner's session with this lab: the step rule, the verbs, the progress saved."""
        if self._session is None:
            from ...session import LabSession

            self._session = LabSession(self.lab, store=self.app.store, actions=self.app.backend,
                                       namespace=self.namespace, recorder=self.app.recorder())
        return self._session

    @property
    def step(self) -> Step:
        return self.lab.steps[self.index]

    def compose(self) -> ComposeResult:
        yield Static(id="lab-header")
        yield ErrorBanner(id="banner")
        with Horizontal(id="lab-body"):
            with VerticalScroll(id="reading"):
                yield StepText(id="step-text")
                yield OptionList(id="quiz-choices")
            with Vertical(id="side"):
                yield CheckPanel(id="checks")
                yield ResourcePanel(id="resources")
        yield Footer()

    def on_mount(self) -> None:
        self.banner.clear()
        self.index = self.first_open_step()
        self.enter_step(self.index)
        self.app.track_stop(self._resource_stop)
        self.list_resources()

    def on_unmount(self) -> None:
        self.stop_watching()

    def stop_watching(self) -> None:
        self._watch_stop.set()
        self._resource_stop.set()
        self._resources_changed.set()  # wakes the listing loop, which then sees the stop

    # -- progress (the rule is LabSession's) ----------------------------------------
    def statuses(self) -> list[str]:
        return self.session.statuses()

    def first_open_step(self) -> int:
        return self.session.current_index()

    def unlocked(self, index: int, statuses: list[str] | None = None) -> bool:
        """Whether the learner may go to step `index` (LabSession.is_open), as of the last header."""
        if statuses is None and not self._statuses:
            return self.session.is_open(index)  # before the first header
        return self.session.is_open(index, statuses=statuses or self._statuses, current=self._current)

    # -- showing -----------------------------------------------------------------
    def render_header(self) -> None:
        """After every progress change: the header and which keys work now."""
        progress = self.session.progress()
        statuses = self._statuses = self.session.statuses(progress)
        self._current = self.session.current_index(progress)
        text = Text()
        text.append(f"{self.lab.title}", style="bold")
        text.append(f"  step {self.index + 1}/{len(self.lab.steps)} ")
        for i, status in enumerate(statuses):
            kind = ("current" if i == self.index else "passed" if status == "passed"
                    else "open" if self.unlocked(i, statuses) else "locked")
            mark, style = _STEP_MARK[kind]
            text.append(mark, style=style)
        self.query_one("#lab-header", Static).update(text)
        self.refresh_bindings()

    def render_reading(self) -> None:
        step = self.step
        hints = self.session.hints_shown(step)
        markdown = reading_markdown(self.lab, step, namespace=self.namespace, hints_shown=hints,
                                    solution_shown=step.id in self.revealed)
        self.run_worker(self.query_one(StepText).show(markdown), group="reading", exclusive=True)
        choices = self.query_one("#quiz-choices", OptionList)
        choices.display = step.is_quiz
        choices.clear_options()
        if step.quiz:
            choices.add_options([Option(f"{c.id}) {c.text}", id=c.id) for c in step.quiz.choices])

    def enter_step(self, index: int) -> None:
        self._watch_stop.set()  # the old step's watch ends
        self.index = index
        self.render_header()
        self.render_reading()
        self.query_one("#reading").scroll_home(animate=False)
        panel = self.query_one(CheckPanel)
        if self.step.is_quiz:
            panel.show_state("Answer the question on the left.")
            self.check_now(self.step)
            self.query_one("#quiz-choices", OptionList).focus()
        else:
            panel.show_state(f"Setting up the step in namespace {self.namespace}…")
            self.set_up_step(self.step)

    def restart_step(self) -> None:
        self._busy = ""
        self.enter_step(self.index)

    def worker_failed(self, name: str) -> None:
        if name in ("apply_solution", "reset_step", "reset_lab", "set_up_step"):
            self._busy = ""
            self.query_one(CheckPanel).show_state("Not set up: see the message above; r retries.")

    def action_back(self) -> None:
        self.stop_watching()
        self.app.pop_screen()

    # -- thread workers ------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="setup")
    def set_up_step(self, step: Step) -> None:
        self.session.start(step, on_progress=self._progressed, remember=False)  # remembered once reported
        self.post_message(StepSetUp(step.id))

    def _progressed(self, text: str) -> None:
        """From a worker thread: a long action says what it waits for."""
        self.post_message(ActionProgressed(text))

    @work(thread=True, exclusive=True, exit_on_error=False, group="watch")
    def watch_checks(self, step: Step, stop: threading.Event) -> None:
        self.session.watch(step, stop=stop, record=False,  # recorded as shown: on_checks_finished
                           on_report=lambda report: self.post_message(ChecksFinished(report)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="check")
    def check_now(self, step: Step) -> None:
        self.post_message(ChecksFinished(self.session.check(step, record=False)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="action")
    def apply_solution(self, step: Step) -> None:
        self.session.solve(step)
        self.post_message(SolutionApplied(step.id))

    @work(thread=True, exclusive=True, exit_on_error=False, group="action")
    def reset_step(self, step: Step) -> None:
        self.session.reset(step, on_progress=self._progressed)
        self.post_message(StepReset(step.id))

    @work(thread=True, exclusive=True, exit_on_error=False, group="action")
    def reset_lab(self) -> None:
        self.session.reset(on_progress=self._progressed)
        self.post_message(LabReset())

    @work(thread=True, exclusive=True, exit_on_error=False, group="resources")
    def list_resources(self) -> None:
        """List the namespace now and after every change, until the screen goes."""
        stop, changed, backend = self._resource_stop, self._resources_changed, self.app.backend
        try:
            backend.watch_resources(self.namespace, on_change=changed.set, stop=stop)
        except LabrunnerError as exc:
            self.post_message(ResourcesListed(self.namespace, None, str(exc)))
        while not stop.is_set():
            changed.clear()
            try:
                self.post_message(ResourcesListed(self.namespace, backend.list_resources(self.namespace)))
            except LabrunnerError as exc:
                self.post_message(ResourcesListed(self.namespace, None, str(exc)))
            deadline = time.monotonic() + 10  # also refresh now and then: a watch may have broken
            while not stop.is_set() and not changed.is_set() and time.monotonic() < deadline:
                changed.wait(0.5)  # short waits, so a stop is seen soon
            stop.wait(0.3)  # one listing for a burst of events

    # -- what the workers report ----------------------------------------------------
    def on_action_progressed(self, message: ActionProgressed) -> None:
        panel = self.query_one(CheckPanel)
        if panel.report is None:  # a state line is showing: the action is still running
            panel.show_state(message.text[:1].upper() + message.text[1:] + "…")

    def on_step_set_up(self, message: StepSetUp) -> None:
        if message.step_id != self.step.id:
            return
        self.session.remember(self.step)
        self.query_one(CheckPanel).show_state("Checking…")
        self._watch_stop = threading.Event()
        self.app.track_stop(self._watch_stop)
        self.watch_checks(self.step, self._watch_stop)

    def on_checks_finished(self, message: ChecksFinished) -> None:
        report = message.report
        before = self.session.record(report)
        if report.step_id != self.step.id:
            return  # a late report of a step the learner left; recorded, not shown
        self.query_one(CheckPanel).show_report(report)
        self.render_header()
        if report.passed and before != "passed":
            last = self.index == len(self.lab.steps) - 1
            self.notify("Lab complete: every step passes." if last else "Step done: n opens the next step.",
                        title="✔ All checks pass", timeout=8)

    def on_solution_applied(self, message: SolutionApplied) -> None:
        self._busy = ""  # the session noted it solved
        self.notify("Solution applied; the checks re-run as the namespace changes.", timeout=6)

    def on_step_reset(self, message: StepReset) -> None:
        self._busy = ""  # the session forgot the step's progress
        self.revealed.discard(message.step_id)
        self.notify("The step is back to its start.")
        self.enter_step(self.index)

    def on_lab_reset(self, _: LabReset) -> None:
        self._busy = ""  # the session forgot the lab's progress
        self.revealed.clear()
        self.notify("The lab is back to its start.")
        self.enter_step(0)

    def on_resources_listed(self, message: ResourcesListed) -> None:
        self.query_one(ResourcePanel).show(message.namespace, message.view, message.error)

    @on(OptionList.OptionSelected, "#quiz-choices")
    def _answered(self, event: OptionList.OptionSelected) -> None:
        from ...report import StepReport

        step = self.step
        result = self.session.answer(step, str(event.option.id))
        self.query_one(CheckPanel).show_report(StepReport(self.lab.id, step.id, (result,)))
        self.render_header()
        if result.ok:
            self.notify("Right." if self.index == len(self.lab.steps) - 1 else "Right: n opens the next step.",
                        title="✔ All checks pass")

    # -- actions -------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out keys that do nothing on this step (shown, but disabled)."""
        if action == "apply_solution":
            return None if self.step.is_quiz or self.step.id not in self.revealed else True
        if action == "next_step":
            return True if self.index + 1 < len(self.lab.steps) and self.unlocked(self.index + 1) else None
        if action == "previous_step":
            return True if self.index > 0 else None
        return True

    def action_check(self) -> None:
        self.query_one(CheckPanel).show_state("Checking…")
        self.check_now(self.step)

    def action_evidence(self) -> None:
        """The evidence of the selected check (at first the first that did not pass); ←/→ there go to the
        others, and the one shown last stays selected."""
        panel = self.query_one(CheckPanel)
        if panel.report is None or not panel.report.results:
            self.notify("No check has reported yet.")
            return

        def selected(check_id: str | None) -> None:
            if check_id is not None:
                panel.select(check_id)

        self.app.push_screen(EvidenceScreen(panel.report, panel.selected_index()), selected)

    def action_hint(self) -> None:
        step = self.step
        if not step.hints:
            self.notify("This step has no hints.")
            return
        hint = self.session.hint(step)
        if hint is None:
            self.notify("No more hints." + ("" if step.is_quiz else " s shows the solution."))
            return
        self.notify(f"Hint {hint[0]} of {len(step.hints)}", timeout=3)
        self.render_reading()
        self.call_after_refresh(self.query_one("#reading").scroll_end, animate=False)

    def action_solution(self) -> None:
        step = self.step
        if step.is_quiz:
            self.notify("A quiz has no solution to apply: the explanation follows a right answer.")
            return
        if step.id in self.revealed:
            self.action_apply_solution()
            return

        def reveal(yes: bool | None) -> None:
            if yes:
                self.revealed.add(step.id)
                self.render_reading()
                self.call_after_refresh(self.query_one("#reading").scroll_end, animate=False)

        self.app.push_screen(ConfirmScreen("Show the solution of this step? Trying first teaches more; "
                                           "h reveals hints one at a time.", yes="Show it"), reveal)

    def action_apply_solution(self) -> None:
        step = self.step
        if self.not_idle():
            return

        def apply(yes: bool | None) -> None:
            if yes:
                self._busy = "applying the solution"
                self.query_one(CheckPanel).show_state("Applying the solution…")
                self.apply_solution(step)

        self.app.push_screen(ConfirmScreen(f"Apply the solution to namespace {self.namespace}? "
                                           "This changes the cluster.", yes="Apply"), apply)

    def action_reset_step(self) -> None:
        step = self.step
        if self.not_idle():
            return

        def reset(yes: bool | None) -> None:
            if yes:
                self._busy = "resetting the step"
                self._watch_stop.set()
                self.query_one(CheckPanel).show_state("Resetting the step…")
                self.reset_step(step)

        self.app.push_screen(ConfirmScreen(f"Reset step {step.id}? What it and its solution created is "
                                           "deleted and it is set up again; its progress is forgotten.",
                                           yes="Reset step"), reset)

    def action_reset_lab(self) -> None:
        if self.not_idle():
            return

        def reset(yes: bool | None) -> None:
            if yes:
                self._busy = "resetting the lab"
                self._watch_stop.set()
                self.query_one(CheckPanel).show_state(f"Deleting namespace {self.namespace}…")
                self.reset_lab()

        self.app.push_screen(ConfirmScreen(f"Reset the whole lab? Namespace {self.namespace} is deleted and "
                                           "the lab's progress is forgotten.", yes="Reset lab"), reset)

    def not_idle(self) -> bool:
        if self._busy:
            self.notify(f"Wait: still {self._busy}.", severity="warning")
        return bool(self._busy)

    def action_next_step(self) -> None:
        if self.check_action("next_step", ()):
            self.enter_step(self.index + 1)

    def action_previous_step(self) -> None:
        if self.index > 0:
            self.enter_step(self.index - 1)

    def action_copy_code(self, number: int) -> None:
        blocks = self.query_one(StepText).code_blocks()
        if number > len(blocks):
            self.notify(f"There is no code block {number} here." if blocks else "This step shows no code block.")
            return
        self.app.copy_to_clipboard(blocks[number - 1].code)
        first = blocks[number - 1].code.strip().splitlines()[0][:40] if blocks[number - 1].code.strip() else ""
        self.notify(f"Copied code block {number}: {first}", timeout=3)
