"""What stands behind a Service: its EndpointSlices read by meaning.

Facts from the EndpointSlice API (discovery.k8s.io/v1) and kube-proxy:
- an endpoint is one backend (a pod, or an address written by hand); a
  dual-stack Service lists the same pod once per address family, so a pod
  counts once (by its `targetRef`), an address without one by itself;
- `conditions.ready` unset means ready; a terminating endpoint (a pod being
  deleted) is not ready, even while it is still `serving`;
- kube-proxy uses a slice's endpoints for a Service port only when the slice
  carries a port with the same `name` ("" for an unnamed port);
- slices the EndpointSlice controller keeps for a Service with a selector are
  labelled `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`;
  any other slice was written by someone else (a person, or the mirroring
  controller for a hand-written Endpoints object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"


@dataclass(frozen=True)
class Endpoint:
    """One backend behind a Service: `key` is `pod/<name>` or the address."""

    key: str
    addresses: tuple[str, ...]
    pod: str | None  # the pod's name when the slice names one (targetRef)
    ready: bool
    serving: bool
    terminating: bool
    slice_name: str


def read_endpoints(slices: Iterable[dict], *, port_name: str | None = None) -> list[Endpoint]:
    """Every backend the slices list, one per pod or hand-written address.

    `port_name`: when given, only slices that carry a port of that name count
    (what kube-proxy uses for the Service port of that name; "" for unnamed).
    An endpoint listed more than once (dual-stack, or two slices) is ready when
    any listing is ready and not terminating. Sorted by key.
    """
    found: dict[str, Endpoint] = {}
    for endpoint_slice in slices:
        if port_name is not None and not carries_port(endpoint_slice, port_name):
            continue
        slice_name = (endpoint_slice.get("metadata") or {}).get("name", "")
        for item in endpoint_slice.get("endpoints") or []:
            addresses = tuple(item.get("addresses") or ())
            ref = item.get("targetRef") or {}
            pod = ref.get("name") if ref.get("kind", "Pod") == "Pod" and ref.get("name") else None
            if pod is None and not addresses:
                continue
            key = f"pod/{pod}" if pod else addresses[0]
            conditions = item.get("conditions") or {}
            terminating = conditions.get("terminating") is True
            ready = conditions.get("ready") is not False and not terminating
            serving = conditions.get("serving", conditions.get("ready")) is not False
            seen = found.get(key)
            if seen is not None:
                ready, serving = ready or seen.ready, serving or seen.serving
                terminating = terminating and seen.terminating
                addresses = tuple(dict.fromkeys(seen.addresses + addresses))
                slice_name = seen.slice_name
            found[key] = Endpoint(key, addresses, pod, ready, serving, terminating, slice_name)
    return [found[key] for key in sorted(found)]


def carries_port(endpoint_slice: dict, port_name: str) -> bool:
    """Whether kube-proxy would use this slice for the Service port named `port_name`."""
    return any((port.get("name") or "") == port_name for port in endpoint_slice.get("ports") or [])


def foreign_slices(slices: Iterable[dict]) -> list[str]:
    """Names of slices not kept by the EndpointSlice controller, with who manages them."""
    foreign = []
    for endpoint_slice in slices:
        meta = endpoint_slice.get("metadata") or {}
        manager = (meta.get("labels") or {}).get(MANAGED_BY_LABEL)
        if manager != CONTROLLER:
            foreign.append(f"{meta.get('name', '?')} ({'managed by ' + manager if manager else 'written by hand'})")
    return sorted(foreign)


def selector_string(selector: dict[str, str]) -> str:
    """A Service's `spec.selector` (a map, equality only) as a label selector string."""
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
