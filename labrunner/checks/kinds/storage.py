"""Storage checks: `pvc` and `pv`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Mapping

from pydantic import Field

from ...capabilities import capability
from ...format.values import OnlyTrue, Quantity, ResourceName, Selector, Text, Words, choice
from ..base import CheckContext, CheckKind, CheckResult, Param, exactly_one
from ..evidence import Evidence
from ..meaning import parse_quantity
from ..objectevents import with_events


def _compare(what: str, p: Mapping[str, Any], obj: dict, capacity: str | None, modes: list[str]) -> list[str]:
    problems = []
    if "capacity" in p:
        if capacity is None:
            problems.append(f"{what} has no capacity yet")
        elif parse_quantity(capacity) != parse_quantity(p["capacity"]):
            problems.append(f"{what} capacity is {capacity}, should be {p['capacity']}")
    if "accessModes" in p and sorted(modes) != sorted(p["accessModes"]):
        problems.append(f"{what} access modes are {', '.join(modes) or 'none'}, should be {', '.join(p['accessModes'])}")
    return problems


def _pvc(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    ns = p.get("namespace") or ctx.namespace
    pvc = ctx.cluster.get("PersistentVolumeClaim", p["name"], namespace=ns)
    what = f"PersistentVolumeClaim {p['name']}"
    if pvc is None:
        return CheckResult.failed(f"{what} does not exist yet", evidence=Evidence(_expected(p, "pvc"), "no such claim"))
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    problems = []
    phase = status.get("phase", "Pending")
    if phase != p.get("phase", "Bound"):
        hint = " (its class binds on first use: a pod must use it first)" if (
            phase == "Pending" and _waits_for_consumer(ctx, spec.get("storageClassName"))) else ""
        problems.append(f"{what} is {phase}, should be {p.get('phase', 'Bound')}{hint}")
    if "storageClass" in p and spec.get("storageClassName") != p["storageClass"]:
        problems.append(f"{what} storage class is {spec.get('storageClassName')}, should be {p['storageClass']}")
    if p.get("defaultClass"):
        found = capability(ctx.cluster, "storage")
        if found.state is False:  # no claim can name a default class that does not exist
            return CheckResult.errored(f"{what} should use the cluster's default StorageClass, but {found.detail}",
                                       [f"fix: {found.fix}"])
        default = found.data.get("default")
        if default and spec.get("storageClassName") != default:
            problems.append(f"{what} storage class is {spec.get('storageClassName')}, should be the cluster's default, "
                            f"{default} (leave storageClassName out, or name it)")
    capacity = (status.get("capacity") or {}).get("storage")
    modes = status.get("accessModes") or spec.get("accessModes") or []
    problems += _compare(what, p, pvc, capacity, modes)
    if "usedAgainBy" in p and not problems:
        problems += _used_again(ctx, ns, what, spec.get("volumeName") or "", p["usedAgainBy"])
    if problems:
        seen = _seen(phase, spec.get("storageClassName"), capacity, modes)
        failed = CheckResult.failed("; ".join(problems), evidence=Evidence(
            _expected(p, "pvc"), seen, commands=(f"kubectl -n {ns} describe pvc {p['name']}",)))
        # The provisioner says why a claim stays Pending (no such class, waiting for a consumer) in events
        return with_events(failed, ctx.cluster, ns, [("PersistentVolumeClaim", p["name"])])
    return CheckResult.passed(f"{what} is {phase}" + (f", {capacity}" if capacity else "") + (
        f"; the pods matching {p['usedAgainBy']} were created after it was bound" if "usedAgainBy" in p else ""))


def _used_again(ctx: CheckContext, ns: str, what: str, volume: str, selector: str) -> list[str]:
    """Problems unless every pod matching `selector` was created after the claim's volume was bound.

    The volume's `status.lastPhaseTransitionTime` (else its creationTimestamp; RFC 3339, seconds) is
    when it became Bound: with WaitForFirstConsumer, once the first pod using the claim was scheduled.
    A pod created later replaced that pod, so what it finds on the volume outlived a pod. This is the
    API's word, which a note written by hand inside the pod cannot forge.
    """
    pv = ctx.cluster.get("PersistentVolume", volume) if volume else None
    meta = (pv or {}).get("metadata") or {}
    bound = _time(((pv or {}).get("status") or {}).get("lastPhaseTransitionTime") or meta.get("creationTimestamp"))
    if bound is None:
        return [f"{what} has no volume with a known bind time"]
    pods = [pod for pod in ctx.cluster.list("Pod", namespace=ns, selector=selector)
            if not (pod.get("metadata") or {}).get("deletionTimestamp")]
    if not pods:
        return [f"no pod matching {selector} uses {what} now"]
    first = [pod["metadata"]["name"] for pod in pods
             if (_time(pod["metadata"].get("creationTimestamp")) or bound) <= bound]
    if first:
        return [f"pod {', '.join(sorted(first))} is the one {what}'s volume was bound for, not a replacement: "
                "delete it and let its replacement find the data"]
    return []


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _waits_for_consumer(ctx: CheckContext, class_name: str | None) -> bool:
    if not class_name:
        return False
    sc = ctx.cluster.get("StorageClass", class_name)
    return bool(sc) and sc.get("volumeBindingMode") == "WaitForFirstConsumer"


def _pv(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    name = p.get("name")
    if "claim" in p:
        pvc = ctx.cluster.get("PersistentVolumeClaim", p["claim"], namespace=ctx.namespace)
        if pvc is None:
            return CheckResult.failed(f"PersistentVolumeClaim {p['claim']} does not exist yet",
                                      evidence=Evidence(_expected(p, "pv"), f"no claim {p['claim']}"))
        name = (pvc.get("spec") or {}).get("volumeName")
        if not name:
            failed = CheckResult.failed(f"PersistentVolumeClaim {p['claim']} is not bound to a volume yet",
                                        evidence=Evidence(_expected(p, "pv"), f"claim {p['claim']} is "
                                                          f"{(pvc.get('status') or {}).get('phase', 'Pending')}, no volume"))
            return with_events(failed, ctx.cluster, ctx.namespace, [("PersistentVolumeClaim", p["claim"])])
    pv = ctx.cluster.get("PersistentVolume", name)
    what = f"PersistentVolume {name}"
    if pv is None:
        return CheckResult.failed(f"{what} does not exist yet", evidence=Evidence(_expected(p, "pv"), "no such volume"))
    spec = pv.get("spec") or {}
    problems = _compare(what, p, pv, (spec.get("capacity") or {}).get("storage"), spec.get("accessModes") or [])
    if "reclaimPolicy" in p and spec.get("persistentVolumeReclaimPolicy") != p["reclaimPolicy"]:
        problems.append(f"{what} reclaim policy is {spec.get('persistentVolumeReclaimPolicy')}, should be {p['reclaimPolicy']}")
    if "claimedBy" in p:
        ref = spec.get("claimRef") or {}
        if (ref.get("name"), ref.get("namespace")) != (p["claimedBy"], ctx.namespace):
            held = f"{ref.get('namespace')}/{ref.get('name')}" if ref else "no claim"
            problems.append(f"{what} is held by {held}, should be by {ctx.namespace}/{p['claimedBy']}")
        elif (pv.get("status") or {}).get("phase") != "Bound":
            # A claimRef can be written in advance; only Bound means the claim really got it.
            problems.append(f"{what} is reserved for {p['claimedBy']} but is "
                            f"{(pv.get('status') or {}).get('phase', 'Pending')}, not Bound")
    if problems:
        ref = spec.get("claimRef") or {}
        seen = _seen((pv.get("status") or {}).get("phase", "Pending"), spec.get("storageClassName"),
                     (spec.get("capacity") or {}).get("storage"), spec.get("accessModes") or [])
        seen += f", reclaim policy {spec.get('persistentVolumeReclaimPolicy')}, claimed by " + (
            f"{ref.get('namespace')}/{ref.get('name')}" if ref else "nobody")
        failed = CheckResult.failed("; ".join(problems), evidence=Evidence(
            _expected(p, "pv"), seen, commands=(f"kubectl describe pv {name}",)))
        return with_events(failed, ctx.cluster, None, [("PersistentVolume", name)])
    return CheckResult.passed(f"{what} is as expected ({(pv.get('status') or {}).get('phase', '')})")


def _expected(p: Mapping[str, Any], kind: str) -> str:
    """What a `pvc` or `pv` check asks, as its evidence says it: "Bound, class standard, 1Gi, ReadWriteOnce"."""
    wanted = [p.get("phase", "Bound")] if kind == "pvc" else []
    if "storageClass" in p:
        wanted.append(f"class {p['storageClass']}")
    if "capacity" in p:
        wanted.append(str(p["capacity"]))
    if "accessModes" in p:
        wanted.append(", ".join(p["accessModes"]))
    if "reclaimPolicy" in p:
        wanted.append(f"reclaim policy {p['reclaimPolicy']}")
    if "claimedBy" in p:
        wanted.append(f"Bound to claim {p['claimedBy']}")
    if "usedAgainBy" in p:
        wanted.append(f"used by pods {p['usedAgainBy']} created after it was bound")
    return ", ".join(wanted) or "the volume exists"


def _seen(phase: str, class_name: str | None, capacity: str | None, modes: list[str]) -> str:
    return (f"{phase}, class {class_name or 'none'}, {capacity or 'no capacity yet'}, "
            f"{', '.join(modes) or 'no access modes'}")


# PersistentVolume access modes (k8s.io/api/core/v1 PersistentVolumeAccessMode)
_MODES = Param(Annotated[list[choice(("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"))],
                         Field(min_length=1), Words("a list of access modes", too_few="expected at least one access mode")],
               doc="e.g. [ReadWriteOnce]")
KINDS = [
    CheckKind(
        "pvc",
        {"name": Param(ResourceName, required=True, doc="the claim"), "namespace": Param(Text, doc="default: the lab's"),
         "phase": Param(str, doc="default Bound", choices=("Pending", "Bound", "Lost")),
         "storageClass": Param(ResourceName, doc="the StorageClass name"),
         "defaultClass": Param(OnlyTrue, doc="true: the claim's class is the cluster's default StorageClass, whatever "
                                             "its name (kind: standard; k3s: local-path; Docker Desktop: hostpath)"),
         "accessModes": _MODES,
         "capacity": Param(Quantity, doc="e.g. 1Gi"),
         "usedAgainBy": Param(Selector, doc="a label selector: every pod matching it was created after the claim's "
                                       "volume was bound, so it replaced the pod the volume was made for")},
        _pvc,
        doc="a PersistentVolumeClaim is bound as expected",
    ),
    CheckKind(
        "pv",
        {"name": Param(ResourceName, doc="the volume"), "claim": Param(ResourceName, doc="or: the PVC whose volume to check"),
         "capacity": Param(Quantity, doc="e.g. 1Gi"), "accessModes": _MODES,
         "reclaimPolicy": Param(str, doc="Retain, Delete", choices=("Retain", "Delete", "Recycle")),
         "claimedBy": Param(ResourceName, doc="the PVC (in the lab namespace) it must be bound to")},
        _pv,
        validate=exactly_one("name", "claim"),
        doc="a PersistentVolume is as expected",
    ),
]
