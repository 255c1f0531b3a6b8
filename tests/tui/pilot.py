"""Helpers for driving the app with a Pilot."""

from __future__ import annotations

import time
from typing import Callable

from textual.pilot import Pilot


async def wait_for(pilot: Pilot, condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "") -> None:
    """Let the app run until `condition` holds; thread workers report back asynchronously."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await pilot.pause(0.05)


def text_of(app, selector: str) -> str:  # noqa: ANN001
    return str(app.screen.query_one(selector).render())


def shown_status(app) -> str:  # noqa: ANN001
    """The status of the report the check panel shows ("pass", "fail", "error"), or ""."""
    report = app.screen.query_one("#checks").report
    return report.status.value if report else ""


def shown_messages(app) -> str:  # noqa: ANN001
    report = app.screen.query_one("#checks").report
    return "\n".join(f"{r.message} {' '.join(r.details)}" for r in report.results) if report else ""
