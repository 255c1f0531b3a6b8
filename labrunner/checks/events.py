"""The `events` check: how many times the cluster reported something happening.

Some effects leave no trace in any object's spec or status, only in events:
a ReplicaSet that replaced a deleted pod ("SuccessfulCreate"), a kubelet that
could not create a pod sandbox ("FailedCreatePodSandBox"), a claim that found
no volume ("ProvisioningFailed"). Events expire (one hour by default), which is
long enough for a lab step.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .base import CheckContext, CheckKind, CheckResult, Param, all_of, valid_regex


def _matching(ctx: CheckContext, p: Mapping[str, Any]) -> list[dict]:
    ns = p.get("namespace") or ctx.namespace
    fields = [f"involvedObject.kind={p['involvedKind']}", f"reason={p['reason']}"]
    if "involvedName" in p:
        fields.append(f"involvedObject.name={p['involvedName']}")
    events = ctx.cluster.list("Event", namespace=ns, field_selector=",".join(fields), api_version="v1")
    name_re = re.compile(p["involvedNameMatches"]) if "involvedNameMatches" in p else None
    message_re = re.compile(p["messageMatches"]) if "messageMatches" in p else None
    current = None
    if p.get("current", True):
        # Only events about objects that exist now: a step reset (or a pod
        # recreated under the same name) starts the count afresh.
        current = {(o.get("metadata") or {}).get("uid") for o in ctx.cluster.list(p["involvedKind"], namespace=ns)}
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
        found.append(event)
    return sorted(found, key=_when)


def _when(event: dict) -> str:
    for key in ("lastTimestamp", "last_timestamp", "eventTime", "event_time", "firstTimestamp", "first_timestamp"):
        if event.get(key):
            return str(event[key])
    return str((event.get("metadata") or {}).get("creationTimestamp") or "")


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
            problem = f"{p['explain']} ({problem})"
        return CheckResult.failed(problem, details)
    return CheckResult.passed(f"{count} {what}", details)


def _validate(p: Mapping[str, Any]) -> list[str]:
    problems = []
    if "atLeast" not in p and "atMost" not in p:
        problems.append("give atLeast, atMost or both")
    if "involvedName" in p and "involvedNameMatches" in p:
        problems.append("give involvedName or involvedNameMatches, not both")
    return problems


KINDS = [
    CheckKind(
        "events",
        {
            "reason": Param(str, required=True, doc="the event reason, e.g. SuccessfulCreate"),
            "involvedKind": Param(str, required=True, doc="the kind of the object the event is about, e.g. ReplicaSet"),
            "involvedName": Param(str, doc="that object's name"),
            "involvedNameMatches": Param(str, doc="or: a regular expression its name must match, e.g. ^api-"),
            "messageMatches": Param(str, doc="a regular expression the event message must match"),
            "atLeast": Param(int, doc="at least this many matching events"),
            "atMost": Param(int, doc="at most this many matching events (0: it must not have happened)"),
            "current": Param(bool, doc="count only events about objects that exist now (default true)"),
            "explain": Param(str, doc="what to tell the learner when the count is wrong"),
            "namespace": Param(str, doc="default: the lab's namespace"),
        },
        _events,
        validate=all_of(_validate, valid_regex("involvedNameMatches"), valid_regex("messageMatches")),
        doc="the cluster reported an event (a pod replaced, a sandbox that failed) that many times",
    )
]
