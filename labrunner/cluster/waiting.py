"""kubectl-style waits (condition, jsonpath, delete) driven by watches, not sleeps."""

from __future__ import annotations

import time
from typing import Callable

from kubernetes import watch as k8s_watch

from .. import jsonpath
from ..errors import ApiRejected, ClusterUnreachable, WaitTimedOut
from ..model import WaitSpec
from .client import Cluster

Predicate = Callable[[list[dict]], bool]


def condition_status(obj: dict, condition: str) -> str | None:
    """The status ("True", "False", "Unknown") of a status condition, or None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type", "").lower() == condition.lower():
            return str(cond.get("status"))
    return None


def wait_until(
    cluster: Cluster,
    kind: str,
    *,
    namespace: str | None,
    predicate: Predicate,
    describe: str,
    name: str | None = None,
    selector: str | None = None,
    api_version: str | None = None,
    timeout: float = 120.0,
) -> list[dict]:
    """Watch `kind` objects (one by name, or by selector) until `predicate(objects)`.

    Returns the objects that satisfied it; raises WaitTimedOut after `timeout` s.
    """
    deadline = time.monotonic() + timeout
    field_selector = f"metadata.name={name}" if name else None
    seen: dict[str, dict] = {}
    while True:
        items, version = cluster.list_with_version(
            kind, namespace=namespace, selector=selector, field_selector=field_selector, api_version=api_version
        )
        seen = {item["metadata"]["name"]: item for item in items}
        if predicate(list(seen.values())):
            return list(seen.values())
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        watcher = k8s_watch.Watch()
        try:
            for event_type, obj in cluster.watch(
                kind,
                namespace=namespace,
                selector=selector,
                field_selector=field_selector,
                resource_version=version,
                timeout=remaining,
                api_version=api_version,
                watcher=watcher,
            ):
                if event_type == "DELETED":
                    seen.pop(obj["metadata"]["name"], None)
                elif event_type in ("ADDED", "MODIFIED"):
                    seen[obj["metadata"]["name"]] = obj
                else:
                    continue
                if predicate(list(seen.values())):
                    watcher.stop()
                    return list(seen.values())
                if time.monotonic() >= deadline:
                    watcher.stop()
                    break
        except ApiRejected as exc:
            if exc.status != 410:  # 410 Gone: our resourceVersion is too old; list again
                raise
        except ClusterUnreachable:
            pass  # a watch can drop mid-stream; listing again tells a blip from an outage
        if time.monotonic() >= deadline:
            break
    raise WaitTimedOut(f"timed out after {timeout:.0f}s waiting for {describe}{_state(list(seen.values()))}")


def _state(objects: list[dict]) -> str:
    if not objects:
        return " (no such object yet)"
    parts = []
    for obj in objects[:3]:
        status = obj.get("status") or {}
        conds = ", ".join(
            f"{c.get('type')}={c.get('status')}" + (f" ({c.get('reason')})" if c.get("reason") else "")
            for c in status.get("conditions") or []
        )
        phase = status.get("phase")
        bits = [b for b in (f"phase {phase}" if phase else "", conds) if b]
        parts.append(f"{obj['metadata']['name']}: {'; '.join(bits) or 'no status yet'}")
    return " (" + " | ".join(parts) + ")"


def wait_for_condition(
    cluster: Cluster,
    kind: str,
    name: str | None = None,
    *,
    condition: str,
    namespace: str | None,
    selector: str | None = None,
    timeout: float = 120.0,
    api_version: str | None = None,
) -> list[dict]:
    def ready(objects: list[dict]) -> bool:
        return bool(objects) and all(condition_status(o, condition) == "True" for o in objects)

    target = f"{kind}/{name}" if name else f"{kind} -l {selector}"
    return wait_until(cluster, kind, namespace=namespace, predicate=ready, describe=f"{target} condition={condition}",
                      name=name, selector=selector, api_version=api_version, timeout=timeout)


def wait_for(cluster: Cluster, spec: WaitSpec, *, namespace: str, timeout: float | None = None) -> list[dict]:
    """Block until `spec` holds (see WaitSpec)."""
    limit = timeout if timeout is not None else spec.timeout
    if spec.condition:
        return wait_for_condition(cluster, spec.kind, spec.name, condition=spec.condition, namespace=namespace,
                                  selector=spec.selector, timeout=limit, api_version=spec.api_version)
    if spec.deleted:
        predicate: Predicate = lambda objects: not objects  # noqa: E731
    else:
        path, wanted = spec.jsonpath or "", spec.value

        def predicate(objects: list[dict]) -> bool:
            return bool(objects) and all(
                any(jsonpath.render(v) == wanted for v in jsonpath.find(o, path)) for o in objects
            )

    return wait_until(cluster, spec.kind, namespace=namespace, predicate=predicate, describe=spec.describe(),
                      name=spec.name, selector=spec.selector, api_version=spec.api_version, timeout=limit)
