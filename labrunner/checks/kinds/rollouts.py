"""The `rollout` check: a Deployment rolled its pods over to a new template, by its own controller.

Read from object state, not from events (events expire after an hour): the
Deployment's revision annotation counts its templates, its ReplicaSets are the
ones whose controller ownerReference carries its UID, each ReplicaSet's
managedFields say who last wrote `spec.replicas` and when, and the annotations
the controller writes with each scale (desired-replicas, max-replicas) keep the
Deployment's size and surge at the old ReplicaSet's step-down. A rollout means
the Deployment controller stepped the old ReplicaSets down while the Deployment
kept its size, allowed extra pods and had every new pod ready first; not a
learner's `kubectl scale rs ... --replicas 0`, not a scale of the Deployment
down and back around the template change, not the Recreate strategy (even set
back afterwards), not maxUnavailable above 0 set back to 0 afterwards.
Pods deleted by hand mid-rollout leave no trace in the end state.
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
# Set with it: the Deployment's spec.replicas plus the maxSurge its strategy allowed at that moment
# (MaxReplicasAnnotation; MaxSurge is 0 for the Recreate strategy, at least 1 for a rolling update
# with maxUnavailable 0, since the API refuses both at 0).
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# The earlier revisions a ReplicaSet held, comma-separated, set when `rollout undo` (or a template
# changed back) reuses it (same package, RevisionHistoryAnnotation).
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


def _annotation_int(replica_set: dict, key: str) -> int | None:
    """A whole-number annotation of the ReplicaSet (None if not recorded or not a number)."""
    try:
        return int(((replica_set.get("metadata") or {}).get("annotations") or {})[key])
    except (KeyError, TypeError, ValueError):
        return None


def _desired_replicas(replica_set: dict) -> int | None:
    """The Deployment's replicas when its controller last scaled this ReplicaSet (None if not recorded)."""
    return _annotation_int(replica_set, DESIRED_REPLICAS)


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
        desired = _desired_replicas(rs)
        if desired is not None and desired < wanted:
            # Scaling the Deployment down drains every ReplicaSet at once (to 0: all of them); after
            # a template change and a scale back up, nothing else in the end state tells it from a
            # rollout at full size. The price: a Deployment still scaled up above its size at the
            # rollout fails too (a step checks the rollout before any later scale-up).
            return CheckResult.failed(
                f"the old ReplicaSet {rs_name} was stepped down while the Deployment asked for {desired} pods, "
                f"fewer than the {wanted} it asks for now (it was scaled down around the template change): "
                + ("every pod was gone meanwhile" if desired == 0 else f"only {desired} pods served meanwhile")
                + f"; a rollout keeps {what}'s replicas and moves them over "
                "to the new template", details)
        owners = replicas_owners(rs)
        recorded = bool((rs.get("metadata") or {}).get("managedFields"))
        if recorded and CONTROLLER_MANAGER not in owners:
            by = ", ".join(owners) or "hand (kubectl scale)"
            return CheckResult.failed(
                f"the old ReplicaSet {rs_name} was scaled to 0 by {by}, not by the Deployment controller: "
                f"a rollout is {what}'s own doing (change its pod template and let it step the old pods down)",
                details)
        surge = _annotation_int(rs, MAX_REPLICAS)
        if desired is not None and surge is not None and surge <= desired:
            return CheckResult.failed(
                f"the old ReplicaSet {rs_name} was stepped down while {what}'s strategy allowed no extra pod "
                f"(its {MAX_REPLICAS} annotation, {surge}, is its desired-replicas): its pods were stopped before "
                "their replacements were ready, as the Recreate strategy (or a rolling update with maxSurge 0) "
                "does, even if the strategy was set back afterwards; a rolling update with maxUnavailable 0 "
                "starts new pods first", details)
    if not any(_revision(rs) < revision for rs in owned):
        return CheckResult.failed(
            f"no old ReplicaSet of {what} is left (revisionHistoryLimit 0, or deleted by hand), so nothing shows "
            f"how its pods were replaced; keep the default history (revisionHistoryLimit 10) and roll out again",
            details)
    gone = _revisions_gone(owned, revision)
    if gone:
        # Every check above reads the old ReplicaSets that are left: a Recreate (or a scale to 0)
        # at a revision whose ReplicaSet was pruned since leaves nothing to read.
        return CheckResult.failed(
            f"revision {', '.join(map(str, gone))} of {what} left no ReplicaSet (a lowered revisionHistoryLimit, "
            f"or deleted by hand), so nothing shows how its pods were replaced then; keep the default history "
            f"(revisionHistoryLimit 10), reset the step and roll out again", details)
    late = _ready_after_last_step_down(owned, revision, ctx.cluster.list("Pod", namespace=ns))
    if late:
        return CheckResult.failed(late, details)
    old = sum(1 for rs in owned if _revision(rs) != revision)
    stepped = {1: "the controller stepped the old ReplicaSet down to 0"}.get(
                   old, f"the controller stepped the {old} old ReplicaSets down to 0")
    return CheckResult.passed(f"{what} rolled out revision {revision}: all {wanted} pods run it; {stepped}", details)


def _revisions_gone(owned: list[dict], revision: int) -> list[int]:
    """The revisions below `revision` that no ReplicaSet holds or lists in its revision-history.

    The Deployment controller numbers each new template max + 1 and, when it reuses a ReplicaSet,
    moves the old number into its revision-history, so with the default revisionHistoryLimit (10)
    every revision stays accounted for; one is gone only when its ReplicaSet was pruned (a lower
    limit, or more than 10 templates) or deleted.
    """
    held = set()
    for rs in owned:
        held.add(_revision(rs))
        history = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION_HISTORY) or ""
        held.update(int(part) for part in history.split(",") if part.strip().isdigit())
    return sorted(set(range(1, revision)) - held)


def _ready_after_last_step_down(owned: list[dict], revision: int, pods: list[dict]) -> str:
    """Why the last old pod was stopped before every new pod was ready, or "".

    With maxUnavailable 0 the Deployment controller steps the last old ReplicaSet down only when
    the new one reports all its pods available (k8s.io/kubernetes pkg/controller/deployment,
    rolling.go reconcileOldReplicaSets: allPods - minAvailable - newRSUnavailable), so every new pod
    that existed then had turned Ready before it: its Ready condition's lastTransitionTime is at or
    before the old ReplicaSets' last step-down (the controller's managedFields time; both whole
    seconds). A new pod that existed then and turned Ready only later means old pods went first:
    maxUnavailable above 0 during the rollout (e.g. 1, set back to 0 afterwards). Pods whose
    containers restarted (a node reboot) turned Ready again for that reason: they are left out.
    A readiness probe that failed and passed again after the rollout would also move the time;
    with no such flap nothing else in the end state shows the rollout's maxUnavailable.
    """
    new = [rs for rs in owned if _revision(rs) == revision]
    emptied = [replicas_written_at(rs) for rs in owned
               if _revision(rs) < revision and not (rs.get("spec") or {}).get("replicas", 0)]
    if len(new) != 1 or not emptied or not all(emptied):
        return ""
    last = max(emptied)  # type: ignore[type-var]  # RFC 3339 UTC ("...Z") compares as text
    uid = (new[0].get("metadata") or {}).get("uid")
    for pod in pods:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        if not uid or not _owned_by(pod, uid) or (meta.get("creationTimestamp") or "~") > last:
            continue
        if any((c.get("restartCount") or 0) for c in status.get("containerStatuses") or []):
            continue
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        if ready.get("status") == "True" and (ready.get("lastTransitionTime") or "") > last:
            return (f"the last old pod was stopped (at {last}) before the new pod {meta.get('name')} was ready "
                    f"(at {ready['lastTransitionTime']}): fewer ready pods than the Deployment asks for served "
                    "meanwhile, as a rolling update with maxUnavailable above 0 does, even if it was set to 0 "
                    "afterwards; with maxUnavailable 0 every new pod is ready before the last old one goes")
    return ""


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
