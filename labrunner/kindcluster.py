"""`labrunner up`, `down` and `doctor`: a local kind cluster, and a health report for any cluster."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import exitcodes
from .errors import LabrunnerError
from .model import Lab

KIND_CONFIG = "kind-config.yaml"
# Add-ons `up` installs when a lab needs them (kind ships local-path storage
# and, since v0.24, kindnet enforces NetworkPolicy).
INGRESS_NGINX_KIND = "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1/deploy/static/provider/kind/deploy.yaml"
_OTHER_CLUSTER = ("No docker here, so no kind cluster. Any other cluster works: point KUBECONFIG at its kubeconfig "
                  "(or pass --kubeconfig / --context), then run `labrunner doctor`.")


def _find_kind_config() -> Path:
    for folder in [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parent.parent]:
        if (folder / KIND_CONFIG).is_file():
            return folder / KIND_CONFIG
    raise LabrunnerError(f"no {KIND_CONFIG} found here or above; run from the labrunner checkout")


def _run(command: list[str], *, quiet: bool = False) -> subprocess.CompletedProcess:
    if not quiet:
        print("$ " + " ".join(command))
    return subprocess.run(command, text=True, capture_output=quiet, check=False)


def _docker_works() -> bool:
    return shutil.which("docker") is not None and _run(["docker", "info"], quiet=True).returncode == 0


def command_up(args: argparse.Namespace, labs: list[Lab]) -> int:
    if not _docker_works():
        print(_OTHER_CLUSTER, file=sys.stderr)
        return exitcodes.ERROR
    if shutil.which("kind") is None:
        print("kind is not installed: see https://kind.sigs.k8s.io/docs/user/quick-start/#installation", file=sys.stderr)
        return exitcodes.ERROR
    existing = _run(["kind", "get", "clusters"], quiet=True).stdout.split()
    if args.name not in existing:
        image = ["--image", args.image] if getattr(args, "image", None) else []
        if _run(["kind", "create", "cluster", "--name", args.name, "--config", str(_find_kind_config()), *image]).returncode:
            return exitcodes.ERROR
    images = sorted({image for lab in labs for image in lab.images})
    for image in images:
        # Pull once on the host, then load into the node: labs then start without waiting for pulls.
        if _run(["docker", "pull", image]).returncode == 0:
            _run(["kind", "load", "docker-image", "--name", args.name, image])
    needs = {feature for lab in labs for feature in lab.requires}
    kubectl = ["kubectl", "--context", f"kind-{args.name}"]
    if "ingress" in needs:
        _run(kubectl + ["apply", "-f", INGRESS_NGINX_KIND])
    if "loadbalancer" in needs:
        print("Labs need LoadBalancer addresses: run `cloud-provider-kind` in another terminal "
              "(https://github.com/kubernetes-sigs/cloud-provider-kind).")
    print(f"\nCluster kind-{args.name} is up. What it can do for the labs:")
    from .cluster import connect

    try:
        print_findings(cluster_findings(connect(kubeconfig=getattr(args, "kubeconfig", None), context=f"kind-{args.name}"), labs))
    except LabrunnerError as exc:
        print(f"(could not ask the cluster yet: {exc}; `labrunner doctor` tries again)")
    print("Next: `labrunner list`.")
    return 0


def command_down(args: argparse.Namespace, labs: list[Lab]) -> int:
    if shutil.which("kind") is None:
        print("kind is not installed, so there is no kind cluster to delete.", file=sys.stderr)
        return exitcodes.ERROR
    return exitcodes.ERROR if _run(["kind", "delete", "cluster", "--name", args.name]).returncode else exitcodes.OK


@dataclass(frozen=True)
class Finding:
    """One line of `doctor`: `ok` True, False (then `fix` says what to do) or None (not found out,
    or missing but no lab needs it: not counted against the cluster)."""

    ok: bool | None
    what: str
    fix: str = ""
    counts: bool = True  # False: shown, but not a reason for exit 3


def diagnose(args: argparse.Namespace, labs: list[Lab]) -> list[Finding]:
    findings = [
        Finding(_docker_works(), "docker", "install Docker (only needed for `labrunner up` with kind)", counts=False),
        Finding(shutil.which("kind") is not None, "kind", "install kind (only needed for `labrunner up`)", counts=False),
        Finding(shutil.which("kubectl") is not None, "kubectl", "install kubectl to work on the labs", counts=False),
    ]
    from .cluster import connect, ping

    try:
        cluster = connect(kubeconfig=args.kubeconfig, context=args.context)
        version = ping(cluster)
    except LabrunnerError as exc:
        return findings + [Finding(False, f"cluster reachable: {exc}", "start a cluster (`labrunner up`) or set KUBECONFIG")]
    findings.append(Finding(True, f"cluster reachable ({cluster.configuration.host}, {version})"))
    findings += cluster_findings(cluster, labs)
    return findings


def cluster_findings(cluster, labs: list[Lab], *, fresh: bool = True) -> list[Finding]:  # noqa: ANN001
    """Every capability (labrunner.capabilities) with its state and fix, the labs this cluster cannot
    run, and the labs' images on the nodes. A missing capability no lab needs is shown, not counted."""
    from .capabilities import NAMES, capabilities, capability_of, unmet_cached

    found = {c.name: c for c in capabilities(cluster, NAMES, fresh=fresh)}
    needed_by: dict[str, list[str]] = {}
    for lab in labs:
        for requirement in lab.needs:
            needed_by.setdefault(capability_of(requirement), []).append(lab.id)
    findings = []
    for name in NAMES:
        item = found[name]
        users = sorted(set(needed_by.get(name, [])))
        fix = item.fix + (f" (needed by {', '.join(users)})" if users and item.fix else "")
        counts = bool(users) or name == "kubernetes"
        shown_state = item.state if item.state is not False or counts else None
        findings.append(Finding(shown_state, f"{name}: {item.detail}" + ("" if counts or item.state is not False
                                                                          else " (no lab here needs it)"), fix, counts))
    for lab in labs:
        lacking = unmet_cached(found, lab.needs)
        if lacking:
            findings.append(Finding(False, f"lab {lab.id} cannot be done on this cluster: "
                                           + "; ".join(f"{u.requirement} ({u.why})" for u in lacking),
                                    "; ".join(dict.fromkeys(u.fix for u in lacking if u.fix))))
    present = {name for node in cluster.list("Node") for image in (node.get("status") or {}).get("images") or []
               for name in image.get("names") or []}
    for image in sorted({image for lab in labs for image in lab.images}):
        there = image in present
        findings.append(Finding(there, f"image {image} {'present' if there else 'not on the nodes'}",
                                "" if there else "it will be pulled on first use; `labrunner up` preloads it on kind",
                                counts=False))
    return findings


def print_findings(findings: list[Finding]) -> None:
    for finding in findings:
        mark = {True: " ok ", False: "FAIL", None: " -- "}[finding.ok]
        print(f"[{mark}] {finding.what}" + (f"\n       fix: {finding.fix}" if finding.fix and finding.ok is False else ""))


def command_doctor(args: argparse.Namespace, labs: list[Lab]) -> int:
    findings = diagnose(args, labs)
    print_findings(findings)
    reached = any(f.what.startswith("cluster reachable (") for f in findings)
    # What is missing is the environment's: exit 3, as for any error of the cluster or the environment.
    return exitcodes.OK if reached and all(f.ok is not False for f in findings if f.counts) else exitcodes.ERROR
