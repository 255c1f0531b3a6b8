"""The first screen: every lab, its progress, and whether this cluster can run it."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from ...errors import LabrunnerError
from ...model import Lab
from ..features import missing_features
from ..messages import ClusterProbed, FeaturesDetected
from ..widgets.cluster_status import ClusterStatus
from ..widgets.error_banner import ErrorBanner
from ..widgets.lab_table import LabTable
from .working import WorkingScreen


def lab_details(lab: Lab, features: dict[str, bool | None] | None) -> Text:
    text = Text()
    text.append(f"{lab.title}\n", style="bold")
    text.append(f"{lab.summary.strip()}\n")
    text.append("Topics: ", style="bold")
    text.append(", ".join(lab.topics) + f"   {len(lab.steps)} steps\n")
    if lab.requires:
        text.append("Needs: ", style="bold")
        missing = set(missing_features(lab.requires, features))
        for i, feature in enumerate(lab.requires):
            text.append(", " if i else "")
            unknown = features is not None and features.get(feature) is None
            text.append(feature + (" (missing on this cluster)" if feature in missing else
                                   " (shows when a check tries it)" if unknown else ""),
                        style="bold red" if feature in missing else "")
    return text


class LabListScreen(WorkingScreen):
    BINDINGS = [
        Binding("enter", "open_lab", "Open lab", priority=True),
        Binding("r", "retry", "Refresh"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.features: dict[str, bool | None] | None = None
        self.reachable: bool | None = None

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
        self.call_after_refresh(self.probe_cluster)  # paint first, then load the client and ask

    def on_screen_resume(self) -> None:
        self.refresh_table()  # the lab view or the CLI may have changed progress

    @property
    def labs(self) -> list[Lab]:
        return self.app.labs

    def refresh_table(self) -> None:
        progress = self.app.store.read()  # says once what is wrong with the file
        self.query_one(LabTable).show(self.labs, progress, self.features, self.reachable)
        self.show_details()

    def selected_lab(self) -> Lab | None:
        table = self.query_one(LabTable)
        if not self.labs or table.cursor_row < 0:
            return None
        return self.labs[table.cursor_row]

    def show_details(self) -> None:
        lab = self.selected_lab()
        if lab is not None:
            self.query_one("#lab-details", Static).update(lab_details(lab, self.features))
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
        self.post_message(FeaturesDetected(self.app.backend.features()))

    def on_cluster_probed(self, message: ClusterProbed) -> None:
        self.reachable = not message.error
        self.query_one(ClusterStatus).show(message.info, message.version, message.error)
        self.refresh_table()
        if self.reachable and self.features is None:
            self.detect_features()

    def on_features_detected(self, message: FeaturesDetected) -> None:
        self.features = message.features
        self.refresh_table()
