"""The `audit` check: OPA Gatekeeper's audit lists the objects that violate a Constraint.

Admission judges requests; objects that were there before a policy are found only by Gatekeeper's
audit, which judges every cached object every `--audit-interval` seconds (60 by default) and writes
what it found into the Constraint's status (Gatekeeper docs, "Audit": `status.auditTimestamp`,
`status.totalViolations`, and up to `--constraint-violations-limit` (20) entries of
`status.violations`, each `{kind, name, namespace, message, enforcementAction}`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from ...errors import NotFound
from ...format.values import ObjectName
from ..base import CheckContext, CheckKind, CheckResult, Param
from ..evidence import Evidence

CONSTRAINTS_API = "constraints.gatekeeper.sh/v1beta1"
TEMPLATES_API = "templates.gatekeeper.sh/v1"
# Seconds: Gatekeeper's default --audit-interval. labrunner's add-on runs it every 10 s; a Gatekeeper
# installed otherwise keeps the default, so a fail is re-checked for this long plus a margin.
AUDIT_INTERVAL = 60
# Seconds after the last change of a Constraint or its template from which an audit's fail is final
# (not re-checked): the audit pod loads them through a watch, in well under a second on a lab cluster.
AUDIT_LOAD_MARGIN = 5
MISSING_FIX = ("Gatekeeper is not installed: `labrunner addons install gatekeeper` (on kind, `labrunner up` "
               "installs it for the labs that need it; `labrunner doctor` shows its state)")


def _time(text: str | None) -> datetime | None:
    """An RFC 3339 timestamp as the API writes it (2026-11-29T19:30:00Z), or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _spec_written(metadata: Mapping[str, Any]) -> datetime | None:
    """When the Constraint itself (not its status) was last written: the newest `time` of its
    managedFields entries outside the status subresource (Kubernetes API, "Server-Side Apply: field
    management"; every create, update, patch and apply records one, in whole seconds), else its
    creationTimestamp. An audit must have started after it to judge the Constraint as it is now."""
    times = [_time(entry.get("time")) for entry in metadata.get("managedFields") or []
             if isinstance(entry, Mapping) and not entry.get("subresource")]
    known = [t for t in times if t is not None]
    created = _time(metadata.get("creationTimestamp"))
    return max(known) if known else created


def _listed(violation: Mapping[str, Any], kind: str, name: str, namespace: str) -> bool:
    return (violation.get("kind") == kind and violation.get("name") == name
            and (violation.get("namespace") or "") == namespace)


_UNKNOWN: dict = {}  # an object whose kind the cluster does not serve: whether it exists cannot be told


def _found(ctx: CheckContext, kind: str, name: str) -> dict | None:
    """The object in the lab namespace, None when it is not there, `_UNKNOWN` when that cannot be told."""
    try:
        return ctx.cluster.get(kind, name, namespace=ctx.namespace)
    except NotFound:
        return _UNKNOWN


def _audit(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    kind, _, name = p["constraint"].partition("/")
    wanted = [tuple(o.split("/", 1)) for o in p["lists"]]
    wanted_text = ", ".join(f"{k} {n}" for k, n in wanted)
    expected = f"the audit lists {wanted_text} (namespace {ctx.namespace})"
    try:
        ctx.cluster.resource("ConstraintTemplate", TEMPLATES_API)
    except NotFound:
        return CheckResult.errored(f"the cluster serves no ConstraintTemplate kind; {MISSING_FIX}",
                                   evidence=Evidence(expected, "no Gatekeeper CRDs"))
    try:
        constraint = ctx.cluster.get(kind, name, api_version=CONSTRAINTS_API)
    except NotFound:
        return CheckResult.failed(
            f"no ConstraintTemplate defines the kind {kind} yet (kubectl get constrainttemplates)",
            evidence=Evidence(expected, f"kind {kind} not served in {CONSTRAINTS_API}"))
    if constraint is None:
        return CheckResult.failed(f"{kind} {name} does not exist yet",
                                  evidence=Evidence(expected, f"{kind} {name} does not exist"))
    status = constraint.get("status") or {}
    metadata = constraint["metadata"]
    created = _time(metadata.get("creationTimestamp"))
    written = _spec_written(metadata)
    audited = _time(status.get("auditTimestamp"))
    # An audit of the Constraint as it was before its last change (another namespace, dryrun) tells
    # nothing of the Constraint now. A change in the same second as the audit's start may have come
    # after it: only a later audit counts then. A new Constraint gets a status only from an audit
    # that saw it, so one made in the audit's second counts.
    stale = audited is None or (created is not None and audited < created) or (
        written is not None and written != created and audited <= written)
    # The Rego is the template's: an audit from before the template last changed judged the old Rego
    # (a template edited to allow everything would pass on an audit made while it still denied).
    template = ctx.cluster.get("ConstraintTemplate", kind.lower(), api_version=TEMPLATES_API)
    rego_written = _spec_written(template["metadata"]) if template else None
    if not stale and rego_written is not None and audited is not None and audited <= rego_written:
        stale, written = True, rego_written
    if stale:
        since = "changed" if written is not None and written != created else "made"
        return CheckResult.failed(
            f"Gatekeeper's audit has not looked at {kind} {name} since it was {since} "
            f"(it runs every {AUDIT_INTERVAL} s by default)",
            evidence=Evidence(expected, f"no audit since the constraint was {since} at "
                                        f"{(written or created).isoformat() if (written or created) else 'unknown'} "
                                        f"(status.auditTimestamp: {status.get('auditTimestamp') or 'none'})"))
    violations = status.get("violations") or []
    shown = [f"{v.get('kind')} {v.get('namespace') or '-'}/{v.get('name')}: {v.get('message')}" for v in violations]
    seen = Evidence(expected, f"audit at {status['auditTimestamp']}: {status.get('totalViolations', len(violations))} "
                              f"violation(s)" + (f": {'; '.join(shown)}" if shown else ""))
    missing = [(k, n) for k, n in wanted if not any(_listed(v, k, n, ctx.namespace) for v in violations)]
    if missing:
        found = {(k, n): _found(ctx, k, n) for k, n in missing}
        gone = [f"{k} {n}" for (k, n), obj in found.items() if obj is None]
        if gone:
            return CheckResult.failed(
                f"{', '.join(gone)} no longer exist(s) in {ctx.namespace}: the audit lists only objects that "
                f"exist, so deleting a violating object hides it instead of reporting it", shown, evidence=seen,
                final=True)
        # This audit judged the Constraint as it is now (not stale, above); if it also saw every missing
        # object (made before it started), the next audit can only say the same until something changes.
        # A margin after the last change of the Constraint or its template: the audit pod takes a
        # moment to load them, and an audit started in that moment judges without them.
        latest = max((t for t in (written, created, rego_written) if t is not None), default=None)
        seen_by_audit = (audited is not None and latest is not None
                         and (audited - latest).total_seconds() >= AUDIT_LOAD_MARGIN
                         and all(obj is not _UNKNOWN and _time((obj.get("metadata") or {}).get("creationTimestamp"))
                                 is not None and _time(obj["metadata"]["creationTimestamp"]) < audited
                                 for obj in found.values()))
        total = status.get("totalViolations")
        cut = isinstance(total, int) and total > len(violations)
        return CheckResult.failed(
            f"the audit at {status['auditTimestamp']} does not list "
            f"{', '.join(f'{k} {n}' for k, n in missing)} as a violation of {kind} {name}"
            # Gatekeeper keeps only the first --constraint-violations-limit (20) violations in the status.
            + (f"; it found {total} violations but keeps only {len(violations)} in the status: remove the "
               f"other violating objects you made" if cut else ""),
            shown or ["no violations listed"], evidence=seen, final=seen_by_audit and not cut)
    messages = [v.get("message") for k, n in wanted for v in violations if _listed(v, k, n, ctx.namespace)]
    return CheckResult.passed(f"the audit at {status['auditTimestamp']} lists {wanted_text}: {'; '.join(map(str, messages))}",
                              shown, evidence=seen)


KINDS = [
    CheckKind(
        "audit",
        {
            "constraint": Param(ObjectName, required=True,
                                doc="the Gatekeeper Constraint as Kind/name, e.g. K8sNoPrivileged/no-privileged"),
            "lists": Param(list[ObjectName], required=True,
                           doc="Kind/name of objects in the lab's namespace the audit must list, e.g. [Pod/legacy]"),
        },
        _audit,
        validate=lambda p: [] if p.get("lists") else ["lists: expected at least one Kind/name, e.g. [Pod/legacy]"],
        doc="Gatekeeper's audit lists these objects as violations of a Constraint",
        lags="Gatekeeper's audit runs once a minute",
        settles_within=AUDIT_INTERVAL + 30,
    )
]
