"""Output into a pipe whose reader has gone (`labrunner show netpol | head -1`): quiet, no traceback.

Python ignores SIGPIPE, so a write to a closed pipe raises BrokenPipeError wherever a `print` happens
to be, and a flush at exit prints "Exception ignored ... BrokenPipeError" and exits 120. The CLI
instead wraps stdout and stderr: once a write or flush finds the reader gone, that stream's
descriptor is pointed at the null device (as the Python docs' "Note on SIGPIPE" advises) and the
command carries on to its end, so a `check` still records its verdict, a `start` still sets the step
up, and the exit status is the command's own.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, TextIO


class QuietStream:
    """A text stream that writes through to `stream` until its reader goes, then drops what follows."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.reader_gone = True
        try:
            fd = self.stream.fileno()
        except (OSError, ValueError, io.UnsupportedOperation):
            return  # not a real descriptor (a test's capture): nothing buffered below us to fail later
        # What the stream still buffers would fail again at exit: let it drain into the null device.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ... as the stream has them
        return getattr(self.stream, name)


class quiet_pipes:  # noqa: N801 - used as a context manager, like contextlib's
    """`with quiet_pipes():` sys.stdout and sys.stderr are QuietStreams; on leaving, both are flushed
    (a reader gone by then is met here, not at interpreter exit) and the originals put back.
    `release()` puts them back early, for a face that draws on the terminal itself (the TUI)."""

    def __enter__(self) -> "quiet_pipes":
        self.saved = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = QuietStream(sys.stdout), QuietStream(sys.stderr)
        return self

    def release(self) -> None:
        if isinstance(sys.stdout, QuietStream) or isinstance(sys.stderr, QuietStream):
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            sys.stdout, sys.stderr = self.saved

    def __exit__(self, *exc: object) -> None:
        self.release()
