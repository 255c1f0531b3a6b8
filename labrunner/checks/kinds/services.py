"""The `service` check: how a Service is exposed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from ...format.values import Count, OnlyTrue, Port, Selector, ServiceName, Text, value_type
from ...settings import settings
from ..base import CheckContext, CheckKind, CheckResult, Param
from ..endpoints import SERVICE_NAME_LABEL, carries_port, foreign_slices, read_endpoints, selector_string
from ..evidence import Evidence
from ..objectevents import with_events
from ..reachability import load_balancer_unserved

# Labels a workload controller stamps on each pod with a value that changes at
# every rollout (the Deployment's ReplicaSet hash; the StatefulSet's and
# DaemonSet's revision) or names one pod only. A Service selector using one
# matches today's pods and loses them at the next rollout, e.g. after
# `kubectl expose pod <one of them>`, which copies every label of the pod.
NodePort = value_type(
    (bool, int), what="true or a port number 1-65535",
    check=lambda v: None if v is True or (not isinstance(v, bool) and 1 <= v <= 65535) else f"expected true or a port number 1-65535, got {v!r}",
    schema={"anyOf": [{"const": True}, {"type": "integer", "minimum": 1, "maximum": 65535}]})
PER_REVISION_LABELS = ("pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
                       "apps.kubernetes.io/pod-index")


def nodeport_range() -> tuple[int, int]:
    """The API server's --service-node-port-range is not readable; assume the default."""
    return settings().nodeport_range


def service_slices(ctx: CheckContext, name: str, namespace: str) -> list[dict]:
    """Every EndpointSlice labelled as belonging to the Service."""
    return ctx.cluster.list("EndpointSlice", namespace=namespace, selector=f"{SERVICE_NAME_LABEL}={name}")


def _selects(ctx: CheckContext, svc: dict, wanted: str, ns: str) -> list[str]:
    """What keeps the Service from selecting exactly the pods `wanted` matches; [] when it does."""
    name = svc["metadata"]["name"]
    selector = (svc.get("spec") or {}).get("selector") or {}
    if not selector:
        return [f"it has no selector, so no controller keeps its endpoints: EndpointSlices written by hand "
                f"list today's pod addresses and go stale when the pods are replaced (give it the selector of the pods {wanted})"]
    asked_keys = {term.split("=")[0].split("!")[0].strip() for term in wanted.split(",")}
    fleeting = sorted(f"{key}={selector[key]}" for key in PER_REVISION_LABELS if key in selector and key not in asked_keys)
    if fleeting:
        return [f"its selector includes {', '.join(fleeting)}, a label the workload controller gives only this "
                f"revision's pods: the next rollout's pods do not match it (select the pods by {wanted}; "
                "`kubectl expose pod` copies every label of that one pod)"]
    asked = _live_pods(ctx, ns, wanted)
    selected = _live_pods(ctx, ns, selector_string(selector))
    problems = []
    if not asked:
        problems.append(f"no pod matches {wanted}")
    missed, extra = sorted(asked - selected), sorted(selected - asked)
    if missed:
        problems.append(f"its selector {selector_string(selector)} does not match pod {', '.join(missed)} ({wanted})")
    if extra:
        problems.append(f"its selector {selector_string(selector)} also matches pod {', '.join(extra)}, which {wanted} does not")
    foreign = foreign_slices(service_slices(ctx, name, ns))
    if foreign:
        problems.append(f"EndpointSlice {', '.join(foreign)} is not the EndpointSlice controller's: "
                        "kube-proxy sends traffic to its addresses too")
    return problems


def _live_pods(ctx: CheckContext, ns: str, selector: str) -> set[str]:
    """Names of the pods `selector` matches, leaving out pods being deleted."""
    return {p["metadata"]["name"] for p in ctx.cluster.list("Pod", namespace=ns, selector=selector)
            if not p["metadata"].get("deletionTimestamp")}


def _count_endpoints(ctx: CheckContext, svc: dict, ns: str, ports: list[dict] | None, wanted: int) -> tuple[bool, str]:
    """(ok, what was seen): ready backends (one per pod, terminating ones left out), for the asked
    Service port when `ports` is given, else from every slice."""
    name = svc["metadata"]["name"]
    slices = service_slices(ctx, name, ns)
    port_name = (ports[0].get("name") or "") if ports else None
    ready = [e for e in read_endpoints(slices, port_name=port_name) if e.ready]
    if len(ready) == wanted:
        return True, f"{len(ready)} ready endpoints"
    seen = f"{len(ready)} ready endpoints, should be {wanted}"
    if port_name is not None:
        unused = sorted(s["metadata"]["name"] for s in slices if not carries_port(s, port_name) and s.get("endpoints"))
        if unused:
            named = f"named {port_name}" if port_name else "without a name"
            return False, seen + (f" (EndpointSlice {', '.join(unused)} has no port {named}, so kube-proxy does not use it "
                                   f"for Service port {ports[0]['port']})")
    if not ready:
        every = read_endpoints(slices)
        if any(e.terminating for e in every):
            return False, seen + " (its pods are terminating)"
        if every:
            return False, seen + " (its pods are not ready)"
        if not (svc.get("spec") or {}).get("selector"):
            return False, seen + f" (it has no selector, and no EndpointSlice labelled {SERVICE_NAME_LABEL}={name} lists an endpoint)"
        return False, seen + " (does the selector match the pods' labels?)"
    return False, seen


def _service(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    ns = p.get("namespace") or ctx.namespace
    svc = ctx.cluster.get("Service", p["name"], namespace=ns)
    if svc is None:
        return CheckResult.failed(f"Service {p['name']} does not exist yet",
                                  evidence=Evidence(expected_service(p), "no such Service"))
    spec = svc.get("spec") or {}
    missing: list[str] = []
    passed: list[str] = []
    svc_type = spec.get("type", "ClusterIP")
    if "type" in p:
        (passed if svc_type == p["type"] else missing).append(f"type is {svc_type}" + ("" if svc_type == p["type"] else f", should be {p['type']}"))
    if "clusterIP" in p:
        ip = spec.get("clusterIP")
        if p["clusterIP"] == "None":
            (passed if ip == "None" else missing).append("headless (clusterIP None)" if ip == "None" else f"clusterIP is {ip}; a headless Service has clusterIP: None")
        else:
            has_ip = bool(ip) and ip != "None"
            (passed if has_ip else missing).append(f"cluster IP {ip}" if has_ip else "it has no cluster IP")
    ports = spec.get("ports") or []
    if "port" in p:
        ports = [port for port in ports if port.get("port") == p["port"]]
        if not ports:
            missing.append(f"it has no port {p['port']}")
    if "nodePort" in p and ports:
        low, high = nodeport_range()
        allocated = [port.get("nodePort") for port in ports if port.get("nodePort")]
        wanted = p["nodePort"]
        if not allocated:
            missing.append("no node port is allocated (a NodePort or LoadBalancer Service gets one)")
        elif wanted is not True and wanted not in allocated:
            missing.append(f"node port is {', '.join(map(str, allocated))}, should be {wanted}")
        elif not all(low <= n <= high for n in allocated):
            missing.append(f"node port {allocated[0]} is outside the range {low}-{high}")
        else:
            passed.append(f"node port {', '.join(map(str, allocated))}")
    if p.get("loadBalancer"):
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addresses = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
        (passed if addresses else missing).append(
            f"load balancer address {', '.join(addresses)}" if addresses else "no load-balancer address is assigned yet"
        )
    if "selects" in p:
        problems = _selects(ctx, svc, p["selects"], ns)
        missing.extend(problems)
        if not problems:
            passed.append(f"it selects the pods {p['selects']}, and the EndpointSlice controller keeps its endpoints")
    if "endpoints" in p:
        ok, seen = _count_endpoints(ctx, svc, ns, ports if "port" in p else None, p["endpoints"])
        (passed if ok else missing).append(seen)
    if missing:
        shown = (f"kubectl -n {ns} get service {p['name']} -o wide",
                 f"kubectl -n {ns} get endpointslices -l {SERVICE_NAME_LABEL}={p['name']}")
        evidence = Evidence(expected_service(p), "; ".join(passed + missing), commands=shown)
        unserved = load_balancer_unserved(ctx, svc) if p.get("loadBalancer") else None
        if unserved is not None and len(missing) == 1:  # only the address is missing, and it cannot come here
            return replace(unserved, evidence=evidence)
        failed = CheckResult.failed(f"Service {p['name']}: " + "; ".join(missing),
                                    [*passed, *([unserved.message, *unserved.details] if unserved else [])],
                                    evidence=evidence)
        return with_events(failed, ctx.cluster, ns, [("Service", p["name"])])
    return CheckResult.passed(f"Service {p['name']}: " + "; ".join(passed) if passed else f"Service {p['name']} exists")


def expected_service(p: Mapping[str, Any]) -> str:
    """What a `service` check asks of the Service, as its evidence says it: "type NodePort; node port 30080"."""
    wanted = [f"type {p['type']}"] if "type" in p else []
    if "clusterIP" in p:
        wanted.append("headless (clusterIP None)" if p["clusterIP"] == "None" else "a cluster IP")
    if "port" in p:
        wanted.append(f"port {p['port']}")
    if "nodePort" in p:
        wanted.append("a node port" if p["nodePort"] is True else f"node port {p['nodePort']}")
    if p.get("loadBalancer"):
        wanted.append("a load-balancer address")
    if "selects" in p:
        wanted.append(f"selects exactly the pods {p['selects']}")
    if "endpoints" in p:
        wanted.append(f"{p['endpoints']} ready endpoints")
    return "; ".join(wanted) or "the Service exists"


KINDS = [
    CheckKind(
        "service",
        {
            "name": Param(ServiceName, required=True, doc="the Service"),
            "namespace": Param(Text, doc="default: the lab's namespace"),
            "type": Param(str, doc="the Service type", choices=("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")),
            "clusterIP": Param(str, doc="present or None", choices=("present", "None")),
            "port": Param(Port, doc="look only at this Service port"),
            "nodePort": Param(NodePort, doc="true: a node port is allocated; a number: that one"),
            "loadBalancer": Param(OnlyTrue, doc="true: a load-balancer address is assigned"),
            "endpoints": Param(Count, doc="how many ready endpoints (pods, or hand-written addresses); with port, those kube-proxy uses for that port"),
            "selects": Param(Selector, doc="a label selector: the Service's own selector matches exactly these pods and "
                                      "every EndpointSlice of it is the EndpointSlice controller's (no hand-written endpoints)"),
        },
        _service,
        doc="a Service is exposed as expected",
        lags="the EndpointSlice controller or the load-balancer allocator may not have caught up yet", settles_within=10,
    )
]
