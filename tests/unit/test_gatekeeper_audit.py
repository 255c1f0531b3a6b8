"""Pure logic of the `audit` kind against a fake cluster (tests/live/test_live_gatekeeper.py proves it live)."""

from pathlib import Path

from labrunner.checks import CheckContext, Status, check_kinds, run_check
from labrunner.errors import NotFound
from labrunner.model import CheckSpec, Difficulty, Lab, Step
from conftest import FakeCluster

NS = "lab-policy"
LEGACY = {"kind": "Pod", "name": "legacy", "namespace": NS, "message": "container c is privileged",
          "enforcementAction": "deny"}


class GatekeeperCluster(FakeCluster):
    """A fake cluster that serves only the kinds in `served` (as discovery would)."""

    def __init__(self, objects, served=("ConstraintTemplate", "K8sNoPrivileged")):
        super().__init__(objects)
        self.served = set(served)

    def resource(self, kind, api_version=None):
        if kind not in self.served:
            raise NotFound(f"the cluster serves no kind {kind}")
        return kind

    def get(self, kind, name, *, namespace=None, api_version=None):
        self.resource(kind, api_version)
        return super().get(kind, name, namespace=namespace, api_version=api_version)


def constraint(status=None, created="2026-11-29T20:00:00Z"):
    return {"kind": "K8sNoPrivileged", "metadata": {"name": "no-privileged", "creationTimestamp": created},
            **({"status": status} if status is not None else {})}


def run(cluster, lists=("Pod/legacy",)):
    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="policy", title="P", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
              requires=(), images=(), steps=(step,), path=Path("."))
    params = {"constraint": "K8sNoPrivileged/no-privileged", "lists": list(lists)}
    assert not check_kinds()["audit"].problems(params)
    ctx = CheckContext(cluster=cluster, namespace=NS, lab=lab, step=step)
    return run_check(ctx, CheckSpec(id="c", kind="audit", params=params))


def test_no_gatekeeper_is_an_error_with_the_fix_never_a_fail():
    result = run(GatekeeperCluster([], served=()))
    assert result.status is Status.ERROR
    assert "labrunner up" in result.message


def test_a_kind_no_template_defines_is_the_learners_to_fix():
    result = run(GatekeeperCluster([], served=("ConstraintTemplate",)))
    assert result.status is Status.FAIL and "no ConstraintTemplate defines the kind K8sNoPrivileged" in result.message


def test_an_audit_from_before_the_constraint_is_no_verdict_yet():
    old = constraint({"auditTimestamp": "2026-11-29T19:59:00Z", "violations": []})
    result = run(GatekeeperCluster([old]))
    assert result.status is Status.FAIL and "has not looked at" in result.message
    assert check_kinds()["audit"].lags  # so watch mode and --wait re-check instead of blaming the learner


def test_listed_only_in_the_lab_namespace_and_by_kind_and_name():
    elsewhere = {**LEGACY, "namespace": "other"}
    audited = constraint({"auditTimestamp": "2026-11-29T20:01:00Z", "totalViolations": 1, "violations": [elsewhere]})
    result = run(GatekeeperCluster([audited]))
    assert result.status is Status.FAIL and "does not list Pod legacy" in result.message
    assert "Pod other/legacy" in result.evidence.observed


def test_every_object_must_be_listed():
    audited = constraint({"auditTimestamp": "2026-11-29T20:01:00Z", "totalViolations": 1, "violations": [LEGACY]})
    assert run(GatekeeperCluster([audited])).status is Status.PASS
    both = run(GatekeeperCluster([audited]), lists=("Pod/legacy", "Pod/web"))
    assert both.status is Status.FAIL and "does not list Pod web" in both.message


def _written(at, manager="kubectl-client-side-apply"):
    return {"manager": manager, "operation": "Update", "time": at, "apiVersion": "constraints.gatekeeper.sh/v1beta1"}


def test_an_audit_from_before_the_constraint_was_changed_is_no_verdict_yet():
    """A Constraint first made for another namespace, audited (nothing found), then changed to the right
    one: the old audit says nothing of it now, and the other way round a right Constraint audited, then
    changed to dryrun-in-another-namespace, must not keep passing on the old list until the next audit."""
    changed = constraint({"auditTimestamp": "2026-11-29T20:01:00Z", "totalViolations": 1, "violations": [LEGACY]})
    changed["metadata"]["managedFields"] = [
        _written("2026-11-29T20:00:00Z"), _written("2026-11-29T20:01:30Z"),
        {**_written("2026-11-29T20:01:31Z", "gatekeeper"), "subresource": "status"}]
    result = run(GatekeeperCluster([changed]))
    assert result.status is Status.FAIL and "since it was changed" in result.message
    assert "2026-11-29T20:01:30" in result.evidence.observed
    # A change in the audit's own second may have come after the audit began: only a later one counts.
    changed["metadata"]["managedFields"][1] = _written("2026-11-29T20:01:00Z")
    assert run(GatekeeperCluster([changed])).status is Status.FAIL
    changed["status"]["auditTimestamp"] = "2026-11-29T20:02:00Z"
    assert run(GatekeeperCluster([changed])).status is Status.PASS


def test_the_status_written_by_gatekeeper_is_no_change_of_the_constraint():
    audited = constraint({"auditTimestamp": "2026-11-29T20:01:00Z", "totalViolations": 1, "violations": [LEGACY]})
    audited["metadata"]["managedFields"] = [
        _written("2026-11-29T20:00:00Z", "labrunner"),
        {**_written("2026-11-29T20:05:00Z", "gatekeeper"), "subresource": "status"}]
    assert run(GatekeeperCluster([audited])).status is Status.PASS


def test_a_list_cut_at_gatekeepers_limit_says_so():
    others = [{**LEGACY, "name": f"other-{i}"} for i in range(20)]
    audited = constraint({"auditTimestamp": "2026-11-29T20:01:00Z", "totalViolations": 21, "violations": others})
    result = run(GatekeeperCluster([audited]))
    assert result.status is Status.FAIL and "found 21 violations but keeps only 20" in result.message


def test_a_violating_object_deleted_to_empty_the_audit_is_named_as_gone():
    """The learner deletes legacy instead of reporting it: the fail says the audit cannot list what is gone."""
    audited = constraint({"auditTimestamp": "2026-11-29T20:01:00Z", "totalViolations": 0, "violations": []})
    served = ("ConstraintTemplate", "K8sNoPrivileged", "Pod")
    result = run(GatekeeperCluster([audited], served=served))
    assert result.status is Status.FAIL and "Pod legacy no longer exist(s) in lab-policy" in result.message
    there = {"kind": "Pod", "metadata": {"name": "legacy", "namespace": NS}}
    result = run(GatekeeperCluster([audited, there], served=served))
    assert result.status is Status.FAIL and "does not list Pod legacy" in result.message


def _template(written):
    return {"kind": "ConstraintTemplate", "metadata": {"name": "k8snoprivileged", "creationTimestamp": "2026-11-29T19:00:00Z",
                                                        "managedFields": [_written(written)]}}


SERVED = ("ConstraintTemplate", "K8sNoPrivileged", "Pod")
LEGACY_POD = {"kind": "Pod", "metadata": {"name": "legacy", "namespace": NS, "creationTimestamp": "2026-11-29T19:30:00Z"}}


def test_an_audit_from_before_the_template_changed_is_no_verdict_yet():
    """The Rego is the template's: a template edited (to allow everything) after the audit must not
    keep passing on the list the old Rego made, until an audit judges the new one."""
    audited = constraint({"auditTimestamp": "2026-11-29T20:01:00Z", "totalViolations": 1, "violations": [LEGACY]})
    assert run(GatekeeperCluster([audited, _template("2026-11-29T19:00:00Z")])).status is Status.PASS
    result = run(GatekeeperCluster([audited, _template("2026-11-29T20:01:20Z")]))
    assert result.status is Status.FAIL and "since it was changed" in result.message
    assert not result.final  # the next audit decides: re-checked while it settles


def test_a_fail_of_an_audit_that_saw_everything_after_the_last_change_is_final():
    """An audit started well after the Constraint and its template last changed, that saw the object
    (made before it) and does not list it: the next audit can only say the same, so the fail is not
    re-checked for the audit's whole lag (dev check and --wait end at once)."""
    empty = {"auditTimestamp": "2026-11-29T20:01:00Z", "totalViolations": 0, "violations": []}
    result = run(GatekeeperCluster([constraint(empty), _template("2026-11-29T19:00:00Z"), LEGACY_POD], served=SERVED))
    assert result.status is Status.FAIL and result.final
    # Audited too soon after the Constraint was made (the audit pod may not have loaded it yet): not final.
    soon = constraint(empty, created="2026-11-29T20:00:58Z")
    result = run(GatekeeperCluster([soon, _template("2026-11-29T19:00:00Z"), LEGACY_POD], served=SERVED))
    assert result.status is Status.FAIL and not result.final
    # An object made after the audit began was not seen by it: the next audit may list it.
    late = {**LEGACY_POD, "metadata": {**LEGACY_POD["metadata"], "creationTimestamp": "2026-11-29T20:01:05Z"}}
    result = run(GatekeeperCluster([constraint(empty), _template("2026-11-29T19:00:00Z"), late], served=SERVED))
    assert result.status is Status.FAIL and not result.final


def test_a_final_fail_is_not_rechecked_while_settling(monkeypatch):
    """settle_step_checks re-runs a lagging kind's fail for its settles_within, unless the fail is final."""
    from labrunner import runner
    from labrunner.checks import CheckResult

    calls = []

    def checks(ctx, batch):
        calls.append(len(batch))
        return [CheckResult.failed("not listed", final=final) for _ in batch]

    monkeypatch.setattr(runner, "run_checks_at_once", checks)
    monkeypatch.setattr(runner, "SETTLE_INTERVAL", 0.01)
    step = Step(id="s", title="S", text="", text_path=None,
                checks=(CheckSpec(id="c", kind="audit", params={"constraint": "K8sNoPrivileged/x", "lists": ["Pod/a"]}),))
    lab = Lab(id="policy", title="P", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
              requires=(), images=(), steps=(step,), path=Path("."))
    for final, most in ((True, 1), (False, 2)):
        calls.clear()
        report = runner.settle_step_checks(GatekeeperCluster([]), lab, step, window=lambda spec: 0.2)
        assert report.results[0].status is Status.FAIL
        assert (len(calls) == 1) if final else (len(calls) >= most)
