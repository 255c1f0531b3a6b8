"""A small JSON state file that several processes share: read safely, written under a lock.

The mechanics only (what the file holds is `labrunner.progress`'s business):
- `locked`: an exclusive lock on a file beside it (filelock: flock on POSIX, LockFileEx on
  Windows), held for one read-change-write, so no process writes back a stale copy;
- `read_bytes`: a regular file only, at most a bounded size, never a hang on a FIFO;
- `write_atomically`: a temporary file in the same folder, then `os.replace`, so a crash never
  leaves half a file; temporary files a killed process left are removed under the lock;
- `move_aside` / `copy_aside`: keep a file labrunner cannot use under a new, unique name.
Every way the folder can refuse a write (read-only, a file in its place, a pseudo file system,
a full disk, a lock held too long) becomes one `NotWritable` whose message says what and where.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .settings import TIMEOUTS

LOCK_TIMEOUT = TIMEOUTS.progress_lock  # s (settings.Timeouts); a module name, so a test can shorten it
TEMP_SUFFIX = ".tmp"


class NotWritable(Exception):
    """The state folder or file refuses a write; `str()` is one line saying what and where."""


class Unreadable(Exception):
    """The file exists but cannot be read as a file (a folder, a FIFO, no permission...)."""


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock of `path` (on `.<name>.lock` beside it) for the block, creating
    the folder if needed. Raises NotWritable when the folder or lock file cannot be created or
    another process holds the lock for more than `timeout` seconds (default LOCK_TIMEOUT). Not
    re-entrant: a process takes it once per change."""
    import filelock  # tens of ms to import; `labrunner list` only reads

    timeout = LOCK_TIMEOUT if timeout is None else timeout
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NotWritable(f"cannot create the state folder {path.parent}: {_why(exc, path.parent)}") from None
    # preserve_lock_file: the lock file stays, so an older labrunner (plain flock on the same
    # file) and this one exclude each other.
    lock = filelock.FileLock(lock_path(path), timeout=timeout, preserve_lock_file=True)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise NotWritable(f"another labrunner process has held {lock_path(path)} for over {timeout:.0f} s") from None
    except OSError as exc:
        raise NotWritable(_lock_problem(lock_path(path)) or
                          f"cannot write in the state folder {path.parent}: {_why(exc, path.parent)}") from None
    try:
        yield
    finally:
        lock.release()


def read_bytes(path: Path, *, limit: int) -> bytes | None:
    """The file's bytes, or None when it does not exist. Raises Unreadable when it is not a
    regular file or cannot be opened, ValueError when it is larger than `limit` bytes. Opens
    non-blocking: a FIFO in its place must not hang a command."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):  # no file yet, or no folder where it would be
        return None
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {_why(exc, path)}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise Unreadable(f"{path} is {_kind(mode)}, not a file")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise Unreadable(f"cannot read {path}: {_why(exc, path)}") from None
    if len(data) > limit:
        raise ValueError(f"it is larger than {limit // 1024 // 1024} MiB")
    return data


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` through a temporary file beside it (`.<name>.*.tmp`) and
    `os.replace`; removes the temporary file on any failure. Raises NotWritable."""
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):  # a folder or FIFO there is not ours to replace
        raise NotWritable(f"{path} is {_kind(mode)}, not a file; remove it")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise NotWritable(f"cannot write {path}: {_why(exc, path.parent)}") from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def remove_orphans(path: Path, *, legacy_prefix: str | None = None) -> list[Path]:
    """Remove the temporary files a killed writer of `path` left behind; returns them. Call it
    only under `locked(path)`: then no writer is half-way, so every such file is an orphan.
    `legacy_prefix` also matches an older labrunner's temporary names."""
    prefixes = [f".{path.name}."] + ([legacy_prefix] if legacy_prefix else [])
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.endswith(TEMP_SUFFIX) and entry.name.startswith(tuple(prefixes)) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except OSError:
                continue
            removed.append(Path(entry.path))
    return removed


def move_aside(path: Path, *, tag: str) -> Path | None:
    """Rename `path` to a new, unique `<name>.<tag>-<UTC time>[-N]` beside it; None when it is
    already gone (another process moved it). Call it under `locked(path)`. Raises NotWritable."""
    for aside in _aside_names(path, tag):
        if aside.exists() or aside.is_symlink():
            continue
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise NotWritable(f"cannot rename {path}: {_why(exc, path.parent)}") from None
        return aside
    raise AssertionError("unreachable")  # pragma: no cover


def copy_aside(path: Path, data: bytes, *, tag: str) -> Path:
    """Save `data` (the file as it was) under a new, unique name beside `path`, created
    exclusively so two processes never share one. Raises NotWritable."""
    for aside in _aside_names(path, tag):
        try:
            with open(aside, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            continue
        except OSError as exc:
            raise NotWritable(f"cannot write beside {path}: {_why(exc, path.parent)}") from None
        return aside
    raise AssertionError("unreachable")  # pragma: no cover


def _aside_names(path: Path, tag: str) -> Iterator[Path]:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    yield path.with_name(f"{path.name}.{tag}-{stamp}")
    n = 2
    while True:
        yield path.with_name(f"{path.name}.{tag}-{stamp}-{n}")
        n += 1


def _lock_problem(lock: Path) -> str | None:
    """What stands in the lock file's place, in words with the fix, when it is no regular file."""
    try:
        mode = os.lstat(lock).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    what = "a symbolic link" if stat.S_ISLNK(mode) else _kind(mode)
    return f"the lock file {lock} is {what}; remove it (labrunner makes a new one)"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _why(exc: OSError, where: Path) -> str:
    """An OSError in words a learner can act on."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        for parent in (where, *where.parents):
            if parent.exists() and not parent.is_dir():
                return f"{parent} is a file, not a folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return exc.strerror or str(exc)
