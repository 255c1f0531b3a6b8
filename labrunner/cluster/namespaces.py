"""Deleting a lab's namespace (creating it is part of applying)."""

from __future__ import annotations

from ..model import ObjectRef
from .applying import delete_object
from .client import Cluster
from .waiting import wait_until


def delete_namespace(cluster: Cluster, name: str, *, wait: bool = False, timeout: float = 180.0) -> bool:
    """Delete a namespace and everything in it; False when it did not exist.

    With `wait`, block until it is gone (pods can take their grace period).
    """
    existed = delete_object(cluster, ObjectRef("Namespace", name, "v1"), namespace="")
    if existed and wait:
        wait_until(cluster, "Namespace", namespace=None, name=name, predicate=lambda objs: not objs,
                   describe=f"namespace {name} to be deleted", timeout=timeout)
    return existed
