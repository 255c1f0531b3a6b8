"""The evidence of one check: what it expected and saw, its probes, reviews and events, and the commands
that show the same from the learner's shell (`e` in the lab view)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..widgets.check_panel import MARKS, SETTLING_MARK

if TYPE_CHECKING:
    from ...session import CheckResult, StepReport


def evidence_text(result: CheckResult) -> Text:
    """One check's verdict and evidence as the screen shows it: the verdict and message, the details, then
    expected and observed, each probe, review and event, and the commands to reproduce it."""
    mark, colour = SETTLING_MARK if result.settling else MARKS[result.status.value]
    text = Text()
    text.append(f"{mark} ", style=f"bold {colour}")
    text.append(f"{result.title or result.check_id}\n", style="bold")
    text.append(result.message)
    for line in result.details:
        text.append(f"\n  {line}", style="dim")
    evidence = result.evidence
    if evidence.expected or evidence.observed:
        text.append("\n\nExpected  ", style="bold")
        text.append(evidence.expected or "-")
        text.append("\nObserved  ", style="bold")
        text.append(evidence.observed or "-")
    # Probes, reviews and events, one a line, under a heading each (expected/observed are shown above).
    lines = [line for line in evidence.lines() if not line.startswith(("expected: ", "observed: "))]
    for heading, prefix, cut in (("Probes", "probe ", True), ("Access reviews", "SubjectAccessReview ", False),
                                 ("Events", "event: ", True)):
        shown = [line for line in lines if line.startswith(prefix)]
        if shown:
            text.append(f"\n\n{heading}", style="bold")
            for line in shown:
                text.append(f"\n  {line.removeprefix(prefix) if cut else line}")
    commands = evidence.reproduce(failing_only=result.status.value != "pass")
    if commands:
        text.append("\n\nReproduce", style="bold")
        text.append(" (y copies the first)", style="dim")
        for command in commands:
            text.append(f"\n  {command}", style="cyan")
    if not evidence:
        text.append("\n\nThis check gave no evidence beyond its message.", style="italic")
    return text


class EvidenceScreen(ModalScreen[str]):
    """Shows the evidence of one check of a report; ←/→ go to the other checks. Dismissed with the id of the
    check shown last, which the lab view keeps selected."""

    BINDINGS = [
        Binding("left,left_square_bracket", "move(-1)", "Previous check", key_display="←"),
        Binding("right,right_square_bracket", "move(1)", "Next check", key_display="→"),
        Binding("y", "copy", "Copy the first command"),
        Binding("escape,e,q", "close", "Close the evidence"),
    ]

    def __init__(self, report: StepReport, index: int) -> None:
        super().__init__()
        self.report = report
        self.index = max(0, min(index, len(report.results) - 1))

    @property
    def result(self) -> CheckResult:
        return self.report.results[self.index]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="evidence-box"):
            yield Static(id="evidence-text")

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        box = self.query_one("#evidence-box")
        box.border_title = f"Evidence: check {self.index + 1} of {len(self.report.results)}"
        box.border_subtitle = "← → other checks · y copy · esc close"
        self.query_one("#evidence-text", Static).update(evidence_text(self.result))
        box.scroll_home(animate=False)

    def action_move(self, step: int) -> None:
        self.index = (self.index + step) % len(self.report.results)
        self.show()

    def action_copy(self) -> None:
        commands = self.result.evidence.reproduce(failing_only=self.result.status.value != "pass")
        if not commands:
            self.notify("This check gives no command to reproduce it.")
            return
        self.app.copy_to_clipboard(commands[0])
        self.notify(f"Copied: {commands[0][:60]}", timeout=3)

    def action_close(self) -> None:
        self.dismiss(self.result.check_id)
