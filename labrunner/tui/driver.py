"""The terminal driver: Textual's own, except that quitting does not wait out its input thread.

Textual's input thread polls the terminal every 0.1 s and, once told to stop, polls 0.1 s more
before it ends (textual/drivers/linux_driver.py, `run_input_thread`); `disable_input` joins it,
so every quit costs 0.1 to 0.2 s (benchmarks/startup.py: a bare Textual app takes 0.21 s to quit).
When the learner quits, the terminal is restored as usual and the process ends right after
(quickexit.exit_now): the thread is told to stop and left to do so, not waited for. Suspending
(Ctrl+Z) keeps Textual's own behaviour, since the thread must be gone before the shell reads
the terminal again.
"""

from __future__ import annotations

import signal
import termios

from textual.drivers.linux_driver import LinuxDriver


class QuittingDriver(LinuxDriver):
    """LinuxDriver whose `disable_input` does not join the input thread once `quitting` is set."""

    quitting = False  # set by the app's quit action, just before it exits

    def disable_input(self) -> None:
        """Stop mouse reports and input; when quitting, without waiting for the input thread's last polls."""
        if not self.quitting or self.exit_event.is_set():
            super().disable_input()
            return
        try:
            signal.signal(signal.SIGWINCH, signal.SIG_DFL)
            self._disable_mouse_support()
        finally:
            self.exit_event.set()  # the thread ends on its own within 0.2 s, or with the process
        try:
            termios.tcflush(self.fileno, termios.TCIFLUSH)  # keys typed meanwhile do not reach the shell
        except termios.error:
            pass
