"""admission (server-side dry-run): can fail and can pass."""

from pathlib import Path

import pytest
import yaml

from labrunner.model import Manifest

pytestmark = pytest.mark.live

PRIVILEGED = Manifest(Path("privileged.yaml"), (yaml.safe_load("""
apiVersion: v1
kind: Pod
metadata: {name: root}
spec:
  containers:
    - name: c
      image: registry.k8s.io/pause:3.10.1
      securityContext: {privileged: true}
"""),))


def test_admission_by_pod_security(ns):
    assert ns.check("admission", manifest=PRIVILEGED, expect="accepted").ok
    assert ns.check("admission", manifest=PRIVILEGED, expect="rejected").status.value == "fail"
    ns.apply(f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {ns.name}
  labels: {{pod-security.kubernetes.io/enforce: restricted}}
""")
    rejected = ns.check_settled("admission", manifest=PRIVILEGED, expect="rejected", messageContains="privileged")
    assert rejected.ok, rejected.message
    assert "violates PodSecurity" in rejected.message
    assert ns.check("admission", manifest=PRIVILEGED, expect="accepted").status.value == "fail"
    assert ns.cluster.get("Pod", "root", namespace=ns.name) is None  # a dry-run stores nothing
