"""Finding the pods a check talks about (`pod: name` or `selector: ...`).

A selector means every pod it matches, never the first one by name: a decoy pod
that carries the label must not stand in for the workload's pods, and one bad
replica must not hide behind a good one. Checks therefore judge each pod from
`find_pods`; `find_pod` remains for a `pod:` name and for sources where any one
matching pod is the point.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..cluster import Cluster
from ..cluster.probepods import is_ready
from ..format.values import ContainerName, ResourceName, Selector, Text
from .base import CheckResult, Param, Status, exactly_one

POD_PARAMS = {
    "pod": Param(ResourceName, doc="the pod's name"),
    "selector": Param(Selector, doc="a label selector; every pod that matches must satisfy the check"),
    "container": Param(ContainerName, doc="the container (default: the first)"),
    "namespace": Param(Text, doc="default: the lab's namespace"),
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


def find_pods(cluster: Cluster, spec: Mapping[str, Any], *, namespace: str) -> tuple[list[dict], str]:
    """Every pod a `pod:`/`selector:` spec names, each running and ready; or ([], what is missing).

    Shape: (pods sorted by name, "") when all matching pods are ready; ([], reason for the learner)
    when none match, or when any matching pod is not running and ready yet (a pod being deleted
    does not count: it is leaving). Raises LabrunnerError only for cluster faults (from `list`).
    """
    if spec.get("pod"):
        pod, missing = find_pod(cluster, spec, namespace=namespace)
        return ([pod], "") if pod is not None else ([], missing)
    ns = spec.get("namespace") or namespace
    pods = [p for p in cluster.list("Pod", namespace=ns, selector=spec["selector"])
            if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if not pods:
        return [], f"no running pod matches {spec['selector']} in namespace {ns}"
    waiting = sorted(pod_name(p) for p in pods if not is_ready(p))
    if waiting:
        return [], (f"pod {', '.join(waiting)} (matching {spec['selector']}) is not running and ready yet; "
                    "every matching pod is checked")
    return sorted(pods, key=pod_name), ""


def verdict_of_pods(results: list[CheckResult]) -> CheckResult:
    """One verdict for a check judged on every pod: the first error, else the first fail, else a pass.

    `results` holds one CheckResult per pod (at least one), in pod order.
    """
    for status in (Status.ERROR, Status.FAIL):
        for result in results:
            if result.status is status:
                return result
    if len(results) == 1:
        return results[0]
    return CheckResult.passed(f"all {len(results)} pods: {results[0].message}", list(results[0].details))


def pod_ns(pod: dict) -> str:
    return pod["metadata"]["namespace"]


def pod_name(pod: dict) -> str:
    return pod["metadata"]["name"]
