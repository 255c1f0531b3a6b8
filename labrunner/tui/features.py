"""Which of the lab format's `requires` features the current cluster offers.

The lab list marks labs that need something missing. Each answer comes from
the engine (the NetworkPolicy canary `doctor` runs, and plain reads); None
means "cannot tell without trying", which the list shows as unknown, never
as missing. (A candidate to move into the engine beside `doctor`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..errors import LabrunnerError, NotFound

if TYPE_CHECKING:
    from ..cluster import Cluster


def detect_features(cluster: Cluster) -> dict[str, bool | None]:
    from ..checks.canary import check_policy_enforced  # loads the kubernetes client; only in workers

    probes: dict[str, Callable[[Cluster], bool | None]] = {
        "networkpolicy": lambda c: check_policy_enforced(c).enforced,
        "storage": _default_storage_class,
        "ingress": lambda c: bool(c.list("IngressClass")),
        "dns": lambda c: bool(c.list("Service", namespace="kube-system", selector="k8s-app=kube-dns")),
        "csr": _serves_csr,
        # Reachability of node ports and load balancer addresses from this
        # machine shows only when a check tries them.
        "nodeport": lambda c: None,
        "loadbalancer": lambda c: None,
    }
    found: dict[str, bool | None] = {}
    for feature, probe in probes.items():
        try:
            found[feature] = probe(cluster)
        except LabrunnerError:
            found[feature] = None
    return found


def _default_storage_class(cluster: Cluster) -> bool:
    return any((c["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true"
               for c in cluster.list("StorageClass"))


def _serves_csr(cluster: Cluster) -> bool:
    try:
        cluster.resource("CertificateSigningRequest")
    except NotFound:
        return False
    return True


def missing_features(requires: tuple[str, ...], features: dict[str, bool | None] | None) -> list[str]:
    """The required features the cluster is known to lack."""
    if features is None:
        return []
    return [f for f in requires if features.get(f) is False]
