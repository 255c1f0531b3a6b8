"""The lab list: one row per lab with its progress and what the cluster lacks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.text import Text
from textual.widgets import DataTable

from ...model import Lab

if TYPE_CHECKING:
    from ...capabilities import Capability
    from ...loader import BrokenLab
    from ...progress import Progress


def cluster_cell(lab: Lab, features: dict[str, Capability] | None, reachable: bool | None) -> Text:
    """"ok", what the cluster lacks for the lab ("✘ loadbalancer"), "?" without a cluster, or "checking…"."""
    if not lab.needs:
        return Text("ok", style="green")
    if reachable is False:
        return Text("?", style="dim")
    if features is None:
        return Text("checking…", style="italic dim")
    from ...capabilities import unmet_cached  # after the first paint: the list shows "checking…" until then

    missing = unmet_cached(features, lab.needs)
    if missing:
        return Text("✘ " + ",".join(u.requirement for u in missing), style="bold red")
    return Text("ok", style="green")


def progress_cell(lab: Lab, progress: Progress) -> Text:
    state = progress.lab(lab.id)
    done = sum(1 for s in lab.steps if state.step(s.id).status == "passed")
    style = "bold green" if done == len(lab.steps) else ("yellow" if done else "")
    return Text(f"{done}/{len(lab.steps)}", style=style)


class LabTable(DataTable):
    COLUMNS = ("Lab", "Level", "Time", "Done", "Cluster")
    OTHER_WIDTHS = 12 + 7 + 4 + 15 + 2 * 5 + 2  # the other columns, cell padding, scrollbar

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._shown: tuple | None = None
        self._add_columns()

    def _add_columns(self) -> None:
        for column in self.COLUMNS:
            self.add_column(column, key=column, width=self.title_width() if column == "Lab" else None)

    def title_width(self) -> int:
        """The title column takes what the others leave, so the table fits 80 columns."""
        return max(16, self.app.size.width - self.OTHER_WIDTHS)

    def on_resize(self) -> None:
        if self.columns and self.ordered_columns[0].width != self.title_width() and self._shown:
            row = self.cursor_row
            self.clear(columns=True)
            self._add_columns()
            self.show(*self._shown)
            self.move_cursor(row=row)

    def show(self, labs: list[Lab], progress: Progress, features: dict[str, Capability] | None,
             reachable: bool | None, broken: Sequence[BrokenLab] = ()) -> None:
        """Fill or refresh the rows, keeping the cursor where it was: the labs, then the
        broken lab folders (marked, so a learner sees why a lab is missing)."""
        self._shown = (labs, progress, features, reachable, broken)
        for lab in labs:
            cells = (Text(lab.title, overflow="ellipsis", no_wrap=True), lab.difficulty.value, f"~{lab.minutes} min", progress_cell(lab, progress),
                     cluster_cell(lab, features, reachable))
            if lab.id in self.rows:
                for column, value in zip(self.COLUMNS, cells):
                    self.update_cell(lab.id, column, value, update_width=True)
            else:
                self.add_row(*cells, key=lab.id)
        for lab in broken:
            key = f"broken/{lab.name}"  # "/" is never in a lab id
            if key not in self.rows:
                self.add_row(Text(f"{lab.name}: broken lab files", style="red", overflow="ellipsis", no_wrap=True),
                             "", "", "", Text("✘ broken", style="bold red"), key=key)
