"""How this machine reaches a Service from outside, as the cluster allows it (labrunner.capabilities).

- Node ports: at the node's address where this machine reaches it; else through a port published on
  this machine (kind's extraPortMappings on 127.0.0.1, as on Docker Desktop, macOS and Windows, where
  node addresses live in a VM); else no request can answer, whatever the Service: an `error` naming
  the environment, never the learner's `fail`.
- Load-balancer addresses: a Service of type LoadBalancer that has none yet gets one only where an
  implementation serves its class (cloud-provider-kind, MetalLB, a cloud's); where none does, the
  missing address is the cluster's, an `error` with the fix. Where the addresses do not answer this
  machine (Docker Desktop), the way in is the port cloud-provider-kind publishes for the Service on
  127.0.0.1 (`--enable-lb-port-mapping`); where it publishes none, an `error` with the fix.
"""

from __future__ import annotations

import time
from typing import Callable

from ..capabilities import Capability, capability
from ..capabilities.portmaps import PORT_TAKEN_FIX, lb_port_taken, lb_published_ports
from ..capabilities.probes import node_addresses
from .base import CheckContext, CheckResult

# A "missing" finding older than this is looked at again before a check errors on it: an add-on
# just installed (cloud-provider-kind started, a port published) must not wait for the cache.
RECHECK_MISSING_AFTER = 60.0  # s


def node_port_addresses(ctx: CheckContext, node_ports: list[int]) -> list[tuple[int, str, int]] | CheckResult | None:
    """[(node port, address, port)] to send a request to for each of `node_ports`; an errored
    CheckResult when this machine cannot reach any of them; None when the cluster's way could not be
    found out (the caller then tries the node's address, as before capabilities existed)."""
    if ctx.node_address:
        return [(n, ctx.node_address, n) for n in node_ports]
    found = capability(ctx.cluster, "nodeport")
    if found.state is not None and found.data.get("asked") != node_addresses(ctx.cluster):
        found = capability(ctx.cluster, "nodeport", fresh=True)  # LABRUNNER_NODE_ADDRESS or the nodes changed
    if found.state is False and time.time() - found.seen_at > RECHECK_MISSING_AFTER:
        found = capability(ctx.cluster, "nodeport", fresh=True)
    if found.state is None:
        return None
    if found.data.get("direct"):
        return [(n, found.data["address"], n) for n in node_ports]
    mappings: dict[str, list] = found.data.get("mappings") or {}
    mapped = [(n, str(mappings[str(n)][0]), int(mappings[str(n)][1])) for n in node_ports if str(n) in mappings]
    if mapped:
        return mapped
    ports = ", ".join(map(str, node_ports))
    published = ", ".join(sorted(mappings, key=int))
    fix = (f"use a node port this machine reaches ({published}), or publish {ports} too (kind: an extraPortMappings "
           "entry in kind-config.yaml, then recreate the cluster)" if published else found.fix)
    return CheckResult.errored(f"this machine cannot reach node port {ports}, whatever the Service: {found.detail}",
                               [f"fix: {fix}"])


def load_balancer_unserved(ctx: CheckContext, svc: dict, *,
                           lookup: Callable[..., Capability] = capability) -> CheckResult | None:
    """An errored result when Service `svc` (type LoadBalancer, no address yet) will never get an address
    because no implementation serves its class; None otherwise (a Service of another type, one with an
    address, or a cluster whose implementation may just be slow: the learner's fail stands)."""
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer" or ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return None
    service = svc["metadata"]["name"]
    taken = lb_port_taken(ctx.cluster, ctx.namespace, service)
    if taken:
        return CheckResult.errored(f"Service {service} has no load-balancer address: the load-balancer implementation "
                                   f"could not publish its port on this machine ({taken})", [f"fix: {PORT_TAKEN_FIX}"])
    lb_class = spec.get("loadBalancerClass")
    name = f"loadbalancer:{lb_class}" if lb_class else "loadbalancer"
    found = lookup(ctx.cluster, name)
    if found.state is False and time.time() - found.seen_at > RECHECK_MISSING_AFTER:
        found = lookup(ctx.cluster, name, fresh=True)
    if found.state is not False:
        return None
    return CheckResult.errored(f"Service {service} has no load-balancer address, and none will come on this cluster: "
                               f"{found.detail}", [f"fix: {found.fix}"])


LB_PORT_MAPPING_FIX = ("on kind with Docker Desktop, run cloud-provider-kind with --enable-lb-port-mapping (`labrunner "
                       "up` does when the node addresses do not answer this machine), which publishes each "
                       "LoadBalancer port on this machine")


def load_balancer_targets(ctx: CheckContext, svc: dict, address: str, port: int, *,
                          published: Callable[[str | None, str, str], dict[int, tuple[str, int]]] = lb_published_ports,
                          ) -> list[tuple[str, int]] | CheckResult:
    """[(address, port)] to send a request for port `port` of the LoadBalancer Service `svc`, whose
    load-balancer address is `address`: that address itself, unless the capability probe found that
    this cluster's load-balancer addresses do not answer this machine (data["path"] "published", or
    data["reachable"] False). Then the host port cloud-provider-kind publishes for the Service's
    `port` (Docker Desktop), or an errored CheckResult when none is published: the environment's,
    never the learner's fail."""
    from ..capabilities import cached, identity

    found = cached(identity(ctx.cluster)).get("loadbalancer")
    if found is None or found.state is not True or (found.data.get("path") != "published"
                                                    and found.data.get("reachable") is not False):
        return [(address, port)]
    name = svc["metadata"]["name"]
    mapped = published(getattr(ctx.cluster, "context_name", None), ctx.namespace, name).get(port)
    if mapped:
        return [mapped]
    if found.data.get("path") == "published":
        return CheckResult.errored(
            f"the load-balancer address {address} of Service {name} does not answer this machine, and "
            f"cloud-provider-kind publishes no host port for its port {port}",
            ["fix: cloud-provider-kind publishes a Service's ports when it creates its load balancer, and does not "
             f"add ports changed later: delete Service {name} and create it again. It publishes port {port} on host "
             f"port {port} (an IPv4 Service): that port must be free on this machine (kind-config.yaml publishes "
             "80 and 443 for the Ingress controller)"])
    return CheckResult.errored(f"load-balancer addresses do not answer this machine on this cluster ({found.detail})",
                               [f"fix: {LB_PORT_MAPPING_FIX}"])


def load_balancer_unreachable(ctx: CheckContext) -> CheckResult | None:
    """An errored result when the cluster's load-balancer addresses do not answer this machine at all
    (known from the capability probe, never probed here); None otherwise."""
    from ..capabilities import cached, identity

    found = cached(identity(ctx.cluster)).get("loadbalancer")
    if found is None or found.state is not True or found.data.get("reachable") is not False:
        return None
    return CheckResult.errored(f"load-balancer addresses do not answer this machine on this cluster ({found.detail})",
                               [f"fix: {LB_PORT_MAPPING_FIX}"])
