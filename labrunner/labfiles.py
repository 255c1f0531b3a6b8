"""Reading the files of a lab folder so that no file can hang, flood or escape labrunner.

A lab comes from other people. Only regular files inside the lab folder are
read, each opened without blocking (a FIFO named lab.yaml must not hang us),
each at most `LIMITS.file_bytes` long, and a lab's files together at most
`LIMITS.lab_bytes`. Paths as written in a lab file are checked before the file
system sees them: no NUL byte, no control character, no over-long name.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import clip


@dataclass(frozen=True)
class Limits:
    """How much of a lab labrunner reads; beyond these a lab is refused, never half read.

    The largest shipped lab file is 17 KB with about 600 YAML values; these leave
    room for a bundled CRD manifest while keeping validation within seconds and
    tens of megabytes on a small machine (PyYAML reads about 300 KB a second).
    """

    file_bytes: int = 1 << 20  # one file, 1 MiB
    lab_bytes: int = 4 << 20  # every file a lab reads, together
    file_values: int = 200_000  # YAML values of one file, every document, each alias use counted
    lab_values: int = 1_000_000  # the same over every YAML file of a lab
    # Characters of text, each use of an alias counted: one long string used by many aliases
    # is small on disk and in memory, but not in a message or a request body that spells it out.
    file_chars: int = 8 << 20
    lab_chars: int = 32 << 20
    depth: int = 100  # YAML nesting, of the text and of the data aliases make
    path_chars: int = 1024  # a path as written in a lab file
    name_bytes: int = 255  # one component of such a path (NAME_MAX of Linux file systems)


LIMITS = Limits()

# What YAML 1.1 calls printable (PyYAML's Reader): no C0/C1 controls but tab, LF, CR and
# NEL, no DEL, no surrogates. NUL and ESC are the dangerous ones: ESC starts a terminal
# escape sequence in `show` and the TUI, NUL ends a path at the C level.
# Besides, the explicit bidirectional embeddings, overrides and isolates (U+202A-U+202E,
# U+2066-U+2069): they make a terminal show text in another order than it is copied and run,
# so a command in a hint can read harmless and do otherwise ("Trojan Source", CVE-2021-42574).
# Right-to-left text needs none of them; the marks U+200E and U+200F stay allowed.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
                            "|[\u202a-\u202e\u2066-\u2069]")


class FileRefused(Exception):
    """A file of a lab that labrunner will not read; `line` (1-based) where known."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(message)


@dataclass
class Budget:
    """What one lab may still read: bytes and YAML values, over all its files."""

    bytes_left: int = LIMITS.lab_bytes
    values_left: int = LIMITS.lab_values
    chars_left: int = LIMITS.lab_chars

    def take_bytes(self, count: int) -> None:
        """Count `count` bytes read; FileRefused once the lab's files pass `LIMITS.lab_bytes`."""
        self.bytes_left -= count
        if self.bytes_left < 0:
            raise FileRefused(f"the lab's files together are over {_size(LIMITS.lab_bytes)}; "
                              "labrunner reads no more of this lab")


def unprintable(text: str) -> tuple[int, str] | None:
    """(index, description) of the first character `text` must not hold, or None.

    Described as `U+001B (ESC)`; the set is YAML's non-printable characters.
    """
    found = _NOT_PRINTABLE.search(text)
    if found is None:
        return None
    char = found.group()
    names = {"\x00": "NUL", "\x1b": "ESC", "\x7f": "DEL", "\x08": "backspace", "\x0c": "form feed", "\x9b": "CSI"}
    name = names.get(char, "a surrogate" if "\ud800" <= char <= "\udfff" else
                     unicodedata.name(char).lower() + ", which reorders the text shown" if char >= "\u202a" else
                     "a control character")
    return found.start(), f"U+{ord(char):04X} ({name})"


def line_of(text: str | bytes, index: int) -> int:
    """The 1-based line of position `index` in `text`."""
    newline = b"\n" if isinstance(text, bytes) else "\n"
    return text.count(newline, 0, index) + 1  # type: ignore[arg-type]


def path_problem(relative: object) -> str | None:
    """What is wrong with `relative` as a path written in a lab file, before any file system call.

    None for a usable relative path; else the message (absolute, NUL byte, control
    character, too long). Whether it stays inside the lab folder is `resolve_inside`'s job.
    """
    if not isinstance(relative, str) or not relative.strip():
        return f"expected a path relative to the lab folder, got {_clip(relative)}"
    bad = unprintable(relative) or _control(relative)
    if bad:
        return f"the path holds the character {bad[1]}; write a plain relative path"
    if len(relative) > LIMITS.path_chars:
        return f"the path is {len(relative)} characters long; at most {LIMITS.path_chars}"
    for part in relative.split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > LIMITS.name_bytes:
            return f"a name in the path is longer than {LIMITS.name_bytes} bytes: {_clip(part)}"
    if os.path.isabs(relative):
        return f"{relative!r} is absolute; expected a path relative to the lab folder"
    return None


def resolve_inside(root: Path, relative: str) -> Path:
    """`relative` (checked by `path_problem`) resolved in the lab folder `root` (resolved).

    Symlinks are followed; the result must lie inside `root`. Raises FileRefused:
    leads outside, a symlink loop, does not exist.
    """
    try:
        target = Path(os.path.realpath(root / relative, strict=True))
    except FileNotFoundError:
        target = Path(os.path.realpath(root / relative))
        if not target.is_relative_to(root):
            raise FileRefused(f"{relative!r} leads outside the lab folder; keep every file inside it") from None
        raise FileRefused(f"{relative!r} does not exist in the lab folder") from None
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: Python 3.11's "Symlink loop"
        if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
            raise FileRefused(f"{relative!r} is a symlink loop") from None
        raise FileRefused(f"{relative!r} cannot be looked up: {_os_reason(exc)}") from None
    if not target.is_relative_to(root):
        raise FileRefused(f"{relative!r} leads outside the lab folder; keep every file inside it")
    return target


def read_regular_file(path: Path, *, budget: Budget | None = None) -> bytes:
    """The bytes of `path` if it is a regular file of at most `LIMITS.file_bytes`.

    A FIFO, a socket or a device (a link to /dev/zero) is refused before it is opened
    for reading, and the file is opened non-blocking and checked again after opening,
    so a file swapped meanwhile cannot hang us. Raises FileRefused.
    """
    try:
        before = os.stat(path)
    except (OSError, ValueError) as exc:
        raise FileRefused(f"cannot read the file: {_os_reason(exc)}") from None
    _require_regular(before)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError) as exc:
        raise FileRefused(f"cannot read the file: {_os_reason(exc)}") from None
    try:
        _require_regular(os.fstat(fd))
        chunks, size = [], 0
        while size <= LIMITS.file_bytes:
            chunk = os.read(fd, min(1 << 16, LIMITS.file_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileRefused(f"cannot read the file: {_os_reason(exc)}") from None
    finally:
        os.close(fd)
    if size > LIMITS.file_bytes:
        raise FileRefused(f"the file grew past {_size(LIMITS.file_bytes)} while being read")
    if budget is not None:
        budget.take_bytes(size)
    return b"".join(chunks)


def decode_text(data: bytes) -> str:
    """`data` as UTF-8 text holding only printable characters; FileRefused with the line otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line_of(data, exc.start)) from None
    bad = unprintable(text)
    if bad:
        raise FileRefused(f"the text holds the character {bad[1]}; remove it", line_of(text, bad[0]))
    return text


def _require_regular(info: os.stat_result) -> None:
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        what = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a folder" if stat.S_ISDIR(mode)
                else "not a file")
        raise FileRefused(f"is {what}, not a regular file; a lab reads only regular files")
    if info.st_size > LIMITS.file_bytes:
        raise FileRefused(f"the file is {_size(info.st_size)}; a lab file may be at most {_size(LIMITS.file_bytes)}")


def _control(text: str) -> tuple[int, str] | None:
    """Tab, newline and the other characters YAML allows in text but no path should hold."""
    for i, char in enumerate(text):
        if char in "\t\n\r\x85":
            return i, f"U+{ord(char):04X} (a control character)"
    return None


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _size(count: int) -> str:
    return f"{count / (1 << 20):g} MiB" if count >= 1 << 20 else f"{count} bytes"


def _clip(value: object) -> str:
    return clip(value)
