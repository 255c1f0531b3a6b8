"""What the resource panel shows of a namespace, as rows of text.

Pure functions over the object dicts the engine's `Cluster.list` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

PROBE_LABEL = "labrunner.dev/probe"  # the engine's probe pods carry it
RESOURCE_KINDS = ("Pod", "Service", "NetworkPolicy", "PersistentVolumeClaim")  # the kinds the panel shows


@dataclass(frozen=True)
class NamespaceView:
    pods: tuple[tuple[str, ...], ...] = ()  # name, phase, ready, note
    services: tuple[tuple[str, ...], ...] = ()  # name, type, cluster IP, ports, external
    policies: tuple[tuple[str, ...], ...] = ()  # name, pod selector, policy types
    claims: tuple[tuple[str, ...], ...] = ()  # name, phase, capacity, storage class
    errors: dict[str, str] = field(default_factory=dict)  # kind -> why it could not be listed

    @property
    def empty(self) -> bool:
        return not (self.pods or self.services or self.policies or self.claims)


def view_of(objects: Mapping[str, Sequence[dict]]) -> NamespaceView:
    def rows(kind: str, make) -> tuple[tuple[str, ...], ...]:  # noqa: ANN001
        return tuple(make(o) for o in sorted(objects.get(kind, ()), key=lambda o: o["metadata"]["name"]))

    return NamespaceView(
        pods=rows("Pod", pod_row),
        services=rows("Service", service_row),
        policies=rows("NetworkPolicy", policy_row),
        claims=rows("PersistentVolumeClaim", claim_row),
    )


def pod_row(pod: dict) -> tuple[str, str, str, str]:
    meta, status = pod["metadata"], pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or containers)
    ready = sum(1 for c in containers if c.get("ready"))
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "?")
    waiting = [c["state"]["waiting"].get("reason", "") for c in containers
               if (c.get("state") or {}).get("waiting")]
    note = "probe" if (meta.get("labels") or {}).get(PROBE_LABEL) else ""
    if waiting and waiting[0]:
        phase = waiting[0]  # ImagePullBackOff says more than Pending
    return meta["name"], phase, f"{ready}/{total}", note


def service_row(service: dict) -> tuple[str, str, str, str, str]:
    spec, status = service.get("spec") or {}, service.get("status") or {}
    kind = spec.get("type", "ClusterIP")
    ports = ",".join(_port(p) for p in spec.get("ports") or [])
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    external = [i.get("ip") or i.get("hostname") or "" for i in ingress]
    external += spec.get("externalIPs") or []
    if kind == "ExternalName":
        external.append(spec.get("externalName") or "")
    elif kind == "LoadBalancer" and not external:
        external.append("<pending>")
    cluster_ip = spec.get("clusterIP") or ("-" if kind == "ExternalName" else "")
    return service["metadata"]["name"], kind, cluster_ip, ports, ",".join(e for e in external if e)


def _port(port: dict) -> str:
    node = port.get("nodePort")
    return f"{port.get('port')}{':' + str(node) if node else ''}/{port.get('protocol', 'TCP')}"


def policy_row(policy: dict) -> tuple[str, str, str]:
    spec = policy.get("spec") or {}
    selector = spec.get("podSelector") or {}
    labels = selector.get("matchLabels") or {}
    shown = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or ("(all pods)" if not selector.get("matchExpressions") else "(expressions)")
    types = spec.get("policyTypes") or ["Ingress"]
    return policy["metadata"]["name"], shown, ",".join(types)


def claim_row(claim: dict) -> tuple[str, str, str, str]:
    spec, status = claim.get("spec") or {}, claim.get("status") or {}
    capacity = (status.get("capacity") or {}).get("storage") or ((spec.get("resources") or {}).get("requests") or {}).get("storage", "")
    storage_class = spec.get("storageClassName") or ""
    return claim["metadata"]["name"], status.get("phase", "?"), capacity, storage_class
