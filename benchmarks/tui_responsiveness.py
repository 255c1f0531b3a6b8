"""How responsive the TUI is: figures, not a pass/fail test.

1. Start-up: launch `labrunner` (no arguments) in a pseudo-terminal of 80x24
   and time until the lab list is painted, and until the status line shows
   the cluster's answer.
2. Stalls: open the NetworkPolicy step in the app (headless, same event loop)
   and run a full check of it with the `c` key while a 10 ms timer measures
   its own lateness: the longest lateness is the longest the UI froze.

Needs a cluster (KUBECONFIG) for the check; works in a namespace of its own
and deletes it after.

    python benchmarks/tui_responsiveness.py [--runs 5] [--lab netpol] [--step deny-all]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labrunner.cluster import connect, delete_namespace  # noqa: E402
from labrunner.loader import load_labs  # noqa: E402
from labrunner.session import LabSession  # noqa: E402
from labrunner.tui.app import LabApp  # noqa: E402
from labrunner.tui.backend import ClusterBackend  # noqa: E402

PAINTED = b"labrunner \xc2\xb7 labs"  # the lab list's title line
LISTED = b"Topics:"  # the highlighted lab's details, once the lab files are read
REACHED = b"Kubernetes v"  # the status line after the cluster answered
ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[a-zA-Z]")
NAMESPACE = "lrbench-tui"


def labrunner_command() -> list[str]:
    script = Path(sys.executable).with_name("labrunner")
    return [str(script)] if script.exists() else [sys.executable, "-m", "labrunner.cli"]


# The TUI without the CLI module in front, which imports the whole engine first:
# the difference is what the CLI's imports cost the first paint.
TUI_ALONE = [sys.executable, "-c", "from labrunner.tui.app import run_tui; raise SystemExit(run_tui())"]


def time_startup(command: list[str], state_dir: str, timeout: float = 30.0) -> dict[str, float]:
    """Seconds from exec to the first painted lab list, to the labs listed, and to the cluster's answer."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "LABRUNNER_STATE_DIR": state_dir, "COLUMNS": "80", "LINES": "24"}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO,
                               start_new_session=True)
    os.close(slave)
    seen, times = b"", {}
    try:
        while time.perf_counter() - started < timeout and len(times) < 3:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                now = time.perf_counter() - started
                text = ESCAPES.sub(b"", seen)  # styles and cursor moves may sit inside a line
                for name, marker in (("painted", PAINTED), ("listed", LISTED), ("reached", REACHED)):
                    if name not in times and marker in text:
                        times[name] = now
    finally:
        os.write(master, b"\x11")  # ctrl+q
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        os.close(master)
    if "painted" not in times:
        raise SystemExit(f"the lab list never painted; the terminal got:\n{seen[-2000:]!r}")
    return times


class TimedBackend(ClusterBackend):
    """Marks when a full check returns, to know when the UI has its report."""

    def __init__(self, cluster) -> None:  # noqa: ANN001
        super().__init__(cluster)
        self.checks_done = 0
        self.last = None

    def run_checks(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        report = super().run_checks(*args, **kwargs)
        self.last = report
        self.checks_done += 1
        return report


async def measure_stalls(cluster, lab, step_id: str, runs: int) -> dict[str, list[float]]:  # noqa: ANN001
    backend = TimedBackend(cluster)
    figures: dict[str, list[float]] = {"setup_max_stall": [], "check_max_stall": [], "check_p99_stall": [], "check_seconds": []}
    with tempfile.TemporaryDirectory() as state:
        app = LabApp(backend, [lab], progress_path=Path(state) / "progress.json", namespaces={lab.id: NAMESPACE})
        # The state a learner reaches the step in: earlier steps solved and passed.
        LabSession(lab, store=app.store, actions=backend, namespace=NAMESPACE).reach(lab.step(step_id))
        lags: list[float] = []
        stop = asyncio.Event()

        async def monitor(interval: float = 0.01) -> None:
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                before = loop.time()
                await asyncio.sleep(interval)
                lags.append(loop.time() - before - interval)

        async with app.run_test(size=(80, 24)) as pilot:
            watcher = asyncio.create_task(monitor())
            await pilot.press("enter")
            assert app.screen.step.id == step_id, app.screen.step.id
            report = lambda: app.screen.query_one("#checks").report  # noqa: E731
            while report() is None:
                await pilot.pause(0.05)  # step set up (apps Available) and the watch's first report shown
            figures["setup_max_stall"].append(max(lags))
            for _ in range(runs):
                lags.clear()
                done = backend.checks_done
                started = time.perf_counter()
                await pilot.press("c")
                while backend.checks_done == done or report() is None:
                    await pilot.pause(0.01)
                figures["check_seconds"].append(time.perf_counter() - started)
                figures["check_max_stall"].append(max(lags))
                figures["check_p99_stall"].append(statistics.quantiles(lags, n=100, method="inclusive")[98])
            stop.set()
            await watcher
            app.stop_watches()
    report = backend.last
    print(f"the check ({report.status.value}): " + "; ".join(
        f"{r.check_id} {r.status.value} in {r.seconds:.2f}s: {r.message}" for r in report.results))
    return figures


def show(name: str, values: list[float], unit: str = "ms", scale: float = 1000.0) -> None:
    shown = [v * scale for v in values]
    print(f"  {name:<34} median {statistics.median(shown):8.1f} {unit}   min {min(shown):8.1f}   max {max(shown):8.1f}"
          f"   (n={len(shown)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lab", default="netpol")
    parser.add_argument("--step", default="deny-all")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-stalls", action="store_true")
    args = parser.parse_args()

    print(f"labrunner TUI responsiveness ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    if not args.skip_startup:
        for title, command in (("`labrunner`", labrunner_command()), ("run_tui() alone", TUI_ALONE)):
            runs = []
            with tempfile.TemporaryDirectory() as state:
                for _ in range(args.runs):
                    runs.append(time_startup(command, state))
            print(f"start-up, {title} in an 80x24 pseudo-terminal:")
            for name, what in (("painted", "to the first painted screen"), ("listed", "to the labs listed"),
                               ("reached", "to the cluster's answer shown")):
                values = [run[name] for run in runs if name in run]
                if values:
                    show(what, values)
                else:
                    print(f"  {what}: never (no labs, or no cluster answered)")

    if args.skip_stalls:
        return 0
    lab = next(lab for lab in load_labs(REPO / "labs") if lab.id == args.lab)
    cluster = connect()
    try:
        figures = asyncio.run(measure_stalls(cluster, lab, args.step, args.runs))
    finally:
        delete_namespace(cluster, NAMESPACE)
    print(f"event-loop stalls (a 10 ms timer's lateness), {lab.id}/{args.step}:")
    show("longest, while setting the step up", figures["setup_max_stall"])
    show("longest, during a full check", figures["check_max_stall"])
    show("99th percentile, during a full check", figures["check_p99_stall"])
    show("full check, key to report shown", figures["check_seconds"], unit="s ", scale=1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
