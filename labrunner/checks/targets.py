"""Finding the pod a check talks about (`pod: name` or `selector: ...`)."""

from __future__ import annotations

from typing import Any, Mapping

from ..cluster import Cluster
from ..cluster.probepods import is_ready
from .base import Param, exactly_one

POD_PARAMS = {
    "pod": Param(str, doc="the pod's name"),
    "selector": Param(str, doc="a label selector; the first ready pod that matches"),
    "container": Param(str, doc="the container (default: the first)"),
    "namespace": Param(str, doc="default: the lab's namespace"),
}
one_pod = exactly_one("pod", "selector")


def find_pod(cluster: Cluster, spec: Mapping[str, Any], *, namespace: str) -> tuple[dict | None, str]:
    """(pod, "") or (None, what is missing, said for the learner)."""
    ns = spec.get("namespace") or namespace
    if spec.get("pod"):
        pod = cluster.get("Pod", spec["pod"], namespace=ns)
        if pod is None:
            return None, f"there is no pod {spec['pod']} in namespace {ns}"
        if not is_ready(pod):
            phase = (pod.get("status") or {}).get("phase", "unknown")
            return None, f"pod {spec['pod']} is not running and ready yet (phase {phase})"
        return pod, ""
    pods = cluster.list("Pod", namespace=ns, selector=spec["selector"])
    ready = sorted((p for p in pods if is_ready(p)), key=lambda p: p["metadata"]["name"])
    if not ready:
        found = f" ({len(pods)} match but none is ready)" if pods else ""
        return None, f"no running pod matches {spec['selector']} in namespace {ns}{found}"
    return ready[0], ""


def pod_ns(pod: dict) -> str:
    return pod["metadata"]["namespace"]


def pod_name(pod: dict) -> str:
    return pod["metadata"]["name"]
