"""The instructor's room view: seats by steps, live (`labrunner workshop status NAME`).

Fed by the engine: `room.read()` gives the grid (workshop.grid.read_room), `room.watch(...)` calls
back on each change of a seat's record (one watch by label). Changes come in bursts (a seat's watch
mode writes after each verdict), so the screen reads the grid at most once per READ_EVERY seconds,
and at least once a minute for the minutes on each step.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Protocol

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..messages import RoomRead

READ_EVERY = 1.0  # s: at most one read of the grid per burst of changes
REFRESH = 60.0  # s: minutes on a step change without any event
_MARK = {"passed": ("✔", "green"), "failing": ("✘", "red"), "error": ("!", "yellow"), "not-started": ("·", "dim")}


class Room(Protocol):
    """What the screen needs of the engine for one workshop."""

    name: str

    def read(self) -> dict: ...

    def watch(self, *, on_change: Callable[[], None], stop: threading.Event) -> None: ...


def grid_rows(grid: dict) -> tuple[list[str], list[list[Any]]]:
    """The table's column labels and rows for `grid`: seat, then a mark per step of each lab, then the
    current step with its minutes, hints and STUCK."""
    columns = ["seat"] + [f"{lab['id']}:{i + 1}" for lab in grid["labs"] for i in range(len(lab["steps"]))]
    columns += ["on step", "min", "hints", ""]
    rows = []
    for row in grid["seats"]:
        cells: list[Any] = [Text(row["seat"], style="bold red" if row["stuck"] else "")]
        current, minutes, hints = "", "", 0
        for lab in grid["labs"]:
            cell = row["labs"][lab["id"]]
            hints += cell["hints"]
            for step in cell["steps"]:
                mark, style = _MARK.get(step["state"], ("?", ""))
                cells.append(Text(mark, style=style))
            if cell["current"] and (cell["stuck"] or not current):
                current = f"{lab['id']}/{cell['current']}"
                minutes = "" if cell["minutesOnStep"] is None else str(cell["minutesOnStep"])
        cells += [current, minutes, str(hints), Text("STUCK", style="bold red") if row["stuck"] else ""]
        rows.append(cells)
    return columns, rows


class RoomScreen(Screen):
    BINDINGS = [Binding("r", "reread", "Read again"), Binding("q", "app.quit", "Quit")]

    def __init__(self, room: Room) -> None:
        super().__init__()
        self.room = room
        self._changed = threading.Event()
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Workshop {self.room.name}: reading…", id="room-summary")
        yield DataTable(id="room-grid", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.follow()

    def on_unmount(self) -> None:
        self._stop.set()
        self._changed.set()  # the worker waits on it: let it see the stop at once

    def action_reread(self) -> None:
        self._changed.set()

    @work(thread=True, exclusive=True, exit_on_error=False, group="room")
    def follow(self) -> None:
        """Read the grid now, then after each change (and every REFRESH s) until the screen goes."""
        try:
            self.room.watch(on_change=self._changed.set, stop=self._stop)
        except Exception as exc:  # noqa: BLE001 - shown, and reading still goes on every REFRESH s
            self.post_message(RoomRead(None, f"watching failed: {exc}"))
        while not self._stop.is_set():
            try:
                self.post_message(RoomRead(self.room.read()))
            except Exception as exc:  # noqa: BLE001 - the cluster blinked: say so, try again
                self.post_message(RoomRead(None, str(exc)))
            self._changed.wait(REFRESH)
            self._changed.clear()
            self._stop.wait(READ_EVERY)

    def on_room_read(self, message: RoomRead) -> None:
        summary = self.query_one("#room-summary", Static)
        if message.grid is None:
            summary.update(f"Workshop {self.room.name}: {message.error}")
            return
        grid = message.grid
        table = self.query_one("#room-grid", DataTable)
        columns, rows = grid_rows(grid)
        table.clear(columns=True)
        table.add_columns(*columns)
        for row in rows:
            table.add_row(*row)
        stuck = ", ".join(grid["stuck"]) or "none"
        summary.update(f"Workshop {grid['workshop']}: {len(grid['seats'])} seats at {grid['at']}. "
                       f"✔ passed ✘ failing ! error · not started. Stuck: {stuck}")
