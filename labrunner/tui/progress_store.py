"""The engine's progress file, shared with the CLI.

Every change re-reads the file first, under the lock the CLI takes too, so a
step finished with the CLI while the TUI is open is kept, and the other way round.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, TypeVar

from ..progress import PROGRESS_FILE, Progress, load_progress, state_dir, update_progress

T = TypeVar("T")


class ProgressStore:
    def __init__(self, path: Path | None = None):
        self.path = path or state_dir() / PROGRESS_FILE
        self._lock = threading.Lock()  # workers and the UI thread both write

    def read(self) -> Progress:
        with self._lock:
            return load_progress(self.path)

    def update(self, change: Callable[[Progress], T]) -> T:
        """Load, change, save atomically under the progress file's lock; returns what `change` returned."""
        with self._lock:
            return update_progress(change, self.path)
