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
