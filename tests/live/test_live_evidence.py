"""Evidence on a real cluster: each command a result hands the learner reproduces what the check saw,
and check --json / --junit on a real lab parse as their formats say.

The reproduce commands are run as a learner would paste them: `kubectl` from PATH, with the
KUBECONFIG of the live tests.
"""

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labrunner import cli

from live_manifests import DENY_WEB, service, settled as _settled, web_deployment

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parents[2]
SETTLE = 15.0  # seconds: NetworkPolicy programming and the RBAC authorizer follow within a few


def settled(run, until, timeout: float = SETTLE):  # noqa: ANN001, ANN201
    return _settled(run, until, timeout)


VIEWER = """
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
subjects: [{kind: ServiceAccount, name: viewer, namespace: "${LAB_NAMESPACE}"}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
"""


def kubectl_pasted(command: str) -> subprocess.CompletedProcess:
    """Run a command from the evidence as a learner pastes it into a shell."""
    # Tests that paste a command ask for the `kubectl` fixture: without kubectl they skip, or fail in CI.
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60, env=os.environ.copy())



@pytest.mark.usefixtures("kubectl")
def test_a_connectivity_cell_reproduces_with_its_command(ns):
    ns.apply(web_deployment())
    ns.apply(service())
    ns.wait_ready("Deployment", "web")
    probes = [{"from": {"probe": {"role": "other"}}, "to": {"service": "web"}, "port": 80, "expect": "deny"}]
    check = lambda: ns.check("connectivity", probes=probes)  # noqa: E731
    before = settled(check, lambda r: "nothing listening" not in r.message)  # kube-proxy programs the Service
    assert before.status.value == "fail", before.message
    (cell,) = before.evidence.probes
    assert (cell.status, cell.expected, cell.denied_by, cell.port) == ("fail", "deny", "ingress", 80)
    assert cell.observed == "it connected" and cell.address
    assert cell.reproduce.startswith(f"kubectl -n {ns.name} exec ")
    pasted = kubectl_pasted(cell.reproduce)
    assert pasted.returncode == 0, pasted.stderr  # it connects, as the check said

    ns.apply(DENY_WEB)
    after = settled(check, lambda r: r.ok)
    assert after.ok, (after.message, after.details)
    (cell,) = after.evidence.probes
    assert cell.status == "pass" and cell.observed.startswith("blocked")
    pasted = kubectl_pasted(cell.reproduce)
    said = pasted.stdout + pasted.stderr  # agnhost's verdict, on whichever stream kubectl passes it
    assert pasted.returncode != 0 and any(word in said for word in ("TIMEOUT", "REFUSED", "OTHER")), said


def test_a_missing_source_is_a_failing_cell_without_a_command(ns):
    result = ns.check("connectivity", probes=[{"from": {"pod": "nobody"}, "to": {"host": "10.0.0.1"}, "port": 80,
                                               "expect": "allow"}])
    assert result.status.value == "fail"
    (cell,) = result.evidence.probes
    assert cell.source == "pod nobody" and cell.status == "fail" and cell.reproduce == ""


@pytest.mark.usefixtures("kubectl")
def test_an_rbac_result_carries_the_review_and_can_i_agrees(ns):
    check = lambda: ns.check("rbac", serviceAccount="viewer", verb="list", resource="pods")  # noqa: E731
    before = check()
    assert before.status.value == "fail"
    (review,) = before.evidence.reviews
    assert review.request["kind"] == "SubjectAccessReview" and review.allowed is False
    assert review.request["spec"]["user"] == f"system:serviceaccount:{ns.name}:viewer"
    assert review.request["spec"]["resourceAttributes"] == {"verb": "list", "group": "", "resource": "pods",
                                                            "namespace": ns.name}
    assert (before.evidence.expected, before.evidence.observed) == ("allowed", "denied")
    denied = kubectl_pasted(review.reproduce)
    assert (denied.returncode, denied.stdout.strip()) == (1, "no"), denied.stderr

    ns.apply(VIEWER)
    after = settled(check, lambda r: r.ok)
    assert after.ok, after.message
    (review,) = after.evidence.reviews
    assert review.allowed is True and "pod-reader" in review.reason  # the authorizer names the Role
    allowed = settled(lambda: kubectl_pasted(review.reproduce), lambda p: p.returncode == 0)
    assert allowed.stdout.strip() == "yes", allowed.stderr


@pytest.mark.usefixtures("kubectl")
def test_an_rbac_sweep_names_each_review_allowed_beyond_the_set(ns):
    ns.apply(VIEWER.replace("verbs: [get, list]", "verbs: [get, list, delete]"))
    only = [{"verbs": ["get", "list"], "resources": ["pods"]}]
    result = settled(lambda: ns.check("rbac", serviceAccount="viewer", only=only), lambda r: r.status.value == "fail")
    assert result.status.value == "fail", result.message
    beyond = [r for r in result.evidence.reviews
              if (r.request["spec"].get("resourceAttributes") or {}).get("verb") == "delete"]
    assert beyond and all(r.allowed and r.expected == "denied" for r in beyond)
    pasted = kubectl_pasted(beyond[0].reproduce)
    assert (pasted.returncode, pasted.stdout.strip()) == (0, "yes"), pasted.stderr


def test_check_json_and_junit_on_a_real_lab(cluster, capsys, monkeypatch, tmp_path):
    import jsonschema

    labs = ["--labs", str(REPO / "tests" / "fixtures" / "labs" / "nodeport-basics")]
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path))
    schema = json.loads((REPO / "schema" / "check-result-v1.json").read_text())
    report = tmp_path / "junit.xml"
    try:
        assert cli.main(labs + ["start", "nodeport-basics", "clusterip"]) == 0
        capsys.readouterr()
        code = cli.main(labs + ["check", "nodeport-basics", "--json", "--junit", str(report)])
        document = json.loads(capsys.readouterr().out)
        jsonschema.validate(document, schema)
        assert code == 1 and document["status"] == "fail"
        (suite,) = ET.parse(report).getroot()
        assert suite.get("name") == "nodeport-basics/clusterip"
        assert int(suite.get("failures")) >= 1 and suite.get("errors") == "0"
        failing = [c for c in suite.findall("testcase") if c.find("failure") is not None]
        assert len(failing) == int(suite.get("failures"))
        assert cli.main(labs + ["solve", "nodeport-basics"]) == 0
        code = cli.main(labs + ["check", "nodeport-basics", "--step", "clusterip", "--wait", "60", "--junit",
                                str(report)])
        assert code == 0
        (suite,) = ET.parse(report).getroot()
        assert suite.get("failures") == "0" and suite.get("errors") == "0"
        assert all(len(c) == 0 for c in suite.findall("testcase"))
    finally:
        assert cli.main(labs + ["reset", "nodeport-basics"]) == 0


# -- evidence of the kinds that read objects: the Events the cluster recorded, and commands ---------------

UNSCHEDULABLE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 1
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      nodeSelector: {labrunner.dev/no-such-node: "true"}
      containers: [{name: web, image: registry.k8s.io/e2e-test-images/agnhost:2.56, args: [pause]}]
"""

NO_SUCH_CLASS = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: labrunner-no-such-class
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
"""


def test_a_workload_that_cannot_schedule_fails_with_the_schedulers_event(ns):
    ns.apply(UNSCHEDULABLE)
    result = settled(lambda: ns.check("replicas", object="Deployment/stuck", ready=1),
                     lambda r: any(e.reason == "FailedScheduling" for e in r.evidence.events), timeout=30)
    assert result.status.value == "fail", result.message
    assert (result.evidence.expected, result.evidence.observed) == ("1 ready replicas", "0 ready replicas")
    (scheduling, *_) = [e for e in result.evidence.events if e.reason == "FailedScheduling"]
    assert scheduling.type == "Warning" and scheduling.object.startswith("Pod/stuck-")
    assert "node affinity/selector" in scheduling.message or "didn't match" in scheduling.message, scheduling.message
    pods = ns.check("pods", selector="app=stuck", ready=1)
    assert pods.status.value == "fail" and any(e.reason == "FailedScheduling" for e in pods.evidence.events)


@pytest.mark.usefixtures("kubectl")
def test_a_claim_of_a_class_that_does_not_exist_fails_with_the_provisioners_event(ns):
    ns.apply(NO_SUCH_CLASS)
    result = settled(lambda: ns.check("pvc", name="data"),
                     lambda r: any(e.reason == "ProvisioningFailed" for e in r.evidence.events), timeout=30)
    assert result.status.value == "fail", result.message
    assert result.evidence.observed.startswith("Pending, class labrunner-no-such-class")
    (failed, *_) = [e for e in result.evidence.events if e.reason == "ProvisioningFailed"]
    assert "labrunner-no-such-class" in failed.message and failed.object == "PersistentVolumeClaim/data"
    (describe,) = result.evidence.commands
    pasted = kubectl_pasted(describe)
    assert pasted.returncode == 0 and "ProvisioningFailed" in pasted.stdout, pasted.stderr


@pytest.mark.usefixtures("kubectl")
def test_a_log_check_hands_the_kubectl_logs_that_shows_the_same(ns):
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    result = ns.check("logs", selector="app=web", contains="labrunner-never-logged", timeout=1)
    assert result.status.value == "fail"
    (command,) = result.evidence.commands
    pasted = kubectl_pasted(command)
    assert pasted.returncode == 0 and "labrunner-never-logged" not in pasted.stdout, pasted.stderr


def test_a_csr_with_server_auth_is_approved_and_refused_and_the_fail_quotes_the_signer(ns):
    """The case of issue 9: a CSR that also asks for server auth is approved, the kube-apiserver-client
    signer refuses it (condition Failed, reason SignerValidationFailure), and the certificate check's fail
    quotes that reason, not "is it approved?"."""
    import base64
    import uuid

    import yaml
    from kubernetes import client as k8s

    from labrunner.cluster import delete_object, wait_until
    from labrunner.model import ObjectRef

    name = f"lt-refused-{uuid.uuid4().hex[:6]}"
    request = (REPO / "labs" / "user-access" / "wrong" / "02-jane-doe.csr").read_bytes()
    ns.apply(yaml.safe_dump({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                             "metadata": {"name": name},
                             "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "expirationSeconds": 3600,
                                      "usages": ["client auth", "server auth"],
                                      "request": base64.b64encode(request).decode()}}))
    try:
        k8s.CertificatesV1Api(ns.cluster.api).patch_certificate_signing_request_approval(name, {"status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "LiveTest", "message": "live test"}]}})
        wait_until(ns.cluster, "CertificateSigningRequest", namespace=None, name=name, describe="refused",
                   predicate=lambda o: bool(o) and any(c.get("type") == "Failed"
                                                       for c in (o[0].get("status") or {}).get("conditions") or []),
                   timeout=60)
        result = ns.check("certificate", csr=name, user="jane.doe", validFor="1h")
        assert result.status.value == "fail", result.message
        assert f"refused CertificateSigningRequest {name}: SignerValidationFailure: " \
               '"invalid usage for client certificate: server auth"' in result.message
        assert "Failed (SignerValidationFailure" in result.evidence.observed
        assert result.evidence.commands == (f"kubectl describe csr {name}",)
    finally:
        delete_object(ns.cluster, ObjectRef("CertificateSigningRequest", name, "certificates.k8s.io/v1"), namespace="")
