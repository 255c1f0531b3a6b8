"""Manifests are checked as Kubernetes objects, and kept to the lab's own space, before any cluster work."""

import pytest

from labrunner.manifestrules import Outside, object_problems, read_outside, ref_problem
from labrunner.yamlfile import parse_yaml_documents

NS = "lab-demo"


def problems(text: str, outside: Outside = Outside()) -> list[str]:
    found = []
    for doc, lines in parse_yaml_documents(text, shown_as="m.yaml"):
        found += [str(p) for p in object_problems(doc, lines, file="m.yaml", lab_namespace=NS, outside=outside)]
    return found


def test_a_plain_object_passes():
    assert problems("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web}\n") == []
    assert problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: '${LAB_NAMESPACE}'}\n") == []
    assert problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: '${LAB_NAMESPACE}-other'}\n") == []
    assert problems("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                    "metadata: {name: 'pod-reader-${LAB_NAMESPACE}'}\n") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 42}\n", "m.yaml:3: metadata.name: expected text, got 42"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: [web]\n", "m.yaml:3: metadata: expected a mapping"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: [app, web]\n",
         "m.yaml:5: metadata.labels: expected a mapping of text to text"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    version: 2\n",
         "m.yaml:6: metadata.labels.version: expected text, got 2; quote it ('2')"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations: {enabled: true}\n",
         "metadata.annotations.enabled: expected text, got True; quote it ('true')"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {app: 'has space'}\n",
         "metadata.labels.app: 'has space' is not a valid label value"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Web_1}\n", "metadata.name: 'Web_1' is not a valid ConfigMap name"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\n", "metadata.name: '1web' is not a valid Service name"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: 7}\n", "metadata.namespace: expected text"),
        ("apiVersion: 1\nkind: ConfigMap\nmetadata: {name: x}\n", "apiVersion: missing"),
        ("apiVersion: v1\nkind: Config Map\nmetadata: {name: x}\n", "kind: expected a kind as the API spells it"),
        ("apiVersion: v1\nkind: List\nitems: []\nmetadata: {name: x}\n", "kind: a List cannot be applied"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {priority: .nan}\n", "spec.priority: nan is not a finite number"),
        ("apiVersion: v1\nkind: ConfigMap\n", "metadata.name: missing"),
        ("- a\n- b\n", "expected a Kubernetes object"),
    ],
)
def test_metadata_types(text, expected):
    found = problems(text)
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: coredns, namespace: kube-system}\n",
         "metadata.namespace: 'kube-system' is outside the lab's namespace"),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: other-team}\n",
         "metadata.namespace: 'other-team' is outside the lab's namespace"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n",
         "metadata.name: the namespace 'kube-system' (the cluster's own) is outside the lab"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}\n", "the namespace 'scratch' is outside the lab"),
        ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: cluster-admin}\n",
         "ClusterRoleBinding/cluster-admin is a name the cluster itself uses"),
        ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: 'system:node'}\n",
         "ClusterRole/system:node is a name the cluster itself uses"),
        ("apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: system-node-critical}\n",
         "PriorityClass/system-node-critical is a name the cluster itself uses"),
    ],
)
def test_objects_outside_the_lab_are_refused(text, expected):
    found = problems(text)
    assert any(expected in p for p in found), found


def test_a_declared_outside_object_is_allowed():
    outside, found = read_outside({"namespaces": ["kube-system", "scratch"], "objects": ["ClusterRoleBinding/cluster-admin"]})
    assert found == []
    assert problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: coredns, namespace: kube-system}\n", outside) == []
    assert problems("apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}\n", outside) == []
    assert problems("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
                    "metadata: {name: cluster-admin}\n", outside) == []
    assert problems("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: cluster-admin}\n",
                    outside)  # declared for one kind only


def test_outside_declaration_problems():
    _, found = read_outside({"namespaces": ["Kube System"], "objects": ["cluster-admin"], "names": []})
    assert [(at, message.split(",")[0]) for at, message in found] == [
        (("names",), "unknown field; expected one of: namespaces"),
        (("namespaces", 0), "expected a namespace name"),
        (("objects", 0), "expected Kind/name"),
    ]


def test_deletes_keep_to_the_lab():
    assert ref_problem("Deployment", "coredns", "kube-system", outside=Outside()).startswith("'kube-system' is outside")
    assert "the cluster itself uses" in ref_problem("ClusterRole", "admin", None, outside=Outside())
    assert "outside the lab" in ref_problem("Namespace", "default", None, outside=Outside())
    assert ref_problem("Service", "web", None, outside=Outside()) is None
    assert ref_problem("PersistentVolume", "orders-pv", None, outside=Outside()) is None
    assert ref_problem("Deployment", "coredns", "kube-system", outside=Outside(namespaces=frozenset({"kube-system"}))) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("apiVersion: v1\nkind: Service\nmetadata: {name: \"web\\n\"}\n", "'web\\n' is not a valid"),
    ("apiVersion: \"v1\\n\"\nkind: Service\nmetadata: {name: web}\n", "apiVersion: expected an apiVersion like v1"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {app: \"web\\n\"}}\n", "is not a valid label value"),
    ("apiVersion: v1\nkind: namespace\nmetadata: {name: kube-system}\n", "kind: expected a kind as the API spells it (PascalCase)"),
    ("apiVersion: v1\nkind: ServiceList\nmetadata: {name: x}\n", "kind: a ServiceList cannot be applied"),
    ("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: standard}\nprovisioner: x\n",
     "StorageClass/standard is a name the cluster itself uses"),
    ("apiVersion: v1\nkind: Node\nmetadata: {name: worker-9}\n", "kind: a Node is the cluster's own"),
])
def test_whole_values_and_the_clusters_own_objects(text, expected):
    assert any(expected in p for p in problems(text)), problems(text)


def test_the_clusters_own_objects_pass_when_declared():
    declared = Outside(objects=frozenset({"StorageClass/standard", "Node/worker-9"}))
    assert problems("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: standard}\n", declared) == []
    assert problems("apiVersion: v1\nkind: Node\nmetadata: {name: worker-9}\n", declared) == []


def test_a_cluster_scoped_delete_needs_a_manifest_of_the_lab_or_a_declaration():
    from labrunner.manifestrules import foreign_delete_problem

    crd = ("CustomResourceDefinition", "certificates.cert-manager.io")
    assert "no manifest of this lab creates it" in foreign_delete_problem(*crd, created=set(), outside=Outside())
    assert foreign_delete_problem(*crd, created={crd}, outside=Outside()) is None
    assert foreign_delete_problem(*crd, created=set(), outside=Outside(objects=frozenset({"/".join(crd)}))) is None
    assert foreign_delete_problem("Service", "web", created=set(), outside=Outside()) is None  # in the lab's namespace
    assert "not a valid name" in ref_problem("Service", "a/b", None, outside=Outside())
    assert "the cluster's own" in ref_problem("Node", "worker-1", None, outside=Outside())
