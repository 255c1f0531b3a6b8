"""The live check panel: each check's verdict with its message."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from typing import TYPE_CHECKING

from textual.widgets import Static

if TYPE_CHECKING:
    from ...report import StepReport

# By status value: the engine's Status is a str enum, and importing it would
# load the kubernetes client before the first paint.
MARKS = {"pass": ("✔", "green"), "fail": ("✘", "red"), "error": ("⚠", "yellow")}
SUMMARY = {"pass": "all pass", "fail": "not there yet", "error": "a check could not run"}
# A fail shown while the truth it observes may still lag the API: not a verdict yet.
SETTLING_MARK, SETTLING_SUMMARY = ("…", "cyan"), "settling, checking again"


def report_table(report: StepReport, selected: str = "") -> Table:
    """One row per check: its mark, then title, message and details, wrapped with a hanging indent; the
    check whose id is `selected` (the one `e` shows the evidence of) is marked with ▸."""
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(width=1, no_wrap=True)
    table.add_column(ratio=1)
    for result in report.results:
        mark, colour = SETTLING_MARK if result.settling else MARKS[result.status.value]
        body = Text()
        if selected and result.check_id == selected:
            body.append("▸ ", style="bold reverse")
        body.append(f"{result.title or result.check_id}\n", style="bold")
        body.append(result.message)
        for line in result.details:
            body.append(f"\n  {line}", style="dim")
        table.add_row(Text(mark, style=f"bold {colour}"), body)
    return table


class CheckPanel(VerticalScroll):
    """Shows a state line (`show_state`) or the latest report (`show_report`)."""

    report: StepReport | None = None  # what is shown now; None while a state line is
    selected: str = ""  # the id of the check the learner last looked at the evidence of; "" before that

    def compose(self):  # noqa: ANN201
        yield Static(id="check-results")

    def on_mount(self) -> None:
        self.border_title = "Checks"

    def show_state(self, state: str) -> None:
        self.report = None
        self.border_subtitle = ""
        self.query_one("#check-results", Static).update(Text(state, style="italic"))

    def show_report(self, report: StepReport) -> None:
        self.report = report
        status = report.status.value
        if report.settling and status == "fail":
            mark, summary = SETTLING_MARK[0], SETTLING_SUMMARY
        else:
            mark, summary = MARKS[status][0], SUMMARY[status]
        self.border_subtitle = f"{mark} {summary}"
        self.set_class(status == "pass", "-passed")
        self.set_class(status == "error", "-errored")
        self.query_one("#check-results", Static).update(report_table(report, self.selected))

    def selected_index(self) -> int:
        """The index in the shown report of the selected check; before any selection (or when the check is
        gone) the first that did not pass, else the first."""
        results = self.report.results if self.report else ()
        ids = [r.check_id for r in results]
        if self.selected in ids:
            return ids.index(self.selected)
        return next((i for i, r in enumerate(results) if r.status.value != "pass"), 0)

    def select(self, check_id: str) -> None:
        """Mark the check `check_id` as the selected one and show it so."""
        self.selected = check_id
        if self.report is not None:
            self.query_one("#check-results", Static).update(report_table(self.report, self.selected))
