"""The Events the cluster recorded about the objects a check looked at, as evidence for a fail or an error.

Read from core/v1 Events, as `kubectl get events` and `kubectl describe` show them: a pod that cannot
be scheduled, a claim no volume was provisioned for, a ReplicaSet a quota or admission refused pods
to. Events expire (one hour by default, the API server's --event-ttl) and may be dropped when many
come at once, so they are only ever evidence next to a verdict taken from the objects' state, never
the verdict itself. Events about cluster-scoped objects (a PersistentVolume, a
CertificateSigningRequest) are recorded in the namespace `default`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Iterable

from ..errors import LabrunnerError
from .evidence import EventNote

if TYPE_CHECKING:
    from ..cluster import Cluster
    from .base import CheckResult

MAX_EVENTS = 8  # the most recent ones: enough to see a pattern, few enough to read
CLUSTER_SCOPED_EVENTS_NAMESPACE = "default"
# Workloads whose pods (and, for a Deployment, ReplicaSets) carry the labels of `spec.selector.matchLabels`:
# a quota or admission webhook refusing pods says so in an event on the ReplicaSet, a pod that cannot
# start in events on the pod.
WORKLOADS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job")


def event_time(event: dict) -> str:
    """When an Event last happened (RFC 3339 text; "" when it carries no time): lastTimestamp, else its
    series' lastObservedTime, eventTime, firstTimestamp, else its creationTimestamp."""
    series = event.get("series") or {}
    for value in (event.get("lastTimestamp"), series.get("lastObservedTime"), event.get("eventTime"),
                  event.get("firstTimestamp")):
        if value:
            return str(value)
    return str((event.get("metadata") or {}).get("creationTimestamp") or "")


def note_of(event: dict) -> EventNote:
    """An Event (core/v1, as a dict) as evidence."""
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    try:
        count = max(1, int(event.get("count") or (event.get("series") or {}).get("count") or 1))
    except (TypeError, ValueError):
        count = 1
    return EventNote(type=str(event.get("type") or ""), reason=str(event.get("reason") or ""),
                     message=str(event.get("message") or "").strip(),
                     object=f"{involved.get('kind', '')}/{involved.get('name', '')}", count=count,
                     last_seen=event_time(event),
                     source=str(source.get("component") or event.get("reportingComponent") or ""))


def events_about(cluster: "Cluster", namespace: str | None, objects: Iterable[tuple[str, str]], *,
                 limit: int = MAX_EVENTS) -> tuple[EventNote, ...]:
    """The last `limit` Events about any of `objects` ((kind, name) pairs) in `namespace` (None: cluster-scoped
    objects), oldest first. () when there are none or the Events cannot be read: evidence is best effort
    and never turns a verdict into an error."""
    wanted = {(kind, name) for kind, name in objects if kind and name}
    if not wanted:
        return ()
    ns = namespace or CLUSTER_SCOPED_EVENTS_NAMESPACE
    fields = None
    if len(wanted) == 1:
        ((kind, name),) = wanted
        fields = f"involvedObject.kind={kind},involvedObject.name={name}"
    try:
        events = cluster.list("Event", namespace=ns, field_selector=fields, api_version="v1")
    except LabrunnerError:
        return ()
    found = [e for e in events
             if ((e.get("involvedObject") or {}).get("kind"), (e.get("involvedObject") or {}).get("name")) in wanted]
    found.sort(key=event_time)
    return tuple(note_of(e) for e in found[-limit:])


def events_namespace(cluster: "Cluster", kind: str, namespace: str | None, api_version: str | None = None) -> str | None:
    """Where the Events about an object of `kind` are: `namespace` for a namespaced kind, None (see
    `events_about`) for a cluster-scoped one. A kind the cluster does not know counts as namespaced."""
    resource = getattr(cluster, "resource", None)  # the fakes of unit tests have no discovery
    if resource is None:
        return namespace
    try:
        return namespace if resource(kind, api_version).namespaced else None
    except LabrunnerError:
        return namespace


def workload_objects(cluster: "Cluster", obj: dict | None, kind: str, name: str,
                     namespace: str | None) -> list[tuple[str, str]]:
    """The objects whose Events explain a workload: itself, and for a Deployment, StatefulSet, ReplicaSet,
    DaemonSet or Job the ReplicaSets and Pods its `spec.selector.matchLabels` matches. Just the object for
    any other kind, or when the listing fails."""
    found = [(kind, name)]
    labels = (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if kind not in WORKLOADS or not labels:
        return found
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    try:
        if kind == "Deployment":
            found += [("ReplicaSet", rs["metadata"]["name"])
                      for rs in cluster.list("ReplicaSet", namespace=namespace, selector=selector)]
        found += [("Pod", pod["metadata"]["name"]) for pod in cluster.list("Pod", namespace=namespace, selector=selector)]
    except LabrunnerError:
        pass
    return found


def with_events(result: "CheckResult", cluster: "Cluster", namespace: str | None,
                objects: Iterable[tuple[str, str]]) -> "CheckResult":
    """`result` with the Events about `objects` added to its evidence when it did not pass; a pass as it is
    (the listing costs a request, and a pass needs no explaining)."""
    if result.ok:
        return result
    events = events_about(cluster, namespace, objects)
    return replace(result, evidence=replace(result.evidence, events=events)) if events else result
