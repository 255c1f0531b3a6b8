"""Evidence on a real cluster: each command a result hands the learner reproduces what the check saw,
and check --json / --junit on a real lab parse as their formats say.

The reproduce commands are run as a learner would paste them: `kubectl` from PATH, with the
KUBECONFIG of the live tests.
"""

import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labrunner import cli

from live_manifests import service, web_deployment

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parents[2]
SETTLE = 15.0  # seconds: NetworkPolicy programming and the RBAC authorizer follow within a few

DENY_WEB = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
"""

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
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not on PATH: the reproduce commands are kubectl commands")
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60, env=os.environ.copy())


def settled(run, until, timeout: float = SETTLE):  # noqa: ANN001, ANN201
    """run() until until(result) or the timeout; the last result either way."""
    deadline = time.monotonic() + timeout
    while True:
        result = run()
        if until(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


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
