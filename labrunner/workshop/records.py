"""A seat's results, kept where the instructor can read them: one ConfigMap per lab, in the seat's
namespace for that lab, rewritten (server-side apply) after each verb that changes the learner's
progress (a verdict, a hint, a start, a reset).

The seat may write ConfigMaps only in its own namespaces, and the instructor reads every record of a
workshop with one list or watch by label (grid.py). A ConfigMap, not a custom resource: no CRD to
install and remove, and the seat's RBAC already covers ConfigMaps because labs use them. A learner
can write their own record by hand as they can any ConfigMap of theirs: the room view is what each
seat's labrunner says, as a learner's `progress.json` is; the verdicts an instructor can trust are
the ones `labrunner check` makes with the instructor's own kubeconfig.

The record's data (all strings, as a ConfigMap holds them):
- `workshop`, `seat`, `lab`: whose and what;
- `steps`: JSON, one {"id", "status", "attempts", "hints", "solved", "passedAt"} per step, in the lab's
  order; status is the progress file's (passed, failed, error, not-started);
- `current`: the step the learner is on; `currentSince`: when the seat arrived at it (ISO 8601 UTC),
  kept while `current` stays the same, so the room view tells minutes on the step;
- `updatedAt`: when the record was written.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from .seats import Seat

if TYPE_CHECKING:
    from ..cluster import Cluster
    from ..model import Lab
    from ..progress import Progress

RECORD_NAME = "labrunner-progress"
RECORD_LABEL = "labrunner.dev/record"  # value "progress": what the room view lists and watches
SEAT_LABEL = "labrunner.dev/seat"
_log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record_body(seat: Seat, lab: Lab, progress: Progress, *, namespace: str, current: str,
                previous: dict | None = None, at: str | None = None) -> dict:
    """The ConfigMap recording `seat`'s `progress` in `lab`; `previous` (the record as it was, or None)
    keeps `currentSince` while the current step is unchanged. `at`: the time to write (default: now)."""
    from ..cluster.applying import LAB_LABEL, MANAGED_BY, WORKSHOP_LABEL

    at = at or now_iso()
    state = progress.lab(lab.id)
    steps = [{"id": s.id, "status": state.step(s.id).status, "attempts": state.step(s.id).attempts,
              "hints": state.step(s.id).hints_shown, "solved": state.step(s.id).solved,
              "passedAt": state.step(s.id).passed_at} for s in lab.steps]
    before = (previous or {}).get("data") or {}
    since = before.get("currentSince") if before.get("current") == current and before.get("currentSince") else at
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": RECORD_NAME, "namespace": namespace,
                     "labels": {WORKSHOP_LABEL: seat.workshop, SEAT_LABEL: seat.name, LAB_LABEL: lab.id,
                                RECORD_LABEL: "progress", MANAGED_BY: "labrunner"}},
        "data": {"workshop": seat.workshop, "seat": seat.name, "lab": lab.id, "steps": json.dumps(steps),
                 "current": current, "currentSince": since, "updatedAt": at},
    }


def publish_record(cluster: Cluster, seat: Seat, lab: Lab, progress: Progress, *, namespace: str, current: str) -> None:
    """Write the record of `seat` in `lab` (server-side apply). Raises what the API raises (Forbidden,
    ClusterUnreachable): the caller decides whether a learner's verb should suffer for it (it should not)."""
    from ..cluster.applying import Rendered, apply_object

    previous = cluster.get("ConfigMap", RECORD_NAME, namespace=namespace)
    body = record_body(seat, lab, progress, namespace=namespace, current=current, previous=previous)
    apply_object(cluster, Rendered(body, source="labrunner"), namespace=namespace)


def read_record(item: dict) -> dict[str, Any] | None:
    """A record ConfigMap as plain data ({workshop, seat, lab, steps: [...], current, currentSince,
    updatedAt}); None for one that does not hold a record (hand-edited into nonsense)."""
    data = item.get("data") or {}
    try:
        steps = json.loads(data.get("steps") or "[]")
    except json.JSONDecodeError:
        return None
    if not isinstance(steps, list) or not all(isinstance(s, dict) and isinstance(s.get("id"), str) for s in steps):
        return None
    return {"workshop": data.get("workshop", ""), "seat": data.get("seat", ""), "lab": data.get("lab", ""),
            "steps": steps, "current": data.get("current", ""), "currentSince": data.get("currentSince", ""),
            "updatedAt": data.get("updatedAt", "")}


class SeatRecorder:
    """What a LabSession calls after each change of progress on a seat: publishes the record, and on
    failure warns once (`on_warning`) and goes on: a learner's check must never fail for the room view."""

    def __init__(self, seat: Seat, cluster: Callable[[], Cluster], *, on_warning: Callable[[str], None] | None = None):
        self.seat = seat
        self._cluster = cluster
        self._on_warning = on_warning or _log.warning
        self._warned = False

    def __call__(self, lab: Lab, progress: Progress, *, namespace: str, current: str) -> None:
        from ..errors import LabrunnerError

        try:
            publish_record(self._cluster(), self.seat, lab, progress, namespace=namespace, current=current)
        except LabrunnerError as exc:
            if not self._warned:
                self._warned = True
                self._on_warning(f"could not record your progress for the instructor in {namespace}: {exc}")
