"""What a check saw, as data next to its message: carried by `check --json`, JUnit reports and the TUI.

A message says what is wrong in one sentence; `details` are lines for a person. Evidence is the same
facts as fields a program (or a learner pasting a command) can use: what was expected and what was
seen, each connectivity probe of the from x to matrix with a command that reproduces it, each
SubjectAccessReview asked with the authorizer's answer, the Events the cluster recorded about the objects
the check looked at, and commands that show the same from the learner's shell. Every field is optional:
a check gives what it has at hand, and an empty `Evidence()` says it gave none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

# The status of one probe: a check's three, and `skipped` for a sweep destination that shows nothing
# (it accepts no one labrunner can test; see judging.LEFT_OUT).
PROBE_STATUSES = ("pass", "fail", "error", "skipped")


@dataclass(frozen=True)
class ProbeCell:
    """One cell of a connectivity check's from x to matrix: one TCP connection tried from one source pod.

    `source`/`target` are named as the check's messages name them ("pod shell", "service api",
    "outside role=customer"); `address` is the IP or name connected to and `port` the TCP port (None
    for a probe spec that named no pod to probe, e.g. a missing source, or a sweep). `expected` is
    allow or deny (with `denied_by`: ingress or egress); `observed` what the probe and, when it did not
    connect, the target node's own attempt showed; `status` one of PROBE_STATUSES; `why` the verdict
    as the message says it; `reproduce` a shell command that runs the same probe ("" when there is no
    pod to run it in).
    """

    source: str
    target: str
    port: int | None
    expected: str
    status: str
    observed: str
    why: str = ""
    denied_by: str = ""
    address: str = ""
    reproduce: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "address": self.address or None,
            "port": self.port,
            "expected": self.expected,
            "deniedBy": self.denied_by or None,
            "status": self.status,
            "observed": self.observed,
            "why": self.why,
            "reproduce": self.reproduce or None,
        }


@dataclass(frozen=True)
class AccessReview:
    """One SubjectAccessReview (authorization.k8s.io/v1) asked, and the authorizer's answer.

    `request` is the object sent (apiVersion, kind, spec with user, groups and resource or
    non-resource attributes); `allowed`, `denied`, `reason` and `evaluation_error` are its status as
    the API server returned it. `expected` is allowed or denied ("" when nothing was expected of this
    one review); `reproduce` a `kubectl auth can-i` command asking the same ("" when kubectl cannot
    impersonate the subject exactly, e.g. one with extra attributes).
    """

    request: Mapping[str, Any] = field(hash=False)
    allowed: bool
    denied: bool = False
    reason: str = ""
    evaluation_error: str = ""
    expected: str = ""
    reproduce: str = ""

    @classmethod
    def answered(cls, request: Mapping[str, Any], status: Mapping[str, Any], *, expected: str = "",
                 reproduce: str = "") -> "AccessReview":
        """From the review sent and the `status` of the API server's answer ({allowed, denied?, reason?,
        evaluationError?})."""
        return cls(request, bool(status.get("allowed")), bool(status.get("denied")), str(status.get("reason") or ""),
                   str(status.get("evaluationError") or ""), expected, reproduce)

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": dict(self.request),
            "allowed": self.allowed,
            "denied": self.denied,
            "reason": self.reason or None,
            "evaluationError": self.evaluation_error or None,
            "expected": self.expected or None,
            "reproduce": self.reproduce or None,
        }


@dataclass(frozen=True)
class EventNote:
    """One core/v1 Event about an object a check looked at, as `kubectl get events` lists it.

    `type` is Normal or Warning; `reason` the event's reason ("FailedScheduling", "ProvisioningFailed");
    `object` the object it is about as "Kind/name"; `count` how often it happened (the event's `count` or
    `series.count`, at least 1); `last_seen` when it last happened (RFC 3339, as the API server gives it;
    "" when the event carries no time); `source` the component that reported it ("" if not said).
    """

    type: str
    reason: str
    message: str
    object: str
    count: int = 1
    last_seen: str = ""
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type or None,
            "reason": self.reason or None,
            "message": self.message,
            "object": self.object,
            "count": self.count,
            "lastSeen": self.last_seen or None,
            "source": self.source or None,
        }

    def line(self) -> str:
        """One line, as `kubectl get events` would say it: "Warning FailedScheduling Pod/web-1: 0/1 nodes ... (x3)"."""
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"{self.type or '-'} {self.reason or '-'} {self.object}: {self.message}{times}"


@dataclass(frozen=True)
class Evidence:
    """What a check expected and saw. `expected`/`observed` are short texts ("3 ready replicas",
    "Ready=True", "10.96.0.10"); "" when the check's facts are the probes or reviews. `events` are
    the recent Events about the objects the check read (oldest first); `commands` shell commands that
    show the same from the learner's shell (`curl ...`, `kubectl logs ...`), besides the probes' and
    reviews' own."""

    expected: str = ""
    observed: str = ""
    probes: tuple[ProbeCell, ...] = ()
    reviews: tuple[AccessReview, ...] = ()
    events: tuple[EventNote, ...] = ()
    commands: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.expected or self.observed or self.probes or self.reviews or self.events or self.commands)

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected or None,
            "observed": self.observed or None,
            "probes": [p.as_dict() for p in self.probes],
            "reviews": [r.as_dict() for r in self.reviews],
            "events": [e.as_dict() for e in self.events],
            "reproduce": list(self.commands),
        }

    def reproduce(self, *, failing_only: bool = True) -> list[str]:
        """The commands that reproduce this evidence, each once: the check's own `commands`, then those of
        the probes and reviews; only of the cells that did not pass (and reviews whose answer was not the
        expected one) by default."""
        commands = list(self.commands)
        commands += [p.reproduce for p in self.probes
                     if p.reproduce and (not failing_only or p.status in ("fail", "error"))]
        commands += [r.reproduce for r in self.reviews
                     if r.reproduce and (not failing_only or not r.expected
                                         or r.allowed != (r.expected == "allowed"))]
        return list(dict.fromkeys(commands))

    def lines(self) -> list[str]:
        """The evidence for a person, one fact a line (JUnit reports, the TUI): expected and observed, each
        probe cell, each review, each event. The commands are not among them (see `reproduce`)."""
        lines = []
        if self.expected or self.observed:
            lines += [f"expected: {self.expected or '-'}", f"observed: {self.observed or '-'}"]
        for cell in self.probes:
            port = f":{cell.port}" if cell.port else ""
            lines.append(f"probe [{cell.status}] {cell.source} -> {cell.target}{port}: expected {cell.expected}, "
                         f"observed {cell.observed}")
        for review in self.reviews:
            spec = review.request.get("spec") or {}
            asked = spec.get("resourceAttributes") or spec.get("nonResourceAttributes") or {}
            answer = "allowed" if review.allowed else "denied"
            lines.append(f"SubjectAccessReview {', '.join(f'{k}={v}' for k, v in asked.items())} for user "
                         f"{spec.get('user', '-')} groups {','.join(spec.get('groups') or []) or '-'}: {answer}"
                         + (f" (expected {review.expected})" if review.expected else "")
                         + (f"; {review.reason}" if review.reason else "")
                         + (f"; evaluation error: {review.evaluation_error}" if review.evaluation_error else ""))
        lines += [f"event: {event.line()}" for event in self.events]
        return lines


NO_EVIDENCE = Evidence()
