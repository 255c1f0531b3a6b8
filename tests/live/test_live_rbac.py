"""rbac (SubjectAccessReview): can fail and can pass."""

import pytest

pytestmark = pytest.mark.live

RBAC = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: viewer}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules:
  - {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewer-reads-pods}
subjects:
  - {kind: ServiceAccount, name: viewer, namespace: "${LAB_NAMESPACE}"}
  - {kind: User, name: jane}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
"""


def test_rbac(ns):
    assert ns.check("rbac", serviceAccount="viewer", verb="list", resource="pods").status.value == "fail"
    assert ns.check("rbac", user="jane", verb="get", resource="pods").status.value == "fail"
    ns.apply(RBAC)
    assert ns.check("rbac", serviceAccount="viewer", verb="list", resource="pods").ok
    assert ns.check("rbac", user="jane", verb="get", resource="pods").ok
    assert ns.check("rbac", user="jane", verb="delete", resource="pods", expect="denied").ok
    assert ns.check("rbac", user="jane", verb="get", resource="pods", expect="denied").status.value == "fail"
