"""pvc and pv on the default StorageClass, and the storage lab's shared volume: each can fail and can pass."""

import time

import pytest

from labrunner.checks import Status
from labrunner.cluster import wait_for_condition
from test_wrong_answers_core import step_for  # noqa: F401  (the fixture that sets a lab step up)

pytestmark = pytest.mark.live

PVC = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
"""
POD = """
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: registry.k8s.io/e2e-test-images/agnhost:2.56
      args: [pause]
      volumeMounts: [{name: data, mountPath: /data}]
  volumes:
    - name: data
      persistentVolumeClaim: {claimName: data}
"""


def test_pvc_and_pv(ns):
    assert ns.check("pvc", name="data").status.value == "fail"
    ns.apply(PVC)
    pending = ns.check("pvc", name="data")
    assert pending.status.value == "fail" and "Pending" in pending.message
    assert ns.check("pv", claim="data").status.value == "fail"
    ns.apply(POD)
    wait_for_condition(ns.cluster, "Pod", "user", condition="Ready", namespace=ns.name, timeout=120)
    assert ns.check("pvc", name="data", accessModes=["ReadWriteOnce"]).ok
    assert ns.check("pv", claim="data", claimedBy="data", accessModes=["ReadWriteOnce"]).ok
    assert ns.check("pv", claim="data", accessModes=["ReadWriteMany"]).status.value == "fail"


def test_capacity_compares_as_a_quantity(ns):
    ns.apply(PVC)
    ns.apply(POD)
    wait_for_condition(ns.cluster, "Pod", "user", condition="Ready", namespace=ns.name, timeout=120)
    assert ns.check("pvc", name="data", capacity="65536Ki").ok  # 64Mi, spelled differently
    assert ns.check("pv", claim="data", capacity="0.0625Gi").ok
    wrong = ns.check("pvc", name="data", capacity="64M")  # 64 * 10^6 bytes is not 64Mi
    assert wrong.status.value == "fail" and "capacity is 64Mi, should be 64M" in wrong.message


# -- the storage lab's shared-volume step: the shipper must ship the app's file ----------

def passes(s, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while True:
        report = s.check()
        if report.status is Status.PASS or time.monotonic() > deadline:
            return report
        time.sleep(2)


@pytest.mark.parametrize("wrong", ["wrong/01-shipper-writes-its-own.yaml", "wrong/01-two-volumes.yaml"])
def test_a_shipper_that_does_not_read_the_apps_file_fails(cluster, step_for, wrong):
    s = step_for("storage", "shared-volume")
    s.apply(wrong)
    wait_for_condition(cluster, "Pod", "orders", condition="Ready", namespace=s.namespace, timeout=120)
    seen = s.fails_with("shipper-ships-app-log", "did not show the line written by the check")
    assert "the shipper must read the app's file" in seen


@pytest.mark.parametrize("answer", ["solution/01-orders-pod.yaml", "alternatives/01-same-path.yaml"])
def test_a_shipper_that_reads_the_apps_file_passes(cluster, step_for, answer):
    s = step_for("storage", "shared-volume")
    s.apply(answer)
    report = passes(s)
    assert report.status is Status.PASS, [(r.check_id, r.message) for r in report.results]
