"""The `rollout` check: a Deployment rolled its pods over to a new template, by its own controller.

Read from object state, not from events (events expire after an hour): the
Deployment's revision annotation counts its templates, its ReplicaSets are the
ones whose controller ownerReference carries its UID, and each ReplicaSet's
managedFields say who last wrote `spec.replicas`. A rollout means the Deployment
controller stepped the old ReplicaSets down; a learner's `kubectl scale rs
... --replicas 0` is not one, nor is scaling the Deployment to 0 and back around
a template change (the old ReplicaSet's desired-replicas annotation keeps the 0).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from ...format.values import ObjectName, Text
from ..base import CheckContext, CheckKind, CheckResult, Param
from ..evidence import Evidence
from ..objectevents import with_events, workload_objects
from .objects import split_object

REVISION = "deployment.kubernetes.io/revision"  # set by the Deployment controller on it and its ReplicaSets
# Set by the Deployment controller on a ReplicaSet each time it scales it: the Deployment's
# spec.replicas at that moment (k8s.io/kubernetes pkg/controller/deployment/util, DesiredReplicasAnnotation).
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
# The earlier revisions a ReplicaSet held, set when `rollout undo` reuses it (same package, RevisionHistoryAnnotation).
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CONTROLLER_MANAGER = "kube-controller-manager"  # the field manager the Deployment controller writes as


def replicas_owners(replica_set: dict) -> list[str]:
    """The field managers that own the ReplicaSet's `spec.replicas` ([] if none is recorded).

    Shape of a managedFields entry: {manager, operation, subresource?, fieldsV1: {"f:spec": {"f:replicas": {}}}}.
    The Deployment controller owns it on every ReplicaSet it scaled. A `kubectl scale` (an
    Update through the `scale` subresource) that changes the value takes it from every manager
    (on Kubernetes 1.34 nobody owns it afterwards; an apply or edit makes its manager the owner).
    """
    owners = []
    for entry in (replica_set.get("metadata") or {}).get("managedFields") or []:
        fields = entry.get("fieldsV1") or entry.get("fields_v1") or {}
        if "f:replicas" in (fields.get("f:spec") or {}):
            owners.append(str(entry.get("manager") or ""))
    return owners


def replicas_written_at(replica_set: dict, manager: str = CONTROLLER_MANAGER) -> str | None:
    """When `manager` last wrote the ReplicaSet's `spec.replicas` (managedFields `time`, RFC 3339,
    second precision), or None if not recorded. For an old ReplicaSet of a finished rollout that is
    the moment the Deployment controller stepped it down to 0."""
    for entry in (replica_set.get("metadata") or {}).get("managedFields") or []:
        fields = entry.get("fieldsV1") or entry.get("fields_v1") or {}
        if entry.get("manager") == manager and not entry.get("subresource") and "f:replicas" in (fields.get("f:spec") or {}):
            return entry.get("time")
    return None


def _revision(obj: dict) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _desired_replicas(replica_set: dict) -> int | None:
    """The Deployment's replicas when its controller last scaled this ReplicaSet (None if not recorded)."""
    try:
        return int(((replica_set.get("metadata") or {}).get("annotations") or {})[DESIRED_REPLICAS])
    except (KeyError, TypeError, ValueError):
        return None


def _owned_by(obj: dict, uid: str) -> bool:
    return any(ref.get("controller") and ref.get("uid") == uid
               for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def _rollout(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    result = _rollout_judged(ctx, p)
    if result.ok:
        return result
    # The evidence reads the Deployment again: the verdict's own reading stays as it was written.
    _, name = split_object(p["object"])
    ns = p.get("namespace") or ctx.namespace
    deployment = ctx.cluster.get("Deployment", name, namespace=ns)
    if deployment is None:
        observed = "no such Deployment"
    else:
        status = deployment.get("status") or {}
        observed = (f"revision {_revision(deployment) or 1}; {status.get('updatedReplicas') or 0} of "
                    f"{(deployment.get('spec') or {}).get('replicas', 1)} pods on the newest template, "
                    f"{status.get('replicas') or 0} pods in all, {status.get('availableReplicas') or 0} available")
    evidence = Evidence("a new pod template (revision 2 or more) rolled out by the Deployment controller: every pod "
                        "runs it and the old ReplicaSets are stepped down to 0", observed,
                        commands=(f"kubectl -n {ns} rollout history deployment/{name}",
                                  f"kubectl -n {ns} rollout status deployment/{name} --timeout=10s"))
    return with_events(replace(result, evidence=evidence), ctx.cluster, ns,
                       workload_objects(ctx.cluster, deployment, "Deployment", name, ns))


def _rollout_judged(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    _, name = split_object(p["object"])
    ns = p.get("namespace") or ctx.namespace
    deployment = ctx.cluster.get("Deployment", name, namespace=ns)
    what = f"Deployment {name}"
    if deployment is None:
        return CheckResult.failed(f"{what} does not exist yet")
    meta, spec, status = deployment["metadata"], deployment.get("spec") or {}, deployment.get("status") or {}
    revision = _revision(deployment)
    owned = [rs for rs in ctx.cluster.list("ReplicaSet", namespace=ns) if _owned_by(rs, meta.get("uid", ""))]
    details = [f"ReplicaSet {rs['metadata']['name']}: revision {_revision(rs)}, "
               f"{(rs.get('spec') or {}).get('replicas', 0)} wanted, {(rs.get('status') or {}).get('replicas', 0)} pods"
               + (f", replicas set by {', '.join(replicas_owners(rs)) or 'nobody recorded'}"
                  if _revision(rs) != revision else "")
               for rs in sorted(owned, key=_revision)]
    if revision < 2:
        return CheckResult.failed(f"{what} has had one pod template only (revision {revision or 1}): "
                                  "a rollout starts when the pod template changes", details)
    if (status.get("observedGeneration") or 0) < (meta.get("generation") or 0):
        return CheckResult.failed(f"the Deployment controller has not acted on {what}'s latest change yet", details)
    wanted = spec.get("replicas", 1)
    counts = {key: status.get(key) or 0 for key in ("replicas", "updatedReplicas", "availableReplicas")}
    if counts["updatedReplicas"] != wanted or counts["replicas"] != wanted or counts["availableReplicas"] != wanted:
        return CheckResult.failed(
            f"the rollout of {what} has not finished: {counts['updatedReplicas']} of {wanted} pods run the new "
            f"template, {counts['replicas'] - counts['updatedReplicas']} old ones remain, "
            f"{counts['availableReplicas']} are available", details)
    for rs in owned:
        if _revision(rs) == revision:
            continue
        rs_name = rs["metadata"]["name"]
        if (rs.get("spec") or {}).get("replicas", 0) or (rs.get("status") or {}).get("replicas", 0):
            return CheckResult.failed(f"the old ReplicaSet {rs_name} of {what} still has pods", details)
        if _desired_replicas(rs) == 0 and wanted:
            # Scaling the Deployment to 0 drains every ReplicaSet at once; after a template
            # change and a scale back up, nothing else in the end state tells it from a rollout.
            return CheckResult.failed(
                f"the old ReplicaSet {rs_name} was stepped down while the Deployment asked for 0 pods "
                f"(it was scaled to 0): every pod was gone before the new ones started; a rollout keeps "
                f"{what}'s replicas and moves them over to the new template", details)
        owners = replicas_owners(rs)
        recorded = bool((rs.get("metadata") or {}).get("managedFields"))
        if recorded and CONTROLLER_MANAGER not in owners:
            by = ", ".join(owners) or "hand (kubectl scale)"
            return CheckResult.failed(
                f"the old ReplicaSet {rs_name} was scaled to 0 by {by}, not by the Deployment controller: "
                f"a rollout is {what}'s own doing (change its pod template and let it step the old pods down)",
                details)
    if not any(_revision(rs) < revision for rs in owned):
        return CheckResult.failed(
            f"no old ReplicaSet of {what} is left (revisionHistoryLimit 0, or deleted by hand), so nothing shows "
            f"how its pods were replaced; keep the default history (revisionHistoryLimit 10) and roll out again",
            details)
    emptied_first = _emptied_before_new(owned, revision)
    if emptied_first:
        return CheckResult.failed(emptied_first, details)
    old = sum(1 for rs in owned if _revision(rs) != revision)
    stepped = {1: "the controller stepped the old ReplicaSet down to 0"}.get(
                   old, f"the controller stepped the {old} old ReplicaSets down to 0")
    return CheckResult.passed(f"{what} rolled out revision {revision}: all {wanted} pods run it; {stepped}", details)


def _emptied_before_new(owned: list[dict], revision: int) -> str:
    """Why the last rollout stopped every old pod before the first new one, or "".

    A rolling update creates the new ReplicaSet first and steps old ones down only as new pods
    become ready, so some old ReplicaSet's last scale comes after the new one was created (a new
    pod takes seconds to start and pass its readiness probe). The Recreate strategy (even when the
    strategy was set back to RollingUpdate afterwards) empties every old ReplicaSet first and
    creates the new one after, often within the same second. So: Recreate when every old
    ReplicaSet the controller stepped down was emptied at or before the new one's creationTimestamp
    (whole seconds). Every one, not only the newest: a second template change right after the
    first (`set env` typed twice) empties the first's surge at once, while the ReplicaSet that
    held the running pods steps down later. A ReplicaSet reused by `rollout undo` is measured
    from its last scale-up instead (see _started_at).
    """
    new = [rs for rs in owned if _revision(rs) == revision]
    before = [rs for rs in owned if _revision(rs) < revision and not (rs.get("spec") or {}).get("replicas", 0)]
    if len(new) != 1 or not before:
        return ""
    started, what = _started_at(new[0])
    emptied = [replicas_written_at(rs) for rs in before]
    if not started or not all(emptied):
        return ""
    last = max(emptied)  # type: ignore[type-var]
    if started >= last:  # RFC 3339 UTC ("...Z") compares as text
        return (f"every old ReplicaSet of the Deployment was stepped down to 0 (the last at {last}) before the new "
                f"ReplicaSet {new[0]['metadata']['name']} {what} ({started}): every old pod was stopped before a new "
                "one started, as the Recreate strategy does; a rolling update starts new pods first")
    return ""


def _started_at(replica_set: dict) -> tuple[str | None, str]:
    """When the ReplicaSet began to hold the current revision's pods, and how to say it.

    A ReplicaSet made for this revision began when it was created. One reused by `rollout undo`
    (the Deployment controller lists its earlier revisions in `revision-history`) was created long
    ago: it began with its last scale-up, the controller's last write of its `spec.replicas`. In a
    rolling update that write (to full size) comes before the old ReplicaSet's last step down,
    one pod's readiness later; Recreate writes it only after every old pod is gone.
    """
    meta = replica_set.get("metadata") or {}
    if (meta.get("annotations") or {}).get(REVISION_HISTORY):
        return replicas_written_at(replica_set), "was scaled up again by `rollout undo`"
    return meta.get("creationTimestamp"), "existed"


def _validate(p: Mapping[str, Any]) -> list[str]:
    kind, name = split_object(p["object"])
    if kind != "Deployment" or not name:
        return [f"object: expected Deployment/name, got {p['object']!r}"]
    return []


KINDS = [
    CheckKind(
        "rollout",
        {"object": Param(ObjectName, required=True, doc="Deployment/name"),
         "namespace": Param(Text, doc="default: the lab's namespace")},
        _rollout,
        validate=_validate,
        doc="a Deployment rolled out a new pod template: all pods run it, and its controller stepped "
            "the old ReplicaSets down to 0",
    ),
]
