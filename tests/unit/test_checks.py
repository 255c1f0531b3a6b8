"""Check kinds against a fake cluster: each can pass, fail, and error."""

import ast
from pathlib import Path

import pytest

from labrunner.checks import CheckContext, CheckKind, CheckResult, Param, Status, check_kinds, run_check
from labrunner.checks import registry
from labrunner.errors import ClusterUnreachable
from labrunner.model import CheckSpec, Choice, Difficulty, Lab, Quiz, Step


NS = "lab-demo"


def make_lab(step: Step | None = None) -> Lab:
    step = step or Step(id="s", title="S", text="", text_path=None)
    return Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
               requires=(), images=(), steps=(step,), path=Path("."))


def run(cluster, kind: str, **params) -> CheckResult:
    lab = make_lab()
    ctx = CheckContext(cluster=cluster, namespace=NS, lab=lab, step=lab.steps[0])
    spec = CheckSpec(id="c", kind=kind, params=params)
    assert not check_kinds()[kind].problems(params), check_kinds()[kind].problems(params)
    return run_check(ctx, spec)


def svc(name="web", **spec) -> dict:
    return {"kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def test_exists_and_absent(fake_cluster):
    cluster = fake_cluster([svc()])
    assert run(cluster, "exists", object="Service/web").status is Status.PASS
    assert run(cluster, "exists", object="Service/api").status is Status.FAIL
    assert run(cluster, "absent", object="Service/api").status is Status.PASS
    result = run(cluster, "absent", object="Service/web")
    assert result.status is Status.FAIL and "still exists" in result.message


def test_field_equals_matches_present(fake_cluster):
    cluster = fake_cluster([svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])])
    assert run(cluster, "field", object="Service/web", path="{.spec.type}", equals="NodePort").ok
    failed = run(cluster, "field", object="Service/web", path="{.spec.type}", equals="ClusterIP")
    assert failed.status is Status.FAIL and "should be ClusterIP, it is NodePort" in failed.message
    assert run(cluster, "field", object="Service/web", path="{.spec.ports[0].nodePort}", equals=30080).ok
    assert run(cluster, "field", object="Service/web", path="{.spec.ports[0].nodePort}", matches="^3\\d{4}$").ok
    assert not run(cluster, "field", object="Service/web", path="{.spec.clusterIP}", present=True).ok


def test_condition_and_replicas(fake_cluster):
    deploy = {"kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
              "status": {"readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}}
    cluster = fake_cluster([deploy])
    assert run(cluster, "condition", object="Deployment/web", type="Available").ok
    assert not run(cluster, "condition", object="Deployment/web", type="Progressing").ok
    assert run(cluster, "replicas", object="Deployment/web", ready=2).ok
    result = run(cluster, "replicas", object="Deployment/web", ready=3)
    assert not result.ok and "should have 3 ready replicas, it has 2" in result.message


def test_service_exposure(fake_cluster):
    nodeport = svc(type="NodePort", clusterIP="10.96.0.5", ports=[{"port": 80, "nodePort": 30080}])
    headless = svc("h", clusterIP="None", ports=[{"port": 80}])
    slices = {"kind": "EndpointSlice", "metadata": {"name": "web-x", "namespace": NS, "labels": {"kubernetes.io/service-name": "web"}},
              "endpoints": [{"addresses": ["10.244.0.2"], "conditions": {"ready": True}},
                            {"addresses": ["10.244.0.3"], "conditions": {"ready": False}}]}
    cluster = fake_cluster([nodeport, headless, slices])
    assert run(cluster, "service", name="web", type="NodePort", nodePort=30080, clusterIP="present", endpoints=1).ok
    result = run(cluster, "service", name="web", endpoints=2)
    assert not result.ok and "1 ready endpoints, should be 2" in result.message
    assert not run(cluster, "service", name="web", nodePort=30081).ok
    assert run(cluster, "service", name="h", clusterIP="None").ok
    assert not run(cluster, "service", name="web", clusterIP="None").ok
    lb = run(cluster, "service", name="web", loadBalancer=True)
    assert not lb.ok and "no load-balancer address" in lb.message
    assert not run(cluster, "service", name="missing").ok


def test_nodeport_out_of_range(monkeypatch, fake_cluster):
    monkeypatch.setenv("LABRUNNER_NODEPORT_RANGE", "31000-31999")
    cluster = fake_cluster([svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])])
    assert "outside the range" in run(cluster, "service", name="web", nodePort=True).message


def test_rbac_builds_the_review_and_reads_the_answer(fake_cluster, monkeypatch):
    from labrunner.checks import accessreview

    sent: list[dict] = []
    answer = {"allowed": True}

    def call(cluster, method, path, body=None, *, what):  # our HTTP boundary
        assert (method, path) == ("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews")
        sent.append(body)
        return {**body, "status": answer}

    monkeypatch.setattr(accessreview, "_call", call)
    cluster = fake_cluster()
    assert run(cluster, "rbac", serviceAccount="viewer", verb="list", resource="pods").ok
    body = sent[-1]
    assert body["spec"]["user"] == f"system:serviceaccount:{NS}:viewer"
    assert body["spec"]["resourceAttributes"] == {"verb": "list", "resource": "pods", "group": "", "namespace": NS}
    denied = run(cluster, "rbac", user="jane", groups=["dev"], verb="delete", resource="pods", expect="denied")
    assert not denied.ok and "is allowed, but should be denied" in denied.message
    assert "authorizer may lag" in denied.message
    assert "dev" in sent[-1]["spec"]["groups"]
    answer.update(allowed=False, reason="no binding")
    assert run(cluster, "rbac", group="ops", verb="get", resource="nodes", clusterWide=True, expect="denied").ok
    assert "namespace" not in sent[-1]["spec"]["resourceAttributes"]
    other = run(cluster, "rbac", user="jane", groups=["dev"], anotherMember=True, verb="list", resource="pods",
                expect="denied")
    assert other.ok and sent[-1]["spec"]["user"] != "jane" and "dev" in sent[-1]["spec"]["groups"]


def test_storage_checks(fake_cluster):
    pvc = {"kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
           "spec": {"storageClassName": "standard", "volumeName": "pv-1", "accessModes": ["ReadWriteOnce"]},
           "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}
    pv = {"kind": "PersistentVolume", "metadata": {"name": "pv-1"},
          "spec": {"capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
                   "claimRef": {"name": "data", "namespace": NS}},
          "status": {"phase": "Bound"}}
    reserved = {"kind": "PersistentVolume", "metadata": {"name": "pv-2"},
                "spec": {"claimRef": {"name": "data", "namespace": NS}}, "status": {"phase": "Available"}}
    cluster = fake_cluster([pvc, pv, reserved])
    assert run(cluster, "pvc", name="data", capacity="1Gi", storageClass="standard", accessModes=["ReadWriteOnce"]).ok
    assert not run(cluster, "pvc", name="data", capacity="2Gi").ok
    assert run(cluster, "pv", claim="data", capacity="1Gi", claimedBy="data", reclaimPolicy="Delete").ok
    assert not run(cluster, "pv", name="pv-1", accessModes=["ReadWriteMany"]).ok
    # A claimRef written in advance is not a binding.
    held = run(cluster, "pv", name="pv-2", claimedBy="data")
    assert not held.ok and "is Available, not Bound" in held.message


def test_quantities():
    from labrunner.checks.kinds.storage import parse_quantity

    assert parse_quantity("1Gi") == parse_quantity("1024Mi") == 2**30
    assert parse_quantity("1G") == 10**9
    with pytest.raises(ValueError):
        parse_quantity("1 gigabyte")


def test_a_crashing_checker_is_an_error_not_a_fail(monkeypatch, fake_cluster):
    def boom(ctx, params):
        raise RuntimeError("bug")

    monkeypatch.setitem(check_kinds(), "boom", CheckKind("boom", {}, boom))
    result = run(fake_cluster(), "boom")
    assert result.status is Status.ERROR and "crashed" in result.message


def test_an_unreachable_cluster_is_an_error(fake_cluster):
    class Down(fake_cluster):
        def get(self, *a, **k):
            raise ClusterUnreachable("the API server does not answer")

    result = run(Down(), "exists", object="Service/web")
    assert result.status is Status.ERROR and "does not answer" in result.message


def test_namespace_placeholder_in_params(monkeypatch, fake_cluster):
    seen = {}

    def capture(ctx, params):
        seen.update(params)
        return CheckResult.passed("ok")

    monkeypatch.setitem(check_kinds(), "capture", CheckKind("capture", {"name": Param(str)}, capture))
    run(fake_cluster(), "capture", name="web.${LAB_NAMESPACE}.svc")
    assert seen["name"] == f"web.{NS}.svc"


def test_quiz_check_uses_the_recorded_answer():
    quiz = Quiz("Q?", (Choice("a", "A"), Choice("b", "B")), "b", "because")
    step = Step(id="q", title="Q", text="", text_path=None, quiz=quiz)
    lab = make_lab(step)
    spec = CheckSpec(id="answer", kind="quiz", params={})
    assert run_check(CheckContext(None, NS, lab, step, answers={}), spec).status is Status.FAIL
    assert run_check(CheckContext(None, NS, lab, step, answers={"q": "a"}), spec).status is Status.FAIL
    assert run_check(CheckContext(None, NS, lab, step, answers={"q": "b"}), spec).ok


def test_plugins_come_from_entry_points(monkeypatch):
    class EP:
        def __init__(self, name, obj):
            self.name, self.value, self._obj = name, f"pkg:{name}", obj

        def load(self):
            if isinstance(self._obj, Exception):
                raise self._obj
            return self._obj

    good = CheckKind("cm-present", {"name": Param(str, required=True)}, lambda ctx, p: CheckResult.passed("yes"))
    points = [EP("cm-present", good), EP("broken", ImportError("no module")), EP("wrong", object()),
              EP("dup", CheckKind("exists", {}, lambda c, p: None))]
    monkeypatch.setattr(registry, "entry_points", lambda group: points if group == "labrunner.checks" else [])
    monkeypatch.setattr(registry, "_kinds", None)
    monkeypatch.setattr(registry, "_plugin_problems", [])
    monkeypatch.setattr(registry, "_plugin_of", {})  # else later tests see this plug-in as installed
    kinds = check_kinds()
    assert kinds["cm-present"] is good
    assert kinds["exists"] is not points[3]._obj
    problems = registry.plugin_problems()
    assert any("broken" in p and "failed to load" in p for p in problems)
    assert any("not a labrunner.checks.CheckKind" in p for p in problems)
    assert any("reuses the kind name 'exists'" in p for p in problems)
    monkeypatch.setattr(registry, "_kinds", None)


def test_param_problems():
    kind = check_kinds()["service"]
    assert kind.problems({"name": "web"}) == []
    assert ("nodePort", "expected true or a port number 1-65535, got text '30080'") in kind.problems({"name": "web", "nodePort": "30080"})
    assert kind.problems({"name": "web", "endpoints": True})  # a boolean is not a count


def test_a_plugin_cannot_take_labrunner_down(monkeypatch):
    class EP:
        def __init__(self, name, load):
            self.name, self.value, self.load = name, f"pkg.mod:{name}", load

    def exits():
        raise SystemExit(0)  # what `sys.exit(0)` at import time does

    def validate_raises(params):
        raise KeyError("boom")

    def run_exits(ctx, params):
        raise SystemExit(3)

    touchy = CheckKind("touchy", {"name": Param(str)}, run_exits, validate=validate_raises)
    points = [EP("exits", exits), EP("touchy", lambda: touchy)]
    monkeypatch.setattr(registry, "entry_points", lambda group: points if group == "labrunner.checks" else [])
    monkeypatch.setattr(registry, "_kinds", None)
    monkeypatch.setattr(registry, "_plugin_problems", [])
    monkeypatch.setattr(registry, "_plugin_of", {})
    assert "touchy" in check_kinds()
    assert registry.plugin_problems() == ["check plug-in exits (pkg.mod:exits) failed to load: it called sys.exit(0)"]
    assert registry.plugin_origin("touchy") == "check plug-in touchy (pkg.mod:touchy)"
    assert registry.plugin_origin("service") is None
    assert registry.param_problems(touchy, {"name": "x"}) == [
        ("", "check plug-in touchy (pkg.mod:touchy) failed while validating these parameters: KeyError: 'boom'")]
    step = Step(id="s", title="S", text="", text_path=None)
    result = run_check(CheckContext(None, NS, make_lab(step), step), CheckSpec(id="t", kind="touchy", params={}))
    assert result.status is Status.ERROR
    assert result.message == "check plug-in touchy (pkg.mod:touchy) crashed: it called sys.exit(3)"
    monkeypatch.setattr(registry, "_kinds", None)


def test_a_plugin_whose_metadata_is_broken_is_a_problem(monkeypatch):
    def broken(group):
        raise ValueError("bad entry_points.txt")

    monkeypatch.setattr(registry, "entry_points", broken)
    monkeypatch.setattr(registry, "_kinds", None)
    monkeypatch.setattr(registry, "_plugin_problems", [])
    assert "service" in check_kinds()
    assert registry.plugin_problems() == ["check plug-ins could not be listed: ValueError: bad entry_points.txt"]
    monkeypatch.setattr(registry, "_kinds", None)


def _defines_kinds(path: Path) -> bool:
    """Whether a module assigns `KINDS` at its top level (read, not imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    targets = [t for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
    targets += [node.target for node in tree.body if isinstance(node, ast.AnnAssign)]
    return any(isinstance(t, ast.Name) and t.id == "KINDS" for t in targets)


def test_the_kinds_folder_holds_every_kind_module_and_only_those():
    """checks/kinds/ is where the built-in kinds are, and the registry loads each module there."""
    checks = Path(registry.__file__).parent
    kind_modules = {p.stem for p in (checks / "kinds").glob("*.py") if p.stem != "__init__"}
    assert kind_modules == set(registry._BUILTIN_MODULES)
    assert [name for name in sorted(kind_modules) if not _defines_kinds(checks / "kinds" / f"{name}.py")] == []
    assert [p.name for p in sorted(checks.glob("*.py")) if _defines_kinds(p)] == []
