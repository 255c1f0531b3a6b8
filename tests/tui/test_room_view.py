"""The instructor's live room view, fed at our boundary (the screen's Room) with grids the engine's
room_grid made from records: it shows each seat's steps, marks the stuck, and reads again on a change."""

import threading
from datetime import datetime, timezone

import pytest

from labrunner.loader import discover_labs
from labrunner.tui.room import RoomApp
from labrunner.workshop.grid import room_grid

from .pilot import wait_for

NOW = datetime(2026, 1, 1, 10, 30, tzinfo=timezone.utc)


class ScriptedRoom:
    """A Room whose records change when the test says so, and whose watch reports that change."""

    name = "w"

    def __init__(self, lab):
        self.lab = lab
        self.records = []
        self.reads = 0
        self.on_change = None

    def read(self) -> dict:
        self.reads += 1
        return room_grid("w", [self.lab], ["seat-01", "seat-02"], list(self.records), now=NOW)

    def watch(self, *, on_change, stop: threading.Event) -> None:
        self.on_change = on_change


@pytest.mark.asyncio
async def test_the_room_shows_seats_by_steps_and_follows_changes():
    lab = {lab.id: lab for lab in discover_labs(None).labs}["orchestration"]
    room = ScriptedRoom(lab)
    app = RoomApp(room)
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.screen.query_one("#room-grid")
        await wait_for(pilot, lambda: table.row_count == 2, what="two seats")
        assert [str(c) for c in table.get_row_at(0)[1:4]] == ["·", "·", "·"]
        room.records = [{"workshop": "w", "seat": "seat-02", "lab": lab.id, "current": "scale",
                         "currentSince": "2026-01-01T10:00:00+00:00",
                         "steps": [{"id": "self-heal", "status": "passed", "attempts": 1, "hints": 0},
                                   {"id": "scale", "status": "failed", "attempts": 3, "hints": 2}]}]
        room.on_change()
        await wait_for(pilot, lambda: str(table.get_row_at(1)[2]) == "✘", what="seat-02's failing step")
        row = [str(c) for c in table.get_row_at(1)]
        assert row[1:3] == ["✔", "✘"] and row[-4:] == ["orchestration/scale", "30", "2", "STUCK"]
        assert "Stuck: seat-02" in str(app.screen.query_one("#room-summary").render())


def test_the_learners_tui_on_a_seat_works_in_the_seats_namespaces():
    from labrunner.tui.app import LabApp
    from labrunner.workshop.seats import Seat

    lab = {lab.id: lab for lab in discover_labs(None).labs}["services"]
    app = LabApp(backend=None, labs=[lab], seat=Seat("kube-101", "seat-07"))
    assert app.namespace_for(lab) == "kube-101-seat-07-services"
    assert app.recorder() is not None and LabApp(backend=None, labs=[lab]).recorder() is None
    assert LabApp(backend=None, labs=[lab]).namespace_for(lab) == "lab-services"
