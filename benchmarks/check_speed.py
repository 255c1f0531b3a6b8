"""How fast labrunner checks and sets up a step, against plain kubectl.

1. Checking the NetworkPolicy step (every probe): labrunner's checks (probes
   in parallel, each over its own exec websocket; deny probes ask the target's
   node alongside) vs a shell script that runs `kubectl exec ... wget -T 1`
   once per probe, one after another.
2. Setting a step up: labrunner's setup (server-side apply + watch-based
   waits) vs `kubectl apply --server-side` + `kubectl wait`.

Needs a cluster (KUBECONFIG) and kubectl on PATH (or KUBECTL=...). Targets:
checks at least 4x faster; setup within 1.2x of kubectl.

    python benchmarks/check_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labrunner import runner  # noqa: E402
from labrunner.checks import canary  # noqa: E402
from labrunner.checks.network import _Resolver  # noqa: E402
from labrunner.checks import CheckContext  # noqa: E402
from labrunner.cluster import connect, delete_namespace, ensure_namespace, ping  # noqa: E402
from labrunner.cluster.applying import render  # noqa: E402
from labrunner.loader import find_curriculum, load_curriculum, load_lab  # noqa: E402

LAB, STEP = "policy-basics", "frontend-egress"
LABS = REPO / "tests" / "fixtures" / "labs"  # the engine's proof labs
NAMESPACE = "lrbench-netpol"


def kubectl() -> str:
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not found:
        sys.exit("kubectl not found: put it on PATH or set KUBECTL")
    return found


def timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def probe_script(cluster, lab, step, namespace: str) -> str:  # noqa: ANN001
    """The shell a person would write: one kubectl exec + wget -T 1 per probe."""
    ctx = CheckContext(cluster=cluster, namespace=namespace, lab=lab, step=step)
    resolver = _Resolver(ctx)
    lines = ["#!/bin/sh", "fails=0"]
    for check in step.checks:
        for probe in check.params.get("probes", []):
            pod, ns, _ = resolver.source(probe["from"])
            host = resolver.target(probe["to"]).address
            lines.append(f"{kubectl()} exec -n {ns} {pod} -- wget -q -O /dev/null -T 1 http://{host}:{probe['port']}/ "
                         ">/dev/null 2>&1 || fails=$((fails+1))")
    lines.append('echo "$fails probes did not connect"')
    return "\n".join(lines) + "\n"


def kubectl_setup(step, namespace: str) -> None:  # noqa: ANN001
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        import yaml

        objects = render(step.setup.apply, namespace=namespace, lab_id=LAB)
        yaml.safe_dump_all([o.body for o in objects], handle)
        path = handle.name
    try:
        subprocess.run([kubectl(), "apply", "--server-side", "--field-manager=kubectl-bench", "--force-conflicts",
                        "-n", namespace, "-f", path], check=True, capture_output=True)
        waits = [f"deployment/{w.name}" for w in step.setup.wait]
        subprocess.run([kubectl(), "wait", "-n", namespace, "--for=condition=Available", "--timeout=120s", *waits],
                       check=True, capture_output=True)
    finally:
        os.unlink(path)


def fresh_namespace(cluster, name: str) -> None:  # noqa: ANN001
    delete_namespace(cluster, name, wait=True)
    ensure_namespace(cluster, name, lab_id=LAB)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cluster = connect()
    ping(cluster)
    lab = load_lab(LABS / LAB, load_curriculum(find_curriculum(LABS)))
    step = lab.step(STEP)
    first = lab.steps[0]
    print(f"cluster {cluster.configuration.host}, {args.runs} runs each, median seconds\n")

    # -- setup -------------------------------------------------------------------
    ours_setup, theirs_setup = [], []
    for i in range(args.runs):
        fresh_namespace(cluster, NAMESPACE)
        ours_setup.append(timed(lambda: runner.run_actions(cluster, lab, first.setup, namespace=NAMESPACE)))
        fresh_namespace(cluster, NAMESPACE + "-k")
        theirs_setup.append(timed(lambda: kubectl_setup(first, NAMESPACE + "-k")))
    delete_namespace(cluster, NAMESPACE + "-k")

    # -- checks ------------------------------------------------------------------
    fresh_namespace(cluster, NAMESPACE)
    runner.reach_step(cluster, lab, step, namespace=NAMESPACE)
    runner.run_actions(cluster, lab, step.solution.actions, namespace=NAMESPACE)
    report = runner.run_until_passed(cluster, lab, step, namespace=NAMESPACE, timeout=60)  # also starts the probe pods
    if not report.passed:
        print("the step does not pass after its solution:", [r.message for r in report.results])
        return 1
    probes = sum(len(c.params.get("probes", [])) for c in step.checks)
    script = probe_script(cluster, lab, step, NAMESPACE)
    ours_check, theirs_check = [], []
    for _ in range(args.runs):
        canary._cache.clear()  # pay for the canary every time, as a fresh `labrunner check` process does
        ours_check.append(timed(lambda: runner.run_step_checks(cluster, lab, step, namespace=NAMESPACE)))
        theirs_check.append(timed(lambda: subprocess.run(["sh", "-c", script], check=True, capture_output=True)))
    cli = [timed(lambda: subprocess.run([sys.executable, "-m", "labrunner.cli", "--labs", str(LABS / LAB), "check",
                                         LAB, "--step", STEP], cwd=REPO, capture_output=True,
                                        env={**os.environ, "PYTHONPATH": str(REPO)}))
           for _ in range(3)]
    delete_namespace(cluster, NAMESPACE)

    m = statistics.median
    check_ratio = m(theirs_check) / m(ours_check)
    setup_ratio = m(ours_setup) / m(theirs_setup)
    print(f"{'':44} {'labrunner':>10} {'kubectl':>10}")
    print(f"{f'check {LAB}/{STEP} ({probes} probes)':44} {m(ours_check):>10.2f} {m(theirs_check):>10.2f}"
          f"   {check_ratio:.1f}x faster (target >= 4x: {'met' if check_ratio >= 4 else 'NOT met'})")
    print(f"{'  same, as a `labrunner check` process':44} {m(cli):>10.2f}")
    print(f"{f'set up {LAB}/{first.id}':44} {m(ours_setup):>10.2f} {m(theirs_setup):>10.2f}"
          f"   {setup_ratio:.2f}x kubectl's time (target <= 1.2x: {'met' if setup_ratio <= 1.2 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    from labrunner.errors import LabrunnerError

    try:
        sys.exit(main())
    except LabrunnerError as exc:
        sys.exit(f"check_speed: {exc}")
