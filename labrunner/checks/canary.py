"""Prove that the cluster enforces NetworkPolicy, for ingress and for egress, before trusting a "deny".

On a cluster whose CNI ignores NetworkPolicy, every probe connects and a
"deny" check could only fail; worse, a check that expects deny after an
unrelated failure could pass. Some CNIs enforce only ingress policies (older
Flannel add-ons, kube-router before v1.0 with egress off, Windows HNS), so the
two directions are proven apart. The canary runs in its own namespace: a
client, a second client behind a deny-all egress policy, an open server and a
server behind a deny-all ingress policy. Ingress enforcement is proven when the
client reaches the open server but not the closed one; egress enforcement when
the egress client cannot reach the open server that the client reaches.
Whether a blocked probe times out or is refused does not matter here: the
closed server is Ready, and its readiness probe connects from the node, so
it listens. How a lab's probe that does not connect is read is up to the node
witness (`probing.read_with_witness`), not to the canary.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

from ..cluster import Cluster, wait_until
from ..cluster.applying import LAB_LABEL, MANAGED_BY, Rendered, apply_object
from ..cluster.probepods import (LABRUNNER_NAMESPACE, ensure_labrunner_namespace, ensure_probe_pods, is_ready,
                                probe_image, probe_pod_body)
from ..settings import TIMEOUTS
from .probing import DID_NOT_CONNECT, Probe, Verdict, run_probes

CANARY_NAMESPACE = LABRUNNER_NAMESPACE
_CLIENT_LABELS = {"labrunner.dev/canary": "client"}
_EGRESS_CLIENT_LABELS = {"labrunner.dev/canary": "egress-client"}
_CACHE_SECONDS = 300.0
EGRESS_FIX = ("use a CNI that enforces egress NetworkPolicy too (kind's kindnet since kind v0.24, Calico, Cilium, "
              "kube-router v1+)")


@dataclass(frozen=True)
class CanaryResult:
    """What the canary saw. `enforced` is ingress enforcement, `egress` egress enforcement; None: not found
    out (the canary could not run, or, for egress, ingress is not enforced either). `message` says the
    ingress finding, `egress_message` the egress one, each in one sentence with its fix."""

    enforced: bool | None
    message: str
    egress: bool | None = None
    egress_message: str = ""


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
_EGRESS_POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny-egress-client", "labels": {MANAGED_BY: "labrunner", LAB_LABEL: "canary"}},
    "spec": {"podSelector": {"matchLabels": dict(_EGRESS_CLIENT_LABELS)}, "policyTypes": ["Egress"]},
}


def check_policy_enforced(cluster: Cluster, *, fresh: bool = False, settle: float = 20.0) -> CanaryResult:
    """Whether NetworkPolicy is enforced, for ingress (`enforced`) and egress (`egress`); cached per
    cluster for a few minutes. Waits up to `settle` s for a just-created policy to be programmed.
    Never raises: a canary that cannot run gives `enforced` None with the reason."""
    with _lock:
        cached = _cache.get(id(cluster))
        if cached and not fresh and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
    try:
        result = run_canary(cluster, settle=settle)
    except Exception as exc:
        result = CanaryResult(None, f"the NetworkPolicy canary could not run: {exc}")
    if result.enforced is not None:
        with _lock:
            _cache[id(cluster)] = (time.monotonic(), result)
    return result


def run_canary(cluster: Cluster, *, settle: float, namespace: str = CANARY_NAMESPACE,
               egress_client_host_network: bool = False) -> CanaryResult:
    """Run the canary once in `namespace` (labrunner's own by default; another must exist), uncached.
    Raises LabrunnerError when its pods cannot start.

    `egress_client_host_network` runs the egress client in its node's network namespace, where
    NetworkPolicy does not apply (Kubernetes leaves host-network pods outside it, and CNIs such as
    kube-router and Calico skip them): a real pod whose egress the enforcer ignores, which is how
    the live tests give labrunner a cluster that enforces ingress but not egress.
    """
    ns = namespace
    roles = {"open", "closed", "client", "egress-client"}
    # Left in place between runs: when it is all there, only the probes run.
    ready = {p["metadata"]["labels"]["labrunner.dev/canary"]: p
             for p in cluster.list("Pod", namespace=ns, selector="labrunner.dev/canary") if is_ready(p)}
    if not (roles <= ready.keys() and cluster.get("NetworkPolicy", "deny-closed", namespace=ns)
            and cluster.get("NetworkPolicy", "deny-egress-client", namespace=ns)):
        if ns == CANARY_NAMESPACE:
            ensure_labrunner_namespace(cluster)
        for name, role in (("server-open", "open"), ("server-closed", "closed")):
            apply_object(cluster, Rendered(_server(name, role), "canary"), namespace=ns)
        for policy in (_POLICY, _EGRESS_POLICY):
            apply_object(cluster, Rendered(copy.deepcopy(policy), "canary"), namespace=ns)
        if egress_client_host_network:
            body = probe_pod_body("egress-client-host-network", dict(_EGRESS_CLIENT_LABELS), lab_id="canary")
            body["spec"]["hostNetwork"] = True
            apply_object(cluster, Rendered(body, "canary"), namespace=ns)
            ensure_probe_pods(cluster, [_CLIENT_LABELS], namespace=ns, lab_id="canary")
        else:
            ensure_probe_pods(cluster, [_CLIENT_LABELS, _EGRESS_CLIENT_LABELS], namespace=ns, lab_id="canary")
        pods = wait_until(
            cluster, "Pod", namespace=ns, selector="labrunner.dev/canary",
            predicate=lambda pods: roles <= {p["metadata"]["labels"]["labrunner.dev/canary"] for p in pods if is_ready(p)},
            describe="the canary's pods to be Ready", timeout=TIMEOUTS.canary_ready,
        )
        ready = {p["metadata"]["labels"]["labrunner.dev/canary"]: p for p in pods if is_ready(p)}
    # Clients found by their label, whatever name an older labrunner gave them.
    client, egress_client = ready["client"]["metadata"]["name"], ready["egress-client"]["metadata"]["name"]
    ips = {role: pod["status"]["podIP"] for role, pod in ready.items()}
    deadline = time.monotonic() + settle
    ingress: bool | None = None
    egress: bool | None = None
    while True:
        open_outcome, closed_outcome, egress_outcome = run_probes(cluster, [
            Probe(client, ns, ips["open"], 8080), Probe(client, ns, ips["closed"], 8080),
            Probe(egress_client, ns, ips["open"], 8080)])
        if open_outcome.verdict is not Verdict.CONNECTED:
            return CanaryResult(None, f"the canary client cannot reach an unprotected pod ({open_outcome.detail}): "
                                      "the pod network itself is broken")
        if closed_outcome.verdict in DID_NOT_CONNECT:
            ingress = True
            ingress_seen = closed_outcome.verdict.value
        if egress_outcome.verdict in DID_NOT_CONNECT:
            egress = True
            egress_seen = egress_outcome.verdict.value
        if (ingress and egress) or time.monotonic() >= deadline:
            break
        # A just-created policy takes the CNI a moment to program; this is
        # the one place where labrunner has no event to wait for.
        time.sleep(1.0)
    if not ingress:
        return CanaryResult(False, "this cluster does not enforce NetworkPolicy: a pod behind a deny-all policy still "
                                   "accepted traffic. Use a CNI that enforces it (kind's default kindnet does since "
                                   "kind v0.24; or Calico, Cilium, kube-router)",
                            egress=None, egress_message="not tried apart: ingress is not enforced either")
    in_message = f"NetworkPolicy is enforced for ingress (blocked traffic shows as {ingress_seen})"
    if not egress:
        return CanaryResult(True, in_message, egress=False, egress_message=(
            "this cluster enforces ingress but not egress NetworkPolicy: a pod behind a deny-all egress policy "
            f"still reached another pod; {EGRESS_FIX}"))
    return CanaryResult(True, in_message, egress=True,
                        egress_message=f"NetworkPolicy is enforced for egress (blocked traffic shows as {egress_seen})")


# -- a workshop's canary -------------------------------------------------------
# A workshop seat may not run the canary (its pods and policies are in labrunner's own namespace,
# and exec there would let a learner into the instructor's pods). `workshop create` runs it once, as
# the instructor, and keeps what it saw in a ConfigMap there that every seat may read.


def workshop_record_name(workshop: str) -> str:
    """The ConfigMap in CANARY_NAMESPACE holding workshop `workshop`'s canary result."""
    return f"labrunner-workshop-{workshop}-canary"


def workshop_record(workshop: str, result: CanaryResult, labels: dict[str, str], pod_networks: list[str] = ()) -> dict:
    """The ConfigMap `workshop_record_name` keeping `result` and the cluster's `pod_networks` (CIDRs: what
    policyreach.pod_networks finds, which a seat may not, as it lists Nodes), labelled `labels`."""
    def state(value: bool | None) -> str:
        return "" if value is None else str(value).lower()

    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": workshop_record_name(workshop), "namespace": CANARY_NAMESPACE, "labels": labels},
            "data": {"enforced": state(result.enforced), "message": result.message,
                     "egress": state(result.egress), "egressMessage": result.egress_message,
                     "podNetworks": ",".join(pod_networks),
                     "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}


def from_workshop_record(found: dict | None, workshop: str) -> CanaryResult:
    """The canary result a seat of `workshop` goes by, read from its record (None: not there)."""
    if found is None:
        return CanaryResult(None, f"the instructor's NetworkPolicy canary result for workshop {workshop} is missing "
                                  f"({CANARY_NAMESPACE}/{workshop_record_name(workshop)}); ask the instructor to "
                                  "create the workshop again")
    data = found.get("data") or {}

    def state(key: str) -> bool | None:
        return {"true": True, "false": False}.get(data.get(key, ""))

    at = f" (found by the instructor's canary at {data['at']})" if data.get("at") else ""
    return CanaryResult(state("enforced"), (data.get("message") or "") + at, egress=state("egress"),
                        egress_message=data.get("egressMessage") or "")
