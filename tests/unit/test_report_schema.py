"""schema/check-result-v1.json: the committed schema is the models', and what `check --json` prints
from the engine's own result objects validates against it."""

import json
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from labrunner import cli, runner
from labrunner.checks import CheckContext, CheckResult, Status, run_check
from labrunner.checks.kinds.network import probe_cell, unplaced_cell
from labrunner.checks.probeplan import Cell, Source, Target
from labrunner.model import CheckSpec
from labrunner.reportschema import SCHEMA_FILE, SCHEMA_VERSION, schema_text

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / SCHEMA_FILE).read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
LABS = ["--labs", str(REPO / "labs" / "services")]


def test_the_committed_schema_is_the_models():
    assert (REPO / SCHEMA_FILE).read_text() == schema_text(), \
        f"regenerate it: python -m labrunner.reportschema > {SCHEMA_FILE}"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA_VERSION == runner.REPORT_SCHEMA_VERSION


def _results(fake_cluster, monkeypatch) -> list[CheckResult]:
    """One result of each shape the engine makes, from the check kinds' own code where a fake cluster does."""
    from labrunner.checks import accessreview

    monkeypatch.setattr(accessreview, "_call", lambda *a, **k: {"status": {"allowed": False, "reason": "no match"}})
    web = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "lab"}, "status": {"readyReplicas": 1}}
    scaled = {"kind": "Event", "metadata": {"name": "web.1", "namespace": "lab"}, "type": "Normal",
              "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-5d9 from 0 to 2",
              "involvedObject": {"kind": "Deployment", "name": "web"}}  # no count, no time, no source: still valid
    lab = SimpleNamespace(id="services")
    ctx = CheckContext(cluster=fake_cluster([web, scaled]), namespace="lab", lab=lab, step=None)
    results = [
        run_check(ctx, CheckSpec(id="replicas", kind="replicas", params={"object": "Deployment/web", "ready": 2})),
        run_check(ctx, CheckSpec(id="exists", kind="exists", params={"object": "Deployment/web"})),
        run_check(ctx, CheckSpec(id="rbac", kind="rbac", params={"group": "ops", "verb": "get", "resource": "pods"})),
        run_check(ctx, CheckSpec(id="broken", kind="no-such-kind", params={})),
    ]
    cell = Cell(0, Source("shell", "lab", None, "pod shell"), Target("10.96.0.9", label="service api"), 80, "deny", "egress")
    probes = (probe_cell(cell, Status.FAIL, "should be blocked: it connected", "it connected"),
              probe_cell(cell, None, "left out of the sweep: refused", "refused"),
              unplaced_cell({"from": {"pod": "gone"}, "to": {"sweep": {}}, "expect": "deny"}, "pod gone does not exist"))
    from labrunner.checks import Evidence

    results.append(CheckResult.failed("pod shell -> service api:80 should be blocked", ["[fail] ..."],
                                      evidence=Evidence(probes=probes)).while_settling("NetworkPolicy may lag"))
    return results


def test_check_json_from_the_engines_results_validates(fake_cluster, monkeypatch, capsys):
    results = _results(fake_cluster, monkeypatch)
    assert {r.status for r in results} == {Status.PASS, Status.FAIL, Status.ERROR}
    report = runner.StepReport("services", "clusterip", tuple(results), 1.25, attempts=2)

    class Started:
        def get(self, kind, name, **_):  # noqa: ANN001, ANN003, ANN201
            return {"kind": kind, "metadata": {"name": name}, "status": {"phase": "Active"}}

    monkeypatch.setattr(cli, "_cluster", lambda args: Started())
    monkeypatch.setattr(runner, "run_step_checks", lambda *a, **k: report)
    assert cli.main(LABS + ["check", "services", "--step", "clusterip", "--json"]) == 3
    document = json.loads(capsys.readouterr().out)
    VALIDATOR.validate(document)
    assert document["schemaVersion"] == 1
    shown = {check["id"]: check for check in document["checks"]}
    assert shown["rbac"]["evidence"]["reviews"][0]["request"]["kind"] == "SubjectAccessReview"
    assert shown["replicas"]["evidence"]["expected"] == "2 ready replicas"
    assert shown["replicas"]["evidence"]["events"][0]["reason"] == "ScalingReplicaSet"
    assert shown["broken"]["evidence"]["observed"] == "unknown check kind 'no-such-kind'"
    assert [p["status"] for p in document["checks"][-1]["evidence"]["probes"]] == ["fail", "skipped", "fail"]


def test_a_quiz_check_json_validates(capsys):
    sidecars = ["--labs", str(REPO / "labs" / "sidecars")]
    assert cli.main(sidecars + ["answer", "sidecars", "smi", "b"]) == 0
    capsys.readouterr()
    assert cli.main(sidecars + ["check", "sidecars", "--step", "smi", "--json"]) == 0
    VALIDATOR.validate(json.loads(capsys.readouterr().out))


@pytest.mark.parametrize("change", [
    lambda d: d.update(verdict="pass"),  # a key the schema does not know
    lambda d: d.update(status="passed"),
    lambda d: d["checks"][0].pop("evidence"),
    lambda d: d["checks"][0]["evidence"]["probes"].append({"from": "a"}),
    lambda d: d["checks"][0]["evidence"].pop("events"),
    lambda d: d["checks"][0]["evidence"]["events"].append({"reason": "x", "count": 0}),
    lambda d: d.update(secondsToPass=-1),
])
def test_the_schema_rejects_documents_out_of_shape(change):
    report = runner.StepReport("l", "s", (CheckResult.passed("ok"),), 0.1, seconds_to_pass=0.1)
    document = report.as_dict()
    VALIDATOR.validate(document)
    change(document)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(document)


def test_the_example_in_the_docs_validates():
    text = (REPO / "docs" / "ci.md").read_text()
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    VALIDATOR.validate(json.loads(example))
