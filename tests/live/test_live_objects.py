"""exists, absent, field, condition, replicas, pods, rollout: each can fail and can pass."""

import subprocess
import time

import pytest
import yaml

from lab_steps import prove
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


def rolling_web(max_unavailable, version: str = "v1") -> str:
    doc = yaml.safe_load(web_deployment(replicas=2))
    doc["spec"]["strategy"] = {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": 1}}
    doc["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "VERSION", "value": version}]
    return yaml.safe_dump(doc)


def test_field_compares_by_meaning(ns):
    ns.apply(rolling_web("0%"))
    path = "{.spec.strategy.rollingUpdate.maxUnavailable}"
    assert ns.check("field", object="Deployment/web", path=path, equals=0).ok  # "0%" is 0 at any scale
    ns.apply(rolling_web("25%"))
    quarter = ns.check("field", object="Deployment/web", path=path, equals=0)
    assert quarter.status.value == "fail" and "1 or more from 4 on" in quarter.message
    ns.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sizes}\ndata: {disk: 1024Mi}\n")
    assert ns.check("field", object="ConfigMap/sizes", path="{.data.disk}", equals="1Gi").ok
    assert ns.check("field", object="ConfigMap/sizes", path="{.data.disk}", equals="1G").status.value == "fail"


def test_rollout(ns):
    ns.apply(rolling_web("0%"))
    ns.wait_ready("Deployment", "web")
    first = ns.check("rollout", object="Deployment/web")
    assert first.status.value == "fail" and "one pod template only" in first.message
    ns.apply(rolling_web("0%", version="v2"))
    result = until(ns, "rollout", object="Deployment/web")
    assert result.ok, result.message
    assert "the controller stepped the old ReplicaSet down to 0" in result.message

    # Hurrying the next rollout by scaling the old ReplicaSet to 0 by hand (as `kubectl scale` does, while the
    # new pods are not ready yet) is not the controller stepping it down.
    current = next(rs for rs in ns.cluster.list("ReplicaSet", namespace=ns.name, selector="app=web")
                   if rs["spec"]["replicas"] == 2)["metadata"]["name"]
    slow = yaml.safe_load(rolling_web("0%", version="v3"))
    slow["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["initialDelaySeconds"] = 10
    ns.apply(yaml.safe_dump(slow))
    subprocess.run(["kubectl", "-n", ns.name, "scale", "replicaset", current, "--replicas=0"], check=True,
                   capture_output=True, timeout=30)
    manual = until(ns, "rollout", object="Deployment/web", settled=lambda r: "not by the Deployment" in r.message)
    assert manual.status.value == "fail", manual.message
    assert f"the old ReplicaSet {current} was scaled to 0 by hand (kubectl scale)" in manual.message


def until(ns, kind, timeout=90, settled=lambda result: result.ok, **params):
    deadline = time.monotonic() + timeout
    while True:
        result = ns.check(kind, **params)
        if settled(result) or time.monotonic() > deadline:
            return result
        time.sleep(1)


# -- the orchestration lab's rollout step ---------------------------------------------------

@pytest.mark.parametrize("answer", ["zero-percent", "kubectl-patch-and-set-env", "default-strategy",
                                    "old-replicaset-scaled-by-hand"])
def test_rollout_step_judges_by_meaning_and_by_the_controller(cluster, answer):
    """maxUnavailable "0%" passes; the default 25% and a hand-scaled old ReplicaSet fail."""
    proof = prove(cluster, "orchestration", "rollout", answer)
    assert proof.proven, proof.problem
