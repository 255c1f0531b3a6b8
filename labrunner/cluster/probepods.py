"""Small idle pods that checks exec into to probe the network from inside."""

from __future__ import annotations

import hashlib
import os

from ..model import ObjectRef
from .applying import LAB_LABEL, MANAGED_BY, Rendered, apply_object, delete_object
from .client import Cluster
from .waiting import condition_status, wait_until

PROBE_LABEL = "labrunner.dev/probe"
# agnhost has `connect` (tells refused from timeout) and `pause`; kind pulls
# the same image upstream, so probes behave alike everywhere.
PROBE_IMAGE = os.environ.get("LABRUNNER_PROBE_IMAGE", "registry.k8s.io/e2e-test-images/agnhost:2.56")


def probe_pod_name(labels: dict[str, str]) -> str:
    key = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
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
                    "image": PROBE_IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["pause"],
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "resources": {"requests": {"cpu": "5m", "memory": "8Mi"}, "limits": {"memory": "32Mi"}},
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
    cluster: Cluster, label_sets: list[dict[str, str]], *, namespace: str, lab_id: str, timeout: float = 90.0
) -> dict[str, str]:
    """Start (or reuse) one probe pod per label set; returns name -> pod IP, all Ready."""
    wanted = {probe_pod_name(labels): labels for labels in label_sets}
    if not wanted:
        return {}
    existing = {p["metadata"]["name"]: p for p in cluster.list("Pod", namespace=namespace, selector=f"{PROBE_LABEL}=true")}
    if all(name in existing and is_ready(existing[name]) for name in wanted):
        return {name: existing[name]["status"].get("podIP", "") for name in wanted}
    for name, labels in wanted.items():
        pod = existing.get(name)
        if pod is not None and (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            delete_object(cluster, ObjectRef("Pod", name, "v1"), namespace=namespace)
            wait_until(cluster, "Pod", namespace=namespace, name=name, predicate=lambda objs: not objs,
                       describe=f"old probe pod {name} to go", timeout=30)
            pod = None
        if pod is None:
            apply_object(cluster, Rendered(probe_pod_body(name, labels, lab_id=lab_id), "probe pod"), namespace=namespace)

    def all_ready(pods: list[dict]) -> bool:
        ready = {p["metadata"]["name"] for p in pods if is_ready(p)}
        return set(wanted) <= ready

    pods = wait_until(cluster, "Pod", namespace=namespace, selector=f"{PROBE_LABEL}=true", predicate=all_ready,
                      describe=f"probe pods {', '.join(sorted(wanted))} to be Ready", timeout=timeout)
    return {p["metadata"]["name"]: p["status"].get("podIP", "") for p in pods if p["metadata"]["name"] in wanted}
