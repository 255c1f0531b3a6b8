"""What a lab's manifests may hold, checked as Kubernetes objects before any cluster work.

Each object must be one the API server can take (its metadata typed as the API
defines it: names and namespaces text of the right form, labels and annotations
maps of text) and one that stays in the lab's own space: a namespaced object in
the lab's namespace (or one of its `<namespace>-<suffix>` answer namespaces), no
object under a name the cluster itself uses (`kube-system`, `cluster-admin`,
`system:*`), unless the lab declares it in `outside:`. labrunner applies with
forced server-side apply and deletes what it applied on reset, so an object of
someone else's would be taken over and then deleted.

Sources: object names and label syntax from the Kubernetes API conventions
(apimachinery `validation.IsDNS1123Subdomain`, `IsQualifiedName`,
`IsValidLabelValue`, `path.ValidatePathSegmentName`); the scope of the built-in
kinds from `kubectl api-resources --namespaced=false` (Kubernetes 1.33); the
built-in names from what kube-apiserver and kubeadm create at bootstrap.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterator

from .errors import Problem, clip
from .model import NAMESPACE_PLACEHOLDER

# Built-in kinds that live outside any namespace.
CLUSTER_SCOPED = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ClusterTrustBundle",
    "ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition", "DeviceClass", "FlowSchema",
    "IngressClass", "IPAddress", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume", "PriorityClass",
    "PriorityLevelConfiguration", "ResourceSlice", "RuntimeClass", "SelfSubjectAccessReview",
    "SelfSubjectReview", "SelfSubjectRulesReview", "ServiceCIDR", "StorageClass", "StorageVersion",
    "StorageVersionMigration", "SubjectAccessReview", "TokenReview", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
    "VolumeAttributesClass",
})
# How each built-in kind's names are validated (apimachinery): DNS labels for namespaces, DNS-1035
# labels (a letter first) for Services, DNS subdomains for these; every other kind (RBAC, custom
# resources, IPAddress...) gets only the path-segment rule all names share.
_SUBDOMAIN_KINDS = frozenset({
    "CertificateSigningRequest", "ConfigMap", "CronJob", "CSIDriver", "CustomResourceDefinition", "DaemonSet",
    "Deployment", "Endpoints", "EndpointSlice", "HorizontalPodAutoscaler", "Ingress", "IngressClass", "Job",
    "Lease", "LimitRange", "MutatingWebhookConfiguration", "NetworkPolicy", "Node", "PersistentVolume",
    "PersistentVolumeClaim", "Pod", "PodDisruptionBudget", "PriorityClass", "ReplicaSet", "ResourceQuota",
    "RuntimeClass", "Secret", "ServiceAccount", "StatefulSet", "StorageClass", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
})

BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
# Cluster-scoped names the cluster makes for itself: the user-facing ClusterRoles and everything
# under the prefixes kube-apiserver (system:, system-) and kubeadm (kubeadm:, kube-) use.
BUILTIN_NAMES = frozenset({"cluster-admin", "admin", "edit", "view"})
BUILTIN_PREFIXES = ("system:", "system-", "kube-", "kubeadm:", "kubeadm-")
# Cluster-scoped objects that installers and cloud providers make under plain names: the default
# StorageClass of kind (`standard`), k3s/rancher (`local-path`), Docker Desktop (`hostpath`), GKE
# (`standard-rwo`, `premium-rwo`), EKS (`gp2`, `gp3`), AKS (`default`, `managed*`); the ingress
# controllers' IngressClasses.
BUILTIN_BY_KIND = {
    "StorageClass": frozenset({"standard", "local-path", "hostpath", "standard-rwo", "premium-rwo", "gp2", "gp3",
                               "default", "managed", "managed-csi", "managed-premium", "azurefile", "azurefile-csi"}),
    "IngressClass": frozenset({"nginx", "traefik", "haproxy", "gce", "alb"}),
}
# Kinds whose objects the cluster makes and runs itself (nodes, API registrations, internal bookkeeping):
# a lab never creates or deletes one unless it declares it in `outside:`.
CLUSTER_OWNED_KINDS = frozenset({
    "APIService", "ComponentStatus", "CSINode", "FlowSchema", "IPAddress", "Node", "PriorityLevelConfiguration",
    "ResourceSlice", "ServiceCIDR", "StorageVersion", "VolumeAttachment",
})
# Kinds whose objects act on every namespace whatever their name: admission webhooks and policies
# judge (or change) every request they match, and a webhook with failurePolicy Fail and no server
# stops pod creation cluster-wide. A lab declares each in `outside:`, so its author says so knowingly.
CLUSTER_WIDE_KINDS = frozenset({
    "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
})

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]*$")  # PascalCase, as the API spells kinds
_API_VERSION = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9][a-z0-9]*$")


@dataclass(frozen=True)
class Outside:
    """What a lab declares it changes beyond its own namespace (lab.yaml `outside:`).

    `namespaces`: namespace names its manifests and deletes may name; `objects`:
    `Kind/name` of built-in or foreign objects it may change.
    """

    namespaces: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()

    def allows(self, kind: str, name: str) -> bool:
        """Whether the lab declared `kind/name` (a namespace also by its name)."""
        return f"{kind}/{name}" in self.objects or (kind == "Namespace" and name in self.namespaces)


def read_outside(value: Any) -> tuple[Outside, list[tuple[tuple, str]]]:
    """lab.yaml's `outside:` as an Outside, and (path below `outside`, message) for each problem.

    Shape: `{namespaces: [name, ...], objects: ["Kind/name", ...]}`, both optional.
    """
    if value is None:
        return Outside(), []
    if not isinstance(value, dict):
        return Outside(), [((), "expected a mapping with namespaces and/or objects")]
    problems: list[tuple[tuple, str]] = []
    for key in value:
        if key not in ("namespaces", "objects"):
            problems.append(((key,), "unknown field; expected one of: namespaces, objects"))
    namespaces, objects = [], []
    for key, out, valid, shape in (("namespaces", namespaces, _is_namespace_name, "a namespace name"),
                                   ("objects", objects, _is_kind_name, "Kind/name, e.g. ClusterRole/view")):
        items = value.get(key) or []
        if not isinstance(items, list):
            problems.append(((key,), f"expected a list of {shape}"))
            continue
        for i, item in enumerate(items):
            if isinstance(item, str) and valid(item):
                out.append(item)
            else:
                problems.append(((key, i), f"expected {shape}, got {_clip(item)}"))
    return Outside(frozenset(namespaces), frozenset(objects)), problems


def object_problems(doc: Any, lines: dict, *, file: str, lab_namespace: str, outside: Outside) -> list[Problem]:
    """Every problem of one manifest document `doc` (with its line map `lines`) as a Kubernetes object.

    `lab_namespace` fills `${LAB_NAMESPACE}` before names are judged (`lab-<id>`);
    `outside` is what the lab declared. Problems name `file`, the line and the field.
    """
    found: list[Problem] = []

    def problem(at: tuple, message: str) -> None:
        probe = at
        while probe and probe not in lines:
            probe = probe[:-1]
        found.append(Problem(file, lines.get(probe), _dotted(at), message))

    if not isinstance(doc, dict):
        return [Problem(file, lines.get(()), "", "expected a Kubernetes object (a mapping)")]
    for key, pattern, example in (("apiVersion", _API_VERSION, "an apiVersion like v1 or apps/v1"),
                                  ("kind", _KIND, "a kind as the API spells it (PascalCase), e.g. Deployment")):
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            problem((key,), "missing; every object needs apiVersion and kind")
        elif not pattern.fullmatch(value):
            problem((key,), f"expected {example}, got {_clip(value)}")
    kind = doc.get("kind") if isinstance(doc.get("kind"), str) else ""
    if kind.endswith("List"):  # List, ServiceList...: a kubectl convenience, never an object of the API
        problem(("kind",), f"a {kind} cannot be applied; put each object in a document of its own (---)")
    for at, value in _non_finite(doc, ()):
        problem(at, f"{value!r} is not a finite number; Kubernetes takes none")
    meta = doc.get("metadata")
    if meta is None:
        problem(("metadata", "name"), "missing; server-side apply needs a name")
        return found
    if not isinstance(meta, dict):
        problem(("metadata",), f"expected a mapping with name (and namespace, labels, annotations), got {_clip(meta)}")
        return found
    name = meta.get("name")
    if meta.get("generateName") is not None:
        problem(("metadata", "generateName"), "not supported; give a name")
    if name is None or name == "":
        problem(("metadata", "name"), "missing; server-side apply needs a name")
    elif not isinstance(name, str):
        problem(("metadata", "name"), f"expected text, got {_clip(name)}; quote it")
    else:
        message = name_problem(kind, name.replace(NAMESPACE_PLACEHOLDER, lab_namespace))
        if message:
            problem(("metadata", "name"), message)
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        problem(("metadata", "namespace"), f"expected text, got {_clip(namespace)}")
        namespace = None
    elif namespace is not None:
        filled = namespace.replace(NAMESPACE_PLACEHOLDER, lab_namespace)
        if len(filled) > 63 or not _DNS_LABEL.fullmatch(filled):
            problem(("metadata", "namespace"), f"{_clip(namespace)} is not a valid namespace name")
            namespace = None
    for key in ("labels", "annotations"):
        for at, message in _string_map(meta.get(key), ("metadata", key), labels=key == "labels",
                                       lab_namespace=lab_namespace):
            problem(at, message)
    # The maps of text of ConfigMaps and Secrets: `port: 8080` in `data` is refused by the API
    # server at apply time, so it is refused here, before the step starts (core/v1 types).
    if doc.get("apiVersion") == "v1" and kind in _TEXT_MAPS:
        for key in _TEXT_MAPS[kind]:
            for at, message in _string_map(doc.get(key), (key,), labels=False, lab_namespace=lab_namespace,
                                           keys=_CONFIG_KEY):
                problem(at, message)
    if isinstance(name, str) and name:
        for at, message in _scope_problems(kind, name, namespace, outside=outside):
            problem(at, message)
        # The one PriorityClass with globalDefault gives its priority to every new pod of the cluster.
        if kind == "PriorityClass" and doc.get("globalDefault") is True and not outside.allows(kind, name):
            problem(("globalDefault",), "a PriorityClass with globalDefault: true sets the priority of every new pod "
                    "in the cluster; leave it out, or declare it in lab.yaml "
                    f"`outside: {{objects: [{kind}/{name}]}}`")
    return found


def ref_problem(kind: str, name: str, namespace: str | None, *, outside: Outside,
                lab_namespace: str = "lab-x") -> str | None:
    """Why a lab may not delete `kind/name` (in `namespace`, None: the lab's), or None if it may.

    The name must be valid for its kind (`${LAB_NAMESPACE}` filled with `lab_namespace`);
    whether a cluster-scoped object is the lab's own is `foreign_delete_problem`'s to say.
    """
    message = name_problem(kind, name.replace(NAMESPACE_PLACEHOLDER, lab_namespace))
    if message:
        return message
    for at, message in _scope_problems(kind, name, namespace, outside=outside):
        return message
    return None


def foreign_delete_problem(kind: str, name: str, *, created: set[tuple[str, str]], outside: Outside) -> str | None:
    """Why a lab may not delete the cluster-scoped `kind/name`, or None.

    A cluster-scoped object outlives the lab's namespace, so a lab deletes one only when its
    own manifests create it (`created`: (kind, name) as written) or it is declared in `outside:`;
    otherwise reset would delete what belongs to the cluster (a Node, a CRD, a StorageClass).
    """
    if kind not in CLUSTER_SCOPED or kind == "Namespace" or (kind, name) in created or outside.allows(kind, name):
        return None
    return (f"{kind}/{name} is cluster-scoped and no manifest of this lab creates it; labrunner would delete "
            "what belongs to the cluster. Delete only what the lab's manifests create, or declare it in lab.yaml "
            f"`outside: {{objects: [{kind}/{name}]}}`")


def _scope_problems(kind: str, name: str, namespace: str | None, *, outside: Outside) -> Iterator[tuple[tuple, str]]:
    if kind == "Namespace":
        if not _is_lab_namespace(name) and not outside.allows(kind, name):
            builtin = " (the cluster's own)" if name in BUILTIN_NAMESPACES or name.startswith("kube-") else ""
            yield (("metadata", "name"), f"the namespace {name!r}{builtin} is outside the lab; a lab works in "
                   f"{NAMESPACE_PLACEHOLDER} (or {NAMESPACE_PLACEHOLDER}-<suffix>), or declares it in lab.yaml "
                   "`outside: {namespaces: [...]}`")
        return
    if kind in CLUSTER_OWNED_KINDS and not outside.allows(kind, name):
        yield (("kind",), f"a {kind} is the cluster's own; a lab does not create or delete one unless it declares "
               f"it in lab.yaml `outside: {{objects: [{kind}/{name}]}}`")
        return
    if kind in CLUSTER_WIDE_KINDS and not outside.allows(kind, name):
        yield (("kind",), f"a {kind} acts on requests in every namespace, not only the lab's; declare it in "
               f"lab.yaml `outside: {{objects: [{kind}/{name}]}}` (and limit it with a namespaceSelector "
               "or matchConditions)")
        return
    if kind in CLUSTER_SCOPED:
        if (_is_builtin_name(name) or name in BUILTIN_BY_KIND.get(kind, ())) and not outside.allows(kind, name):
            yield (("metadata", "name"), f"{kind}/{name} is a name the cluster itself uses; labrunner would take "
                   "it over and delete it on reset. Choose a name of the lab's own, or declare it in lab.yaml "
                   f"`outside: {{objects: [{kind}/{name}]}}`")
        return
    if namespace is not None and not _is_lab_namespace(namespace) and namespace not in outside.namespaces:
        yield (("metadata", "namespace"), f"{namespace!r} is outside the lab's namespace; leave namespace out "
               f"(objects go into the lab's namespace), use {NAMESPACE_PLACEHOLDER}, or declare it in lab.yaml "
               "`outside: {namespaces: [...]}`")


def _is_lab_namespace(name: str) -> bool:
    return name == NAMESPACE_PLACEHOLDER or name.startswith(NAMESPACE_PLACEHOLDER + "-")


def _is_builtin_name(name: str) -> bool:
    return name in BUILTIN_NAMES or name in BUILTIN_NAMESPACES or name.startswith(BUILTIN_PREFIXES)


def _is_namespace_name(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS_LABEL.fullmatch(value))


def _is_kind_name(value: str) -> bool:
    kind, _, name = value.partition("/")
    return bool(_KIND.fullmatch(kind)) and bool(name) and name_problem(kind, name) is None and len(name) <= 253


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` is no valid name for an object of `kind` (apimachinery's rules, see the module), or None."""
    if name in (".", "..") or "/" in name or "%" in name or not name.isprintable() or name != name.strip():
        return f"{_clip(name)} is not a valid name: no '/', '%', spaces around it or control characters, not '.' or '..'"
    if kind in ("Namespace", "Service"):
        pattern = _DNS_LABEL if kind == "Namespace" else _DNS1035_LABEL
        if len(name) > 63 or not pattern.fullmatch(name):
            first = "a letter" if kind == "Service" else "a letter or digit"
            return (f"{_clip(name)} is not a valid {kind} name: at most 63 lower-case letters, digits and '-', "
                    f"starting with {first} and ending with a letter or digit")
    elif kind in _SUBDOMAIN_KINDS and (len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name)):
        return (f"{_clip(name)} is not a valid {kind} name: lower-case letters, digits, '-' and '.', starting "
                "and ending with a letter or digit, at most 253")
    return None


_TEXT_MAPS = {"ConfigMap": ("data", "binaryData"), "Secret": ("data", "stringData")}
# A key of a ConfigMap's or Secret's data (apimachinery IsConfigMapKey).
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]{1,253}")


def _string_map(value: Any, at: tuple, *, labels: bool, lab_namespace: str,
                keys: re.Pattern | None = None) -> Iterator[tuple[tuple, str]]:
    """Problems of a map of text to text: label syntax for `labels`; qualified-name keys for
    annotations (apimachinery ValidateAnnotations); keys matching `keys` when given."""
    if value is None:
        return
    if not isinstance(value, dict):
        yield at, f"expected a mapping of text to text, got {_clip(value)}"
        return
    for key, item in value.items():
        if not isinstance(key, str):
            yield at + (key,), f"a key must be text, got {_clip(key)}; quote it"
            continue
        if not isinstance(item, str):
            hint = f" ('{str(item).lower() if isinstance(item, bool) else item}')" if isinstance(item, (int, float)) else ""
            yield at + (key,), f"expected text, got {_clip(item)}; quote it{hint}"
            continue
        if labels:
            problem = label_key_problem(key) or label_value_problem(item.replace(NAMESPACE_PLACEHOLDER, lab_namespace))
        elif keys is not None:
            problem = None if keys.fullmatch(key) and key not in (".", "..") else (
                f"{_clip(key)} is not a valid key here: letters, digits, '-', '_' and '.', at most 253")
        else:
            problem = label_key_problem(key.replace(NAMESPACE_PLACEHOLDER, lab_namespace).lower(), what="annotation key")
        if problem:
            yield at + (key,), problem


def label_key_problem(key: str, *, what: str = "label key") -> str | None:
    """Why `key` is no label key (apimachinery IsQualifiedName: [prefix/]name), or None; `what`
    names it in the message (annotation keys are qualified names too)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"the {what}'s prefix {_clip(prefix)} is not a DNS subdomain"
    if not name or len(name) > 63 or not _LABEL_VALUE.fullmatch(name):
        return (f"{_clip(key)} is not a valid {what}: at most 63 letters, digits, '-', '_', '.', "
                "starting and ending with a letter or digit (with an optional DNS prefix and '/')")
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is no label value (apimachinery IsValidLabelValue; empty is one), or None."""
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        return (f"{_clip(value)} is not a valid label value: at most 63 letters, digits, '-', '_', '.', "
                "starting and ending with a letter or digit")
    return None


def _non_finite(value: Any, at: tuple) -> Iterator[tuple[tuple, float]]:
    stack = [(value, at)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            yield where, item
        elif isinstance(item, dict):
            stack.extend((v, where + (k,)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, where + (i,)) for i, v in enumerate(item))


def _dotted(at: tuple) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _clip(value: Any) -> str:
    return clip(value)
