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


def report_table(report: StepReport) -> Table:
    """One row per check: its mark, then title, message and details, wrapped with a hanging indent."""
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(width=1, no_wrap=True)
    table.add_column(ratio=1)
    for result in report.results:
        mark, colour = SETTLING_MARK if result.settling else MARKS[result.status.value]
        body = Text()
        body.append(f"{result.title or result.check_id}\n", style="bold")
        body.append(result.message)
        for line in result.details:
            body.append(f"\n  {line}", style="dim")
        table.add_row(Text(mark, style=f"bold {colour}"), body)
    return table


class CheckPanel(VerticalScroll):
    """Shows a state line (`show_state`) or the latest report (`show_report`)."""

    report: StepReport | None = None  # what is shown now; None while a state line is

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
        self.query_one("#check-results", Static).update(report_table(report))
