"""Figures of a workshop room on the cluster of KUBECONFIG (the cluster admin's):

1. time to create (and to delete) a workshop of 10 and of 30 seats (`workshop create`: namespaces,
   RBAC, quota, the shared canary, certificates through the CSR API, kubeconfigs);
2. check latency with 10 seats checking at once: every seat starts the first step of LAB with its own
   kubeconfig, then all check it at the same moment, ROUNDS times; p50 and p95 of one seat's check
   (the engine's run_step_checks, as `labrunner check` runs it), and the slowest;
3. memory per seat with the netpol lab started (`--memory-at`, default 10 seats): every seat starts
   netpol's second step (deny-all, catching up the first: the shop's four pods and the shell pod) and
   checks it once, which starts its probe pods (the open server and the outside probes, in the seat's
   probe namespace). Then, after the kubelet's next stats, the sum of the working set
   (`memory.workingSetBytes`: what the kernel cannot reclaim, what the kubelet evicts by) of every
   container in each seat's namespaces, from each node's kubelet summary API
   (`/api/v1/nodes/NODE/proxy/stats/summary`); per seat, its lab namespace and its probe namespace
   apart, and labrunner's own shared namespace once for the room.

Every workshop made is deleted, also on Ctrl-C. Prints figures; asserts nothing (no timed test).

    python benchmarks/workshop_room.py [--seats 10 30] [--lab orchestration] [--rounds 5] [--check-at 10 30]
                                       [--memory-at 10]
"""

from __future__ import annotations

import argparse
import json
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


MEMORY_LAB = "netpol"
MEMORY_STEP = "deny-all"
STATS_SETTLE = 20.0  # s: the kubelet's summary refreshes its cgroup figures every 10-15 s


def working_sets(cluster) -> dict[str, int]:  # noqa: ANN001
    """namespace -> bytes: the sum of `memory.workingSetBytes` of every pod, over every node's kubelet
    summary (Kubernetes "Node metrics data": /stats/summary through the API server's node proxy)."""
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(cluster.api)
    found: dict[str, int] = {}
    for node in cluster.list("Node"):
        raw = core.connect_get_node_proxy_with_path(node["metadata"]["name"], "stats/summary", _preload_content=False)
        for pod in json.loads(raw.data).get("pods") or []:
            ns = pod["podRef"]["namespace"]
            found[ns] = found.get(ns, 0) + int((pod.get("memory") or {}).get("workingSetBytes") or 0)
    return found


def memory_per_seat(made, lab) -> tuple[list[tuple[str, int, int]], dict[str, int]]:  # noqa: ANN001
    """Each seat starts MEMORY_STEP (catching up) and checks it once, all at once; then (seat, bytes in its
    lab namespace, bytes in its probe namespace) per seat, and `working_sets` of every namespace."""
    step = next(s for s in lab.steps if s.id == MEMORY_STEP)
    errors: list[str] = []

    def one(seat, path) -> None:  # noqa: ANN001
        try:
            cluster = connect(kubeconfig=str(path))
            runner.start_step(cluster, lab, step, namespace=seat.namespace(lab.id), catch_up=True)
            runner.run_step_checks(cluster, lab, step, namespace=seat.namespace(lab.id))
        except Exception as exc:  # noqa: BLE001 - said, and the seat is counted as it is
            errors.append(f"{seat.name}: {exc}")

    threads = [threading.Thread(target=one, args=pair) for pair in zip(made.seats, made.kubeconfigs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for line in errors:
        print(f"  (seat {line})", flush=True)
    time.sleep(STATS_SETTLE)
    sets = working_sets(connect())
    return [(seat.name, sets.get(seat.namespace(lab.id), 0), sets.get(seat.probe_namespace, 0)) for seat in made.seats], sets


def print_memory(rows, sets, lab_id: str) -> None:  # noqa: ANN001
    mib = 1024 * 1024
    for seat, in_lab, in_probe in rows:
        print(f"  {seat}: {(in_lab + in_probe) / mib:6.1f} MiB ({lab_id} {in_lab / mib:.1f}, probe {in_probe / mib:.1f})")
    totals = [a + b for _, a, b in rows]
    print(f"memory per seat with {lab_id} started ({len(rows)} seats, working set): mean {statistics.mean(totals) / mib:.1f} MiB, "
          f"min {min(totals) / mib:.1f}, max {max(totals) / mib:.1f}; labrunner-canary (shared, once per room) "
          f"{sets.get('labrunner-canary', 0) / mib:.1f} MiB", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seats", type=int, nargs="*", default=[10, 30],
                        help="seat counts to time create and delete for (none: only the memory figure)")
    parser.add_argument("--lab", default="orchestration")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--check-at", type=int, nargs="*", default=[10],
                        help="seat counts whose seats all check at once (default: 10)")
    parser.add_argument("--memory-at", type=int, nargs="*", default=[10],
                        help=f"seat counts whose memory per seat with the {MEMORY_LAB} lab started is measured (default: 10)")
    args = parser.parse_args()
    cluster = connect()
    labs = {lab.id: lab for lab in discover_labs(None).labs}
    lab = labs[args.lab]
    for count in args.memory_at:
        name = f"ns-bench-{uuid.uuid4().hex[:4]}"
        with tempfile.TemporaryDirectory() as out:
            try:
                made = create_workshop(cluster, name, seats=count, labs=[labs[MEMORY_LAB]], out=Path(out))
                rows, sets = memory_per_seat(made, labs[MEMORY_LAB])
                print_memory(rows, sets, MEMORY_LAB)
            finally:
                delete_workshop(cluster, name)
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
