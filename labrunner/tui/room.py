"""`labrunner workshop status NAME` in a terminal: the live room view (screens/room.py) as its own app."""

from __future__ import annotations

import threading
from typing import Any, Callable

from textual.app import App

from ..model import Lab
from .screens.room import RoomScreen


class EngineRoom:
    """The screen's Room on the engine's verbs (workshop.grid) for one workshop and cluster."""

    def __init__(self, cluster: Any, name: str, labs: list[Lab]) -> None:
        self.cluster, self.name, self.labs = cluster, name, labs

    def read(self) -> dict:
        from ..workshop.grid import read_room

        return read_room(self.cluster, self.name, self.labs)

    def watch(self, *, on_change: Callable[[], None], stop: threading.Event) -> None:
        from ..workshop.grid import watch_room

        watch_room(self.cluster, self.name, on_change=on_change, stop=stop)


class RoomApp(App):
    TITLE = "labrunner workshop"

    def __init__(self, room: Any) -> None:
        super().__init__()
        self.room = room

    def on_mount(self) -> None:
        self.push_screen(RoomScreen(self.room))


def run_room(*, cluster: Any, name: str, labs: list[Lab]) -> int:
    """Show workshop `name`'s room until the instructor quits; exit code 0."""
    RoomApp(EngineRoom(cluster, name, labs)).run()
    return 0
