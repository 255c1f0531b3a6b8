"""OPA Gatekeeper: the `audit` kind and `admission` through Gatekeeper's webhook can fail and can pass.

Needs Gatekeeper installed (the `gatekeeper` add-on); without it the tests skip, or fail in CI.
The ConstraintTemplate and Constraint are cluster-scoped: each test names them after its own
namespace and matches only that namespace, so other tests on the cluster are never judged by them.
"""

import re
import uuid
from pathlib import Path

import pytest
import yaml

from labrunner.capabilities import capability
from labrunner.cluster import delete_namespace, delete_object, ensure_namespace, wait_until
from labrunner.errors import LabrunnerError
from labrunner.model import Manifest, ObjectRef

from conftest import LiveNamespace, make_lab, no_cluster

pytestmark = pytest.mark.live

LAB_ID = "live-gatekeeper"  # the lab label of these tests' namespaces (a dev webhook may select it)
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.56"
CONSTRAINTS = "constraints.gatekeeper.sh/v1beta1"
TEMPLATES = "templates.gatekeeper.sh/v1"


def _pod(name: str, privileged: bool) -> dict:
    container = {"name": "c", "image": AGNHOST, "args": ["pause"]}
    if privileged:
        container["securityContext"] = {"privileged": True}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [container]}}


@pytest.fixture
def gk_ns(cluster, request):
    found = capability(cluster, "gatekeeper", fresh=True)
    if not found.state:
        no_cluster(f"Gatekeeper is not there: {found.detail} ({found.fix})")
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:24].strip("-")
    name = f"lt-{stem}-{uuid.uuid4().hex[:5]}"
    ensure_namespace(cluster, name, lab_id=LAB_ID)
    live = LiveNamespace(cluster, name)
    live.lab = make_lab(LAB_ID)  # applying re-labels the namespace with the lab's id: keep LAB_ID
    # A Constraint kind of this test's own (letters only); Gatekeeper names the template after it.
    kind = "K8sLive" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:8])
    template = kind.lower()
    yield live, kind, template
    # Gatekeeper (v3.23.1) wedges its template controller when a kind's CRD goes while a pod still starts
    # watching that kind: first let the audit pod take in the Constraint, then delete the template in the
    # foreground (it stays until its CRD, and with it the Constraint, is gone).
    try:
        wait_until(cluster, kind, namespace=None, name="no-privileged", api_version=CONSTRAINTS,
                   predicate=lambda items: any("audit" in (p.get("operations") or [])
                                               for i in items for p in (i.get("status") or {}).get("byPod") or []),
                   describe="the audit pod to take in the Constraint", timeout=60)
    except LabrunnerError:
        pass  # no Constraint was made, or its kind is gone
    delete_object(cluster, ObjectRef("ConstraintTemplate", template, TEMPLATES), namespace="", propagation="Foreground")
    wait_until(cluster, "ConstraintTemplate", namespace=None, name=template, api_version=TEMPLATES,
               predicate=lambda items: not items, describe=f"ConstraintTemplate {template} and its CRD to be gone",
               timeout=120)
    delete_namespace(cluster, name)


def _template(kind: str, template: str) -> str:
    return f"""
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {{name: {template}}}
spec:
  crd: {{spec: {{names: {{kind: {kind}}}}}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package {template}
        violation[{{"msg": msg}}] {{
          c := input.review.object.spec.containers[_]
          c.securityContext.privileged == true
          msg := sprintf("container %v is privileged", [c.name])
        }}
"""


def _constraint(kind: str, namespace: str, action: str = "deny") -> str:
    return f"""
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: {kind}
metadata: {{name: no-privileged}}
spec:
  enforcementAction: {action}
  match:
    kinds: [{{apiGroups: [""], kinds: [Pod]}}]
    namespaces: ["{namespace}"]
"""


def _served(ns: LiveNamespace, template: str) -> None:
    wait_until(ns.cluster, "ConstraintTemplate", namespace=None, name=template, api_version=TEMPLATES,
               predicate=lambda items: bool(items) and (items[0].get("status") or {}).get("created") is True,
               describe=f"ConstraintTemplate {template} created", timeout=120)
    ns.cluster.forget_resources()


def test_audit_lists_what_existed_before_the_constraint(gk_ns):
    ns, kind, template = gk_ns
    constraint = f"{kind}/no-privileged"
    ns.apply(yaml.safe_dump_all([_pod("legacy", True), _pod("plain", False)]))
    # No template yet: the kind is not served, which is the learner's to fix (a fail), not an error.
    missing_kind = ns.check("audit", constraint=constraint, lists=["Pod/legacy"])
    assert missing_kind.status.value == "fail" and "no ConstraintTemplate defines the kind" in missing_kind.message
    ns.apply(_template(kind, template))
    _served(ns, template)
    absent = ns.check("audit", constraint=constraint, lists=["Pod/legacy"])
    assert absent.status.value == "fail" and "does not exist yet" in absent.message, absent.message
    ns.apply(_constraint(kind, ns.name))
    found = ns.check_settled("audit", constraint=constraint, lists=["Pod/legacy"])
    assert found.ok, found.message
    assert "container c is privileged" in found.message
    # The same audit does not list the plain pod: the kind can fail on a finished audit.
    plain = ns.check("audit", constraint=constraint, lists=["Pod/legacy", "Pod/plain"])
    assert plain.status.value == "fail" and "does not list Pod plain" in plain.message, plain.message
    assert "Pod " + ns.name + "/legacy" in plain.evidence.observed


def test_admission_through_gatekeeper_rejects_only_when_enforced(gk_ns):
    ns, kind, template = gk_ns
    privileged = Manifest(Path("privileged.yaml"), (_pod("try", True),))
    plain = Manifest(Path("plain.yaml"), (_pod("try", False),))
    ns.apply(_template(kind, template))
    _served(ns, template)
    ns.apply(_constraint(kind, ns.name, action="dryrun"))
    dry = ns.check("admission", manifest=privileged, expect="rejected")
    assert dry.status.value == "fail" and "is accepted" in dry.message  # dryrun only reports
    ns.apply(_constraint(kind, ns.name, action="deny"))
    wanted = '"validation.gatekeeper.sh" denied the request: [no-privileged]'
    rejected = ns.check_settled("admission", manifest=privileged, expect="rejected", messageContains=wanted)
    assert rejected.ok, rejected.message
    assert ns.check("admission", manifest=plain, expect="accepted").ok
    assert ns.cluster.get("Pod", "try", namespace=ns.name) is None  # a dry-run stores nothing


def test_an_audit_from_before_the_constraint_changed_is_no_verdict(gk_ns):
    """A right Constraint, audited, then changed to another namespace: the last audit's list is of the
    Constraint as it was, so the check must not pass on it until the next audit (which lists nothing)."""
    ns, kind, template = gk_ns
    constraint = f"{kind}/no-privileged"
    ns.apply(yaml.safe_dump_all([_pod("legacy", True)]))
    ns.apply(_template(kind, template))
    _served(ns, template)
    ns.apply(_constraint(kind, ns.name))
    found = ns.check_settled("audit", constraint=constraint, lists=["Pod/legacy"])
    assert found.ok, found.message
    ns.apply(_constraint(kind, ns.name + "-staging"))
    stale = ns.check("audit", constraint=constraint, lists=["Pod/legacy"])
    # "does not list" only if an audit began after the change and ended before this check (rare).
    assert stale.status.value == "fail", stale.message
    assert "since it was changed" in stale.message or "does not list Pod legacy" in stale.message, stale.message
    later = ns.check_settled("audit", constraint=constraint, lists=["Pod/legacy"])
    assert later.status.value == "fail" and "does not list Pod legacy" in later.message, later.message
