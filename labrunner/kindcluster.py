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
        if _run(["kind", "create", "cluster", "--name", args.name, "--config", str(_find_kind_config())]).returncode:
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
    print(f"\nCluster kind-{args.name} is up. Next: `labrunner doctor`, then `labrunner list`.")
    return 0


def command_down(args: argparse.Namespace, labs: list[Lab]) -> int:
    if shutil.which("kind") is None:
        print("kind is not installed, so there is no kind cluster to delete.", file=sys.stderr)
        return exitcodes.ERROR
    return exitcodes.ERROR if _run(["kind", "delete", "cluster", "--name", args.name]).returncode else exitcodes.OK


@dataclass(frozen=True)
class Finding:
    ok: bool | None  # None: not applicable / skipped
    what: str
    fix: str = ""


def diagnose(args: argparse.Namespace, labs: list[Lab]) -> list[Finding]:
    findings = [
        Finding(_docker_works(), "docker", "install Docker (only needed for `labrunner up` with kind)"),
        Finding(shutil.which("kind") is not None, "kind", "install kind (only needed for `labrunner up`)"),
        Finding(shutil.which("kubectl") is not None, "kubectl", "install kubectl to work on the labs"),
    ]
    from .cluster import connect, ping

    try:
        cluster = connect(kubeconfig=args.kubeconfig, context=args.context)
        version = ping(cluster)
    except LabrunnerError as exc:
        return findings + [Finding(False, f"cluster reachable: {exc}", "start a cluster (`labrunner up`) or set KUBECONFIG")]
    findings.append(Finding(True, f"cluster reachable ({cluster.configuration.host}, {version})"))
    findings += _cluster_findings(cluster, labs)
    return findings


def _cluster_findings(cluster, labs: list[Lab]) -> list[Finding]:  # noqa: ANN001
    from .checks.canary import check_policy_enforced
    from .checks.network import parse_nslookup
    from .checks.canary import CANARY_NAMESPACE
    from .cluster import exec_in_pod
    from .cluster.probepods import ensure_probe_pods

    findings = []
    canary = check_policy_enforced(cluster, fresh=True)
    findings.append(Finding(canary.enforced, f"NetworkPolicy: {canary.message}",
                            "" if canary.enforced else "use a CNI that enforces NetworkPolicy"))
    try:
        pods = ensure_probe_pods(cluster, [{"labrunner.dev/canary": "client"}], namespace=CANARY_NAMESPACE, lab_id="canary")
        result = exec_in_pod(cluster, next(iter(pods)), ["nslookup", "kubernetes.default.svc.cluster.local"],
                             namespace=CANARY_NAMESPACE)
        addresses, _, _ = parse_nslookup(result.output)
        findings.append(Finding(bool(addresses), f"cluster DNS: kubernetes.default resolves to {', '.join(addresses) or 'nothing'}",
                                "" if addresses else "check CoreDNS: kubectl -n kube-system get pods -l k8s-app=kube-dns"))
    except LabrunnerError as exc:
        findings.append(Finding(False, f"cluster DNS could not be tested: {exc}", "check that pods can start"))
    classes = cluster.list("StorageClass")
    default = [c["metadata"]["name"] for c in classes
               if (c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    findings.append(Finding(bool(default), f"default StorageClass: {', '.join(default) or 'none'}",
                            "" if default else "install one (kind ships local-path as `standard`)"))
    present = {name for node in cluster.list("Node") for image in (node.get("status") or {}).get("images") or []
               for name in image.get("names") or []}
    for image in sorted({image for lab in labs for image in lab.images}):
        there = image in present
        findings.append(Finding(there, f"image {image} {'present' if there else 'not on the nodes'}",
                                "" if there else "it will be pulled on first use; `labrunner up` preloads it on kind"))
    return findings


def command_doctor(args: argparse.Namespace, labs: list[Lab]) -> int:
    findings = diagnose(args, labs)
    for finding in findings:
        mark = {True: " ok ", False: "FAIL", None: " -- "}[finding.ok]
        print(f"[{mark}] {finding.what}" + (f"\n       fix: {finding.fix}" if finding.fix and not finding.ok else ""))
    cluster_lines = findings[3:]
    # What is missing is the environment's: exit 3, as for any error of the cluster or the environment.
    return exitcodes.OK if cluster_lines and all(f.ok is not False for f in cluster_lines) else exitcodes.ERROR
