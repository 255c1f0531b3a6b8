"""Prove that the cluster enforces NetworkPolicy before trusting a "deny".

On a cluster whose CNI ignores NetworkPolicy, every probe connects and a
"deny" check could only fail; worse, a check that expects deny after an
unrelated failure could pass. The canary runs in its own namespace: a client,
an open server and a server behind a deny-all ingress policy. Enforcement is
proven when the client reaches the open server but not the closed one.
Whether a blocked probe times out or is refused does not matter here: the
closed server is Ready, and its readiness probe connects from the node, so
it listens. How a lab's probe that does not connect is read is up to the node
witness (`probing.read_with_witness`), not to the canary.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..cluster import Cluster, wait_until
from ..cluster.applying import LAB_LABEL, MANAGED_BY, Rendered, apply_object
from ..cluster.probepods import (LABRUNNER_NAMESPACE, ensure_labrunner_namespace, ensure_probe_pods,
                                is_ready, probe_image, probe_pod_name)
from ..settings import TIMEOUTS
from .probing import DID_NOT_CONNECT, Probe, Verdict, run_probes

CANARY_NAMESPACE = LABRUNNER_NAMESPACE
_CLIENT_LABELS = {"labrunner.dev/canary": "client"}
_CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class CanaryResult:
    enforced: bool | None  # None: the canary itself could not run
    message: str


_lock = threading.Lock()
_cache: dict[int, tuple[float, CanaryResult]] = {}


def _server(name: str, role: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"labrunner.dev/canary": role, MANAGED_BY: "labrunner", LAB_LABEL: "canary"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "automountServiceAccountToken": False,
            "containers": [{"name": "server", "image": probe_image(), "imagePullPolicy": "IfNotPresent",
                            "args": ["netexec", "--http-port=8080"],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}],
        },
    }


_POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny-closed", "labels": {MANAGED_BY: "labrunner", LAB_LABEL: "canary"}},
    "spec": {"podSelector": {"matchLabels": {"labrunner.dev/canary": "closed"}}, "policyTypes": ["Ingress"]},
}


def check_policy_enforced(cluster: Cluster, *, fresh: bool = False, settle: float = 20.0) -> CanaryResult:
    """Whether NetworkPolicy is enforced; cached per cluster for a few minutes."""
    with _lock:
        cached = _cache.get(id(cluster))
        if cached and not fresh and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
    try:
        result = _run(cluster, settle)
    except Exception as exc:
        result = CanaryResult(None, f"the NetworkPolicy canary could not run: {exc}")
    if result.enforced is not None:
        with _lock:
            _cache[id(cluster)] = (time.monotonic(), result)
    return result


def _run(cluster: Cluster, settle: float) -> CanaryResult:
    ns = CANARY_NAMESPACE
    client = probe_pod_name(_CLIENT_LABELS)
    # Left in place between runs: when it is all there, only the probes run.
    ready = {p["metadata"]["labels"]["labrunner.dev/canary"]: p
             for p in cluster.list("Pod", namespace=ns, selector="labrunner.dev/canary") if is_ready(p)}
    if not ({"open", "closed", "client"} <= ready.keys() and cluster.get("NetworkPolicy", "deny-closed", namespace=ns)):
        ensure_labrunner_namespace(cluster)
        for name, role in (("server-open", "open"), ("server-closed", "closed")):
            apply_object(cluster, Rendered(_server(name, role), "canary"), namespace=ns)
        apply_object(cluster, Rendered(dict(_POLICY), "canary"), namespace=ns)
        ensure_probe_pods(cluster, [_CLIENT_LABELS], namespace=ns, lab_id="canary")
        servers = wait_until(
            cluster, "Pod", namespace=ns, selector="labrunner.dev/canary in (open,closed)",
            predicate=lambda pods: len([p for p in pods if is_ready(p)]) == 2,
            describe="the canary's server pods to be Ready", timeout=TIMEOUTS.canary_ready,
        )
        ready = {p["metadata"]["labels"]["labrunner.dev/canary"]: p for p in servers}
    else:
        # The client found by its label, whatever name an older labrunner gave it.
        client = ready["client"]["metadata"]["name"]
    ips = {role: pod["status"]["podIP"] for role, pod in ready.items()}
    deadline = time.monotonic() + settle
    while True:
        open_outcome, closed_outcome = run_probes(
            cluster, [Probe(client, ns, ips["open"], 8080), Probe(client, ns, ips["closed"], 8080)]
        )
        if open_outcome.verdict is not Verdict.CONNECTED:
            return CanaryResult(None, f"the canary client cannot reach an unprotected pod ({open_outcome.detail}): "
                                      "the pod network itself is broken")
        if closed_outcome.verdict in DID_NOT_CONNECT:
            return CanaryResult(True, f"NetworkPolicy is enforced (blocked traffic shows as {closed_outcome.verdict.value})")
        if time.monotonic() >= deadline:
            break
        # A just-created policy takes the CNI a moment to program; this is
        # the one place where labrunner has no event to wait for.
        time.sleep(1.0)
    return CanaryResult(False, "this cluster does not enforce NetworkPolicy: a pod behind a deny-all policy still "
                               "accepted traffic. Use a CNI that enforces it (kind's default kindnet does since "
                               "kind v0.24; or Calico, Cilium, kube-router)")
