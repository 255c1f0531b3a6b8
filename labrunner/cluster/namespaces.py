"""Deleting a lab's namespace, and waiting until one is gone (creating it is part of applying).

A deleted namespace lingers in phase Terminating while the namespace controller deletes its
content (pods get their grace period, finalizers run). Objects applied into it then are deleted
with it, and the API server may even admit them: its NamespaceLifecycle admission reads a cache.
So `reset` waits for the namespace to be gone and `start` waits for a terminating one.
"""

from __future__ import annotations

import time
from typing import Callable

from ..errors import Forbidden, NotFound, WaitTimedOut
from ..model import ObjectRef
from ..settings import TIMEOUTS
from .applying import delete_object
from .client import Cluster
from .waiting import wait_until

# Seconds a namespace may take to go: its pods' grace period (30 s by default) plus finalizers.
NAMESPACE_GONE_TIMEOUT = TIMEOUTS.namespace_gone  # s (settings.Timeouts)
# Seconds between progress lines while waiting.
PROGRESS_EVERY = 10.0


def delete_namespace(cluster: Cluster, name: str, *, wait: bool = False, timeout: float = NAMESPACE_GONE_TIMEOUT,
                     on_progress: Callable[[str], None] | None = None) -> bool:
    """Delete a namespace and everything in it; False when it did not exist.

    With `wait`, block until it is gone (see wait_namespace_gone).
    """
    existed = delete_object(cluster, ObjectRef("Namespace", name, "v1"), namespace="")
    if existed and wait:
        wait_namespace_gone(cluster, name, timeout=timeout, on_progress=on_progress)
    return existed


def is_terminating(namespace: dict | None) -> bool:
    """True for a Namespace object being deleted (deletionTimestamp set or phase Terminating)."""
    if not namespace:
        return False
    return bool(namespace.get("metadata", {}).get("deletionTimestamp")) or \
        (namespace.get("status") or {}).get("phase") == "Terminating"


def wait_namespace_usable(cluster: Cluster, name: str, *, timeout: float = NAMESPACE_GONE_TIMEOUT,
                          on_progress: Callable[[str], None] | None = None) -> None:
    """Return at once when namespace `name` is absent or active; while it is terminating, wait
    until it is gone, so that what is applied next is not deleted with it.

    Raises WaitTimedOut (its message says what holds the namespace and what to do) after `timeout` s.
    """
    if is_terminating(cluster.get("Namespace", name)):
        if on_progress is not None:
            on_progress(f"namespace {name} is still being deleted (a reset a moment ago?); "
                        f"waiting for it to be gone, up to {timeout:.0f} s")
        wait_namespace_gone(cluster, name, timeout=timeout, on_progress=on_progress)


def wait_namespace_gone(cluster: Cluster, name: str, *, timeout: float = NAMESPACE_GONE_TIMEOUT,
                        on_progress: Callable[[str], None] | None = None) -> None:
    """Block until namespace `name` no longer exists, watching it (no polling).

    `on_progress` gets a line every PROGRESS_EVERY s with what the namespace controller says is
    left. Raises WaitTimedOut after `timeout` s, naming what remains and the fix.
    """
    started = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - started)
        try:
            wait_until(cluster, "Namespace", namespace=None, name=name, predicate=lambda objs: not objs,
                       describe=f"namespace {name} to be deleted", timeout=max(0.1, min(PROGRESS_EVERY, left)))
            return
        except WaitTimedOut:
            waited = time.monotonic() - started
            remaining = _remaining(cluster.get("Namespace", name))
            if waited >= timeout:
                raise WaitTimedOut(
                    f"namespace {name} is still being deleted after {timeout:.0f} s"
                    + (f" ({remaining})" if remaining else "")
                    + f". Something holds it: `kubectl get namespace {name} -o yaml` shows what in "
                    "status.conditions; delete what it names (or the finalizer of a controller that is "
                    "not running), then run the command again") from None
            if on_progress is not None:
                on_progress(f"still waiting for namespace {name} to be deleted ({waited:.0f} s)"
                            + (f": {remaining}" if remaining else ""))


def _remaining(namespace: dict | None) -> str:
    """What the namespace controller reports as left, from the Namespace's status conditions."""
    if not namespace:
        return ""
    wanted = ("NamespaceContentRemaining", "NamespaceFinalizersRemaining", "NamespaceDeletionContentFailure")
    return "; ".join(c.get("message", "") for c in (namespace.get("status") or {}).get("conditions") or []
                     if c.get("type") in wanted and c.get("status") == "True" and c.get("message"))


# What a learner can make in a lab namespace, as (apiVersion, kind): what `empty_namespace` deletes
# when the namespace itself must stay (a workshop's seat). Endpoints and EndpointSlices follow their
# Services, Pods their owners; the workshop's own RBAC, quota and limits are never on this list.
LEARNER_KINDS = (
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"), ("apps/v1", "ReplicaSet"),
    ("batch/v1", "CronJob"), ("batch/v1", "Job"), ("v1", "Pod"), ("v1", "Service"), ("v1", "ConfigMap"),
    ("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "PersistentVolumeClaim"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("networking.k8s.io/v1", "Ingress"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("rbac.authorization.k8s.io/v1", "Role"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
)
# Objects the control plane keeps in every namespace (it would make them again at once).
_KEPT_BY_CONTROL_PLANE = {"ConfigMap": "kube-root-ca.crt", "ServiceAccount": "default"}


def empty_namespace(cluster: Cluster, name: str, *, keep_label: str, wait: bool = True,
                    timeout: float = NAMESPACE_GONE_TIMEOUT) -> None:
    """Delete what a learner made in namespace `name` (every LEARNER_KINDS object) and keep the
    namespace: a workshop seat's reset, where the seat may not delete or create its namespaces.
    Objects labelled `keep_label` (the workshop's RoleBinding and the seat's progress record) stay;
    so do the ConfigMap and ServiceAccount the control plane keeps in every namespace.
    With `wait`, returns once no Pod is left (their grace period); raises WaitTimedOut after `timeout` s."""
    for api_version, kind in LEARNER_KINDS:
        try:
            resource = cluster.resource(kind, api_version)
        except NotFound:
            continue  # the cluster does not serve this kind
        kept = _KEPT_BY_CONTROL_PLANE.get(kind)
        try:
            cluster.call(f"deleting every {kind} in {name}", cluster.dynamic.delete, resource, namespace=name,
                         label_selector=f"!{keep_label}", field_selector=f"metadata.name!={kept}" if kept else None,
                         body={"propagationPolicy": "Background"})
        except Forbidden:
            continue  # a kind this identity may not delete (a seat's Ingresses): it could not have made any either
    if wait:
        wait_until(cluster, "Pod", namespace=name, predicate=lambda pods: not pods, selector=f"!{keep_label}",
                   describe=f"the pods of namespace {name} to be deleted", timeout=timeout)
