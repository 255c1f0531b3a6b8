"""A learner's progress: step results, hints revealed, quiz answers.

Kept as JSON in the platform's per-user state folder (LABRUNNER_STATE_DIR
overrides it) and written atomically, so a crash never leaves half a file.
Changes go through `update_progress`, which re-reads the file under a lock: a
learner runs `check --wait` or `--watch` in one terminal and `hint` in another
(or the TUI), and no process may write back a copy read before the other's change.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import platformdirs

PROGRESS_FILE = "progress.json"
_VERSION = 1
T = TypeVar("T")


def state_dir() -> Path:
    override = os.environ.get("LABRUNNER_STATE_DIR")
    return Path(override) if override else Path(platformdirs.user_state_dir("labrunner"))


@dataclass
class StepProgress:
    status: str = "not-started"  # not-started | failed | error | passed
    hints_shown: int = 0
    solved: bool = False  # the learner asked labrunner to apply the solution
    answer: str | None = None  # quiz steps
    attempts: int = 0
    passed_at: str | None = None


@dataclass
class LabProgress:
    current_step: str | None = None
    steps: dict[str, StepProgress] = field(default_factory=dict)

    def step(self, step_id: str) -> StepProgress:
        return self.steps.setdefault(step_id, StepProgress())

    def passed(self) -> int:
        return sum(1 for s in self.steps.values() if s.status == "passed")


@dataclass
class Progress:
    labs: dict[str, LabProgress] = field(default_factory=dict)
    path: Path | None = None
    warning: str = ""  # set when a broken file was moved aside

    def lab(self, lab_id: str) -> LabProgress:
        return self.labs.setdefault(lab_id, LabProgress())

    def answers(self, lab_id: str) -> dict[str, str]:
        return {sid: s.answer for sid, s in self.lab(lab_id).steps.items() if s.answer is not None}

    def forget_lab(self, lab_id: str) -> None:
        self.labs.pop(lab_id, None)

    def forget_step(self, lab_id: str, step_id: str) -> None:
        self.lab(lab_id).steps.pop(step_id, None)

    def to_json(self) -> dict:
        return {"version": _VERSION, "labs": {lab_id: asdict(lab) for lab_id, lab in self.labs.items()}}


def load_progress(path: Path | None = None) -> Progress:
    """The saved progress, or an empty one; a broken file is moved aside, not fatal."""
    path = path or state_dir() / PROGRESS_FILE
    if not path.exists():
        return Progress(path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        labs = {
            lab_id: LabProgress(
                current_step=lab.get("current_step"),
                steps={sid: StepProgress(**step) for sid, step in (lab.get("steps") or {}).items()},
            )
            for lab_id, lab in data["labs"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
        os.replace(path, aside)
        return Progress(path=path, warning=f"the progress file was unreadable ({exc}); moved it to {aside}")
    return Progress(labs=labs, path=path)


def save_progress(progress: Progress, path: Path | None = None) -> Path:
    """Write atomically: a temporary file in the same folder, then os.replace."""
    path = path or progress.path or state_dir() / PROGRESS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(progress.to_json(), handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    progress.path = path
    return path


def update_progress(change: Callable[[Progress], T], path: Path | None = None) -> T:
    """Read the progress file, apply `change` to it, write it back, all under an exclusive lock on
    a lock file beside it, so concurrent labrunner processes (CLI, TUI) never lose each other's
    changes. Returns what `change` returned. Keep cluster work out of `change`: the lock is held
    while it runs.
    """
    path = path or state_dir() / PROGRESS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(f".{path.name}.lock")):
        progress = load_progress(path)
        result = change(progress)
        save_progress(progress, path)
    return result


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the block (flock on POSIX, msvcrt on Windows)."""
    with open(lock_path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
