"""exists, absent, field, condition, replicas, pods: each can fail and can pass."""

import pytest

from live_manifests import web_deployment

pytestmark = pytest.mark.live

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: blue}\n"


def test_exists_and_absent(ns):
    assert ns.check("exists", object="ConfigMap/settings").status.value == "fail"
    assert ns.check("absent", object="ConfigMap/settings").ok
    ns.apply(CONFIGMAP)
    assert ns.check("exists", object="ConfigMap/settings").ok
    assert ns.check("absent", object="ConfigMap/settings").status.value == "fail"


def test_field(ns):
    ns.apply(CONFIGMAP)
    failed = ns.check("field", object="ConfigMap/settings", path="{.data.mode}", equals="green")
    assert failed.status.value == "fail" and "it is blue" in failed.message
    assert ns.check("field", object="ConfigMap/settings", path="{.data.mode}", equals="blue").ok
    assert ns.check("field", object="ConfigMap/settings", path="{.data.mode}", matches="^bl").ok


def test_condition_replicas_pods(ns):
    ns.apply(web_deployment(replicas=2))
    assert ns.check("replicas", object="Deployment/web", ready=2).status.value == "fail"  # not ready yet
    ns.wait_ready("Deployment", "web")
    assert ns.check("condition", object="Deployment/web", type="Available").ok
    assert ns.check("condition", object="Deployment/web", type="Available", status="False").status.value == "fail"
    assert ns.check("replicas", object="Deployment/web", ready=2).ok
    assert ns.check("replicas", object="Deployment/web", ready=3).status.value == "fail"
    assert ns.check("pods", selector="app=web", ready=2).ok
    assert ns.check("pods", selector="app=nothing", ready=1).status.value == "fail"
