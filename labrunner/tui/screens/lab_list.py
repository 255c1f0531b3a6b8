"""The first screen: every lab, its progress, and whether this cluster can run it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from ...errors import LabrunnerError
from ...model import Lab
from ..messages import ClusterProbed, FeaturesDetected
from ..widgets.cluster_status import ClusterStatus
from ..widgets.error_banner import ErrorBanner
from ..widgets.lab_table import LabTable
from .working import WorkingScreen

if TYPE_CHECKING:
    from ...capabilities import Capability
    from ...loader import BrokenLab


def lab_details(lab: Lab, features: dict[str, Capability] | None) -> Text:
    from ...capabilities import capability_of, unmet_cached  # not before the first paint

    text = Text()
    text.append(f"{lab.title}\n", style="bold")
    text.append(f"{lab.summary.strip()}\n")
    text.append("Topics: ", style="bold")
    text.append(", ".join(lab.topics) + f"   {len(lab.steps)} steps\n")
    if lab.needs:
        text.append("Needs: ", style="bold")
        missing = {u.requirement: u for u in unmet_cached(features or {}, lab.needs)}
        for i, requirement in enumerate(lab.needs):
            text.append(", " if i else "")
            found = (features or {}).get(capability_of(requirement))
            unknown = features is not None and (found is None or found.state is None)
            text.append(requirement + (" (missing on this cluster)" if requirement in missing else
                                       " (could not be found out)" if unknown else ""),
                        style="bold red" if requirement in missing else "")
        for unmet in missing.values():
            text.append(f"\n{unmet.requirement}: {unmet.why}" + (f"\nfix: {unmet.fix}" if unmet.fix else ""),
                        style="red")
    return text


def broken_summary(lab: BrokenLab, *, most: int = 8) -> str:
    """What is wrong with a broken lab folder, its first `most` problems, one a line."""
    lines = [f"The files of lab {lab.name} are broken, so it cannot be opened; the other labs work."]
    lines += [f"• {problem}" for problem in lab.problems[:most]]
    if len(lab.problems) > most:
        lines.append(f"… and {len(lab.problems) - most} more")
    lines.append(f"`labrunner validate {lab.shown}` lists every problem.")
    return "\n".join(lines)


class LabListScreen(WorkingScreen):
    BINDINGS = [
        Binding("enter", "open_lab", "Open lab", priority=True),
        Binding("r", "retry", "Refresh"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.features: dict[str, Capability] | None = None
        self.reachable: bool | None = None
        self.placed = False  # whether the cursor was put on the lab to take next

    def compose(self) -> ComposeResult:
        yield Static(Text("labrunner · labs", style="bold"), id="list-title")
        yield ErrorBanner(id="banner")
        yield LabTable(id="labs")
        yield Static(id="lab-details")
        yield ClusterStatus(id="cluster-status")
        yield Footer()

    def on_mount(self) -> None:
        self.banner.clear()
        self.query_one(ClusterStatus).show_probing()
        self.refresh_table()
        if self.app.labs_loaded:  # else the app asks once the labs are listed (LabApp.on_labs_loaded)
            self.call_after_refresh(self.probe_cluster)  # paint first, then load the client and ask

    def on_screen_resume(self) -> None:
        self.refresh_table()  # the lab view or the CLI may have changed progress

    @property
    def labs(self) -> list[Lab]:
        return self.app.labs

    def refresh_table(self) -> None:
        # Progress only once there are labs to show it for: reading it loads pydantic, which the
        # first paint must not wait for. It says once what is wrong with the file.
        progress = self.app.store.read() if self.labs or self.app.broken else None
        table = self.query_one(LabTable)
        table.show(self.labs, progress, self.features, self.reachable, self.app.broken)
        if self.labs and progress is not None and not self.placed:
            # Once, when the labs are first shown: on the lab to take next (a new learner's first).
            self.placed = True
            following = progress.next_lab(self.labs)
            table.move_cursor(row=self.labs.index(following) if following is not None else 0)
        self.show_details()

    def selected_lab(self) -> Lab | None:
        table = self.query_one(LabTable)
        if not 0 <= table.cursor_row < len(self.labs):
            return None
        return self.labs[table.cursor_row]

    def selected_broken(self) -> BrokenLab | None:
        """The broken lab folder under the cursor (its rows follow the labs')."""
        index = self.query_one(LabTable).cursor_row - len(self.labs)
        return self.app.broken[index] if 0 <= index < len(self.app.broken) else None

    def show_details(self) -> None:
        lab = self.selected_lab()
        broken = self.selected_broken() if lab is None else None
        if lab is not None:
            self.query_one("#lab-details", Static).update(lab_details(lab, self.features))
        elif broken is not None:
            self.query_one("#lab-details", Static).update(Text(broken_summary(broken), style="red"))
        else:
            waiting = "Reading the lab files…" if not self.app.labs_loaded else "No labs found: see docs/lab-format.md"
            self.query_one("#lab-details", Static).update(Text(waiting, style="italic"))

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.show_details()

    def action_open_lab(self) -> None:
        lab = self.selected_lab()
        if lab is not None:
            self.app.open_lab(lab)
        elif (broken := self.selected_broken()) is not None:
            self.notify(broken_summary(broken, most=3), severity="error", timeout=10)

    def action_retry(self) -> None:
        self.banner.clear()
        self.query_one(ClusterStatus).show_probing()
        self.probe_cluster()

    # -- workers -------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="cluster")
    def probe_cluster(self) -> None:
        backend = self.app.backend
        info = backend.info()
        try:
            version = backend.ping()
        except LabrunnerError as exc:
            self.post_message(ClusterProbed(info, "", str(exc)))
            return
        self.post_message(ClusterProbed(info, version))

    @work(thread=True, exclusive=True, exit_on_error=False, group="features")
    def detect_features(self) -> None:
        needs = [r for lab in self.labs for r in lab.needs]
        self.post_message(FeaturesDetected(self.app.backend.features(needs)))

    def on_cluster_probed(self, message: ClusterProbed) -> None:
        self.reachable = not message.error
        self.query_one(ClusterStatus).show(message.info, message.version, message.error)
        self.refresh_table()
        if self.reachable and self.features is None:
            self.detect_features()

    def on_features_detected(self, message: FeaturesDetected) -> None:
        self.features = message.features
        self.refresh_table()
