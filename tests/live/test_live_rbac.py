"""rbac (SubjectAccessReview): one action, and the "nothing else" sweep; each can fail and can pass.

RBAC changes reach the API server's authorizer through an informer, a moment
after the API accepted them: every verdict after a change is awaited until it
settles (bounded), never taken from the first answer.
"""

import time
from pathlib import Path

import pytest
import yaml

from labrunner.cluster import apply_manifests, delete_namespace, ensure_namespace
from labrunner.model import Manifest

from live_manifests import settled as _settled

pytestmark = pytest.mark.live

SETTLE = 15.0  # seconds; the authorizer's cache follows within about a second

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
  - {kind: User, name: lt-rbac-jane}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
"""


def settled(ns, want: str, kind: str = "rbac", timeout: float = SETTLE, **params):
    """The check's result once its status is `want`; fails the test with the last result at the timeout."""
    result = _settled(lambda: ns.check(kind, **params), lambda r: r.status.value == want, timeout, every=0.25)
    assert result.status.value == want, f"{result.status.value}: {result.message} {result.details}"
    return result


def test_rbac(ns):
    assert ns.check("rbac", serviceAccount="viewer", verb="list", resource="pods").status.value == "fail"
    before = ns.check("rbac", user="lt-rbac-jane", verb="get", resource="pods")
    assert before.status.value == "fail" and "authorizer may lag" in before.message
    ns.apply(RBAC)
    settled(ns, "pass", serviceAccount="viewer", verb="list", resource="pods")
    settled(ns, "pass", user="lt-rbac-jane", verb="get", resource="pods")
    assert ns.check("rbac", user="lt-rbac-jane", verb="delete", resource="pods", expect="denied").ok
    allowed = ns.check("rbac", user="lt-rbac-jane", verb="get", resource="pods", expect="denied")
    assert allowed.status.value == "fail" and "is allowed, but should be denied" in allowed.message


def role(verbs_on_pods: str, extra_rules: str = "") -> str:
    return f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: pod-reader}}
rules:
  - {{apiGroups: [""], resources: [pods], verbs: [{verbs_on_pods}]}}
  - {{apiGroups: [""], resources: [pods/log], verbs: [get]}}
{extra_rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: jane-pod-reader}}
subjects: [{{kind: User, name: {USER}}}]
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}}
"""


USER = "lt-sweep-jane"  # a name no other binding on a shared cluster mentions
ONLY = [{"verbs": ["get", "list", "watch"], "resources": ["pods", "pods/log"]}]
TOO_MUCH = """  - {apiGroups: [""], resources: [pods/exec], verbs: [create]}
  - {apiGroups: [apps], resources: ["*"], verbs: ["*"]}"""


def test_sweep_names_everything_else_that_is_allowed(ns, cluster):
    # The case: reads pods, but can also delete them all at once.
    ns.apply(role("get, list, watch, deletecollection, patch", TOO_MUCH))
    started = time.monotonic()
    wrong = settled(ns, "fail", user=USER, groups=["shop-devs"], only=ONLY)
    seconds = time.monotonic() - started
    assert f"deletecollection, patch pods in {ns.name}" in wrong.message, wrong.message
    text = " | ".join(wrong.details)
    assert f"create pods/exec in {ns.name}" in text and f"deployments.apps in {ns.name}" in text
    assert "authorizer may lag" in wrong.message
    swept = wrong.details[0]
    print(f"\nsweep: {swept}; {seconds:.2f}s")  # the report quotes this figure
    assert seconds < 10

    ns.apply(role("get, list, watch"))  # replaces the Role: now only what the rules allow
    passed = settled(ns, "pass", user=USER, groups=["shop-devs"], only=ONLY)
    assert "nothing beyond" in passed.message

    # A RoleBinding in another namespace is found and swept there too.
    other = f"{ns.name}-other"
    ensure_namespace(cluster, other, lab_id="live-tests")
    try:
        apply_manifests(cluster, [Manifest(Path("other.yaml"), tuple(yaml.safe_load_all(role("get, list, watch"))))],
                        namespace=other, lab_id=ns.lab.id)
        elsewhere = settled(ns, "fail", user=USER, groups=["shop-devs"], only=ONLY)
        assert f"pods in {other}" in elsewhere.message, elsewhere.message
    finally:
        delete_namespace(cluster, other)


def test_sweep_sees_grants_to_every_member_of_a_group(ns):
    # The rights come from a group binding, not from the user's own: still the user's.
    ns.apply(f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: devs-edit}}
subjects: [{{kind: Group, name: lt-devs-{ns.name}}}]
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}
""")
    group = f"lt-devs-{ns.name}"
    wrong = settled(ns, "fail", user=USER, groups=[group], only=ONLY)
    assert wrong.message.startswith(f"user {USER} can also "), wrong.message
    assert f"create, delete, deletecollection, patch, update pods in {ns.name}" in wrong.details
    assert ns.check("rbac", user=USER, only=ONLY).ok  # without the group, nothing
    # "only her": another member of her groups may list the pods too.
    colleague = settled(ns, "fail", user=USER, groups=[group], anotherMember=True, verb="list", resource="pods",
                        expect="denied")
    assert "another member" in colleague.message and "is allowed, but should be denied" in colleague.message


def test_only_her_passes_when_the_binding_names_her(ns):
    ns.apply(role("get, list, watch"))
    settled(ns, "pass", user=USER, groups=["shop-devs"], verb="list", resource="pods")
    assert ns.check("rbac", user=USER, groups=["shop-devs"], anotherMember=True, verb="list", resource="pods",
                    expect="denied").ok


def test_sweep_sees_rbac_verbs_and_subresources(ns):
    ns.apply(role("get, list, watch", """  - {apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [bind, escalate]}
  - {apiGroups: [""], resources: [pods/portforward], verbs: [create]}
  - {apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate]}"""))
    wrong = settled(ns, "fail", user=USER, only=ONLY)
    for line in (f"create pods/portforward in {ns.name}", f"impersonate serviceaccounts in {ns.name}",
                 f"bind, escalate roles.rbac.authorization.k8s.io in {ns.name}"):
        assert line in wrong.details, wrong.details


def cluster_grant(name: str, rules: str, subject: str) -> str:
    return f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {name}}}
rules:
{rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {name}}}
subjects: [{subject}]
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {name}}}
"""


@pytest.mark.parametrize("rules, subject, line", [
    # The API server's own URLs: non-resource rules, which discovery does not list.
    ('  - {nonResourceURLs: [/metrics, "/logs/*"], verbs: [get]}', f"{{kind: User, name: {USER}}}",
     "get /logs/* (a non-resource URL)"),
    # The kubelet's endpoints, authorized as subresources of nodes no discovery lists.
    ('  - {apiGroups: [""], resources: [nodes/log, nodes/stats], verbs: [get]}', f"{{kind: User, name: {USER}}}",
     "get nodes/log cluster-wide"),
    # A grant to every authenticated user made during the lab is an answer, not the cluster's baseline.
    ('  - {apiGroups: [""], resources: [pods/log], verbs: [get]}',
     "{kind: Group, name: 'system:authenticated'}", "get pods/log cluster-wide"),
], ids=["non-resource-urls", "kubelet-subresources", "grant-to-everyone"])
def test_sweep_sees_grants_beyond_discovery_and_the_baseline(ns, cluster, rules, subject, line):
    from labrunner.cluster.applying import delete_object
    from labrunner.model import ObjectRef

    ns.apply(role("get, list, watch"))
    settled(ns, "pass", user=USER, only=ONLY)
    name = f"{ns.name}-extra"
    try:
        ns.apply(cluster_grant(name, rules, subject))
        wrong = settled(ns, "fail", user=USER, only=ONLY)
        assert line in wrong.details, wrong.details
    finally:
        for kind in ("ClusterRoleBinding", "ClusterRole"):
            delete_object(cluster, ObjectRef(kind, name, "rbac.authorization.k8s.io/v1"), namespace=ns.name)
    settled(ns, "pass", user=USER, only=ONLY)
