"""The `service` check: how a Service is exposed."""

from __future__ import annotations

import os
from typing import Any, Mapping

from .base import CheckContext, CheckKind, CheckResult, Param


def nodeport_range() -> tuple[int, int]:
    """The API server's --service-node-port-range is not readable; assume the default."""
    low, _, high = os.environ.get("LABRUNNER_NODEPORT_RANGE", "30000-32767").partition("-")
    return int(low), int(high)


def ready_endpoints(ctx: CheckContext, name: str, namespace: str) -> list[str]:
    """Ready addresses behind a Service, from its EndpointSlices."""
    slices = ctx.cluster.list("EndpointSlice", namespace=namespace, selector=f"kubernetes.io/service-name={name}")
    addresses: set[str] = set()
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                addresses.update(endpoint.get("addresses") or [])
    return sorted(addresses)


def _service(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    ns = p.get("namespace") or ctx.namespace
    svc = ctx.cluster.get("Service", p["name"], namespace=ns)
    if svc is None:
        return CheckResult.failed(f"Service {p['name']} does not exist yet")
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
    if "endpoints" in p:
        ready = ready_endpoints(ctx, p["name"], ns)
        ok = len(ready) == p["endpoints"]
        (passed if ok else missing).append(
            f"{len(ready)} ready endpoints" + ("" if ok else f", should be {p['endpoints']}" + ("" if ready else " (does the selector match the pods' labels?)"))
        )
    if missing:
        return CheckResult.failed(f"Service {p['name']}: " + "; ".join(missing), passed)
    return CheckResult.passed(f"Service {p['name']}: " + "; ".join(passed) if passed else f"Service {p['name']} exists")


KINDS = [
    CheckKind(
        "service",
        {
            "name": Param(str, required=True, doc="the Service"),
            "namespace": Param(str, doc="default: the lab's namespace"),
            "type": Param(str, doc="the Service type", choices=("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")),
            "clusterIP": Param(str, doc="present or None", choices=("present", "None")),
            "port": Param(int, doc="look only at this Service port"),
            "nodePort": Param((bool, int), doc="true: a node port is allocated; a number: that one"),
            "loadBalancer": Param(bool, doc="true: a load-balancer address is assigned"),
            "endpoints": Param(int, doc="how many ready endpoint addresses"),
        },
        _service,
        doc="a Service is exposed as expected",
        lags="the EndpointSlice controller or the load-balancer allocator may not have caught up yet", settles_within=10,
    )
]
