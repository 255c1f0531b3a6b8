"""Server-side apply and delete of lab manifests, in dependency order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import Forbidden, LabrunnerError, NotFound, translate_api_exception
from ..model import Manifest, ObjectRef, fill_namespace
from ..settings import TIMEOUTS
from .client import FIELD_MANAGER, Cluster

MANAGED_BY = "app.kubernetes.io/managed-by"
LAB_LABEL = "labrunner.dev/lab"
# On every object `labrunner workshop create` makes (namespaces, RBAC, quota, a seat's progress
# record), valued with the workshop's name: `workshop delete` finds them by it, a seat's reset keeps them.
WORKSHOP_LABEL = "labrunner.dev/workshop"

# Apply order, after lightkube's sort_objects: what others depend on goes
# first; webhooks last so they cannot block the objects of the same batch.
_RANK = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "ServiceAccount": 2,
    "ConfigMap": 2,
    "Secret": 2,
    "LimitRange": 2,
    "ResourceQuota": 2,
    "PriorityClass": 2,
    "StorageClass": 2,
    "PersistentVolume": 2,
    "PersistentVolumeClaim": 2,
    "ClusterRole": 3,
    "ClusterRoleBinding": 3,
    "Role": 3,
    "RoleBinding": 3,
    "MutatingWebhookConfiguration": 5,
    "ValidatingWebhookConfiguration": 5,
    "ValidatingAdmissionPolicy": 5,
    "ValidatingAdmissionPolicyBinding": 5,
}
_DEFAULT_RANK = 4


@dataclass(frozen=True)
class Rendered:
    """One object ready to send, and the lab file it came from."""

    body: dict
    source: str

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    def describe(self) -> str:
        return f"{self.source}: {self.kind}/{self.name}"


def render(manifests: Iterable[Manifest], *, namespace: str, lab_id: str) -> list[Rendered]:
    """Copies of the manifests' objects, with the namespace filled in and labelled."""
    out = []
    for manifest in manifests:
        for doc in manifest.documents:
            body = fill_namespace(dict(doc), namespace)  # a new dict all the way down: the lab's own stays as read
            labels = body.setdefault("metadata", {}).setdefault("labels", {}) or {}
            body["metadata"]["labels"] = labels
            labels[MANAGED_BY] = "labrunner"
            labels[LAB_LABEL] = lab_id
            out.append(Rendered(body=body, source=str(manifest.path)))
    return out


def sort_for_apply(objects: Iterable[Rendered]) -> list[Rendered]:
    return sorted(objects, key=lambda o: _RANK.get(o.kind, _DEFAULT_RANK))


def sort_for_delete(objects: Iterable[Rendered]) -> list[Rendered]:
    return list(reversed(sort_for_apply(objects)))


def namespace_body(name: str, lab_id: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {MANAGED_BY: "labrunner", LAB_LABEL: lab_id}},
    }


def ensure_namespace(cluster: Cluster, name: str, *, lab_id: str) -> None:
    """Create (or re-label) the lab's namespace.

    A workshop's seat may not write Namespaces (it could relabel its own out of its Pod Security
    level); the instructor made its namespaces. So where RBAC forbids the apply and the namespace is
    there, that is fine; where it is not there, Forbidden says to ask the instructor."""
    from .serviceaccounts import wait_for_default_service_account

    try:
        apply_object(cluster, Rendered(namespace_body(name, lab_id), source="labrunner"), namespace=name)
        wait_for_default_service_account(cluster, name)  # a setup's bare Pod would be refused before it
    except Forbidden as exc:
        try:
            found = cluster.get("Namespace", name)
        except Forbidden:
            found = None
        if found is None:
            raise Forbidden(f"namespace {name} does not exist and this identity may not create it ({exc}); "
                            "in a workshop, ask the instructor: `labrunner workshop create` makes every seat's "
                            "namespaces", status=403, what=f"Namespace/{name}") from None


def apply_object(cluster: Cluster, obj: Rendered, *, namespace: str, dry_run: bool = False) -> dict:
    """Server-side apply `obj` (into `namespace` unless its body names one; none for a cluster-scoped
    kind); the object as the API server stored it. `obj` is left as it was given: the namespace goes
    into a copy, so a module constant (the canary's objects) serves every namespace alike.
    Raises NotFound (the kind is not served) or the translated API error, naming `obj`'s file."""
    api_version = obj.body["apiVersion"]
    try:
        resource = cluster.resource(obj.kind, api_version)
    except NotFound as exc:
        raise NotFound(exc.server_message, what=obj.describe()) from None
    body = {**obj.body, "metadata": dict(obj.body.get("metadata") or {})}  # only metadata changes below
    ns = None
    if resource.namespaced:
        ns = body["metadata"].setdefault("namespace", namespace)
    elif "namespace" in body["metadata"]:
        body["metadata"].pop("namespace")  # cluster-scoped: a namespace would be rejected
    params: dict[str, Any] = {"field_manager": FIELD_MANAGER, "force_conflicts": True}
    if dry_run:
        params["dry_run"] = "All"
    try:
        result = cluster.dynamic.server_side_apply(resource, body=body, name=obj.name, namespace=ns, **params)
    except Exception as exc:
        if isinstance(exc, (TypeError, AttributeError, KeyError)):
            raise
        raise translate_api_exception(exc, what=obj.describe()) from None
    return result.to_dict()


def apply_manifests(
    cluster: Cluster,
    manifests: Iterable[Manifest],
    *,
    namespace: str,
    lab_id: str,
    dry_run: bool = False,
) -> list[dict]:
    """Server-side apply every object of `manifests`, in dependency order.

    The lab namespace is created first. Raises ApiRejected with the server's
    message (and the file and object it was about) on the first rejection.
    """
    objects = sort_for_apply(render(manifests, namespace=namespace, lab_id=lab_id))
    if not dry_run:
        ensure_namespace(cluster, namespace, lab_id=lab_id)
    applied = []
    crds_applied = False
    for obj in objects:
        if crds_applied and obj.kind != "CustomResourceDefinition":
            _refresh_after_crds(cluster, applied)
            crds_applied = False
        applied.append(apply_object(cluster, obj, namespace=namespace, dry_run=dry_run))
        crds_applied = crds_applied or obj.kind == "CustomResourceDefinition"
    return applied


def _refresh_after_crds(cluster: Cluster, applied: list[dict]) -> None:
    """Custom resources can only be applied once their CRDs are established."""
    from .waiting import wait_for_condition

    for body in applied:
        if body.get("kind") == "CustomResourceDefinition":
            wait_for_condition(cluster, "CustomResourceDefinition", body["metadata"]["name"],
                               condition="Established", namespace=None, timeout=TIMEOUTS.crd_established)
    cluster.forget_resources()


def delete_object(cluster: Cluster, ref: ObjectRef, *, namespace: str, propagation: str = "Background") -> bool:
    """Delete one object; False when it was not there. `propagation` is the API's propagationPolicy:
    Background (the object goes at once, the garbage collector removes what it owns later) or
    Foreground (the object stays, being deleted, until what it owns with blockOwnerDeletion is gone)."""
    try:
        resource = cluster.resource(ref.kind, ref.api_version)
    except NotFound:
        return False  # its kind is gone (e.g. the CRD was deleted first)
    ns = (ref.namespace or namespace) if resource.namespaced else None
    name = fill_namespace(ref.name, namespace)  # e.g. a ClusterRoleBinding named after the lab namespace
    try:
        cluster.dynamic.delete(resource, name=name, namespace=ns, body={"propagationPolicy": propagation})
    except Exception as exc:
        error = translate_api_exception(exc, what=str(ref))
        if isinstance(error, NotFound):
            return False
        raise error from None
    return True


def delete_manifests(cluster: Cluster, manifests: Iterable[Manifest], *, namespace: str, lab_id: str) -> int:
    """Delete what `manifests` would create, in reverse apply order."""
    count = 0
    for obj in sort_for_delete(render(manifests, namespace=namespace, lab_id=lab_id)):
        ref = ObjectRef(obj.kind, obj.name, obj.body["apiVersion"], obj.body["metadata"].get("namespace"))
        count += delete_object(cluster, ref, namespace=namespace)
    return count


def delete_labelled(cluster: Cluster, *, lab_id: str, kinds: Iterable[tuple[str, str]]) -> int:
    """Delete the cluster-scoped objects of these (apiVersion, kind)s labelled for the lab.

    An object that owns a CRD is deleted in the foreground: it stays until that CRD is gone, so
    waiting for the labelled objects (reset, `dev check` between proofs) also waits for the CRD. A
    Gatekeeper ConstraintTemplate owns the CRD Gatekeeper made for it; a template re-applied while
    that CRD is still terminating adopts it and loses its kind when it goes, and Gatekeeper (v3.23.1)
    then watches a kind that no longer exists, which stops its template controller. Everything else
    goes in the background: a custom resource deleted in the foreground while its own CRD is being
    deleted never goes (the garbage collector stops serving the kind before it drops the finalizer).
    """
    owners = _crd_owners(cluster)
    count = 0
    for api_version, kind in kinds:
        try:
            resource = cluster.resource(kind, api_version)
        except NotFound:
            continue
        if resource.namespaced:
            continue
        for item in cluster.list(kind, selector=f"{LAB_LABEL}={lab_id}", api_version=api_version):
            owns_crd = item["metadata"].get("uid") in owners
            count += delete_object(cluster, ObjectRef(kind, item["metadata"]["name"], api_version), namespace="",
                                   propagation="Foreground" if owns_crd else "Background")
    return count


def _crd_owners(cluster: Cluster) -> set[str]:
    """The uids of the objects that own a CustomResourceDefinition (metadata.ownerReferences)."""
    try:
        crds = cluster.list("CustomResourceDefinition", api_version="apiextensions.k8s.io/v1")
    except LabrunnerError:
        return set()
    return {ref.get("uid") for crd in crds for ref in crd["metadata"].get("ownerReferences") or []}


__all__ = [
    "LAB_LABEL",
    "MANAGED_BY",
    "WORKSHOP_LABEL",
    "Rendered",
    "apply_manifests",
    "apply_object",
    "delete_labelled",
    "delete_manifests",
    "delete_object",
    "ensure_namespace",
    "render",
    "sort_for_apply",
    "sort_for_delete",
]
