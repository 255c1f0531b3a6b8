"""events: can fail and can pass, and counts only events about objects that exist now."""

import time

import pytest

from labrunner.cluster import delete_object, wait_until
from labrunner.model import ObjectRef
from lab_steps import prove

pytestmark = pytest.mark.live

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - {name: web, image: registry.k8s.io/e2e-test-images/agnhost:2.56, args: [pause]}
"""

CREATED = dict(reason="SuccessfulCreate", involvedKind="ReplicaSet", involvedNameMatches="^web-")


def until(ns, kind, timeout=60, **params):
    deadline = time.monotonic() + timeout
    while True:
        result = ns.check(kind, **params)
        if result.ok or time.monotonic() > deadline:
            return result
        time.sleep(1)


def test_events(ns):
    ns.apply(DEPLOYMENT)
    ns.wait_ready("Deployment", "web")
    assert until(ns, "events", atLeast=1, **CREATED).ok
    replaced = ns.check("events", atLeast=2, explain="delete a pod", **CREATED)
    assert replaced.status.value == "fail"
    assert replaced.message.startswith("delete a pod (expected at least 2 SuccessfulCreate events")
    assert ns.check("events", reason="SuccessfulDelete", involvedKind="ReplicaSet", atMost=0).ok

    pod = ns.cluster.list("Pod", namespace=ns.name, selector="app=web")[0]["metadata"]["name"]
    delete_object(ns.cluster, ObjectRef("Pod", pod, "v1"), namespace=ns.name)
    result = until(ns, "events", atLeast=2, **CREATED)
    assert result.ok, result.message
    assert any("Created pod: web-" in line for line in result.details)
    assert ns.check("events", atMost=1, **CREATED).status.value == "fail"

    # A new ReplicaSet of the same name (a reset step) starts the count afresh.
    delete_object(ns.cluster, ObjectRef("Deployment", "web", "apps/v1"), namespace=ns.name)
    wait_until(ns.cluster, "ReplicaSet", namespace=ns.name, selector="app=web", predicate=lambda objs: not objs,
               describe="the ReplicaSet gone")
    ns.apply(DEPLOYMENT)
    ns.wait_ready("Deployment", "web")
    assert until(ns, "events", atLeast=1, **CREATED).ok
    assert ns.check("events", atLeast=2, **CREATED).status.value == "fail"
    assert ns.check("events", atLeast=2, current=False, **CREATED).ok


def runtime_class(name: str, handler: str) -> str:
    return (f"apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {{name: {name}}}\nhandler: {handler}\n")


def batch_pod(runtime_class_name: str) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: batch}}
spec:
  runtimeClassName: {runtime_class_name}
  terminationGracePeriodSeconds: 0
  containers:
    - {{name: batch, image: registry.k8s.io/e2e-test-images/agnhost:2.56, args: [pause]}}
"""


def test_events_since_the_pod_last_started(ns):
    """A sandbox refused under a wrong handler is history once the same pod starts with a corrected RuntimeClass."""
    name = f"{ns.name[:40]}-rc"
    ref = ObjectRef("RuntimeClass", name, "node.k8s.io/v1")
    refused = dict(reason="FailedCreatePodSandBox", involvedKind="Pod", involvedName="batch", atMost=0)
    try:
        ns.apply(runtime_class(name, "no-such-handler"))
        ns.apply(batch_pod(name))
        first = until(ns, "events", reason="FailedCreatePodSandBox", involvedKind="Pod", involvedName="batch", atLeast=1)
        assert first.ok, first.message
        failed = ns.check("events", sinceLastStart=True, **refused)
        assert failed.status.value == "fail" and "no-such-handler" in " ".join(failed.details)

        uid = ns.cluster.get("Pod", "batch", namespace=ns.name)["metadata"]["uid"]
        delete_object(ns.cluster, ref, namespace="")
        ns.apply(runtime_class(name, "runc"))
        ns.wait_ready("Pod", "batch", condition="Ready", timeout=180)
        assert ns.cluster.get("Pod", "batch", namespace=ns.name)["metadata"]["uid"] == uid  # the same pod
        passed = ns.check("events", sinceLastStart=True, **refused)
        assert passed.ok, passed.message
        # Counting every event about the pod would still blame the learner for the fixed mistake.
        assert ns.check("events", **refused).status.value == "fail"
    finally:
        delete_object(ns.cluster, ref, namespace="")


def test_runtime_handler_fixed_for_the_same_pod_passes(cluster):
    """The runtime lab's handler step: the wrong handler first, then the RuntimeClass recreated with runc."""
    proof = prove(cluster, "runtime", "handler", "handler-fixed-for-the-same-pod", timeout=180)
    assert proof.proven, proof.problem
