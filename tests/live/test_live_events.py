"""events: can fail and can pass, and counts only events about objects that exist now."""

import time

import pytest

from labrunner.cluster import delete_object, wait_until
from labrunner.model import ObjectRef

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
