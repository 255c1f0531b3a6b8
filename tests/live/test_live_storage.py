"""pvc and pv on the default StorageClass, and the storage lab's shared volume: each can fail and can pass."""

import pytest

from labrunner.cluster import wait_for_condition
from lab_steps import prove

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

@pytest.mark.parametrize("answer", ["shipper-writes-its-own", "two-volumes", "same-path"])
def test_shared_volume_step_judges_the_shipper_by_effect(cluster, answer):
    """A shipper that prints a file of its own fails; one that reads the app's file passes, at any mount path."""
    proof = prove(cluster, "storage", "shared-volume", answer)
    assert proof.proven, proof.problem
