"""pvc and pv on the default StorageClass: each can fail and can pass."""

import pytest

from labrunner.cluster import wait_for_condition

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
