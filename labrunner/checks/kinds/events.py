"""The `events` check: how many times the cluster reported something happening.

Some effects leave no trace in any object's spec or status, only in events:
a ReplicaSet that replaced a deleted pod ("SuccessfulCreate"), a kubelet that
could not create a pod sandbox ("FailedCreatePodSandBox"), a claim that found
no volume ("ProvisioningFailed"). Events expire (one hour by default, the API
server's --event-ttl), so a check must not rest on an event where an object's
state shows the same; and it counts only events about the objects as they are
now: the same UID, and for pods (`sinceLastStart`) only what happened since a
container last started.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping

from ...format.values import Count, Kind, Regex, Text
from ..base import CheckContext, CheckKind, CheckResult, Param
from ..evidence import Evidence
from ..objectevents import MAX_EVENTS, event_time as _when, events_about, note_of


def _matching(ctx: CheckContext, p: Mapping[str, Any]) -> list[dict]:
    ns = p.get("namespace") or ctx.namespace
    fields = [f"involvedObject.kind={p['involvedKind']}", f"reason={p['reason']}"]
    if "involvedName" in p:
        fields.append(f"involvedObject.name={p['involvedName']}")
    events = ctx.cluster.list("Event", namespace=ns, field_selector=",".join(fields), api_version="v1")
    name_re = re.compile(p["involvedNameMatches"]) if "involvedNameMatches" in p else None
    message_re = re.compile(p["messageMatches"]) if "messageMatches" in p else None
    current = None
    started: dict[str, datetime] = {}
    if p.get("current", True) or p.get("sinceLastStart"):
        objects = ctx.cluster.list(p["involvedKind"], namespace=ns)
        # Only events about objects that exist now: a step reset (or a pod
        # recreated under the same name) starts the count afresh.
        current = {(o.get("metadata") or {}).get("uid") for o in objects}
        if p.get("sinceLastStart"):
            started = {uid: when for uid, when in ((_uid(o), last_container_start(o)) for o in objects) if when}
    found = []
    for event in events:
        involved = event.get("involvedObject") or {}
        if event.get("reason") != p["reason"] or involved.get("kind") != p["involvedKind"]:
            continue  # the field selector said so already; kept for servers that ignore it
        if "involvedName" in p and involved.get("name") != p["involvedName"]:
            continue
        if current is not None and involved.get("uid") not in current:
            continue
        if name_re and not name_re.search(involved.get("name") or ""):
            continue
        if message_re and not message_re.search(event.get("message") or ""):
            continue
        if involved.get("uid") in started and (_time(_when(event)) or started[involved["uid"]]) < started[involved["uid"]]:
            continue  # about the pod before its containers last started: history, not how it is now
        found.append(event)
    return sorted(found, key=_when)


def last_container_start(pod: dict) -> datetime | None:
    """When the pod's most recent container (app, init or sidecar) started, or None if none has.

    Reads `status.*containerStatuses[].state.running.startedAt` and
    `state.terminated.startedAt` (RFC 3339, second precision, as the kubelet reports).
    """
    status = pod.get("status") or {}
    times = []
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for container in status.get(key) or []:
            for state in ("running", "terminated"):
                when = _time(((container.get("state") or {}).get(state) or {}).get("startedAt"))
                if when:
                    times.append(when)
    return max(times) if times else None


def _uid(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _events(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    found = _matching(ctx, p)
    count = len(found)
    target = p.get("involvedName") or (f"/{p['involvedNameMatches']}/" if "involvedNameMatches" in p else "any")
    what = f"{p['reason']} events for {p['involvedKind']} {target}"
    details = [f"{(e.get('involvedObject') or {}).get('name', '')}: {e.get('message', '').strip()}" for e in found[-5:]]
    low, high = p.get("atLeast"), p.get("atMost")
    problem = ""
    if low is not None and count < low:
        problem = f"expected at least {low} {what}, found {count}"
    elif high is not None and count > high:
        problem = f"expected at most {high} {what}, found {count}"
    if problem:
        if p.get("explain"):
            problem = f"{p['explain'].strip()} ({problem})"
        return CheckResult.failed(problem, details, evidence=_evidence(ctx, p, what, found))
    return CheckResult.passed(f"{count} {what}", details)


def _evidence(ctx: CheckContext, p: Mapping[str, Any], what: str, found: list[dict]) -> Evidence:
    """The count wanted and found, and the events counted; when none was and one object is named, what
    the cluster did report about it instead (another reason may say why the one asked for is missing)."""
    low, high = p.get("atLeast"), p.get("atMost")
    wanted = " and ".join(filter(None, (f"at least {low}" if low is not None else "",
                                        f"at most {high}" if high is not None else "")))
    events = tuple(note_of(e) for e in found[-MAX_EVENTS:])
    if not events and "involvedName" in p:
        events = events_about(ctx.cluster, p.get("namespace") or ctx.namespace, [(p["involvedKind"], p["involvedName"])])
    return Evidence(f"{wanted} {what}", f"{len(found)} {what}", events=events)


def _validate(p: Mapping[str, Any]) -> list[str]:
    problems = []
    if "atLeast" not in p and "atMost" not in p:
        problems.append("give atLeast, atMost or both")
    if "involvedName" in p and "involvedNameMatches" in p:
        problems.append("give involvedName or involvedNameMatches, not both")
    if p.get("sinceLastStart") and p["involvedKind"] != "Pod":
        problems.append("sinceLastStart applies to events about Pods only")
    if p.get("sinceLastStart") and p.get("current") is False:
        problems.append("sinceLastStart reads the pods that exist now; it cannot go with current: false")
    if p.get("atLeast") == 0 and "atMost" not in p:
        problems.append("atLeast: zero passes on any count without atMost, so the check could not fail; give atMost too")
    if "atLeast" in p and "atMost" in p and p["atLeast"] > p["atMost"]:
        problems.append(f"atLeast ({p['atLeast']}) is more than atMost ({p['atMost']}): no count can pass")
    return problems


KINDS = [
    CheckKind(
        "events",
        {
            "reason": Param(Text, required=True, doc="the event reason, e.g. SuccessfulCreate"),
            "involvedKind": Param(Kind, required=True, doc="the kind of the object the event is about, e.g. ReplicaSet"),
            "involvedName": Param(Text, doc="that object's name"),
            "involvedNameMatches": Param(Regex, doc="or: a regular expression its name must match, e.g. ^api-"),
            "messageMatches": Param(Regex, doc="a regular expression the event message must match"),
            "atLeast": Param(Count, doc="at least this many matching events"),
            "atMost": Param(Count, doc="at most this many matching events (0: it must not have happened)"),
            "current": Param(bool, doc="count only events about objects that exist now (default true)"),
            "sinceLastStart": Param(bool, doc="Pods: count only events since a container of the pod last started "
                                              "(what failed before the pod came up is history)"),
            "explain": Param(str, doc="what to tell the learner when the count is wrong"),
            "namespace": Param(Text, doc="default: the lab's namespace"),
        },
        _events,
        validate=_validate,
        doc="the cluster reported an event (a pod replaced, a sandbox that failed) that many times",
    )
]
