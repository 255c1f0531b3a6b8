"""The TUI application and `run_tui`, which the CLI calls for `labrunner` alone."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from textual import work
from textual.app import App
from textual.binding import Binding

from ..model import Lab
from .backend import Backend, ClusterBackend
from .messages import LabsLoaded
from .screens.evidence import EvidenceScreen
from .screens.help import HelpScreen
from .screens.lab_list import LabListScreen, broken_summary

if TYPE_CHECKING:
    from ..loader import BrokenLab  # the loader itself loads in a worker, after the first paint
    from ..progress import ProgressStore
    from ..workshop.seats import Seat


def _driver_class():  # noqa: ANN202
    """QuittingDriver on POSIX terminals; Textual's own choice elsewhere, or when TEXTUAL_DRIVER names one."""
    import os

    if os.name != "posix" or os.environ.get("TEXTUAL_DRIVER"):
        return None
    from .driver import QuittingDriver

    return QuittingDriver


class LabApp(App):
    CSS_PATH = "labrunner.tcss"
    TITLE = "labrunner"
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", show=False),
    ]

    def __init__(self, backend: Backend, labs: list[Lab] | None = None, *, labs_dir: Path | None = None,
                 progress_path: Path | None = None, namespaces: Mapping[str, str] | None = None,
                 lab_id: str | None = None, seat: Seat | None = None) -> None:
        """`backend`: the engine on a cluster, `ClusterBackend(cluster)` (tests hand
        it a test cluster). `labs`: the labs, or None to load them from `labs_dir`
        (default: the engine's) in a worker after the first paint. `namespaces`
        maps a lab id to the namespace to work in (default: the lab's own).
        `lab_id` opens that lab at once. `seat`: a workshop's seat (workshop/seats.py), whose
        namespaces are <workshop>-<seat>-<lab> and whose progress is recorded for the room view."""
        super().__init__(driver_class=_driver_class())
        self.backend = backend
        self.labs: list[Lab] = list(labs or [])
        self.broken: list[BrokenLab] = []  # lab folders that did not load: listed, never opened
        self.labs_loaded = labs is not None
        self.labs_dir = labs_dir
        self._progress_path = progress_path
        self._store: ProgressStore | None = None
        self._store_lock = threading.Lock()
        self.namespaces = dict(namespaces or {})
        self.seat = seat
        self.start_lab = lab_id
        self._stops: list[threading.Event] = []

    @property
    def store(self) -> ProgressStore:
        """The engine's store, as the CLI's: every change re-read and saved under the file's lock,
        so a step finished with the CLI while the TUI is open is kept, and the other way round.
        Made on first use (by the lab-loading worker, after the first paint: it loads pydantic)."""
        with self._store_lock:
            if self._store is None:
                from ..progress import ProgressStore

                self._store = ProgressStore(self._progress_path, on_warning=self.warn_about_progress)
            return self._store

    def warn_about_progress(self, line: str) -> None:
        """What is wrong with the progress file or its folder, once per kind (from any thread)."""
        self.notify(line, title="Progress", severity="warning", timeout=15)

    def on_mount(self) -> None:
        self.push_screen(LabListScreen())
        if self.labs_loaded:
            self.open_start_lab()
        # After the first paint: reading every lab file and importing the
        # kubernetes client take the GIL for most of a second.
        self.call_after_refresh(self.load_labs if not self.labs_loaded else self.load_engine)

    @work(thread=True, exit_on_error=False, group="engine")
    def load_labs(self) -> None:
        from ..labcache import load_labs_cached

        try:
            report = load_labs_cached(self.labs_dir)
        except Exception as exc:  # never leave the list at "Reading the lab files…"
            self.post_message(LabsLoaded([], [f"the lab files could not be read: {type(exc).__name__}: {exc}"]))
        else:
            from .. import progress  # noqa: F401  (pydantic: imported here rather than in the event loop)

            self.post_message(LabsLoaded(report.labs, [str(p) for p in report.problems], report.broken))

    @work(thread=True, exit_on_error=False, group="engine")
    def load_engine(self) -> None:
        """Import the engine's cluster side (about half a second) and the lab view (Textual's Markdown
        widget) beside the first screen, which needs neither."""
        import labrunner.runner  # noqa: F401

        from .screens import lab_view  # noqa: F401

    def on_labs_loaded(self, message: LabsLoaded) -> None:
        self.labs, self.broken, self.labs_loaded = message.labs, message.broken, True
        if message.broken:
            names = ", ".join(b.name for b in message.broken)
            self.notify(f"{len(message.broken)} broken lab(s): {names}. The others work; `labrunner validate` "
                        "lists the problems.", severity="warning", timeout=10)
        elif message.problems:
            self.notify(f"{len(message.problems)} problem(s) in the lab files; `labrunner validate` lists them.",
                        severity="warning", timeout=10)
        for screen in self.screen_stack:
            if isinstance(screen, LabListScreen):
                screen.refresh_table()
                # The kubernetes client loads once the list is painted: beside the lab files it
                # would take the GIL from them for a third of a second.
                screen.call_after_refresh(screen.probe_cluster)
        self.call_after_refresh(self.load_engine)
        self.open_start_lab()

    def open_start_lab(self) -> None:
        if not self.start_lab:
            return
        lab = next((lab for lab in self.labs if lab.id == self.start_lab), None)
        broken = next((b for b in self.broken if b.name == self.start_lab), None)
        if broken is not None:
            self.notify(broken_summary(broken), severity="error", timeout=15)
        elif lab is None:
            known = ", ".join(lab.id for lab in self.labs) or "none"
            self.notify(f"No lab {self.start_lab!r} (labs: {known}).", severity="error", timeout=10)
        else:
            self.open_lab(lab)

    def namespace_for(self, lab: Lab) -> str:
        if lab.id not in self.namespaces and self.seat is not None:
            return self.seat.namespace(lab.id)
        return self.namespaces.get(lab.id, lab.namespace)

    def recorder(self):  # noqa: ANN201 - workshop.records.SeatRecorder | None
        """What records a seat's progress for the room view; None off a workshop."""
        if self.seat is None:
            return None
        from ..workshop.records import SeatRecorder

        return SeatRecorder(self.seat, lambda: self.backend.cluster)

    def open_lab(self, lab: Lab) -> None:
        from .screens.lab_view import LabViewScreen

        self.push_screen(LabViewScreen(lab, namespace=self.namespace_for(lab)))

    def track_stop(self, stop: threading.Event) -> None:
        """Watches to end when the app quits, so no worker thread outlives it."""
        self._stops = [s for s in self._stops if not s.is_set()] + [stop]

    def stop_watches(self) -> None:
        for stop in self._stops:
            stop.set()

    async def action_quit(self) -> None:
        self.stop_watches()
        driver = self._driver
        if hasattr(driver, "quitting"):  # our QuittingDriver: the process ends once the app returns
            driver.quitting = True
        self.exit()

    def on_unmount(self) -> None:
        self.stop_watches()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            from .screens.lab_view import LabViewScreen

            self.push_screen(HelpScreen([("Lab list", LabListScreen), ("Lab view", LabViewScreen),
                                         ("Evidence of a check", EvidenceScreen), ("Everywhere", LabApp)]))


def run_tui(*, kubeconfig: str | None = None, context: str | None = None, labs_dir: Path | None = None,
            lab_id: str | None = None) -> int:
    """Open the TUI (on `lab_id` if given); returns the exit code. Everything
    slow (lab files, the kubernetes client, the cluster) happens after the first paint."""
    from ..workshop.seats import seat_of

    seat = seat_of(kubeconfig, context)
    progress_path = None
    if seat is not None:
        from ..workshop.learning import seat_progress_path

        progress_path = seat_progress_path(seat)
    app = LabApp(ClusterBackend(kubeconfig=kubeconfig, context=context, keep_namespaces=seat is not None),
                 labs_dir=labs_dir, lab_id=lab_id, seat=seat, progress_path=progress_path)
    app.run()
    return app.return_code or 0
