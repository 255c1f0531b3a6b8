"""How fast labrunner checks and sets up a step, against plain kubectl and a real peer.

1. Checking the NetworkPolicy step (every probe): labrunner's checks (probes
   in parallel, each over its own exec websocket; deny probes ask the target's
   node alongside) vs a shell script that runs `kubectl exec ... wget -T 1`
   once per probe, one after another.
2. Setting a step up: labrunner's setup (server-side apply + watch-based
   waits) vs `kubectl apply --server-side` + `kubectl wait`.
3. The same NetworkPolicy truth table side by side with a peer: a 3x3 matrix of three agnhost
   servers (a, b, c: pods made by cyclonus, as it makes them) under a deny-ingress policy and one
   allow rule (a -> b). Measured, whole processes, wall and CPU: `labrunner check` of a lab whose
   check probes the six cells between different pods; cyclonus v0.5.6 `probe` on the same pods
   (all nine cells: it also probes each pod to itself); and an upstream-e2e-style script, one
   `kubectl exec ... /agnhost connect` per cell, the three source pods in parallel. cyclonus is
   built with `go install` from the Go module proxy and cached like the testbed's builds (its
   [builds.cyclonus] in testbed/testbed.toml). It runs agnhost 2.43, which the testbed's mirror
   serves as its 2.56 build (copied under that tag with crane when missing). Goals: the
   `labrunner check` process takes at most half cyclonus's wall time, with CPU within 2x of it.
   `--prepare` builds cyclonus and validates the lab without a cluster.

Needs a cluster (KUBECONFIG) and kubectl on PATH (or KUBECTL=...). Targets:
checks at least 4x faster; setup within 1.2x of kubectl.

    python benchmarks/check_speed.py [--runs 5] [--no-peer] [--prepare]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labrunner import runner  # noqa: E402
from labrunner.checks import canary  # noqa: E402
from labrunner.checks.probeplan import Resolver  # noqa: E402
from labrunner.cluster import connect, delete_namespace, ensure_namespace, ping  # noqa: E402
from labrunner.cluster.applying import render  # noqa: E402
from labrunner.loader import find_curriculum, load_curriculum, load_lab  # noqa: E402

LAB, STEP = "policy-basics", "frontend-egress"
LABS = REPO / "tests" / "fixtures" / "labs"  # the engine's proof labs
NAMESPACE = "lrbench-netpol"


def kubectl() -> str:
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not found:
        built = testbed_config().binary("kubectl")
        found = str(built) if built.exists() else None
    if not found:
        sys.exit("kubectl not found: put it on PATH or set KUBECTL")
    return found


def testbed_config():  # noqa: ANN201
    """The testbed's settings (testbed/lib/config.py): where it caches its Go builds."""
    sys.path.insert(0, str(REPO / "testbed" / "lib"))
    try:
        from config import load_config

        return load_config()
    finally:
        sys.path.pop(0)


def timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def probe_script(cluster, lab, step, namespace: str) -> str:  # noqa: ANN001
    """The shell a person would write: one kubectl exec + wget -T 1 per probe."""
    resolver = Resolver(cluster, namespace)
    lines = ["#!/bin/sh", "fails=0"]
    for check in step.checks:
        for probe in check.params.get("probes", []):
            for source in resolver.sources(probe["from"]):
                for target, port in resolver.targets(probe["to"], probe.get("port")):
                    lines.append(f"{kubectl()} exec -n {source.namespace} {source.pod} -- wget -q -O /dev/null -T 1 "
                                 f"http://{target.address}:{port}/ >/dev/null 2>&1 || fails=$((fails+1))")
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


# -- the peer: cyclonus on a 3x3 matrix ----------------------------------------------------

PEER_LAB = "peer-matrix"
PEER_NAMESPACE = f"lab-{PEER_LAB}"  # the lab's own namespace, so `labrunner check` finds it as a learner's would
PODS = ("a", "b", "c")
CYCLONUS_AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.43"  # what cyclonus v0.5.6 runs (probe/pod.go)
TESTBED_AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.56"

PEER_POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-a-to-b}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {pod: a}}}]
      ports: [{port: 80}]
"""


def peer_lab(folder: Path) -> Path:
    """Write the lab of the 3x3 matrix under `folder` (with the shipped curriculum); returns the labs folder."""
    labs = folder / "labs"
    lab = labs / PEER_LAB
    (lab / "manifests").mkdir(parents=True)
    (lab / "steps").mkdir()
    (lab / "steps" / "matrix.md").write_text("Let only pod a reach pod b; every other pod reaches no pod.\n")
    # The shipped curriculum, less its learning order: that names the shipped labs, not this one.
    curriculum = yaml.safe_load((REPO / "labs" / "curriculum.yaml").read_text())
    curriculum.pop("order", None)
    (labs / "curriculum.yaml").write_text(yaml.safe_dump(curriculum, sort_keys=False))
    (lab / "manifests" / "policies.yaml").write_text(PEER_POLICIES)
    probes = "\n".join(
        f"          - {{from: {{pod: {src}}}, to: {{pod: {dst}}}, port: 80, "
        f"expect: {'allow' if (src, dst) == ('a', 'b') else 'deny'}}}"
        for src in PODS for dst in PODS if src != dst)
    (lab / "lab.yaml").write_text(f"""\
format: 1
id: {PEER_LAB}
title: A 3x3 NetworkPolicy matrix, as a peer measures it
summary: Three agnhost servers made by cyclonus, a deny-ingress policy and one allow rule.
difficulty: beginner
minutes: 5
topics: [NET-3]
requires: [networkpolicy]
images: [{CYCLONUS_AGNHOST}]
steps:
  - id: matrix
    title: The matrix
    text: steps/matrix.md
    topics: [NET-3]
    solution:
      apply: [manifests/policies.yaml]
      explanation: Deny all ingress, then let pod a reach pod b on port 80.
    checks:
      - kind: connectivity
        id: matrix
        title: only a reaches b
        probes:
{probes}
""")
    return labs


def cyclonus_binary() -> Path | None:
    """cyclonus, built once per version into the testbed's build cache; None without Go."""
    if not shutil.which("go"):
        return None
    cfg = testbed_config()
    sys.path.insert(0, str(REPO / "testbed" / "lib"))
    try:
        from build import build_one

        build_one(cfg, "cyclonus")
    finally:
        sys.path.pop(0)
    return cfg.binary("cyclonus")


def cyclonus_command(binary: Path) -> list[str]:
    return [str(binary), "probe", "-n", PEER_NAMESPACE, "--server-pod", ",".join(PODS), "--server-port", "80",
            "--server-protocol", "TCP", "--all-available=false", "--port", "80", "--protocol", "tcp",
            "--probe-mode", "pod-ip", "--job-timeout-seconds", "1", "--perturbation-wait-seconds", "0",
            "--pod-creation-timeout-seconds", "180"]


def mirror_cyclonus_agnhost() -> str:
    """Make the testbed's mirror serve agnhost 2.43 (cyclonus's) as its 2.56 build; says what it did."""
    sys.path.insert(0, str(REPO / "testbed" / "lib"))
    try:
        from images import crane, mirror_ref

        cfg = testbed_config()
        wanted = mirror_ref(cfg, CYCLONUS_AGNHOST)
        if crane(cfg, "config", wanted, check=False).returncode == 0:
            return f"the mirror serves {CYCLONUS_AGNHOST}"
        crane(cfg, "copy", mirror_ref(cfg, TESTBED_AGNHOST), wanted)
        return f"the mirror now serves {CYCLONUS_AGNHOST} as its build of {TESTBED_AGNHOST}"
    except Exception as exc:  # not the testbed: the cluster must pull the image itself
        return f"could not alias agnhost 2.43 in a testbed mirror ({exc}); the cluster must pull {CYCLONUS_AGNHOST}"
    finally:
        sys.path.pop(0)


def e2e_script(cluster) -> str:  # noqa: ANN001
    """One `kubectl exec ... /agnhost connect` per cell, the three source pods in parallel."""
    ips = {pod: cluster.get("Pod", pod, namespace=PEER_NAMESPACE)["status"]["podIP"] for pod in PODS}
    lines = ["#!/bin/sh"]
    for src in PODS:
        cells = " ; ".join(f"{kubectl()} exec -n {PEER_NAMESPACE} {src} -- /agnhost connect {ips[dst]}:80 --timeout=1s "
                           "--protocol=tcp >/dev/null 2>&1" for dst in PODS if dst != src)
        lines.append(f"( {cells} ) &")
    lines.append("wait")
    return "\n".join(lines) + "\n"


def process_time(command: list[str], **kwargs) -> tuple[float, float]:  # noqa: ANN003
    """(wall seconds, CPU seconds of the process and its children) of running `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, **kwargs)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_peer(runs: int, *, prepare_only: bool) -> int:
    """Part 3: labrunner, cyclonus and the e2e-style script on the same 3x3 matrix."""
    with tempfile.TemporaryDirectory() as folder:
        labs = peer_lab(Path(folder))
        check = [sys.executable, "-m", "labrunner.cli", "--labs", str(labs), "check", PEER_LAB]
        valid = subprocess.run([sys.executable, "-m", "labrunner.cli", "validate", str(labs)], cwd=REPO,
                               capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        if valid.returncode != 0:
            print(f"the peer lab does not validate:\n{valid.stdout}{valid.stderr}")
            return 1
        binary = cyclonus_binary()
        if binary is None:
            print("peer: no Go to build cyclonus with (install Go 1.22+); the 3x3 comparison is skipped")
            return 0
        print(f"peer: cyclonus at {binary}; the lab validates")
        print("  cyclonus:", " ".join(cyclonus_command(binary)))
        if prepare_only:
            return 0
        print(" ", mirror_cyclonus_agnhost())
        cluster = connect()
        ping(cluster)
        lab = load_lab(labs / PEER_LAB, load_curriculum(labs / "curriculum.yaml"))
        step = lab.steps[0]
        env = {**os.environ, "PYTHONPATH": str(REPO), "LABRUNNER_STATE_DIR": str(Path(folder) / "state")}
        delete_namespace(cluster, PEER_NAMESPACE, wait=True)
        ensure_namespace(cluster, PEER_NAMESPACE, lab_id=PEER_LAB)
        try:
            runner.run_actions(cluster, lab, step.solution.actions)  # the policies
            first = subprocess.run(cyclonus_command(binary), capture_output=True, text=True)  # makes the pods
            if first.returncode != 0:
                print(f"cyclonus failed ({first.returncode}):\n{first.stdout[-3000:]}{first.stderr[-3000:]}")
                return 1
            report = runner.run_until_passed(cluster, lab, step, timeout=60)
            print(f"  labrunner's verdict: {report.status.value}: " + "; ".join(r.message for r in report.results))
            script = e2e_script(cluster)
            ours, peer, e2e = [], [], []
            for _ in range(runs):
                ours.append(process_time(check, cwd=REPO, env=env))
                peer.append(process_time(cyclonus_command(binary)))
                e2e.append(process_time(["sh", "-c", script]))
            last = subprocess.run(cyclonus_command(binary), capture_output=True, text=True)
            print("  cyclonus's last table:\n" + "\n".join("    " + line for line in last.stdout.splitlines()[-16:]))
        finally:
            delete_namespace(cluster, PEER_NAMESPACE)
    m = statistics.median
    print(f"\n3x3 matrix, whole processes, median of {runs} (s) {'wall':>8} {'CPU':>8}")
    for name, values in (("labrunner check (6 cells)", ours), ("cyclonus v0.5.6 probe (9 cells)", peer),
                         ("e2e-style script, 3 parallel kubectl exec (6 cells)", e2e)):
        print(f"  {name:<52} {m(v[0] for v in values):>8.2f} {m(v[1] for v in values):>8.2f}")
    wall = m(v[0] for v in ours) / m(v[0] for v in peer)
    cpu = m(v[1] for v in ours) / max(m(v[1] for v in peer), 1e-9)
    print(f"  labrunner's wall is {wall:.2f}x cyclonus's (goal <= 0.5: {'met' if wall <= 0.5 else 'NOT met'}); "
          f"its CPU {cpu:.1f}x (goal <= 2: {'met' if cpu <= 2 else 'NOT met'})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true", help="skip part 3, the comparison with cyclonus")
    parser.add_argument("--prepare", action="store_true",
                        help="only build cyclonus and validate the peer lab (no cluster needed)")
    args = parser.parse_args()
    if args.prepare:
        return measure_peer(args.runs, prepare_only=True)
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
    if args.no_peer:
        return 0
    print()
    return measure_peer(args.runs, prepare_only=False)


if __name__ == "__main__":
    from labrunner.errors import LabrunnerError

    try:
        sys.exit(main())
    except LabrunnerError as exc:
        sys.exit(f"check_speed: {exc}")
