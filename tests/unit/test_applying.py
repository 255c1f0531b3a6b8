from pathlib import Path

from labrunner.cluster.applying import LAB_LABEL, MANAGED_BY, render, sort_for_apply, sort_for_delete
from labrunner.model import Manifest


def manifest(*docs):
    return Manifest(path=Path("m.yaml"), documents=tuple(docs))


def obj(kind, name="x", api="v1", **extra):
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name}, **extra}


def test_apply_order_and_reverse_for_delete():
    kinds = ["Deployment", "RoleBinding", "Secret", "Namespace", "ValidatingWebhookConfiguration",
             "CustomResourceDefinition", "Service", "ServiceAccount", "ClusterRole", "ConfigMap"]
    rendered = render([manifest(*[obj(k, k.lower()) for k in kinds])], namespace="ns", lab_id="lab")
    order = [o.kind for o in sort_for_apply(rendered)]
    assert order[0] == "CustomResourceDefinition" and order[1] == "Namespace"
    assert set(order[2:5]) == {"Secret", "ServiceAccount", "ConfigMap"}
    assert set(order[5:7]) == {"RoleBinding", "ClusterRole"}
    assert set(order[7:9]) == {"Deployment", "Service"}
    assert order[-1] == "ValidatingWebhookConfiguration"
    assert [o.kind for o in sort_for_delete(rendered)] == list(reversed(order))


def test_render_labels_and_fills_in_the_namespace_without_touching_the_source():
    source = obj("RoleBinding", api="rbac.authorization.k8s.io/v1",
                 subjects=[{"kind": "ServiceAccount", "name": "sa", "namespace": "${LAB_NAMESPACE}"}])
    m = manifest(source)
    [rendered] = render([m], namespace="lab-x", lab_id="x")
    assert rendered.body["subjects"][0]["namespace"] == "lab-x"
    assert rendered.body["metadata"]["labels"] == {MANAGED_BY: "labrunner", LAB_LABEL: "x"}
    assert source["subjects"][0]["namespace"] == "${LAB_NAMESPACE}"
    assert "labels" not in source["metadata"]
    assert rendered.describe() == "m.yaml: RoleBinding/x"


class _Recorded:
    """Our Cluster's `resource` and `dynamic.server_side_apply`, recording what would be sent."""

    def __init__(self, namespaced: bool):
        self.namespaced = namespaced
        self.sent: list[tuple[dict, str | None]] = []
        self.dynamic = self

    def resource(self, kind, api_version):  # noqa: ANN001, ANN201
        return self

    def server_side_apply(self, resource, *, body, name, namespace, **params):  # noqa: ANN001, ANN003, ANN201
        self.sent.append((body, namespace))
        return type("Result", (), {"to_dict": lambda _self: body})()


def test_apply_object_leaves_the_object_it_was_given_as_it_was():
    from labrunner.checks.canary import _POLICY
    from labrunner.cluster.applying import Rendered, apply_object

    before = repr(_POLICY)
    cluster = _Recorded(namespaced=True)
    for ns in ("ns-a", "ns-b"):
        apply_object(cluster, Rendered(dict(_POLICY), "canary"), namespace=ns)
    assert repr(_POLICY) == before  # the module constant gained no namespace
    assert [(body["metadata"]["namespace"], ns) for body, ns in cluster.sent] == [("ns-a", "ns-a"), ("ns-b", "ns-b")]

    scoped = obj("ClusterRole", api="rbac.authorization.k8s.io/v1")
    scoped["metadata"]["namespace"] = "stray"
    cluster = _Recorded(namespaced=False)
    apply_object(cluster, Rendered(scoped, "m.yaml"), namespace="ns-a")
    assert scoped["metadata"]["namespace"] == "stray"
    assert "namespace" not in cluster.sent[0][0]["metadata"] and cluster.sent[0][1] is None
