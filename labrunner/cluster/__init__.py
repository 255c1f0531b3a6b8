"""Cluster access through the official kubernetes client.

Nothing outside this package sees a kubernetes client exception: they become
`labrunner.errors` types here.
"""

from .applying import (
    LAB_LABEL,
    MANAGED_BY,
    apply_manifests,
    delete_labelled,
    delete_manifests,
    delete_object,
    ensure_namespace,
)
from .client import FIELD_MANAGER, Cluster, connect, ping
from .execing import ExecResult, exec_in_pod
from .namespaces import delete_namespace
from .waiting import condition_status, wait_for, wait_for_condition, wait_until

__all__ = [
    "FIELD_MANAGER",
    "LAB_LABEL",
    "MANAGED_BY",
    "Cluster",
    "ExecResult",
    "apply_manifests",
    "condition_status",
    "connect",
    "delete_labelled",
    "delete_manifests",
    "delete_namespace",
    "delete_object",
    "ensure_namespace",
    "exec_in_pod",
    "ping",
    "wait_for",
    "wait_for_condition",
    "wait_until",
]
