"""How fast labrunner starts and quits: figures, not a pass/fail test.

1. `labrunner list` over the shipped labs with no cluster (KUBECONFIG names a file that does not
   exist), against `kubectl version --client` in the same run. Target: within 5x of kubectl.
   The first run after a change of the labs (or of labrunner) reads every lab file; later runs
   use the lab cache (labrunner/labcache.py). Both are shown.
2. `labrunner` (the TUI) in an 80x24 pseudo-terminal: time to the first painted screen and to
   the labs listed. Targets: under 300 ms and under 400 ms. Then Ctrl+Q on the lab list: time
   until the process has exited.
3. With `--cluster` (a KUBECONFIG that reaches a cluster): `labrunner tui LAB` opens the lab,
   waits for the first verdict of its watch, idles a moment, and quits with Ctrl+Q: time until
   the process has exited. Target: under 200 ms. It works in the lab's own namespace (lab-LAB)
   with a progress file of its own, and resets the lab afterwards.

Each figure is the median of `--runs` runs, with min and max. kubectl is KUBECTL, else on PATH,
else the testbed's build; without one, the comparison says so.

    python benchmarks/startup.py [--runs 7] [--cluster] [--lab netpol]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import resource
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PAINTED = b"labrunner \xc2\xb7 labs"  # the lab list's title line
LISTED = b"Topics:"  # the highlighted lab's details, once the lab files are read
VERDICT = ("\u2714".encode(), "\u2718".encode(), "\u26a0".encode())  # a check's mark: pass, fail, error
ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[a-zA-Z]")
CTRL_Q = b"\x11"


def labrunner_command() -> list[str]:
    script = Path(sys.executable).with_name("labrunner")
    return [str(script)] if script.exists() else [sys.executable, "-m", "labrunner.cli"]


def kubectl() -> str | None:
    """KUBECTL, else kubectl on PATH, else the testbed's build of it (None when there is none)."""
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if found:
        return found
    try:
        sys.path.insert(0, str(REPO / "testbed" / "lib"))
        from config import load_config  # the testbed's own settings: where it caches its builds

        built = load_config().binary("kubectl")
    except Exception:  # no testbed config here: no kubectl to compare with
        return None
    finally:
        sys.path.pop(0)
    return str(built) if built.exists() else None


def timed_run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# The least a Textual app costs here: its import, one screen, Textual's own quit.
BARE_TEXTUAL = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    BINDINGS = [("ctrl+q", "quit", "Quit")]
    def compose(self):
        yield Static("bare textual app")
Bare().run()
"""


class Terminal:
    """A process in an 80x24 pseudo-terminal, and what it has drawn so far (escapes removed)."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {**env, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO,
                                        start_new_session=True)
        os.close(slave)
        self.raw = b""

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def read(self, timeout: float) -> bool:
        """Read what is there within `timeout` s; False once the terminal is closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            self.raw += chunk
        return True

    @property
    def text(self) -> bytes:
        return ESCAPES.sub(b"", self.raw)  # styles and cursor moves may sit inside a line

    def wait_for(self, *markers: bytes, timeout: float, after: int = 0) -> float | None:
        """Seconds from the start until one of `markers` shows (in what came after byte `after`), else None."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if any(m in ESCAPES.sub(b"", self.raw[after:]) for m in markers):
                return self.elapsed()
            if not self.read(0.02):
                return None
        return None

    def quit(self, timeout: float = 20.0) -> float:
        """Press Ctrl+Q; seconds until the process has exited (keeps reading, so it never blocks on output)."""
        os.write(self.master, CTRL_Q)
        pressed = time.perf_counter()
        while self.process.poll() is None and time.perf_counter() - pressed < timeout:
            self.read(0.005)
        took = time.perf_counter() - pressed
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            took = float("inf")
        return took

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def show(name: str, values: list[float], *, target: float | None = None) -> None:
    shown = [v * 1000 for v in values]
    median = statistics.median(shown)
    goal = "" if target is None else f"   target < {target * 1000:.0f} ms: {'met' if median < target * 1000 else 'NOT met'}"
    print(f"  {name:<40} median {median:7.0f} ms   min {min(shown):7.0f}   max {max(shown):7.0f}   (n={len(shown)}){goal}")


def measure_list(runs: int, env: dict[str, str]) -> None:
    command = labrunner_command() + ["list"]
    labs_listed = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True).stdout.count("\n")
    kube = kubectl()
    cold, warm, theirs = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:  # no lab cache: every lab file read and validated
            cold.append(timed_run(command, {**env, "XDG_CACHE_HOME": cache}))
        warm.append(timed_run(command, env))
        if kube:
            theirs.append(timed_run([kube, "version", "--client"], env))
    print(f"`labrunner list`, {labs_listed} labs, no cluster (wall; CPU is user + system time):")
    for name, runs_ in (("first run (no lab cache)", cold), ("later runs (lab cache)", warm),
                        ("kubectl version --client", theirs)):
        if runs_:
            show(name, [wall for wall, _ in runs_])
            show("  CPU", [cpu for _, cpu in runs_])
    if not theirs:
        print("  kubectl version --client: no kubectl found (set KUBECTL); no comparison")
        return
    m = statistics.median
    for name, ours in (("first run", cold), ("later runs", warm)):
        ratio = m(w for w, _ in ours) / m(w for w, _ in theirs)
        cpu = m(c for _, c in ours) / max(m(c for _, c in theirs), 1e-9)
        print(f"  {name}: {ratio:.1f}x kubectl's wall time (target <= 5x: {'met' if ratio <= 5 else 'NOT met'}), "
              f"{cpu:.1f}x its CPU")


def measure_tui(runs: int, env: dict[str, str]) -> None:
    painted, listed, quit_list = [], [], []
    for _ in range(runs):
        term = Terminal(labrunner_command(), env)
        try:
            first = term.wait_for(PAINTED, timeout=30)
            if first is None:
                raise SystemExit(f"the lab list never painted; the terminal got:\n{term.raw[-2000:]!r}")
            labs = term.wait_for(LISTED, timeout=30)
            if labs is None:
                raise SystemExit(f"the labs were never listed; the terminal got:\n{term.raw[-2000:]!r}")
            painted.append(first)
            listed.append(labs)
            time.sleep(0.5)
            quit_list.append(term.quit())
        finally:
            term.close()
    print("`labrunner` (the TUI) in an 80x24 pseudo-terminal:")
    show("to the first painted screen", painted, target=0.3)
    show("to the labs listed", listed, target=0.4)
    show("Ctrl+Q on the lab list, to the exit", quit_list)
    floor_painted, floor_quit = [], []
    for _ in range(runs):
        term = Terminal([sys.executable, "-c", BARE_TEXTUAL], env)
        try:
            first = term.wait_for(b"bare textual app", timeout=30)
            if first is None:
                raise SystemExit(f"the bare Textual app never painted; the terminal got:\n{term.raw[-2000:]!r}")
            floor_painted.append(first)
            time.sleep(0.5)
            floor_quit.append(term.quit())
        finally:
            term.close()
    print("a bare Textual app (one Static widget, Ctrl+Q quits), the floor of the figures above:")
    show("to the first painted screen", floor_painted)
    show("Ctrl+Q, to the exit", floor_quit)


def measure_quit_watching(runs: int, env: dict[str, str], lab: str) -> None:
    took = []
    for _ in range(runs):
        term = Terminal(labrunner_command() + ["tui", lab], env)
        try:
            opened = term.wait_for(b"Checks", timeout=60)
            if opened is None:
                raise SystemExit(f"the lab view never showed; the terminal got:\n{term.raw[-2000:]!r}")
            if term.wait_for(*VERDICT, timeout=180, after=len(term.raw)) is None:
                raise SystemExit(f"no verdict of the watch showed; the terminal got:\n{term.raw[-2000:]!r}")
            time.sleep(1.5)  # the watch idles, waiting for a change
            took.append(term.quit())
        finally:
            term.close()
    print(f"`labrunner tui {lab}` watching its first step:")
    show("Ctrl+Q during the watch, to the exit", took, target=0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cluster", action="store_true", help="also quit during a watch (needs KUBECONFIG)")
    parser.add_argument("--lab", default="netpol", help="the lab whose watch is quit (with --cluster)")
    args = parser.parse_args()
    print(f"labrunner start-up ({os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f})\n")
    with tempfile.TemporaryDirectory() as state:
        base = {**os.environ, "LABRUNNER_STATE_DIR": state, "PYTHONPATH": str(REPO)}
        no_cluster = {**base, "KUBECONFIG": str(Path(state) / "no-such-kubeconfig")}
        measure_list(args.runs, no_cluster)
        print()
        measure_tui(args.runs, no_cluster)
        if args.cluster:
            print()
            try:
                measure_quit_watching(args.runs, base, args.lab)
            finally:
                subprocess.run(labrunner_command() + ["reset", args.lab], env=base, cwd=REPO, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
