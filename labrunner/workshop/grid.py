"""The room view's data: seats by steps, from the records each seat's labrunner writes (records.py).

`room_grid` turns records into the grid (pure: the unit tests feed it records); `read_room` lists
them on the cluster with the instructor's kubeconfig; `watch_room` calls back on each change of a
record or a seat namespace, for the live screen.

A step's state in the grid: `passed`, `failing` (the last verdict was a fail), `error` (a check could
not run: the environment's fault, not the learner's) or `not-started`. A seat is **stuck** when it has
been on a step it has not passed for STUCK_MINUTES or more.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .records import RECORD_LABEL, read_record

if TYPE_CHECKING:
    from ..cluster import Cluster
    from ..model import Lab

STUCK_MINUTES = 10.0  # on one step without passing it: worth the instructor's walk over
GRID_STATES = {"passed": "passed", "failed": "failing", "error": "error", "errored": "error", "not-started": "not-started"}


def _minutes_since(iso: str, now: datetime) -> float | None:
    """Minutes from the ISO 8601 time `iso` to `now`; None for a time that is not one, or has no UTC
    offset (a record is hand-editable: a naive time cannot be compared with `now`)."""
    try:
        then = datetime.fromisoformat(iso)
        return max(0.0, (now - then).total_seconds() / 60.0)
    except (TypeError, ValueError, OverflowError):
        return None


def _count(value: Any) -> int:
    """A record's attempts or hints as a count: 0 for anything that is not a finite number >= 0 (a seat
    can write its own record by hand; nonsense must not stop the instructor's room view)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        return 0
    return max(0, int(value))


def records_of(name: str, items: Iterable[dict]) -> list[dict]:
    """The records of workshop `name` that the instructor can attribute, from record ConfigMaps as listed
    (read_record dicts). A seat may write any ConfigMap, with any labels and data, in its own namespaces
    only; so a record counts only where it sits: named RECORD_NAME in the namespace <name>-<seat>-<lab>
    that its own seat and lab name. One seat cannot make another look done or stuck, nor can another
    workshop's seat (or any other user of the cluster) appear in this room."""
    from .records import RECORD_NAME
    from .seats import Seat

    found = []
    for item in items:
        meta = item.get("metadata") or {}
        record = read_record(item)
        if record is None or record["workshop"] != name or meta.get("name") != RECORD_NAME:
            continue
        if not record["seat"] or not record["lab"] or meta.get("namespace") != Seat(name, record["seat"]).namespace(record["lab"]):
            continue
        found.append(record)
    return found


def room_grid(name: str, labs: Iterable[Lab], seats: Iterable[str], records: Iterable[dict], *,
              now: datetime | None = None, stuck_minutes: float = STUCK_MINUTES) -> dict[str, Any]:
    """The grid of workshop `name`: {"workshop", "labs": [{"id", "steps": [ids]}], "seats": [{"seat",
    "labs": {lab: {"current", "minutesOnStep", "stuck", "hints", "passed", "steps": [{"id", "state",
    "attempts", "hints"}]}}, "stuck"}], "stuck": [seats]}. `records` are read_record() dicts; a seat
    without one for a lab has every step not-started. Minutes are whole minutes, rounded down."""
    now = now or datetime.now(timezone.utc)
    labs = list(labs)
    by_seat: dict[tuple[str, str], dict] = {(r["seat"], r["lab"]): r for r in records}
    rows = []
    for seat in seats:
        row: dict[str, Any] = {"seat": seat, "labs": {}, "stuck": False}
        for lab in labs:
            record = by_seat.get((seat, lab.id))
            steps_seen = {s["id"]: s for s in (record or {}).get("steps", [])}
            steps = []
            for step in lab.steps:
                seen = steps_seen.get(step.id, {})
                steps.append({"id": step.id, "state": GRID_STATES.get(str(seen.get("status", "not-started")), "error"),
                              "attempts": _count(seen.get("attempts")), "hints": _count(seen.get("hints"))})
            cell: dict[str, Any] = {"current": None, "minutesOnStep": None, "stuck": False,
                                    "hints": sum(s["hints"] for s in steps),
                                    "passed": sum(1 for s in steps if s["state"] == "passed"), "steps": steps}
            if record is not None and record.get("current") in {step.id for step in lab.steps}:
                cell["current"] = record["current"]
                minutes = _minutes_since(record.get("currentSince", ""), now)
                cell["minutesOnStep"] = None if minutes is None else int(minutes)
                state = next((s["state"] for s in steps if s["id"] == record["current"]), "not-started")
                cell["stuck"] = state != "passed" and minutes is not None and minutes >= stuck_minutes
            row["labs"][lab.id] = cell
            row["stuck"] = row["stuck"] or cell["stuck"]
        rows.append(row)
    return {"workshop": name, "at": now.isoformat(timespec="seconds"),
            "labs": [{"id": lab.id, "steps": [s.id for s in lab.steps]} for lab in labs],
            "seats": rows, "stuck": [row["seat"] for row in rows if row["stuck"]]}


def read_room(cluster: Cluster, name: str, labs: Iterable[Lab], *, now: datetime | None = None) -> dict[str, Any]:
    """The grid of workshop `name` as its records on the cluster say now (room_grid). UsageError when
    there is no such workshop. The labs shown are those the workshop has namespaces for."""
    from ..cluster.applying import WORKSHOP_LABEL
    from ..errors import UsageError
    from .rooms import seats_of

    seats = seats_of(cluster, name)
    if not seats:
        raise UsageError(f"no workshop {name} on this cluster (`labrunner workshop create {name} --seats N` makes one)")
    lab_ids = {lab_id for ids in seats.values() for lab_id in ids}
    made = [lab for lab in labs if lab.id in lab_ids]
    items = cluster.list("ConfigMap", selector=f"{WORKSHOP_LABEL}={name},{RECORD_LABEL}=progress")
    return room_grid(name, made, list(seats), records_of(name, items), now=now)


def watch_room(cluster: Cluster, name: str, *, on_change: Callable[[], None], stop: threading.Event) -> None:
    """Call `on_change` (from other threads) on each change of workshop `name`'s records until `stop`;
    returns at once. One watch on ConfigMaps by label, cluster-wide (the instructor's right)."""
    from ..cluster.applying import WORKSHOP_LABEL
    from ..cluster.watching import watch_selector

    watch_selector(cluster, "ConfigMap", selector=f"{WORKSHOP_LABEL}={name},{RECORD_LABEL}=progress",
                   on_change=on_change, stop=stop)
