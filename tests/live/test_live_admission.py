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


def test_a_fresh_name_is_a_create_even_when_the_learner_made_a_pod_of_that_name(ns):
    """A pod named like the probe, made before the policy: the plain dry-run is an update of it, which the API
    server refuses for another reason (pod fields are immutable); under a fresh name it is a create, which
    Pod Security judges."""
    ns.apply("""
apiVersion: v1
kind: Pod
metadata: {name: root}
spec:
  containers:
    - name: c
      image: registry.k8s.io/pause:3.10.1
""")
    ns.apply(f"""
apiVersion: v1
kind: Namespace
metadata:
  name: {ns.name}
  labels: {{pod-security.kubernetes.io/enforce: restricted}}
""")
    fresh = ns.check_settled("admission", manifest=PRIVILEGED, expect="rejected", messageContains="violates PodSecurity",
                             freshName=True)
    assert fresh.ok, fresh.message
    assert 'pods "root-' in fresh.message  # tried under root-<suffix>
    plain = ns.check("admission", manifest=PRIVILEGED, expect="rejected", messageContains="violates PodSecurity")
    assert plain.status.value == "fail" and "not for the expected reason" in plain.message


def test_a_probe_whose_namespace_is_missing_is_an_error(ns):
    elsewhere = Manifest(Path("elsewhere.yaml"), ({**PRIVILEGED.documents[0],
                                                   "metadata": {"name": "root", "namespace": f"{ns.name}-gone"}},))
    result = ns.check("admission", manifest=elsewhere, expect="accepted")
    assert result.status.value == "error" and f'"{ns.name}-gone" not found' in result.message
