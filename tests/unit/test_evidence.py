"""Evidence as data: the command that reproduces a probe, the JSON shape, and what object checks saw."""

from types import SimpleNamespace

import pytest

from labrunner.checks import AccessReview, CheckContext, CheckResult, Evidence, ProbeCell
from labrunner.checks.kinds.objects import KINDS as OBJECT_KINDS
from labrunner.checks.probeplan import Cell, Source, Target
from labrunner.checks.probing import Probe, reproduce_command


def test_the_reproduce_command_is_the_probe_labrunner_runs():
    assert reproduce_command(Probe("shell", "lab-netpol", "10.96.0.9", 80)) == \
        "kubectl -n lab-netpol exec shell -- /agnhost connect 10.96.0.9:80 --timeout=1s"
    assert reproduce_command(Probe("web-7d9f", "lab-x", "db.lab-x.svc", 5432, "sidecar")) == \
        "kubectl -n lab-x exec web-7d9f -c sidecar -- /agnhost connect db.lab-x.svc:5432 --timeout=1s"
    # an IPv6 address is bracketed, and quoted for the shell (brackets are a glob)
    assert reproduce_command(Probe("shell", "lab-x", "fd00::9", 80)) == \
        "kubectl -n lab-x exec shell -- /agnhost connect '[fd00::9]:80' --timeout=1s"


def test_a_cell_probes_from_its_source_pod_to_its_target_address():
    cell = Cell(0, Source("shell", "lab-x", "main", "pod shell"), Target("10.244.0.9", label="pod db-0"), 5432,
                "deny", "ingress")
    assert cell.probe == Probe("shell", "lab-x", "10.244.0.9", 5432, "main")
    assert reproduce_command(cell.probe).startswith("kubectl -n lab-x exec shell -c main -- /agnhost connect 10.244.0.9:5432")


def test_evidence_json_has_every_key_always():
    assert CheckResult.passed("ok").as_dict()["evidence"] == {"expected": None, "observed": None, "probes": [],
                                                             "reviews": [], "events": [], "reproduce": []}
    cell = ProbeCell("pod a", "service b", 80, "allow", "fail", "refused", why="should be allowed: refused",
                     address="10.96.0.1", reproduce="kubectl ...")
    review = AccessReview({"kind": "SubjectAccessReview", "spec": {"user": "u"}}, allowed=True, expected="denied")
    data = Evidence("x", "y", (cell,), (review,)).as_dict()
    assert data["probes"] == [{"from": "pod a", "to": "service b", "address": "10.96.0.1", "port": 80,
                               "expected": "allow", "deniedBy": None, "status": "fail", "observed": "refused",
                               "why": "should be allowed: refused", "reproduce": "kubectl ..."}]
    assert data["reviews"] == [{"request": {"kind": "SubjectAccessReview", "spec": {"user": "u"}}, "allowed": True,
                                "denied": False, "reason": None, "evaluationError": None, "expected": "denied",
                                "reproduce": None}]
    assert not Evidence() and Evidence(expected="x") and Evidence(commands=("curl x",))


def test_reproduce_lists_what_did_not_go_as_expected_once_each():
    def cell(status: str, command: str) -> ProbeCell:
        return ProbeCell("a", "b", 80, "allow", status, "", reproduce=command)

    def review(allowed: bool, expected: str, command: str) -> AccessReview:
        return AccessReview({}, allowed, expected=expected, reproduce=command)

    evidence = Evidence(probes=(cell("pass", "p1"), cell("fail", "p2"), cell("error", "p3"), cell("fail", "p2"),
                                cell("skipped", "p4")),
                        reviews=(review(True, "allowed", "r1"), review(True, "denied", "r2"), review(False, "", "r3")))
    assert evidence.reproduce() == ["p2", "p3", "r2", "r3"]
    assert evidence.reproduce(failing_only=False) == ["p1", "p2", "p3", "p4", "r1", "r2", "r3"]
    # the check's own commands come first, and are never left out
    assert Evidence(probes=evidence.probes, commands=("c1", "p2")).reproduce() == ["c1", "p2", "p3"]


def test_a_result_keeps_its_evidence_through_settling_and_run_check(monkeypatch):
    from dataclasses import replace

    from labrunner.checks import CheckKind, check_kinds, run_check
    from labrunner.model import CheckSpec

    evidence = Evidence("3 ready replicas", "1 ready replicas")
    failed = CheckResult.failed("not yet", evidence=evidence)
    assert failed.while_settling("kube-proxy may lag").evidence is evidence
    assert replace(failed, attempts=3).evidence is evidence
    kinds = {**check_kinds(), "seen": CheckKind("seen", {}, lambda ctx, p: failed)}
    monkeypatch.setattr("labrunner.checks.registry.check_kinds", lambda: kinds)
    ctx = CheckContext(cluster=None, namespace="lab", lab=SimpleNamespace(id="t"), step=None)
    assert run_check(ctx, CheckSpec(id="c", kind="seen", params={})).evidence == evidence


OBJECTS = {kind.name: kind for kind in OBJECT_KINDS}


def _ctx(fake_cluster, *objects):  # noqa: ANN001, ANN202
    return CheckContext(cluster=fake_cluster(list(objects)), namespace="lab", lab=SimpleNamespace(id="t"), step=None)


WEB = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "lab"},
       "spec": {"replicas": 3, "template": {"spec": {"containers": [{"resources": {"limits": {"memory": "1024Mi"}}}]}}},
       "status": {"readyReplicas": 1, "conditions": [{"type": "Available", "status": "False"}]}}


@pytest.mark.parametrize("kind, params, status, expected, observed", [
    ("exists", {"object": "Deployment/web"}, "pass", "exists", "exists"),
    ("exists", {"object": "Deployment/api"}, "fail", "exists", "does not exist"),
    ("absent", {"object": "Deployment/web"}, "fail", "does not exist", "exists"),
    ("field", {"object": "Deployment/web", "path": "{.spec.replicas}", "equals": 2}, "fail", "2", "3"),
    ("field", {"object": "Deployment/web", "path": "{.spec.template.spec.containers[0].resources.limits.memory}",
               "equals": "1Gi"}, "pass", "1Gi", "1024Mi"),
    ("field", {"object": "Deployment/web", "path": "{.spec.paused}", "present": True}, "fail", "set", "not set"),
    ("field", {"object": "Deployment/api", "path": "{.spec.replicas}", "matches": "^[0-9]$"}, "fail", "matches ^[0-9]$",
     "Deployment/api does not exist"),
    ("condition", {"object": "Deployment/web", "type": "Available"}, "fail", "Available=True", "Available=False"),
    ("condition", {"object": "Deployment/web", "type": "Progressing"}, "fail", "Progressing=True",
     "Progressing=not reported"),
    ("replicas", {"object": "Deployment/web", "ready": 3}, "fail", "3 ready replicas", "1 ready replicas"),
    ("pods", {"selector": "app=web", "ready": 2}, "fail", "2 ready pods", "0 ready pods of 0 matching"),
])
def test_object_checks_say_what_they_expected_and_saw(fake_cluster, kind, params, status, expected, observed):
    result = OBJECTS[kind].run(_ctx(fake_cluster, WEB), params)
    assert result.status.value == status, result.message
    assert (result.evidence.expected, result.evidence.observed) == (expected, observed)
