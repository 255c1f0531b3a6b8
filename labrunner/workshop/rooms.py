"""Creating and deleting a workshop: `labrunner workshop create NAME --seats N --out DIR` and
`labrunner workshop delete NAME`, with the instructor's admin kubeconfig.

A workshop is every object labelled `labrunner.dev/workshop=NAME` (rbac.labels): per seat, one
namespace per lab (with its RoleBinding, ResourceQuota and LimitRange), a probe namespace when a lab
has network checks (rbac.seat_probe_namespace_objects), a ClusterRole and binding to `get` its own
namespaces, its CSR; once per workshop, the seat ClusterRole (and the probe ClusterRole), the seat
admission policy with its binding, and in labrunner's own namespace the seats' RoleBinding there and
the canary record. Deleting finds them by
that label, so it also cleans up after a create that was interrupted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import LabrunnerError, UsageError
from .seats import NAME_LIMIT, Seat, check_workshop_name, seat_names

if TYPE_CHECKING:
    from ..cluster import Cluster
    from ..model import Lab

OnProgress = Callable[[str], None]

# Cluster-scoped kinds a lab's manifests may hold that seats would share (a lab that holds one and does
# not say `workshop: {shareable: false}` is refused all the same).
SHARED_KINDS = {"PersistentVolume", "StorageClass", "RuntimeClass", "ClusterRole", "ClusterRoleBinding",
                "CertificateSigningRequest", "Namespace", "IngressClass", "CustomResourceDefinition", "PriorityClass",
                "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
                "MutatingWebhookConfiguration", "Node",
                "Ingress"}  # namespaced, but its host is one name for the whole cluster
CLUSTER_KINDS = (("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("rbac.authorization.k8s.io/v1", "ClusterRole"),
                 ("certificates.k8s.io/v1", "CertificateSigningRequest"),
                 ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
                 ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"))


class MissingRights(LabrunnerError):
    """The instructor's identity lacks a right `workshop create` needs (exit 3: the environment's)."""


@dataclass
class Created:
    """What `create_workshop` made: the seats, their kubeconfig files, and how long it took."""

    name: str
    seats: list[Seat]
    labs: list[str]
    kubeconfigs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def why_not_shared(lab: Lab) -> str:
    """Why seats of one workshop cannot share a cluster for `lab`; "" when they can. The lab file's own
    `workshop:` reason first; else what its manifests show: a cluster-scoped object of a fixed name, or a
    fixed node port."""
    if lab.not_shareable:
        return lab.not_shareable
    for manifest in lab.manifests():
        for doc in manifest.documents:
            kind = doc.get("kind")
            if kind in SHARED_KINDS:
                return (f"{manifest.path} makes {kind}/{(doc.get('metadata') or {}).get('name')}, which every seat "
                        "would share (cluster-scoped, or an Ingress host) (say so in lab.yaml: workshop: {shareable: false, reason: ...})")
            ports = ((doc.get("spec") or {}).get("ports") or []) if kind == "Service" else []
            fixed = [p.get("nodePort") for p in ports if isinstance(p, dict) and p.get("nodePort")]
            if fixed:
                return f"{manifest.path} asks for the fixed node port {fixed[0]}, one per cluster"
    return ""


def _probes_from_outside(kind: str, params) -> bool:  # noqa: ANN001 - a check's parameters
    """Whether a check runs labrunner's pods outside the lab: an `outside` source, or a deny (which needs
    the open server for its control)."""
    if kind == "dns":
        return "outside" in (params.get("from") or {})
    if kind == "connectivity":
        return any("outside" in (probe.get("from") or {}) or probe.get("expect") == "deny"
                   for probe in params.get("probes") or [])
    return False


def probes_from_outside(labs: list[Lab]) -> bool:
    """Whether any of `labs` has a check that runs labrunner's pods outside the lab (the outside probes,
    the open server): each seat then gets a probe namespace."""
    return any(_probes_from_outside(spec.kind, spec.params) for lab in labs for step in lab.steps for spec in step.checks)


def choose_labs(labs: list[Lab], wanted: list[str] | None) -> list[Lab]:
    """The labs a workshop gets: `wanted` by id (every shareable lab when None). UsageError naming an
    unknown lab, or each lab that cannot be shared with its reason."""
    by_id = {lab.id: lab for lab in labs}
    if wanted:
        unknown = [w for w in wanted if w not in by_id]
        if unknown:
            raise UsageError(f"no lab {unknown[0]!r} (labs: {', '.join(by_id)})")
        chosen = [by_id[w] for w in dict.fromkeys(wanted)]
        refused = [(lab.id, why_not_shared(lab)) for lab in chosen if why_not_shared(lab)]
        if refused:
            raise UsageError("seats cannot share a cluster for " + "; ".join(f"lab {i}: {why}" for i, why in refused)
                             + ". Leave them out of --labs (each learner can run them on a cluster of their own)")
        return chosen
    chosen = [lab for lab in labs if not why_not_shared(lab)]
    if not chosen:
        raise UsageError("no lab can be shared by seats; see `workshop:` in docs/lab-format.md")
    return chosen


def missing_rights(cluster: Cluster) -> list[str]:
    """The rights (rbac.NEEDED_RIGHTS) the kubeconfig's identity lacks, as `verb group/resource[/name]`,
    by SelfSubjectAccessReview (what the API server itself answers)."""
    from .rbac import NEEDED_RIGHTS

    lacking = []
    for verb, group, resource, name in NEEDED_RIGHTS:
        attributes = {"verb": verb, "group": group, "resource": resource, **({"name": name} if name else {})}
        review = cluster.create({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                 "spec": {"resourceAttributes": attributes}})
        if not (review.get("status") or {}).get("allowed"):
            lacking.append(f"{verb} {group + '/' if group else ''}{resource}{'/' + name if name else ''}")
    return lacking


def existing(cluster: Cluster, name: str) -> list[str]:
    """What of workshop `name` is on the cluster already, as Kind/name (namespaces and cluster-wide objects)."""
    from ..cluster.applying import WORKSHOP_LABEL

    from ..cluster.probepods import LABRUNNER_NAMESPACE
    from .rbac import DNS_NAMESPACE

    found = [f"Namespace/{n['metadata']['name']}" for n in cluster.list("Namespace", selector=f"{WORKSHOP_LABEL}={name}")]
    found += [f"ConfigMap/{LABRUNNER_NAMESPACE}/{o['metadata']['name']}" for o in
              cluster.list("ConfigMap", namespace=LABRUNNER_NAMESPACE, selector=f"{WORKSHOP_LABEL}={name}")]
    for where in (LABRUNNER_NAMESPACE, DNS_NAMESPACE):
        found += [f"RoleBinding/{where}/{o['metadata']['name']}" for o in
                  cluster.list("RoleBinding", namespace=where, selector=f"{WORKSHOP_LABEL}={name}")]
    for api_version, kind in CLUSTER_KINDS:
        found += [f"{kind}/{o['metadata']['name']}" for o in
                  cluster.list(kind, selector=f"{WORKSHOP_LABEL}={name}", api_version=api_version)]
    return found


def create_workshop(cluster: Cluster, name: str, *, seats: int, labs: list[Lab], out: Path,
                    on_progress: OnProgress | None = None) -> Created:
    """Make workshop `name` with `seats` seats for `labs` (already chosen: choose_labs) and write
    `out/<seat>.kubeconfig` for each. Everything is checked before anything is made: the name, the
    count, the namespace names' length, the folder, the instructor's rights (MissingRights), and that
    no workshop of that name exists (UsageError). A failure or Ctrl-C half way removes what was made
    (delete_workshop) and the kubeconfigs written, then raises."""
    from ..cluster.applying import Rendered, apply_object
    from . import identity, kubeconfigs, rbac

    say = on_progress or (lambda line: None)
    started = time.monotonic()
    check_workshop_name(name)
    chairs = [Seat(name, seat) for seat in seat_names(seats)]
    from .seats import PROBE_SUFFIX

    clash = [lab.id for lab in labs if lab.id == PROBE_SUFFIX]
    if clash:
        raise UsageError(f"lab {PROBE_SUFFIX!r}: its namespace would be the seats' probe namespace; rename the lab")
    probing = probes_from_outside(labs)
    longest = max([chair.namespace(lab.id) for chair in chairs for lab in labs]
                  + ([chair.probe_namespace for chair in chairs] if probing else []), key=len)
    if len(longest) > NAME_LIMIT:
        raise UsageError(f"namespace {longest} would be longer than {NAME_LIMIT} characters; use a shorter workshop name")
    kubeconfigs.prepare_out(out, chairs)
    lacking = missing_rights(cluster)
    if lacking:
        raise MissingRights("this kubeconfig's identity may not " + ", ".join(lacking)
                            + "; run `labrunner workshop create` with the cluster admin's kubeconfig")
    found = existing(cluster, name)
    if found:
        raise UsageError(f"workshop {name} exists already ({found[0]}" + (f" and {len(found) - 1} more" if len(found) > 1 else "")
                         + f"); `labrunner workshop delete {name}` removes it, or choose another name")
    made = Created(name, chairs, [lab.id for lab in labs])
    try:
        apply_object(cluster, Rendered(rbac.seat_role(name), "workshop"), namespace="")
        if probing:
            for obj in [rbac.probe_role(name), *rbac.dns_reader(name)]:
                apply_object(cluster, Rendered(obj, "workshop"), namespace=obj["metadata"].get("namespace", ""))
        for obj in rbac.seat_admission(name):  # first: in force before any seat namespace exists
            apply_object(cluster, Rendered(obj, "workshop"), namespace="")
        for chair in chairs:
            say(f"seat {chair.name}: namespaces, RBAC, quota")
            objects = [obj for lab in labs for obj in rbac.seat_namespace_objects(name, chair, lab.id)]
            if probing:
                objects += rbac.seat_probe_namespace_objects(name, chair)
            for obj in objects:
                apply_object(cluster, Rendered(obj, "workshop"), namespace=obj["metadata"].get("namespace", ""))
            own = [chair.namespace(lab.id) for lab in labs] + ([chair.probe_namespace] if probing else [])
            for obj in rbac.namespace_reader(name, chair, own):
                apply_object(cluster, Rendered(obj, "workshop"), namespace="")
        say("the shared canary: what the cluster can do for these labs, the open server")
        made.warnings += share_canary(cluster, name, labs)
        say(f"{len(chairs)} client certificates through the CSR API")
        keys = identity.request_certificates(cluster, chairs, labels_of=lambda chair: rbac.labels(name, chair))
        entry = kubeconfigs.cluster_entry(cluster)
        for chair in chairs:
            path = kubeconfigs.kubeconfig_path(out, chair)
            kubeconfigs.write_kubeconfig(path, kubeconfigs.seat_kubeconfig(chair, keys[chair], entry,
                                                                           namespace=chair.namespace(labs[0].id)))
            made.kubeconfigs.append(path)
    except BaseException:  # Ctrl-C too: a half-made workshop is removed, not left
        say(f"removing the half-made workshop {name}")
        for path in made.kubeconfigs:
            path.unlink(missing_ok=True)
        try:
            delete_workshop(cluster, name, wait=False)
        except LabrunnerError as exc:
            say(f"could not remove all of it ({exc}); `labrunner workshop delete {name}` tries again")
        raise
    made.seconds = time.monotonic() - started
    return made


def share_canary(cluster: Cluster, name: str, labs: list[Lab]) -> list[str]:
    """Do once, as the instructor, what each seat cannot: find out what the cluster offers the labs
    (labrunner.capabilities: the NetworkPolicy canary, DNS, ...) and start the open server in
    labrunner's own namespace, then let the seats read the pods there (rbac.canary_reader). A seat's
    own probe of a capability it may not run is "unknown", which never turns a check into an error.
    Returns a line for each requirement the cluster does not meet (the labs' checks will say `error`)."""
    from ..capabilities import unmet
    from ..checks.canary import check_policy_enforced, workshop_record
    from ..cluster.applying import Rendered, apply_object
    from ..cluster.probepods import LABRUNNER_NAMESPACE, ensure_labrunner_namespace, ensure_open_server
    from . import rbac

    needs = list(dict.fromkeys(r for lab in labs for r in lab.needs))
    lacking = [f"{u.requirement}: {u.why} ({u.fix})" for u in unmet(cluster, needs)] if needs else []
    ensure_labrunner_namespace(cluster)
    ensure_open_server(cluster)
    if any(need.startswith("networkpolicy") for need in needs):
        # The seats go by this run of the canary (a seat may not run it: checks.canary).
        from ..checks.policyreach import pod_networks

        record = workshop_record(name, check_policy_enforced(cluster), rbac.labels(name),
                                 [str(net) for net in pod_networks(cluster)])
        apply_object(cluster, Rendered(record, "workshop"), namespace=LABRUNNER_NAMESPACE)
    for obj in rbac.canary_reader(name, LABRUNNER_NAMESPACE):
        apply_object(cluster, Rendered(obj, "workshop"), namespace=obj["metadata"].get("namespace", ""))
    return [f"this cluster lacks what some labs need: {line}" for line in lacking]


def delete_workshop(cluster: Cluster, name: str, *, wait: bool = True, on_progress: OnProgress | None = None) -> int:
    """Delete every object of workshop `name` (found by its label); with `wait`, return once its
    namespaces are gone. The number of objects deleted (0: there was no such workshop)."""
    from ..cluster import delete_object
    from ..cluster.applying import WORKSHOP_LABEL
    from ..cluster.namespaces import wait_namespace_gone
    from ..cluster.probepods import LABRUNNER_NAMESPACE
    from ..model import ObjectRef
    from .rbac import DNS_NAMESPACE

    check_workshop_name(name)
    selector = f"{WORKSHOP_LABEL}={name}"
    namespaces = [n["metadata"]["name"] for n in cluster.list("Namespace", selector=selector)]
    count = 0
    for ns in namespaces:
        count += delete_object(cluster, ObjectRef("Namespace", ns, "v1"), namespace="")
    for api_version, kind in CLUSTER_KINDS:
        for item in cluster.list(kind, selector=selector, api_version=api_version):
            count += delete_object(cluster, ObjectRef(kind, item["metadata"]["name"], api_version), namespace="")
    for where in (LABRUNNER_NAMESPACE, DNS_NAMESPACE):  # share_canary's, and rbac.dns_reader's
        for item in cluster.list("RoleBinding", namespace=where, selector=selector):
            count += delete_object(cluster, ObjectRef("RoleBinding", item["metadata"]["name"],
                                                      "rbac.authorization.k8s.io/v1"), namespace=where)
    for item in cluster.list("ConfigMap", namespace=LABRUNNER_NAMESPACE, selector=selector):  # its canary record
        count += delete_object(cluster, ObjectRef("ConfigMap", item["metadata"]["name"], "v1"), namespace=LABRUNNER_NAMESPACE)
    if wait:
        for ns in namespaces:
            wait_namespace_gone(cluster, ns, on_progress=on_progress)
    return count


def seats_of(cluster: Cluster, name: str) -> dict[str, list[str]]:
    """The seats of workshop `name` and the ids of the labs each has a namespace for, from the
    namespaces' labels, by seat name in order; {} when there is no such workshop."""
    from ..cluster.applying import LAB_LABEL, WORKSHOP_LABEL
    from .records import SEAT_LABEL

    found: dict[str, list[str]] = {}
    for ns in cluster.list("Namespace", selector=f"{WORKSHOP_LABEL}={name}"):
        labels = ns["metadata"].get("labels") or {}
        if LAB_LABEL not in labels:
            continue  # a seat's probe namespace: no lab's
        found.setdefault(labels.get(SEAT_LABEL, ""), []).append(labels.get(LAB_LABEL, ""))
    return dict(sorted(found.items()))


__all__ = ["Created", "MissingRights", "choose_labs", "create_workshop", "delete_workshop", "existing",
           "missing_rights", "seats_of", "why_not_shared"]
