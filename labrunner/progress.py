"""A learner's progress: step results, hints revealed, quiz answers.

Kept as JSON in the platform's per-user state folder (LABRUNNER_STATE_DIR overrides it). A
learner runs `check --watch` in one terminal and `hint` in another, or the TUI beside the CLI,
so every write goes through `update_progress` (or `ProgressStore.update`, which the CLI and the
TUI use): under a lock on a file beside it, it reads the file anew, applies one change and
replaces the file atomically; no process writes back a copy read before another's change.

Nothing in the file stops labrunner (`load_progress` never raises):
- a value of the wrong type resets that one entry, with a warning; the file as it was is kept
  beside it (`progress.json.reset-<time>`);
- fields this version does not know (a newer labrunner wrote them) are kept and written back;
- a file that is not JSON at all is moved aside to a unique `progress.json.broken-<time>`;
- when the state folder cannot be written, labrunner says so in one line and goes on without
  saving (`ProgressStore` then keeps the changes in memory for the session).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Sequence, TypeVar

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from . import statefile
from .settings import settings

if TYPE_CHECKING:
    from .model import Lab

PROGRESS_FILE = "progress.json"
VERSION = 1
MAX_BYTES = 8 * 1024 * 1024  # progress for every lab is a few kB; more is not ours
MAX_DEPTH = 32  # progress nests 5 deep; room for what newer versions add
_LEGACY_TEMP_PREFIX = ".progress-"  # temporary files of labrunner before the lock held every write
T = TypeVar("T")
OnWarning = Callable[[str], None]
_log = logging.getLogger(__name__)


def state_dir() -> Path:
    """The folder holding the progress file: LABRUNNER_STATE_DIR, else the platform's per-user
    state folder (platformdirs: ~/.local/state/labrunner on Linux)."""
    override = settings().state_dir
    return override if override else Path(platformdirs.user_state_dir("labrunner"))


def progress_path() -> Path:
    return state_dir() / PROGRESS_FILE


# -- the file's shape ---------------------------------------------------------------------

Count = Annotated[int, Field(ge=0)]


class _Record(BaseModel):
    # strict: "2" is no count and 1 no flag; extra: fields a newer labrunner wrote survive a save
    model_config = ConfigDict(strict=True, extra="allow")


class StepProgress(_Record):
    status: str = "not-started"  # not-started | failed | error | passed (others, from newer versions, kept)
    hints_shown: Count = 0
    solved: bool = False  # the learner asked labrunner to apply the solution
    answer: str | None = None  # quiz steps
    attempts: Count = 0
    passed_at: str | None = None  # ISO 8601, UTC


class LabProgress(_Record):
    current_step: str | None = None
    steps: dict[str, StepProgress] = Field(default_factory=dict)

    def step(self, step_id: str) -> StepProgress:
        return self.steps.setdefault(step_id, StepProgress())

    def passed(self) -> int:
        return sum(1 for s in self.steps.values() if s.status == "passed")


class Progress(_Record):
    version: int = VERSION  # a newer file keeps its number: this version only adds to what it knows
    labs: dict[str, LabProgress] = Field(default_factory=dict)
    _path: Path | None = PrivateAttr(default=None)
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def path(self) -> Path | None:
        """The file this was read from (or last saved to)."""
        return self._path

    @property
    def warnings(self) -> list[str]:
        """What was wrong with the file when it was read, one line each (empty when nothing)."""
        return list(self._warnings)

    @property
    def warning(self) -> str:
        return "; ".join(self._warnings)

    def lab(self, lab_id: str) -> LabProgress:
        return self.labs.setdefault(lab_id, LabProgress())

    def next_lab(self, labs: Sequence[Lab]) -> Lab | None:
        """The lab a learner takes next: the first of `labs` (in learning order, as the loader gives
        them) with a step not passed; None when every one is done. A new learner's is the first lab."""
        for lab in labs:
            steps = self.labs[lab.id].steps if lab.id in self.labs else {}  # reading adds no entry
            if any(steps.get(step.id) is None or steps[step.id].status != "passed" for step in lab.steps):
                return lab
        return None

    def answers(self, lab_id: str) -> dict[str, str]:
        return {sid: s.answer for sid, s in self.lab(lab_id).steps.items() if s.answer is not None}

    def forget_lab(self, lab_id: str) -> None:
        self.labs.pop(lab_id, None)

    def forget_step(self, lab_id: str, step_id: str) -> None:
        self.lab(lab_id).steps.pop(step_id, None)

    def to_json(self) -> dict:
        """The file's content: every field, the unknown ones included, as they were read.

        Python mode, not pydantic's JSON mode: that one writes NaN and Infinity, which
        json.loads reads, as null; json.dumps writes them back as they were."""
        return self.model_dump()


# -- reading ----------------------------------------------------------------------------------

@dataclass
class _Read:
    """One reading of the file: the progress and what (if anything) must be done about it."""

    progress: Progress
    raw: bytes | None = None  # the file's bytes as read
    resets: list[str] = field(default_factory=list)  # entries reset: the file needs a repair
    broken: str = ""  # not progress at all: the file is to be moved aside
    unreadable: str = ""  # cannot be read (a folder, no permission): never overwritten


def _read(path: Path) -> _Read:
    try:
        raw = statefile.read_bytes(path, limit=MAX_BYTES)
    except statefile.Unreadable as exc:
        return _Read(Progress(), unreadable=str(exc))
    except ValueError as exc:
        return _Read(Progress(), broken=str(exc))
    if raw is None:
        return _Read(Progress())
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, numbers too long, nested too deep
        return _Read(Progress(), raw=raw, broken=_first_line(exc) or type(exc).__name__)
    if not isinstance(data, dict):
        return _Read(Progress(), raw=raw, broken=f"it holds {_JSON_KIND.get(type(data), 'a value')}, not an object")
    if _depth(data) > MAX_DEPTH:  # loads, but would not write back: pydantic's serializer stops earlier
        return _Read(Progress(), raw=raw, broken=f"it nests deeper than {MAX_DEPTH} levels")
    try:
        progress, resets = _validated(data)
    except ValidationError as exc:
        return _Read(Progress(), raw=raw, broken=_first_line(exc))
    return _Read(progress, raw=raw, resets=resets)


_JSON_KIND = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
              type(None): "null"}


def _validated(data: dict[str, Any]) -> tuple[Progress, list[str]]:
    """The progress in `data`, each value of the wrong type dropped (so its default applies)
    and named ("labs.x.steps.y.hints_shown was "two" (input should be a valid integer)").
    Pydantic reports every bad value with its location at once; a step or lab that is not an
    object is one such value, dropped whole. Raises ValidationError for an error it cannot drop."""
    resets: list[str] = []
    while True:
        try:
            return Progress.model_validate(data), resets
        except ValidationError as exc:
            dropped = 0
            for error in exc.errors(include_url=False):
                where = _drop(data, error["loc"])
                if where:
                    dropped += 1
                    resets.append(f"{where} was {_short(error['input'])} ({error['msg'][0].lower()}{error['msg'][1:]})")
            if not dropped:  # an error with no value to drop (none with these models): never loop
                raise


def _depth(data: object) -> int:
    """How deeply `data` nests (a scalar is 0), without recursion."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        todo.extend((child, level + 1) for child in children)
    return deepest


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """Remove the value at `loc` from `data`; its dotted path, or "" when `loc` is not there."""
    parent: Any = None
    here: Any = data
    for key in loc:
        if not isinstance(here, dict) or key not in here:
            return ""
        parent, here = here, here[key]
    if parent is None:
        return ""
    del parent[loc[-1]]
    return ".".join(str(k) for k in loc)


def _short(value: object) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if len(text) <= 100 else text[:97] + "..."


def _with_warnings(progress: Progress, path: Path, warnings: list[str]) -> Progress:
    progress._path = path
    progress._warnings = list(warnings)
    return progress


def _describe(path: Path, read: _Read, aside: Path | None) -> list[str]:
    """The warnings a reading gives, one line each; `aside` is where the old file now is."""
    if read.unreadable:
        return [f"{read.unreadable}; labrunner starts without your progress and will not overwrite it"]
    where = f"; the file as it was is kept as {aside.name}" if aside else ""
    if read.broken:
        return [f"the progress file {path} is unreadable ({read.broken}); labrunner starts afresh{where}"]
    if read.resets:
        shown = "; ".join(read.resets[:3]) + (f"; and {len(read.resets) - 3} more" if len(read.resets) > 3 else "")
        count = len(read.resets)
        return [f"the progress file {path} had {count} entr{'y' if count == 1 else 'ies'} of the wrong type, "
                f"reset to the default{'s' if count != 1 else ''}: {shown}{where}"]
    return []


def _repair(path: Path, read: _Read) -> Path | None:
    """Under the lock: put a file labrunner cannot use out of the way, keeping it. A broken file
    is moved aside; one with entries reset is copied aside, then rewritten without them.
    Returns where the old file went. Raises statefile.NotWritable."""
    if read.broken:
        return statefile.move_aside(path, tag="broken")
    if read.resets and read.raw is not None:
        aside = statefile.copy_aside(path, read.raw, tag="reset")
        _write(path, read.progress)
        return aside
    return None


def load_progress(path: Path | None = None) -> Progress:
    """The saved progress (an empty one when there is no file); never raises. What was wrong
    with the file is in `.warnings`. A file with entries of the wrong type or that is not
    progress at all is repaired under the lock (the old one kept beside it) when the folder is
    writable; otherwise the progress read is returned as it is."""
    path = path or progress_path()
    read = _read(path)
    if not (read.broken or read.resets):
        return _with_warnings(read.progress, path, _describe(path, read, None))
    try:
        with statefile.locked(path):
            read = _read(path)  # again under the lock: another process may have repaired it meanwhile
            aside = _repair(path, read)
    except statefile.NotWritable:  # a read-only folder: report what is wrong, change nothing
        return _with_warnings(read.progress, path, _describe(path, read, None))
    return _with_warnings(read.progress, path, _describe(path, read, aside))


# -- writing ----------------------------------------------------------------------------------

def _write(path: Path, progress: Progress) -> None:
    try:
        text = json.dumps(progress.to_json(), indent=2, sort_keys=True)
    except (ValueError, RecursionError) as exc:  # extras nested past what the encoder allows
        raise statefile.NotWritable(f"cannot write {path}: {_first_line(exc)}") from None
    statefile.write_atomically(path, text.encode("utf-8"))


def save_progress(progress: Progress, path: Path | None = None) -> Path:
    """Replace the file with `progress`, under the lock and atomically (a temporary file in the
    same folder, then os.replace). Prefer `update_progress`, which also reads the file anew.
    Raises statefile.NotWritable (one line: what and where) when the folder refuses."""
    path = path or progress.path or progress_path()
    with statefile.locked(path):
        statefile.remove_orphans(path, legacy_prefix=_LEGACY_TEMP_PREFIX if path.name == PROGRESS_FILE else None)
        _write(path, progress)
    progress._path = path
    return path


@dataclass
class _Outcome:
    progress: Progress  # as changed
    warnings: list[str]
    saved: bool


def _update(change: Callable[[Progress], T], path: Path) -> tuple[T, _Outcome]:
    """Under the lock: clean up, read anew, repair, change, write. When the folder refuses,
    the change is applied to what could be read, and not saved."""
    try:
        with statefile.locked(path):
            statefile.remove_orphans(path, legacy_prefix=_LEGACY_TEMP_PREFIX if path.name == PROGRESS_FILE else None)
            read = _read(path)
            if read.unreadable:  # never overwrite what could not be read
                raise statefile.NotWritable(read.unreadable)
            aside = _repair(path, read)
            result = change(read.progress)
            try:
                _write(path, read.progress)
            except statefile.NotWritable as exc:
                return result, _not_saved(path, read, exc)
    except statefile.NotWritable as exc:  # the lock, or the repair before the change
        read = _read(path)
        return change(read.progress), _not_saved(path, read, exc)
    warnings = _describe(path, read, aside)
    _with_warnings(read.progress, path, warnings)
    return result, _Outcome(read.progress, warnings, saved=True)


def _not_saved(path: Path, read: _Read, exc: statefile.NotWritable) -> _Outcome:
    warnings = _describe(path, read, None)
    if not read.unreadable:  # its own line says it is not overwritten
        warnings.append(f"progress is not saved: {exc}. labrunner goes on without saving; "
                        "set LABRUNNER_STATE_DIR to a folder you can write")
    _with_warnings(read.progress, path, warnings)
    return _Outcome(read.progress, warnings, saved=False)


def update_progress(change: Callable[[Progress], T], path: Path | None = None, *,
                    on_warning: OnWarning | None = None) -> T:
    """Read the progress file, apply `change` to it, write it back, all under an exclusive lock
    on a file beside it, so concurrent labrunner processes (CLI, TUI) never lose each other's
    changes. Returns what `change` returned (an exception from it propagates; nothing is
    written then). Keep cluster work out of `change`: the lock is held while it runs.

    Never raises for the file or the folder: what was wrong, and "progress is not saved" when
    the folder refuses the write, go to `on_warning` (default: this module's logger) as lines.
    """
    result, outcome = _update(change, path or progress_path())
    for line in outcome.warnings:
        (on_warning or _log.warning)(line)
    return result


# -- one process's view -----------------------------------------------------------------------------

class ProgressStore:
    """The progress file as one CLI command or one TUI session uses it: the faces read and change
    progress through this, never the file. Each warning is said once (`on_warning`, default: the
    module's logger). Once a write is refused, the session goes on read-only: changes are kept
    in memory, so the TUI still unlocks the next step, and are not written."""

    def __init__(self, path: Path | None = None, *, on_warning: OnWarning | None = None):
        self.path = path or progress_path()
        self.on_warning = on_warning or _log.warning
        self._said: set[str] = set()
        self._memory: Progress | None = None  # set once the folder refused a write
        self._lock = threading.Lock()  # workers and the UI thread both write

    @property
    def read_only(self) -> bool:
        return self._memory is not None

    def read(self) -> Progress:
        """The progress now (a fresh copy each time: another process may have changed it)."""
        with self._lock:
            if self._memory is not None:
                return copy.deepcopy(self._memory)
            progress = load_progress(self.path)
        self._say(progress.warnings)
        return progress

    def update(self, change: Callable[[Progress], T]) -> T:
        """Apply `change` under the file's lock and save it (see `update_progress`); returns what
        `change` returned."""
        with self._lock:
            if self._memory is not None:
                return change(self._memory)
            result, outcome = _update(change, self.path)
            if not outcome.saved:
                self._memory = outcome.progress
        self._say(outcome.warnings)
        return result

    def _say(self, lines: list[str]) -> None:
        for line in lines:
            if line not in self._said:
                self._said.add(line)
                self.on_warning(line)
