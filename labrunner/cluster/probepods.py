"""Small idle pods that checks exec into to probe the network from inside."""

from __future__ import annotations

import hashlib
from typing import Callable

from ..errors import LabrunnerError
from ..model import ObjectRef
from ..settings import TIMEOUTS, settings
from .applying import LAB_LABEL, MANAGED_BY, Rendered, apply_object, delete_object
from .client import Cluster
from .waiting import condition_status, wait_until

PROBE_LABEL = "labrunner.dev/probe"
# agnhost has `connect` (tells refused from timeout) and `pause`; kind pulls
# the same image upstream, so probes behave alike everywhere.
def probe_image() -> str:
    """The agnhost image the probe pods run (LABRUNNER_PROBE_IMAGE, see settings)."""
    return settings().probe_image


# Part of every probe pod's name: bump it when the pod's spec changes, since a
# running pod is reused by name and most of its spec cannot change in place.
_SPEC_VERSION = "2"  # 2: memory limit 128Mi (32Mi pods were OOM-killed by a sweep)


def probe_pod_name(labels: dict[str, str]) -> str:
    key = _SPEC_VERSION + "|" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return "lr-probe-" + hashlib.sha256(key.encode()).hexdigest()[:8]


def probe_pod_body(name: str, labels: dict[str, str], *, lab_id: str) -> dict:
    all_labels = {**labels, PROBE_LABEL: "true", MANAGED_BY: "labrunner", LAB_LABEL: lab_id}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": all_labels},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            # Restricted Pod Security, so probes also start in locked-down labs.
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "probe",
                    "image": probe_image(),
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["pause"],
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    # room for a few `agnhost connect` at once (tens of MiB each, mostly shared)
                    "resources": {"requests": {"cpu": "5m", "memory": "8Mi"}, "limits": {"memory": "128Mi"}},
                }
            ],
        },
    }


def is_ready(pod: dict) -> bool:
    meta = pod.get("metadata") or {}
    return (
        not meta.get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") == "Running"
        and condition_status(pod, "Ready") == "True"
    )


def ensure_probe_pods(
    cluster: Cluster, label_sets: list[dict[str, str]], *, namespace: str, lab_id: str, timeout: float = TIMEOUTS.probe_pods_ready
) -> dict[str, str]:
    """Start (or reuse) one probe pod per label set; returns name -> pod IP, all Ready."""
    wanted = {probe_pod_name(labels): probe_pod_body(probe_pod_name(labels), labels, lab_id=lab_id) for labels in label_sets}
    return _ensure_pods(cluster, wanted, namespace=namespace, selector=f"{PROBE_LABEL}=true", what="probe pods", timeout=timeout)


# -- node probes ---------------------------------------------------------------
# NetworkPolicy never isolates a node from the pods on it (kubelet's probes
# rely on that, on every CNI), so a probe in the node's own network namespace
# tells "a policy blocks it" from "nothing listens there".

LABRUNNER_NAMESPACE = "labrunner-canary"  # labrunner's own: the canary and the node probes
NODE_PROBE_LABEL = "labrunner.dev/node-probe"


def node_probe_name(node: str) -> str:
    return "lr-node-" + hashlib.sha256((_SPEC_VERSION + "|" + node).encode()).hexdigest()[:8]


def node_probe_body(name: str, node: str) -> dict:
    """A probe pod on the node's own network: what the node itself can reach."""
    body = probe_pod_body(name, {}, lab_id="labrunner")
    body["metadata"]["labels"] = {NODE_PROBE_LABEL: "true", MANAGED_BY: "labrunner", LAB_LABEL: "labrunner"}
    body["spec"].update({
        "nodeName": node,  # no scheduling: this node, whatever its taints say
        "hostNetwork": True,
        "dnsPolicy": "ClusterFirstWithHostNet",  # so Service names resolve as they do in pods
        "tolerations": [{"operator": "Exists"}],  # control-plane and cordoned nodes too
    })
    return body


def labrunner_namespace_body() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": LABRUNNER_NAMESPACE,
            # hostNetwork needs the privileged Pod Security level, wherever the cluster's default is stricter.
            "labels": {MANAGED_BY: "labrunner", LAB_LABEL: "canary", "pod-security.kubernetes.io/enforce": "privileged"},
        },
    }


def ensure_labrunner_namespace(cluster: Cluster) -> None:
    """labrunner's own namespace, ready for pods (its default ServiceAccount made: on a new cluster
    that can take a while, see serviceaccounts.py)."""
    from .serviceaccounts import wait_for_default_service_account

    apply_object(cluster, Rendered(labrunner_namespace_body(), "labrunner"), namespace=LABRUNNER_NAMESPACE)
    wait_for_default_service_account(cluster, LABRUNNER_NAMESPACE)


def ensure_node_probes(cluster: Cluster, nodes: list[str], *, timeout: float = TIMEOUTS.probe_pods_ready) -> dict[str, str]:
    """Start (or reuse) one hostNetwork probe pod per node; returns node -> pod name, all Ready."""
    names = {node: node_probe_name(node) for node in dict.fromkeys(nodes)}
    if not names:
        return {}
    wanted = {name: node_probe_body(name, node) for node, name in names.items()}
    _ensure_pods(cluster, wanted, namespace=LABRUNNER_NAMESPACE, selector=f"{NODE_PROBE_LABEL}=true",
                 what="node probe pods", timeout=timeout, before_create=lambda: ensure_labrunner_namespace(cluster))
    return names


# -- outside the lab -----------------------------------------------------------
# Pods in labrunner's own namespace, outside every lab namespace: sources that
# no learner's policy selects, so "anyone may reach X" is probed from outside
# too, and an open server that proves a source is free to send at all. Several
# lab namespaces may share one cluster (a workshop): outside probes carry their
# lab namespace in their name and labels; the open server serves them all.

OUTSIDE_FOR_LABEL = "labrunner.dev/outside-for"  # the lab namespace an outside probe speaks for
OPEN_SERVER_NAME = "lr-open"
OPEN_SERVER_LABEL = "labrunner.dev/open-server"
# Ports the open server listens on: common service ports, never 53 (a DNS rule
# "port 53 anywhere" is a fair answer, so a sweep must not count it a leak).
OPEN_PORTS = (80, 443, 3306, 5432, 6379, 8080, 8181, 8443, 9090)


def outside_probe_name(lab_namespace: str, labels: dict[str, str]) -> str:
    """The name of the outside probe pod with `labels` that speaks for `lab_namespace` (one per pair)."""
    key = _SPEC_VERSION + "|" + lab_namespace + "|" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return "lr-out-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def outside_probe_body(name: str, lab_namespace: str, labels: dict[str, str]) -> dict:
    """The outside probe pod `name` with the lab's `labels`, speaking for `lab_namespace`."""
    return probe_pod_body(name, {**labels, OUTSIDE_FOR_LABEL: lab_namespace}, lab_id="labrunner")


def ensure_outside_probes(cluster: Cluster, lab_namespace: str, label_sets: list[dict[str, str]], *,
                          namespace: str = LABRUNNER_NAMESPACE,
                          timeout: float = TIMEOUTS.probe_pods_ready) -> dict[str, str]:
    """Start (or reuse) one probe pod per label set in `namespace` (labrunner's own, or a workshop
    seat's probe namespace), for `lab_namespace`.

    Returns pod name -> pod IP, all Ready. The pods carry the lab's labels plus
    OUTSIDE_FOR_LABEL, and lab label "labrunner": resetting one learner's lab
    never removes another's probes. In a namespace the learner may write (a seat's), a pod of the
    name that is not exactly labrunner's (`not_own`) is replaced first.
    """
    wanted = {outside_probe_name(lab_namespace, labels): outside_probe_body(outside_probe_name(lab_namespace, labels),
                                                                           lab_namespace, labels)
              for labels in label_sets}
    return _ensure_pods(cluster, wanted, namespace=namespace, selector=f"{OUTSIDE_FOR_LABEL}={lab_namespace}",
                        what="outside probe pods", timeout=timeout, before_create=_own_namespace(cluster, namespace))


def delete_outside_probes(cluster: Cluster, lab_namespace: str) -> int:
    """Delete the outside probe pods that speak for `lab_namespace` (when its lab is reset); returns how many."""
    pods = cluster.list("Pod", namespace=LABRUNNER_NAMESPACE, selector=f"{OUTSIDE_FOR_LABEL}={lab_namespace}")
    return sum(delete_object(cluster, ObjectRef("Pod", p["metadata"]["name"], "v1"), namespace=LABRUNNER_NAMESPACE)
               for p in pods)


def open_server_body(*, as_nobody: bool = False) -> dict:
    """agnhost `porter` answering on every port of OPEN_PORTS; no policy selects it.

    `as_nobody` (a workshop seat's, whose learner may exec into it): runs as user 65534, which then
    cannot replace the agnhost binary the seat's controls run; ports below 1024 are opened to it by
    the namespaced sysctl net.ipv4.ip_unprivileged_port_start, which Pod Security baseline allows."""
    body = probe_pod_body(OPEN_SERVER_NAME, {}, lab_id="labrunner")
    body["metadata"]["labels"] = {OPEN_SERVER_LABEL: "true", MANAGED_BY: "labrunner", LAB_LABEL: "labrunner"}
    container = body["spec"]["containers"][0]
    container["args"] = ["porter"]
    container["env"] = [{"name": f"SERVE_PORT_{port}", "value": "open"} for port in OPEN_PORTS]
    # Ready once its last port listens; the node's kubelet connects, as the witness does.
    container["readinessProbe"] = {"tcpSocket": {"port": OPEN_PORTS[-1]}, "periodSeconds": 1}
    # Ports below 1024 need root where the runtime keeps the kernel's default.
    body["spec"]["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    container["securityContext"] = {"allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
    if as_nobody:
        body["spec"]["securityContext"] = {"runAsNonRoot": True, "runAsUser": 65534,
                                           "seccompProfile": {"type": "RuntimeDefault"},
                                           "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]}
        container["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return body


def ensure_open_server(cluster: Cluster, *, namespace: str = LABRUNNER_NAMESPACE,
                       timeout: float = TIMEOUTS.probe_pods_ready) -> dict:
    """Start (or reuse) the open server in `namespace` (labrunner's own, or a workshop seat's probe
    namespace); returns its pod (Ready, with podIP and nodeName)."""
    body = open_server_body(as_nobody=namespace != LABRUNNER_NAMESPACE)
    _ensure_pods(cluster, {OPEN_SERVER_NAME: body}, namespace=namespace,
                 selector=f"{OPEN_SERVER_LABEL}=true", what="the open server", timeout=timeout,
                 before_create=_own_namespace(cluster, namespace))
    pod = cluster.get("Pod", OPEN_SERVER_NAME, namespace=namespace)
    if pod is None or not is_ready(pod):
        raise LabrunnerError(f"the open server {namespace}/{OPEN_SERVER_NAME} vanished after it was Ready")
    return pod


def _own_namespace(cluster: Cluster, namespace: str) -> Callable[[], None] | None:
    """labrunner makes its own namespace when it is missing; a seat's probe namespace is the instructor's."""
    return (lambda: ensure_labrunner_namespace(cluster)) if namespace == LABRUNNER_NAMESPACE else None


# -- probe pods a learner could have touched -----------------------------------
# A workshop seat's probe namespace is written by the seat's own identity: labrunner's, and the
# learner's kubectl with the same rights. A pod there is trusted only when it is exactly what
# labrunner makes (`not_own`), and still the same pod after the probes ran (`pod_marks`).


# Keys of a pod spec and of a container that decide what runs and what it sees, as labrunner
# makes them (the rest are the API server's defaults, the LimitRange's resources, scheduling).
_POD_KEYS_AS_MADE = ("volumes", "hostAliases", "dnsConfig", "runtimeClassName")
_CONTAINER_KEYS_AS_MADE = ("image", "command", "args", "env", "securityContext", "volumeMounts",
                           "volumeDevices", "workingDir", "lifecycle", "envFrom")


def not_own(pod: dict, body: dict) -> str:
    """What makes `pod` other than the pod labrunner makes from `body` (probe_pod_body,
    open_server_body): its labels, its pod's and containers' security contexts (the user it runs as:
    root could replace the agnhost binary), its containers' images, commands, arguments and
    environment, its host namespaces, init and ephemeral containers, and what else a pod spec may put
    in its place: volumes (a downward API file mounted over /agnhost with subPath is a script of the
    learner's that answers every probe), working directory, lifecycle hooks, environment from
    elsewhere, host aliases, DNS config, runtime class; "" when it is labrunner's."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if (meta.get("labels") or {}) != body["metadata"]["labels"]:
        return "its labels are not labrunner's"
    if (spec.get("securityContext") or {}) != body["spec"].get("securityContext", {}):
        return "its pod security context is not labrunner's"
    for key in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"):
        if spec.get(key):
            return f"it sets {key}"
    if spec.get("initContainers") or spec.get("ephemeralContainers"):
        return "it has init or ephemeral containers"
    if spec.get("dnsPolicy", "ClusterFirst") != body["spec"].get("dnsPolicy", "ClusterFirst"):
        return "its dnsPolicy is not labrunner's"  # "Default": the node's resolver, where no Service name resolves
    for key in _POD_KEYS_AS_MADE:
        if (spec.get(key) or None) != (body["spec"].get(key) or None):
            return f"its {key} is not labrunner's"
    have, want = spec.get("containers") or [], body["spec"]["containers"]
    if len(have) != len(want):
        return "its containers are not labrunner's"
    for got, wanted in zip(have, want):
        for key in _CONTAINER_KEYS_AS_MADE:
            if (got.get(key) or None) != (wanted.get(key) or None):
                return f"its container's {key} is not labrunner's"
    # Not the status's image: a runtime names an image by any of its tags (the kubelet runs the spec's).
    return ""


def pod_marks(pods: list[dict]) -> dict[str, tuple[str, int]]:
    """name -> (uid, total container restarts) of each pod: what must not change while it probes."""
    return {p["metadata"]["name"]: (p["metadata"].get("uid", ""),
                                    sum(st.get("restartCount", 0) for st in (p.get("status") or {}).get("containerStatuses") or []))
            for p in pods}


def _ensure_pods(
    cluster: Cluster, wanted: dict[str, dict], *, namespace: str, selector: str, what: str, timeout: float,
    before_create: Callable[[], None] | None = None,
) -> dict[str, str]:
    """Create the pods of `wanted` (name -> body) that are missing; returns name -> pod IP once all are Ready."""
    if not wanted:
        return {}
    existing = {p["metadata"]["name"]: p for p in cluster.list("Pod", namespace=namespace, selector=selector)}
    if namespace != LABRUNNER_NAMESPACE:
        # A learner may write here: a pod of labrunner's name is found by name, whatever its labels.
        existing = {name: pod for name in wanted
                    if (pod := cluster.get("Pod", name, namespace=namespace)) is not None}
    forged = {name for name, pod in existing.items() if namespace != LABRUNNER_NAMESPACE and not_own(pod, wanted[name])}
    if not forged and all(name in existing and is_ready(existing[name]) for name in wanted):
        return {name: existing[name]["status"].get("podIP", "") for name in wanted}
    if before_create is not None:
        before_create()
    for name, body in wanted.items():
        pod = existing.get(name)
        if pod is not None and (name in forged or (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")):
            delete_object(cluster, ObjectRef("Pod", name, "v1"), namespace=namespace)
            wait_until(cluster, "Pod", namespace=namespace, name=name, predicate=lambda objs: not objs,
                       describe=f"old probe pod {name} to go", timeout=TIMEOUTS.old_probe_gone)
            pod = None
        if pod is None and namespace != LABRUNNER_NAMESPACE:
            # A seat may create pods there, never patch one (an image swapped in place): no server-side apply.
            cluster.create(body, namespace=namespace)
        elif pod is None:
            apply_object(cluster, Rendered(body, "probe pod"), namespace=namespace)

    def all_ready(pods: list[dict]) -> bool:
        ready = {p["metadata"]["name"] for p in pods if is_ready(p)}
        return set(wanted) <= ready

    pods = wait_until(cluster, "Pod", namespace=namespace, selector=selector, predicate=all_ready,
                      describe=f"{what} {', '.join(sorted(wanted))} to be Ready", timeout=timeout)
    if namespace != LABRUNNER_NAMESPACE:
        bad = [f"{p['metadata']['name']}: {why}" for p in pods if p["metadata"]["name"] in wanted
               and (why := not_own(p, wanted[p["metadata"]["name"]]))]
        if bad:
            raise LabrunnerError(f"{what} in namespace {namespace} are not labrunner's ({'; '.join(bad)}): "
                                 "someone replaced them as they started; run the check again")
    return {p["metadata"]["name"]: p["status"].get("podIP", "") for p in pods if p["metadata"]["name"] in wanted}
