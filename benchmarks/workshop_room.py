"""Figures of a workshop room on the cluster of KUBECONFIG (the cluster admin's):

1. time to create (and to delete) a workshop of 10 and of 30 seats (`workshop create`: namespaces,
   RBAC, quota, the shared canary, certificates through the CSR API, kubeconfigs);
2. check latency with 10 seats checking at once: every seat starts the first step of LAB with its own
   kubeconfig, then all check it at the same moment, ROUNDS times; p50 and p95 of one seat's check
   (the engine's run_step_checks, as `labrunner check` runs it), and the slowest.

Every workshop made is deleted, also on Ctrl-C. Prints figures; asserts nothing (no timed test).

    python benchmarks/workshop_room.py [--seats 10 30] [--lab orchestration] [--rounds 5] [--check-at 10 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labrunner import runner  # noqa: E402
from labrunner.cluster import connect  # noqa: E402
from labrunner.loader import discover_labs  # noqa: E402
from labrunner.workshop.rooms import create_workshop, delete_workshop  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def checks_at_once(made, lab, rounds: int) -> list[float]:
    """Each seat starts the lab's first step (its own kubeconfig), then all check together, `rounds` times."""
    step = lab.steps[0]
    seats = [(seat, connect(kubeconfig=str(path))) for seat, path in zip(made.seats, made.kubeconfigs)]
    for seat, cluster in seats:
        runner.start_step(cluster, lab, step, namespace=seat.namespace(lab.id))
    timings: list[float] = []
    lock = threading.Lock()
    for _ in range(rounds):
        barrier = threading.Barrier(len(seats))

        def one(seat, cluster) -> None:  # noqa: ANN001
            barrier.wait()
            began = time.perf_counter()
            runner.run_step_checks(cluster, lab, step, namespace=seat.namespace(lab.id))
            with lock:
                timings.append(time.perf_counter() - began)

        threads = [threading.Thread(target=one, args=pair) for pair in seats]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seats", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--lab", default="orchestration")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check-at", type=int, nargs="*", default=[10],
                        help="seat counts whose seats all check at once (default: 10)")
    args = parser.parse_args()
    cluster = connect()
    lab = next(lab for lab in discover_labs(None).labs if lab.id == args.lab)
    for count in args.seats:
        name = f"ws-bench-{uuid.uuid4().hex[:4]}"
        with tempfile.TemporaryDirectory() as out:
            try:
                began = time.perf_counter()
                made = create_workshop(cluster, name, seats=count, labs=[lab], out=Path(out))
                created = time.perf_counter() - began
                print(f"create {count:>3} seats: {created:6.1f} s ({created / count * 1000:.0f} ms a seat)", flush=True)
                if count in args.check_at:
                    timings = checks_at_once(made, lab, args.rounds)
                    print(f"check latency, {count} seats checking {lab.id}/{lab.steps[0].id} at once, "
                          f"{len(timings)} checks: p50 {statistics.median(timings):.2f} s, "
                          f"p95 {percentile(timings, 0.95):.2f} s, max {max(timings):.2f} s", flush=True)
            finally:
                began = time.perf_counter()
                delete_workshop(cluster, name)
                print(f"delete {count:>3} seats: {time.perf_counter() - began:6.1f} s (until every namespace is gone)",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
