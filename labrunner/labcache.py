"""The labs as last loaded, reused while nothing they were loaded from has changed.

Reading and validating every lab file takes most of a second (the format's models, YAML, every
manifest); a learner's `labrunner list` or the TUI's lab list should not wait for it each time.
`load_labs_cached` gives what `loader.discover_labs` gives, taken from a cache file when the
fingerprint of everything that load depended on is the same, as Python's own .pyc files and
mypy's cache do. The fingerprint holds:

- every file and folder under the labs folder: path, type, size, modification and change times
  (nanoseconds) and inode; the change time moves on every write and cannot be set back;
- the curriculum file found for it, the same way;
- the working folder (problems name files relative to it);
- the code that judges labs: every module of labrunner, and the installed pydantic,
  pydantic-core and PyYAML (their files' times and sizes), and the Python version;
- the folders Python imports from (installing or removing a check plug-in changes them).

As git does for its index, a load is not cached while any file it read was changed less than
`RACY_SECONDS` ago: a file system that keeps times to the second (or two) could otherwise give an
edit made within that tick the same fingerprint.

No cache is used, read or written, when the labs folder holds a symbolic link or anything but
files and folders (what they point to is not fingerprinted), when it holds more than
`MAX_ENTRIES` entries, or when check plug-ins are installed (their code is not fingerprinted).
A cache file that cannot be read or written is ignored: the labs are then loaded as usual.
The file lives in the per-user cache folder (platformdirs: ~/.cache/labrunner on Linux, which
XDG_CACHE_HOME moves); only files owned by the user are read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import stat
import sys
import time
from pathlib import Path

from .labfolders import LoadReport, default_labs_dir, find_curriculum

CACHE_FORMAT = 1  # bump when what is stored changes shape
RACY_SECONDS = 2.5  # coarser than the coarsest file-system clock in use (FAT keeps 2 s)
MAX_ENTRIES = 5000  # a labs folder is a few hundred files; a bigger tree is walked by the loader alone
_LIBRARIES = ("pydantic", "pydantic_core", "yaml")  # whose behaviour the verdicts of validation depend on
_PACKAGE = Path(__file__).resolve().parent


class _Uncacheable(Exception):
    """Something the fingerprint cannot vouch for: load without the cache."""


def load_labs_cached(root: Path | None = None) -> LoadReport:
    """`loader.discover_labs(root)`, from the cache when nothing it depends on has changed.

    Returns a LoadReport equal to a fresh load's. Never raises for a cache fault.
    """
    try:
        key, newest = fingerprint(root)
        path = _cache_file(root)
    except (_Uncacheable, OSError, ValueError):
        key, newest, path = None, 0, None
    if path is not None:
        cached = _read(path, key)
        if cached is not None:
            return cached
    from .loader import discover_labs  # the format's models and YAML: only when reading the labs
    from .checks.registry import plugins_present

    report = discover_labs(root)
    settled = time.time_ns() - newest > RACY_SECONDS * 1e9
    if path is not None and settled and not plugins_present():
        _write(path, key, report)
    return report


def fingerprint(root: Path | None) -> tuple[bytes, int]:
    """A digest of everything a load of the labs under `root` depends on (see the module's text),
    and the newest modification or change time among the lab files (ns since the epoch).

    Raises _Uncacheable for a labs folder the fingerprint cannot vouch for, OSError when it cannot
    be looked at.
    """
    root = Path(root) if root else default_labs_dir()
    folder = root.parent if root.name == "lab.yaml" and root.is_file() else root
    if not folder.is_dir():
        raise _Uncacheable(f"{folder} is not a folder")
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode("utf-8", "backslashreplace"))

    add(CACHE_FORMAT, sys.version, str(root), os.path.realpath(root), os.path.realpath(Path.cwd()))
    newest = _add_tree(add, folder)
    curriculum = find_curriculum(folder)
    if curriculum:
        info = os.stat(curriculum)
        newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
        add("curriculum", str(curriculum), _stamp(info))
    else:
        add("curriculum", None)
    for module in sorted(_PACKAGE.rglob("*.py")):
        add("code", str(module.relative_to(_PACKAGE)), _stamp(module.stat()))
    for library in _LIBRARIES:
        spec = importlib.util.find_spec(library)
        origin = spec.origin if spec else None
        add("library", library, origin, _stamp(os.stat(origin)) if origin else None)
    for entry in sys.path:
        try:
            add("path", entry, _stamp(os.stat(entry or ".")))
        except OSError:
            add("path", entry, None)
    return digest.digest(), newest


def _add_tree(add, folder: Path) -> int:  # noqa: ANN001
    """Every entry below `folder`, in a stable order; returns the newest mtime or ctime (ns).
    Raises _Uncacheable for a link or a special file."""
    count = newest = 0
    todo = [folder]
    while todo:
        current = todo.pop()
        with os.scandir(current) as entries:
            found = sorted(entries, key=lambda e: e.name)
        for entry in found:
            count += 1
            if count > MAX_ENTRIES:
                raise _Uncacheable(f"more than {MAX_ENTRIES} entries")
            info = entry.stat(follow_symlinks=False)
            if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                raise _Uncacheable(f"{entry.path} is a link or a special file")
            add("entry", os.path.relpath(entry.path, folder), _stamp(info))
            newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
            if stat.S_ISDIR(info.st_mode):
                todo.append(Path(entry.path))
    return newest


def _stamp(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_mode, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_uid)


def _cache_file(root: Path | None) -> Path:
    """One file per labs folder, working folder and import path, replaced when its fingerprint changes."""
    import platformdirs

    folder = Path(platformdirs.user_cache_dir("labrunner"))
    # sys.path too: `labrunner` and `python -m labrunner.cli` see different folders, and would
    # otherwise replace each other's file.
    where = repr((os.path.realpath(root or default_labs_dir()), os.path.realpath(Path.cwd()), sys.path))
    return folder / f"labs-{hashlib.sha256(where.encode('utf-8', 'backslashreplace')).hexdigest()[:16]}.pickle"


def _read(path: Path, key: bytes) -> LoadReport | None:
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_uid != os.getuid():
                return None  # written by someone else: not ours to trust
            stored_key, report = pickle.load(handle)
    except Exception:  # missing, unreadable, truncated, from another version: load as usual
        return None
    if stored_key != key or not isinstance(report, LoadReport):
        return None
    return report


def _write(path: Path, key: bytes, report: LoadReport) -> None:
    import tempfile

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".labs-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump((key, report), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)  # whole or not at all, also with two writers at once
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, pickle.PicklingError, RecursionError):
        pass  # no cache this time; the labs were loaded all the same
