"""Checks on any object: exists, absent, field, condition, replicas, pods."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Mapping

from ... import jsonpath
from ...cluster import condition_status
from ...cluster.probepods import is_ready
from ...format.values import ApiVersion, Count, JsonPath, ObjectName, Regex, Selector, Text, plain_value
from ..meaning import same_value, why_percent_differs
from ..base import CheckContext, CheckKind, CheckResult, Param, exactly_one
from ..evidence import Evidence
from ..objectevents import WORKLOADS, events_namespace, with_events, workload_objects

_REF = {
    "object": Param(ObjectName, required=True, doc="Kind/name, e.g. Service/web"),
    "apiVersion": Param(ApiVersion, doc="e.g. apps/v1; needed only for kinds in several groups"),
    "namespace": Param(Text, doc="default: the lab's namespace"),
}


def split_object(text: str) -> tuple[str, str]:
    kind, _, name = text.partition("/")
    return kind, name


def _get(ctx: CheckContext, p: Mapping[str, Any]) -> dict | None:
    kind, name = split_object(p["object"])
    return ctx.cluster.get(kind, name, namespace=p.get("namespace") or ctx.namespace, api_version=p.get("apiVersion"))


def _exists(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    if _get(ctx, p) is None:
        return CheckResult.failed(f"{p['object']} does not exist yet", evidence=Evidence("exists", "does not exist"))
    return CheckResult.passed(f"{p['object']} exists", evidence=Evidence("exists", "exists"))


def _absent(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    obj = _get(ctx, p)
    if obj is not None:
        if obj.get("metadata", {}).get("deletionTimestamp"):
            return CheckResult.failed(f"{p['object']} is still being deleted",
                                      evidence=Evidence("does not exist", "being deleted"))
        return CheckResult.failed(f"{p['object']} still exists; delete it", evidence=Evidence("does not exist", "exists"))
    return CheckResult.passed(f"{p['object']} is gone", evidence=Evidence("does not exist", "does not exist"))


def _field(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    obj = _get(ctx, p)
    what = p["object"]
    if obj is None:
        return CheckResult.failed(f"{what} does not exist yet", evidence=Evidence(_wanted(p), f"{what} does not exist"))
    values = jsonpath.find(obj, p["path"])
    shown = ", ".join(jsonpath.render(v) for v in values) or "nothing"
    seen = Evidence(_wanted(p), shown if values else "not set")
    if "present" in p:
        if bool(values) == p["present"]:
            return CheckResult.passed(f"{what} {p['path']} is {'set' if values else 'not set'}", evidence=seen)
        return CheckResult.failed(f"{what} {p['path']} should {'be set' if p['present'] else 'not be set'} (it is {shown})",
                                  evidence=seen)
    if "equals" in p:
        wanted = p["equals"]
        # By meaning, not spelling: 1024Mi is 1Gi, "0%" is 0.
        if any(same_value(v, wanted) for v in values):
            return CheckResult.passed(f"{what} {p['path']} is {jsonpath.render(wanted)}" + (
                "" if shown == jsonpath.render(wanted) else f" ({shown})"), evidence=seen)
        why = "; ".join(filter(None, (why_percent_differs(v, wanted) for v in values)))
        return CheckResult.failed(f"{what} {p['path']} should be {jsonpath.render(wanted)}, it is {shown}"
                                  + (f" ({why})" if why else ""), evidence=seen)
    pattern = re.compile(p["matches"])
    if any(pattern.search(jsonpath.render(v)) for v in values):
        return CheckResult.passed(f"{what} {p['path']} matches {p['matches']}", evidence=seen)
    return CheckResult.failed(f"{what} {p['path']} should match {p['matches']}, it is {shown}", evidence=seen)


# Conditions in which a controller says it gave up on an object, with its reason: a CSR's signer refusing
# it (Failed, e.g. SignerValidationFailure) or an approver denying it (Denied), a Job that failed (Failed),
# a Deployment whose ReplicaSet cannot create pods (ReplicaFailure).
GAVE_UP = ("Failed", "Denied", "ReplicaFailure")


def gave_up(obj: dict | None) -> list[str]:
    """Each condition of GAVE_UP that is True, quoted: 'condition Failed: SignerValidationFailure: "..."'."""
    lines = []
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") in GAVE_UP and str(condition.get("status")) == "True":
            message = str(condition.get("message") or "").strip()
            said = ": ".join(filter(None, (str(condition.get("reason") or ""), f'"{message}"' if message else "")))
            lines.append(f"condition {condition['type']}" + (f": {said}" if said else ""))
    return lines


def _with_object_events(run):  # noqa: ANN001, ANN202
    """`run` whose results that do not pass carry the Events about the object (for a workload, also
    about its ReplicaSets and pods: that is where a refused or unschedulable pod is reported), and in
    their details the conditions in which a controller gave up on it (a CSR its signer refused)."""

    def checked(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
        result = run(ctx, p)
        if result.ok:
            return result
        kind, name = split_object(p["object"])
        obj = _get(ctx, p)
        given_up = [f"{p['object']} has {line}" for line in gave_up(obj)]
        if given_up:
            result = replace(result, details=(*result.details, *given_up))
        ns = events_namespace(ctx.cluster, kind, p.get("namespace") or ctx.namespace, p.get("apiVersion"))
        objects = workload_objects(ctx.cluster, obj, kind, name, ns) if kind in WORKLOADS else [(kind, name)]
        return with_events(result, ctx.cluster, ns, objects)

    checked.__doc__ = run.__doc__
    return checked


def _wanted(p: Mapping[str, Any]) -> str:
    """What a field check expects, as its evidence says it."""
    if "present" in p:
        return "set" if p["present"] else "not set"
    if "equals" in p:
        return jsonpath.render(p["equals"])
    return f"matches {p['matches']}"


def _condition(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    obj = _get(ctx, p)
    what = p["object"]
    wanted = str(p.get("status", "True"))
    if obj is None:
        return CheckResult.failed(f"{what} does not exist yet",
                                  evidence=Evidence(f"{p['type']}={wanted}", f"{what} does not exist"))
    got = condition_status(obj, p["type"])
    seen = Evidence(f"{p['type']}={wanted}", f"{p['type']}={got or 'not reported'}")
    if got == wanted:
        return CheckResult.passed(f"{what} is {p['type']}={wanted}", evidence=seen)
    return CheckResult.failed(f"{what} should have {p['type']}={wanted}, it has {p['type']}={got or 'not reported'}",
                              evidence=seen)


_WORKLOADS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet")


def _replicas(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    obj = _get(ctx, p)
    what = p["object"]
    wanted = f"{p['ready']} ready replicas"
    if obj is None:
        return CheckResult.failed(f"{what} does not exist yet", evidence=Evidence(wanted, f"{what} does not exist"))
    status = obj.get("status") or {}
    ready = status.get("numberReady" if split_object(p["object"])[0] == "DaemonSet" else "readyReplicas") or 0
    seen = Evidence(wanted, f"{ready} ready replicas")
    if ready == p["ready"]:
        return CheckResult.passed(f"{what} has {ready} ready replicas", evidence=seen)
    return CheckResult.failed(f"{what} should have {p['ready']} ready replicas, it has {ready}", evidence=seen)


def _pods(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    ns = p.get("namespace") or ctx.namespace
    pods = ctx.cluster.list("Pod", namespace=ns, selector=p["selector"])
    ready = [pod for pod in pods if is_ready(pod)]
    details = [f"{pod['metadata']['name']}: {(pod.get('status') or {}).get('phase')}, {'ready' if pod in ready else 'not ready'}" for pod in pods]
    seen = Evidence(f"{p['ready']} ready pods", f"{len(ready)} ready pods of {len(pods)} matching")
    if len(ready) == p["ready"]:
        return CheckResult.passed(f"{len(ready)} pods matching {p['selector']} are ready", details, evidence=seen)
    failed = CheckResult.failed(f"{p['ready']} pods matching {p['selector']} should be ready, {len(ready)} are",
                                details, evidence=seen)
    return with_events(failed, ctx.cluster, ns, [("Pod", pod["metadata"]["name"]) for pod in pods if pod not in ready])


KINDS = [
    CheckKind("exists", _REF, _with_object_events(_exists), doc="the object exists"),
    CheckKind("absent", _REF, _with_object_events(_absent), doc="the object does not exist"),
    CheckKind(
        "field",
        {
            **_REF,
            "path": Param(JsonPath, required=True, doc="a JSONPath such as {.spec.type}"),
            "equals": Param(plain_value((str, int, float, bool, list, dict)), doc="the value expected"),
            "matches": Param(Regex, doc="a regular expression the value must match"),
            "present": Param(bool, doc="true: the field is set; false: it is not"),
        },
        _with_object_events(_field),
        validate=exactly_one("equals", "matches", "present"),
        doc="a field has a value",
    ),
    CheckKind(
        "condition",
        {**_REF, "type": Param(Text, required=True, doc="the condition type, e.g. Ready"),
         "status": Param(str, doc='"True" (default), "False" or "Unknown"', choices=("True", "False", "Unknown"))},
        _with_object_events(_condition),
        doc="a status condition has a status",
    ),
    CheckKind(
        "replicas",
        {**_REF, "ready": Param(Count, required=True, doc="how many ready replicas")},
        _with_object_events(_replicas),
        validate=lambda p: [] if split_object(p["object"])[0] in _WORKLOADS else [
            f"object: expected a {', '.join(_WORKLOADS)}, got {p['object']!r}"],
        doc="a workload has that many ready replicas",
    ),
    CheckKind(
        "pods",
        {"selector": Param(Selector, required=True, doc="a label selector"),
         "ready": Param(Count, required=True, doc="how many running, ready pods"),
         "namespace": Param(Text, doc="default: the lab's namespace")},
        _pods,
        doc="that many pods match and are ready",
    ),
]
