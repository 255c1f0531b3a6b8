"""Ending the process at once when a face is done, without the interpreter's teardown.

When Python exits normally it first joins every thread that is not a daemon (a thread pool's
workers, such as a probe still waiting for its timeout) and then deallocates every module's
objects one by one. With the kubernetes client and Textual loaded, that teardown alone takes
0.2 s on an idle 2-core machine and near a second on a busy one: a learner who quits the TUI
would wait for it (benchmarks/startup.py measures it). Nothing of labrunner's runs then:
progress is saved under its lock before each change returns, and the terminal is restored
when the app returns. So `exit_now` flushes the standard streams, runs the atexit handlers
(which a normal exit runs too) and ends the process with `os._exit`.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """End the process with exit status `code` (0-255) now: streams flushed, atexit handlers run,
    no wait for other threads and no teardown of modules."""
    try:
        atexit._run_exitfuncs()  # what a normal exit runs (logging's flush, for one), in the same order
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed, or a pipe whose reader is gone: nothing more to say
                pass
        os._exit(code)
