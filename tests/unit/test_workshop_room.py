"""The room view's data and exports, from records as seats write them (no cluster: pure functions)."""

import csv
import io
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from labrunner.errors import UsageError
from labrunner.loader import discover_labs
from labrunner.workshop.exports import export
from labrunner.workshop.grid import room_grid
from labrunner.workshop.rooms import choose_labs, why_not_shared

NOW = datetime(2026, 1, 1, 10, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def labs():
    return {lab.id: lab for lab in discover_labs(None).labs}


def record(seat, lab, statuses, *, current, since, hints=0):
    return {"workshop": "w", "seat": seat, "lab": lab.id, "current": current, "currentSince": since,
            "steps": [{"id": s.id, "status": st, "attempts": 1, "hints": hints} for s, st in zip(lab.steps, statuses)]}


def grid(labs):
    lab = labs["orchestration"]
    records = [record("seat-01", lab, ["passed", "failed", "not-started"], current="scale",
                      since="2026-01-01T10:05:00+00:00", hints=1),
               record("seat-02", lab, ["passed", "passed", "error"], current="rollout", since="2026-01-01T10:25:00+00:00")]
    return room_grid("w", [lab], ["seat-01", "seat-02", "seat-03"], records, now=NOW)


def test_the_grid_shows_states_minutes_hints_and_stuck_seats(labs):
    found = grid(labs)
    rows = {row["seat"]: row["labs"]["orchestration"] for row in found["seats"]}
    assert [s["state"] for s in rows["seat-01"]["steps"]] == ["passed", "failing", "not-started"]
    assert rows["seat-01"]["minutesOnStep"] == 25 and rows["seat-01"]["stuck"] and rows["seat-01"]["hints"] == 3
    assert [s["state"] for s in rows["seat-02"]["steps"]] == ["passed", "passed", "error"]
    assert rows["seat-02"]["minutesOnStep"] == 5 and not rows["seat-02"]["stuck"]
    assert rows["seat-03"]["current"] is None and all(s["state"] == "not-started" for s in rows["seat-03"]["steps"])
    assert found["stuck"] == ["seat-01"]


def test_a_seat_on_a_step_it_passed_is_not_stuck(labs):
    lab = labs["orchestration"]
    done = room_grid("w", [lab], ["seat-01"], [record("seat-01", lab, ["passed"] * 3, current="rollout",
                                                       since="2026-01-01T09:00:00+00:00")], now=NOW)
    assert done["stuck"] == []


def test_the_exports_say_the_same_as_the_grid(labs):
    found = grid(labs)
    rows = list(csv.DictReader(io.StringIO(export(found, "csv").decode())))
    assert len(rows) == 9
    assert rows[1] == {"seat": "seat-01", "lab": "orchestration", "step": "scale", "state": "failing", "attempts": "1",
                       "hints": "1", "current": "yes", "minutesOnStep": "25", "stuck": "yes"}
    root = ET.fromstring(export(found, "junit"))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("9", "1", "1", "4")
    page = export(found, "html").decode()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "Stuck (10 minutes or more on one step): seat-01" in page


def test_the_html_escapes_what_a_seat_wrote(labs):
    lab = labs["orchestration"]
    found = room_grid("w", [lab], ["<b>seat</b>"], [], now=NOW)
    assert "<b>seat</b>" not in export(found, "html").decode()


def test_labs_that_cannot_be_shared_are_refused_with_the_reason(labs):
    with pytest.raises(UsageError, match="lab storage: it creates the PersistentVolume orders-pv"):
        choose_labs(list(labs.values()), ["orchestration", "storage"])
    assert {lab.id for lab in choose_labs(list(labs.values()), None)} == {"netpol", "orchestration", "outside", "services", "sidecars"}
    with pytest.raises(UsageError, match="no lab 'nope'"):
        choose_labs(list(labs.values()), ["nope"])


def test_a_lab_that_does_not_declare_its_cluster_wide_objects_is_refused_all_the_same(labs):
    from dataclasses import replace

    undeclared = replace(labs["storage"], not_shareable="")
    assert "PersistentVolume/orders-pv" in why_not_shared(undeclared)
    assert "30080" in why_not_shared(replace(labs["exposing"], not_shareable=""))


def configmap(namespace, data, *, name="labrunner-progress"):
    """A record ConfigMap as the instructor's list returns it."""
    import json as _json

    data = {**data, "steps": _json.dumps(data["steps"])}
    return {"metadata": {"name": name, "namespace": namespace}, "data": data}


def test_a_seat_cannot_write_another_seats_record_from_its_own_namespace(labs):
    """Seat-01 may write ConfigMaps in its own namespaces only, and does: one that says it is seat-02's record
    (data and labels), one of another name, one of its own for another lab. The room believes only the record
    in the namespace the seat and lab name: <workshop>-<seat>-<lab>, labrunner-progress."""
    from labrunner.workshop.grid import records_of

    lab = labs["orchestration"]
    forged = record("seat-02", lab, ["passed"] * 3, current="rollout", since="2026-01-01T10:00:00+00:00")
    own_other_lab = record("seat-01", lab, ["passed"] * 3, current="rollout", since="2026-01-01T10:00:00+00:00")
    honest = record("seat-02", lab, ["failed", "not-started", "not-started"], current="self-heal",
                    since="2026-01-01T10:29:00+00:00")
    items = [configmap("w-seat-02-orchestration", honest),
             configmap("w-seat-01-orchestration", forged),
             configmap("w-seat-01-services", forged, name="other"),
             configmap("w-seat-01-services", own_other_lab),
             configmap("x-seat-02-orchestration", {**forged, "workshop": "x"}),
             configmap("w-seat-01-orchestration", {**forged, "workshop": "x"})]
    for order in (items, items[::-1]):
        found = room_grid("w", [lab], ["seat-01", "seat-02"], records_of("w", order), now=NOW)
        rows = {row["seat"]: row["labs"]["orchestration"] for row in found["seats"]}
        assert [s["state"] for s in rows["seat-02"]["steps"]] == ["failing", "not-started", "not-started"]
        assert rows["seat-02"]["current"] == "self-heal" and rows["seat-02"]["minutesOnStep"] == 1
        assert all(s["state"] == "not-started" for s in rows["seat-01"]["steps"]) and rows["seat-01"]["current"] is None


@pytest.mark.parametrize("step, since, current", [
    ({"attempts": "x"}, "2026-01-01T10:00:00+00:00", "self-heal"),
    ({"hints": [1]}, "2026-01-01T10:00:00+00:00", "self-heal"),
    ({"hints": float("inf")}, "2026-01-01T10:00:00+00:00", "self-heal"),
    ({"attempts": -5, "hints": {"a": 1}}, "2026-01-01T10:00:00+00:00", "self-heal"),
    ({"status": ["passed"]}, "2026-01-01T10:00:00+00:00", "self-heal"),
    ({}, "2026-01-01T10:00:00", "self-heal"),  # no offset: cannot be compared with an aware time
    ({}, "2026-01-01T10:00:00+00:00", "[bold]not a step[/"),
])
def test_a_hand_written_record_never_breaks_the_room_view(labs, step, since, current):
    """A seat writes its own record by hand: nonsense in it shows as nothing for that seat, never a
    traceback in the instructor's room view or export (every other seat's row still shows)."""
    from labrunner.workshop.grid import records_of

    lab = labs["orchestration"]
    bad = record("seat-01", lab, ["failed"], current=current, since=since)
    bad["steps"][0].update(step)
    good = record("seat-02", lab, ["passed"], current="self-heal", since="2026-01-01T10:00:00+00:00")
    items = [configmap("w-seat-01-orchestration", bad), configmap("w-seat-02-orchestration", good)]
    found = room_grid("w", [lab], ["seat-01", "seat-02"], records_of("w", items), now=NOW)
    rows = {row["seat"]: row["labs"]["orchestration"] for row in found["seats"]}
    assert rows["seat-02"]["steps"][0]["state"] == "passed" and rows["seat-02"]["minutesOnStep"] == 30
    mine = rows["seat-01"]
    assert all(isinstance(s["attempts"], int) and s["attempts"] >= 0 and isinstance(s["hints"], int) and s["hints"] >= 0
               for s in mine["steps"])
    assert mine["current"] in (None, "self-heal")
    for fmt in ("csv", "junit", "html"):
        assert export(found, fmt)
