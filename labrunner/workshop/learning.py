"""What changes for a learner on a workshop seat, besides the namespaces (seats.Seat.namespace) and
the record for the room view (records.SeatRecorder): the progress file."""

from __future__ import annotations

from pathlib import Path

from .seats import Seat


def seat_progress_path(seat: Seat) -> Path:
    """The seat's own progress file, `progress-<workshop>-<seat>.json` beside the learner's `progress.json`:
    a workshop's steps are not the learner's progress on their own cluster, and the other way round."""
    from ..progress import state_dir

    return state_dir() / f"progress-{seat.id}.json"
