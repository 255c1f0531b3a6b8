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
from labrunner.tui.app import LabApp  # noqa: E402
from labrunner.tui.backend import ClusterBackend  # noqa: E402

PAINTED = b"labrunner \xc2\xb7 labs"  # the lab list's title line
REACHED = b"Kubernetes v"  # the status line after the cluster answered
NAMESPACE = "lrbench-tui"


def labrunner_command() -> list[str]:
    script = Path(sys.executable).with_name("labrunner")
    return [str(script)] if script.exists() else [sys.executable, "-m", "labrunner.cli"]


def time_startup(state_dir: str, timeout: float = 30.0) -> tuple[float, float | None]:
    """Seconds from exec to the first painted lab list, and to the cluster's answer."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "LABRUNNER_STATE_DIR": state_dir, "COLUMNS": "80", "LINES": "24"}
    started = time.perf_counter()
    process = subprocess.Popen(labrunner_command(), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO,
                               start_new_session=True)
    os.close(slave)
    seen, painted, reached = b"", None, None
    try:
        while time.perf_counter() - started < timeout and reached is None:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                now = time.perf_counter() - started
                if painted is None and PAINTED in seen:
                    painted = now
                if painted is not None and REACHED in seen:
                    reached = now
    finally:
        os.write(master, b"\x11")  # ctrl+q
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        os.close(master)
    if painted is None:
        raise SystemExit(f"the lab list never painted; the terminal got:\n{seen[-2000:]!r}")
    return painted, reached


class TimedBackend(ClusterBackend):
    """Marks when a full check returns, to know when the UI has its report."""

    def __init__(self, cluster) -> None:  # noqa: ANN001
        super().__init__(cluster)
        self.checks_done = 0

    def run_checks(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        report = super().run_checks(*args, **kwargs)
        self.checks_done += 1
        return report


async def measure_stalls(cluster, lab, step_id: str, runs: int) -> dict[str, list[float]]:  # noqa: ANN001
    backend = TimedBackend(cluster)
    figures: dict[str, list[float]] = {"setup_max_stall": [], "check_max_stall": [], "check_p99_stall": [], "check_seconds": []}
    with tempfile.TemporaryDirectory() as state:
        app = LabApp(backend, [lab], progress_path=Path(state) / "progress.json", namespaces={lab.id: NAMESPACE})
        app.store.update(lambda p: setattr(p.lab(lab.id), "current_step", step_id))
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
            panel = lambda: str(app.screen.query_one("#check-results").render())  # noqa: E731
            while "✘" not in panel() and "✔" not in panel() and "⚠" not in panel():
                await pilot.pause(0.05)  # step set up (apps Available) and the watch's first report shown
            figures["setup_max_stall"].append(max(lags))
            for _ in range(runs):
                lags.clear()
                done = backend.checks_done
                started = time.perf_counter()
                await pilot.press("c")
                while backend.checks_done == done or "Checking" in panel():
                    await pilot.pause(0.01)
                figures["check_seconds"].append(time.perf_counter() - started)
                figures["check_max_stall"].append(max(lags))
                figures["check_p99_stall"].append(statistics.quantiles(lags, n=100)[98] if len(lags) > 2 else max(lags))
            stop.set()
            await watcher
            app.stop_watches()
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
    args = parser.parse_args()

    print(f"labrunner TUI responsiveness ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    if not args.skip_startup:
        painted, reached = [], []
        with tempfile.TemporaryDirectory() as state:
            for _ in range(args.runs):
                first, answer = time_startup(state)
                painted.append(first)
                if answer is not None:
                    reached.append(answer)
        print("start-up, `labrunner` in an 80x24 pseudo-terminal:")
        show("to the first painted lab list", painted)
        if reached:
            show("to the cluster's answer shown", reached)
        else:
            print("  (the cluster did not answer: no status figure)")

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
