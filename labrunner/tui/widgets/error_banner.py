"""A banner with the server's own message and how to retry; never a crash."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...errors import ClusterUnreachable, Forbidden, LabrunnerError


def describe_error(error: BaseException) -> tuple[str, str]:
    """(headline, message) for a failure in a worker."""
    if isinstance(error, ClusterUnreachable):
        return "Cluster unreachable", str(error)
    if isinstance(error, Forbidden):
        return "Forbidden by the cluster", str(error)
    if isinstance(error, LabrunnerError):
        return "The cluster refused", str(error)
    # Not the cluster's fault but still no crash: show it, keep the app alive.
    return "Something broke", f"{type(error).__name__}: {error}"


class ErrorBanner(Static):
    """Hidden until `show_error`; `r` on the screen retries what failed."""

    def show_error(self, what: str, error: BaseException) -> None:
        headline, message = describe_error(error)
        text = Text()
        text.append(f"{headline} while {what}: ", style="bold")
        text.append(message)
        text.append("   r retry · esc dismiss", style="italic")
        self.update(text)
        self.display = True

    def clear(self) -> None:
        self.display = False
