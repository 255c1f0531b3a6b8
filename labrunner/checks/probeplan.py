"""From a connectivity check's probe specs to the cells it probes: every source pod x every target x port.

A selector means every pod it matches, on both sides: a decoy pod that carries
the label probes and is probed like the workload's pods. `outside` sources are
probe pods in labrunner's own namespace, or a workshop seat's probe namespace
(never selected by a learner's policy); a `sweep` expands into labrunner's open server on every port it
serves plus every other pod of the lab namespace on each port it declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..cluster import Cluster, condition_status
from ..cluster.probepods import LABRUNNER_NAMESPACE, OPEN_PORTS, PROBE_LABEL, is_ready, outside_probe_name, probe_pod_name
from .judging import EGRESS, INGRESS
from .probing import Probe
from .targets import find_pods, pod_name

FROM_KEYS = ("pod", "selector", "probe", "outside")
TO_KEYS = ("service", "pod", "selector", "host", "sweep")
OPEN_SERVER_LABEL_TEXT = "labrunner's open server outside the lab"


@dataclass(frozen=True)
class Source:
    pod: str
    namespace: str
    container: str | None
    label: str  # how messages name it: "pod shell", "outside role=customer"


@dataclass(frozen=True)
class Target:
    address: str
    node: str | None = None  # where the target runs: the node that can witness it
    ports: tuple[int, ...] | None = None  # a Service's ports
    closed: str = ""  # why nothing can listen there, when known (a Service without ready endpoints)
    label: str = ""  # how messages name it: "service api", "pod db-0"
    port_map: tuple[tuple[int, int], ...] = ()  # a Service's (port, numeric targetPort): the port policies see
    open: bool = False  # labrunner's open server: accepts anyone by construction
    pod: tuple[str, str] | None = None  # (namespace, name) of a pod target
    service: tuple[str, str] | None = None  # (namespace, name) of a Service target


@dataclass(frozen=True)
class Cell:
    """One probe to run: from one source pod to one target on one port."""

    spec: int  # index of the probe spec it comes from
    source: Source
    target: Target
    port: int
    expect: str  # allow | deny
    denied_by: str  # ingress | egress
    sweep: bool = False

    @property
    def what(self) -> str:
        return f"{self.source.label} -> {self.target.label}:{self.port}"

    @property
    def probe(self) -> Probe:
        """The `agnhost connect` this cell runs: in the source pod, to the target's address and port."""
        return Probe(self.source.pod, self.source.namespace, self.target.address, self.port, self.source.container)

    @property
    def policy_port(self) -> int:
        """The port a policy sees: a Service's numeric targetPort, else the probe's port."""
        return dict(self.target.port_map).get(self.port, self.port)


def denied_by(spec: Mapping[str, Any]) -> str:
    """Which side a deny is about; a sweep is always about the source."""
    if "sweep" in (spec.get("to") or {}):
        return EGRESS
    return spec.get("deniedBy") or INGRESS


def describe_source(spec: Mapping[str, Any]) -> str:
    for key in ("probe", "outside"):
        if key in spec:
            return f"{key} " + ",".join(f"{k}={v}" for k, v in spec[key].items())
    return f"pod {spec['pod']}" if "pod" in spec else f"pods -l {spec['selector']}"


def describe_target(spec: Mapping[str, Any]) -> str:
    key = next(k for k in TO_KEYS if k in spec)
    if key == "sweep":
        return "everywhere else"
    where = f" in {spec['namespace']}" if spec.get("namespace") else ""
    return f"{key} {spec[key]}{where}"


class Resolver:
    """Turns `from`/`to` specs into source pods and targets, for one check run."""

    def __init__(self, cluster: Cluster, namespace: str, open_server: dict | None = None, *,
                 probe_namespace: str = LABRUNNER_NAMESPACE):
        self.cluster = cluster
        self.namespace = namespace
        self.open_server = open_server
        self.probe_namespace = probe_namespace  # where outside probes run: labrunner's, or a seat's own

    def sources(self, spec: Mapping[str, Any]) -> list[Source] | str:
        """Every source pod the spec names, or what is missing (said for the learner)."""
        if "probe" in spec:
            return [Source(probe_pod_name(spec["probe"]), self.namespace, None, describe_source(spec))]
        if "outside" in spec:
            return [Source(outside_probe_name(self.namespace, spec["outside"]), self.probe_namespace, None,
                           describe_source(spec))]
        pods, missing = find_pods(self.cluster, spec, namespace=self.namespace)
        if not pods:
            return missing
        return [Source(pod_name(p), p["metadata"]["namespace"], spec.get("container"), f"pod {pod_name(p)}") for p in pods]

    def targets(self, spec: Mapping[str, Any], port: int | None) -> list[tuple[Target, int]] | str:
        """Every (target, port) the spec names, or what is missing."""
        ns = spec.get("namespace") or self.namespace
        if "sweep" in spec:
            return self._sweep(spec["sweep"] or {})
        assert port is not None  # validated: only a sweep has no port
        if "host" in spec:
            return [(Target(spec["host"], label=f"host {spec['host']}"), port)]
        if "service" in spec:
            target = self._service(spec["service"], ns)
            return target if isinstance(target, str) else [(target, port)]
        pods, missing = find_pods(self.cluster, spec, namespace=self.namespace)
        if not pods:
            return missing
        return [(pod_target(p), port) for p in pods]

    def _service(self, name: str, ns: str) -> Target | str:
        label = f"service {name}" if ns == self.namespace else f"service {ns}/{name}"
        svc = self.cluster.get("Service", name, namespace=ns)
        if svc is None:
            return f"Service {name} does not exist" + ("" if ns == self.namespace else f" in namespace {ns}")
        svc_spec = svc.get("spec") or {}
        ip = svc_spec.get("clusterIP")
        if svc_spec.get("type") == "ExternalName" or not ip or ip == "None":
            # A name for pods (headless) or for a host outside: connected to at the probe's port, as is.
            return Target(f"{name}.{ns}.svc", label=label, service=(ns, name))
        entries = svc_spec.get("ports") or []
        ports = tuple(entry.get("port") for entry in entries)
        port_map = tuple((entry.get("port"), entry["targetPort"]) for entry in entries
                         if isinstance(entry.get("targetPort"), int))
        # The node of a ready endpoint connects to the Service itself (kube-proxy
        # translates the node's traffic too). Where endpoints span nodes, kube-proxy
        # may send it to another node's pod, which a policy may isolate from this
        # node: a deny can then read "unreachable" or "nothing listening", never a
        # wrong pass. Single-node clusters (kind's default, the testbed) are exact.
        nodes = _endpoint_nodes(self.cluster, name, ns)
        if not nodes:
            return Target(ip, ports=ports, closed=f"Service {name} has no ready endpoints", label=label, port_map=port_map,
                          service=(ns, name))
        return Target(ip, node=nodes[0], ports=ports, label=label, port_map=port_map, service=(ns, name))

    def _sweep(self, sweep: Mapping[str, Any]) -> list[tuple[Target, int]] | str:
        if self.open_server is None:
            return "labrunner's open server is not running"
        cells = [(open_target(self.open_server), port) for port in OPEN_PORTS]
        left_out = set()
        if sweep.get("except"):
            left_out = {pod_name(p) for p in self.cluster.list("Pod", namespace=self.namespace, selector=sweep["except"])}
        for pod in sorted(self.cluster.list("Pod", namespace=self.namespace), key=pod_name):
            labels = (pod.get("metadata") or {}).get("labels") or {}
            if pod_name(pod) in left_out or PROBE_LABEL in labels or not is_ready(pod) or not pod["status"].get("podIP"):
                continue
            for port in declared_ports(pod):
                cells.append((pod_target(pod), port))
        return cells


def declared_ports(pod: dict) -> list[int]:
    """The TCP ports a pod's containers declare (containerPort), in order, once each."""
    ports = [p["containerPort"] for c in (pod.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []
             if p.get("protocol", "TCP") == "TCP" and isinstance(p.get("containerPort"), int)]
    return list(dict.fromkeys(ports))


def pod_target(pod: dict) -> Target:
    meta = pod["metadata"]
    return Target(pod["status"]["podIP"], node=(pod.get("spec") or {}).get("nodeName"),
                  label=f"pod {meta['name']}",
                  pod=(meta.get("namespace", ""), meta["name"]))


def open_target(pod: dict) -> Target:
    return Target(pod["status"]["podIP"], node=(pod.get("spec") or {}).get("nodeName"), label=OPEN_SERVER_LABEL_TEXT,
                  open=True, pod=(pod["metadata"].get("namespace") or LABRUNNER_NAMESPACE, pod["metadata"]["name"]))


def _endpoint_nodes(cluster: Cluster, service: str, namespace: str) -> list[str]:
    """The nodes of a Service's ready endpoints (those with a known node first)."""
    slices = cluster.list("EndpointSlice", namespace=namespace, selector=f"kubernetes.io/service-name={service}")
    nodes = [endpoint.get("nodeName") or "" for s in slices for endpoint in s.get("endpoints") or []
             if (endpoint.get("conditions") or {}).get("ready") is not False]
    return sorted(set(nodes), key=lambda n: (not n, n))


def any_ready_node(cluster: Cluster) -> str | None:
    """A Ready node, for targets that run on no node of the cluster (a `host:`)."""
    names = sorted(n["metadata"]["name"] for n in cluster.list("Node") if condition_status(n, "Ready") == "True")
    return names[0] if names else None


def closed_reason(target: Target, port: int, service: str | None = None) -> str:
    """Why nothing can listen at the target's port, known from the API alone."""
    if target.ports is not None and port not in target.ports:
        return f"Service {service or target.address} has no port {port}"
    return target.closed
