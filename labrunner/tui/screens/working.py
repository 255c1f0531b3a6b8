"""A screen whose thread workers fail into a banner, with `r` to retry."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..widgets.error_banner import ErrorBanner

# What a worker was doing, by its name, for the banner.
DOING = {
    "probe_cluster": "contacting the cluster",
    "detect_features": "finding what the cluster offers",
    "set_up_step": "setting the step up",
    "check_now": "running the checks",
    "watch_checks": "watching the lab namespace",
    "apply_solution": "applying the solution",
    "reset_step": "resetting the step",
    "reset_lab": "resetting the lab",
    "list_resources": "listing the namespace",
    "watch_resources": "watching the namespace",
}


class WorkingScreen(Screen):
    BINDINGS = [
        Binding("r", "retry", "Retry", show=False),
        Binding("escape", "dismiss_banner", "Dismiss", show=False),
    ]

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._failed: str | None = None  # name of the worker method to re-run

    @property
    def banner(self) -> ErrorBanner:
        return self.query_one(ErrorBanner)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one handler for every worker failure on this screen."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._failed = event.worker.name
            self.banner.show_error(DOING.get(event.worker.name, event.worker.name), event.worker.error)
            self.worker_failed(event.worker.name)
        elif event.state is WorkerState.SUCCESS and event.worker.name == self._failed:
            self._failed = None
            self.banner.clear()

    def worker_failed(self, name: str) -> None:
        """Screens put their panels back in a sane state here."""

    # Worker name -> the zero-argument method that retries it (default: the worker itself).
    RETRY: dict[str, str] = {}

    def action_retry(self) -> None:
        if self._failed is None:
            return
        failed, self._failed = self._failed, None
        self.banner.clear()
        getattr(self, self.RETRY.get(failed, failed))()

    def action_dismiss_banner(self) -> None:
        if self.banner.display:
            self.banner.clear()
        else:
            self.action_back()

    def action_back(self) -> None:
        """Escape with no banner showing."""
