"""check --junit: JUnit XML read back as CI services read it, alone and with --json, --wait, --watch."""

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from labrunner import cli, runner
from labrunner.checks import AccessReview, CheckResult, Evidence, ProbeCell, Status
from labrunner.junit import junit_xml, write_junit, xml_safe

REPO = Path(__file__).resolve().parents[2]
LABS = ["--labs", str(REPO / "labs" / "services")]
REPRODUCE = "kubectl -n lab-services exec shell -- /agnhost connect 10.96.0.7:80 --timeout=1s"


def _report() -> runner.StepReport:
    cell = ProbeCell("pod shell", "service api", 80, "allow", "fail", "blocked (no answer within 1s), yet the node "
                     "itself connects", why="should be allowed: blocked", address="10.96.0.7", reproduce=REPRODUCE)
    review = AccessReview({"kind": "SubjectAccessReview", "spec": {
        "user": "jane", "groups": ["system:authenticated"],
        "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "lab-services"}}},
        allowed=False, reason="no RBAC policy matched", expected="allowed", reproduce="kubectl auth can-i list pods")
    results = (
        replace(CheckResult.passed("2 pods ready"), check_id="ready", title="api is ready", seconds=0.25),
        replace(CheckResult.failed("pod shell -> service api:80 should be allowed: blocked", ["[fail] pod shell -> ..."],
                                   evidence=Evidence(probes=(cell,))),
                check_id="reach", title="shell reaches api", seconds=1.5),
        replace(CheckResult.failed("user jane list pods in lab-services is denied", evidence=Evidence(
            "allowed", "denied", reviews=(review,))), check_id="rbac", title="jane lists pods", seconds=0.125),
        replace(CheckResult.errored("cannot reach the Kubernetes API server: refused \x1b[31m\x00"),
                check_id="dns", title="api resolves", seconds=0.01),
    )
    return runner.StepReport("services", "clusterip", results, 2.5, attempts=2)


def _parse(data: bytes) -> ET.Element:
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return ET.fromstring(data)


def test_a_step_is_a_testsuite_and_each_check_a_testcase():
    root = _parse(junit_xml([_report()], timestamp=datetime(2026, 3, 1, 10, 0, 0)))
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == \
        {"tests": "4", "failures": "2", "errors": "1", "skipped": "0", "time": "2.500"}
    (suite,) = root
    assert suite.tag == "testsuite" and suite.get("name") == "services/clusterip"
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "time", "timestamp")} == \
        {"tests": "4", "failures": "2", "errors": "1", "time": "2.500", "timestamp": "2026-03-01T10:00:00"}
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties == {"lab": "services", "step": "clusterip", "status": "error", "attempts": "2"}
    cases = suite.findall("testcase")
    assert [(c.get("name"), c.get("classname"), c.get("time")) for c in cases] == [
        ("api is ready", "services.clusterip", "0.250"), ("shell reaches api", "services.clusterip", "1.500"),
        ("jane lists pods", "services.clusterip", "0.125"), ("api resolves", "services.clusterip", "0.010")]
    ready, reach, rbac, dns = cases
    assert list(ready) == []  # a pass is a plain testcase
    (failure,) = reach
    assert failure.tag == "failure" and failure.get("type") == "fail"
    assert failure.get("message") == "pod shell -> service api:80 should be allowed: blocked"
    assert "[fail] pod shell -> ..." in failure.text
    assert "probe [fail] pod shell -> service api:80: expected allow, observed blocked" in failure.text
    assert f"reproduce: {REPRODUCE}" in failure.text
    (denied,) = rbac
    assert "expected: allowed\nobserved: denied" in denied.text
    assert "SubjectAccessReview verb=list, resource=pods, namespace=lab-services for user jane" in denied.text
    assert "denied (expected allowed); no RBAC policy matched" in denied.text
    assert "reproduce: kubectl auth can-i list pods" in denied.text
    (error,) = dns
    assert error.tag == "error" and error.get("type") == "error"
    # an ESC or NUL from the cluster's words cannot be in XML at all: escaped, and the report still parses
    assert error.get("message") == "cannot reach the Kubernetes API server: refused \\x1b[31m\\x00"


def test_repeated_titles_get_their_ids_and_times_are_never_negative():
    results = tuple(replace(CheckResult.passed("ok"), check_id=i, title="connectivity", seconds=-0.0)
                    for i in ("a", "b"))
    (suite,) = _parse(junit_xml([runner.StepReport("l", "s", results, 0.0)]))
    assert [c.get("name") for c in suite.findall("testcase")] == ["connectivity [a]", "connectivity [b]"]
    assert suite.get("time") == "0.000"


def test_xml_safe_keeps_what_xml_allows():
    assert xml_safe("tab\tnew\nline é ✓") == "tab\tnew\nline é ✓"
    assert xml_safe("a\x07b\x1bc\ud800") == "a\\x07b\\x1bc\\ud800"


def test_write_junit_replaces_the_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "report.xml"
    path.write_text("old")
    write_junit(path, [_report()])
    assert _parse(path.read_bytes()).tag == "testsuites"
    monkeypatch.setattr("labrunner.junit.os.replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError):
        write_junit(path, [_report()])
    assert _parse(path.read_bytes()).tag == "testsuites" and [p.name for p in tmp_path.iterdir()] == ["report.xml"]


# -- the CLI ---------------------------------------------------------------------------

class StartedCluster:
    def get(self, kind, name, **_):  # noqa: ANN001, ANN003, ANN201
        return {"kind": kind, "metadata": {"name": name}, "status": {"phase": "Active"}}


@pytest.fixture
def checked(monkeypatch):
    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "run_step_checks", lambda *a, **k: _report())
    monkeypatch.setattr(runner, "settle_step_checks", lambda *a, **k: _report())


@pytest.mark.parametrize("extra", [[], ["--json"], ["--wait", "5"], ["--json", "--wait", "5"]])
def test_check_junit_writes_the_report_next_to_the_usual_output(checked, tmp_path, capsys, extra):
    path = tmp_path / "junit.xml"
    assert cli.main(LABS + ["check", "services", "--step", "clusterip", "--junit", str(path), *extra]) == 3
    out = capsys.readouterr().out
    if "--json" in extra:
        assert json.loads(out)["status"] == "error"  # stdout stays one JSON document
    else:
        assert "FAIL  shell reaches api" in out
    (suite,) = _parse(path.read_bytes())
    assert suite.get("failures") == "2" and suite.get("errors") == "1"


def test_check_watch_junit_holds_the_last_verdict(monkeypatch, tmp_path, capsys):
    path = tmp_path / "junit.xml"
    passed = runner.StepReport("services", "clusterip", (replace(CheckResult.passed("ok"), check_id="a", title="a"),), 1.0)
    seen: list[bytes] = []

    def watch(cluster, lab, step, *, on_report, stop, answers, namespace=None):  # noqa: ANN001, ANN202
        on_report(_report())
        seen.append(path.read_bytes())
        on_report(passed)

    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "watch_step", watch)
    assert cli.main(LABS + ["check", "services", "--step", "clusterip", "--watch", "--junit", str(path)]) == 0
    assert _parse(seen[0])[0].get("errors") == "1"
    (suite,) = _parse(path.read_bytes())
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")


def test_a_quiz_step_is_a_testsuite_too(tmp_path, capsys):
    sidecars = ["--labs", str(REPO / "labs" / "sidecars")]
    path = tmp_path / "quiz.xml"
    assert cli.main(sidecars + ["check", "sidecars", "--step", "smi", "--junit", str(path)]) == 1  # not answered
    (suite,) = _parse(path.read_bytes())
    (case,) = suite.findall("testcase")
    assert suite.get("name") == "sidecars/smi" and case.find("failure") is not None


def test_a_junit_file_that_cannot_be_is_bad_input_before_any_cluster_work(monkeypatch, tmp_path, capsys):
    def no_cluster(args):  # noqa: ANN001, ANN202
        raise AssertionError("the cluster was asked before the argument was checked")

    monkeypatch.setattr(cli, "_cluster", no_cluster)
    assert cli.main(LABS + ["check", "services", "--junit", str(tmp_path / "no-such-folder" / "j.xml")]) == 2
    assert "the folder" in capsys.readouterr().err
    assert cli.main(LABS + ["check", "services", "--junit", str(tmp_path)]) == 2
    assert "that is a folder" in capsys.readouterr().err


def test_a_junit_report_that_cannot_be_written_is_an_error(checked, monkeypatch, tmp_path, capsys):
    def full(*args):  # noqa: ANN002, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("labrunner.junit.os.replace", full)
    monkeypatch.setattr(runner, "run_step_checks", lambda *a, **k: runner.StepReport(
        "services", "clusterip", (replace(CheckResult.passed("ok"), check_id="a"),), 0.1))
    assert cli.main(LABS + ["check", "services", "--step", "clusterip", "--junit", str(tmp_path / "j.xml")]) == 3
    out, err = capsys.readouterr()
    assert "PASS" in out and "could not write the JUnit report" in err and "No space left on device" in err


def test_the_text_output_shows_how_to_reproduce_a_failing_probe(checked, capsys):
    assert cli.main(LABS + ["check", "services", "--step", "clusterip"]) == 3
    out = capsys.readouterr().out
    assert f"       try: {REPRODUCE}" in out and "try: kubectl auth can-i list pods" in out
    assert out.count("try: ") == 2  # the passing check shows none
