"""Pure logic of the events, rollout and logs kinds against a fake cluster (the live tests prove them)."""

from pathlib import Path

from labrunner.checks import CheckContext, Status, check_kinds, run_check
from labrunner.checks.kinds.events import last_container_start
from labrunner.checks.kinds.rollouts import replicas_owners
from labrunner.model import CheckSpec, Difficulty, Lab, Step
from conftest import FakeCluster

NS = "lab-demo"


def run(objects, kind, **params):
    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
              requires=(), images=(), steps=(step,), path=Path("."))
    assert not check_kinds()[kind].problems(params), check_kinds()[kind].problems(params)
    ctx = CheckContext(cluster=FakeCluster(objects), namespace=NS, lab=lab, step=step)
    return run_check(ctx, CheckSpec(id="c", kind=kind, params=params))


# -- events: only about the pod as it is now -------------------------------------------

def pod(started=None):
    state = {"running": {"startedAt": started}} if started else {"waiting": {"reason": "ContainerCreating"}}
    return {"kind": "Pod", "metadata": {"name": "batch", "namespace": NS, "uid": "u1"},
            "status": {"containerStatuses": [{"name": "batch", "state": state}]}}


def refusal(at, uid="u1"):
    return {"kind": "Event", "metadata": {"name": f"e-{at}", "namespace": NS}, "reason": "FailedCreatePodSandBox",
            "involvedObject": {"kind": "Pod", "name": "batch", "uid": uid}, "lastTimestamp": at,
            "message": 'no runtime for "kata" is configured'}


REFUSED = dict(reason="FailedCreatePodSandBox", involvedKind="Pod", involvedName="batch", atMost=0)


def test_refusals_before_the_last_start_are_history():
    before = [refusal("2026-01-01T10:00:05Z")]
    assert run([pod(), *before], "events", sinceLastStart=True, **REFUSED).status is Status.FAIL
    assert run([pod("2026-01-01T10:00:20Z"), *before], "events", sinceLastStart=True, **REFUSED).ok
    # without sinceLastStart the old refusal still counts
    assert run([pod("2026-01-01T10:00:20Z"), *before], "events", **REFUSED).status is Status.FAIL
    # a refusal after the start counts again; one about another pod (other UID) never does
    assert run([pod("2026-01-01T10:00:20Z"), refusal("2026-01-01T10:01:00Z")], "events", sinceLastStart=True,
               **REFUSED).status is Status.FAIL
    assert run([pod(), refusal("2026-01-01T10:00:05Z", uid="old")], "events", sinceLastStart=True, **REFUSED).ok


def test_last_container_start_reads_every_kind_of_container():
    body = {"status": {"containerStatuses": [{"state": {"terminated": {"startedAt": "2026-01-01T10:00:00Z"}}}],
                       "initContainerStatuses": [{"state": {"running": {"startedAt": "2026-01-01T10:00:09Z"}}}]}}
    assert last_container_start(body).isoformat() == "2026-01-01T10:00:09+00:00"
    assert last_container_start({"status": {}}) is None


def test_since_last_start_is_for_pods_that_exist_now():
    kind = check_kinds()["events"]
    assert kind.problems({"reason": "X", "involvedKind": "ReplicaSet", "atMost": 0, "sinceLastStart": True})
    assert kind.problems({"reason": "X", "involvedKind": "Pod", "atMost": 0, "sinceLastStart": True, "current": False})


# -- rollout: the controller stepped the old ReplicaSet down ---------------------------

def deployment(revision="2", generation=3, observed=3, updated=3, replicas=3, available=3):
    return {"kind": "Deployment",
            "metadata": {"name": "api", "namespace": NS, "uid": "d1", "generation": generation,
                         "annotations": {"deployment.kubernetes.io/revision": revision}},
            "spec": {"replicas": 3},
            "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated,
                       "availableReplicas": available}}


def replica_set(name, revision, replicas, writer="kube-controller-manager", owner="d1"):
    return {"kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": NS,
                         "annotations": {"deployment.kubernetes.io/revision": revision},
                         "ownerReferences": [{"kind": "Deployment", "name": "api", "uid": owner, "controller": True}],
                         "managedFields": [{"manager": writer, "operation": "Update",
                                            "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas}}


def test_rollout_passes_when_the_controller_drained_the_old_replicaset():
    result = run([deployment(), replica_set("api-old", "1", 0), replica_set("api-new", "2", 3)], "rollout",
                 object="Deployment/api")
    assert result.ok, result.message
    assert "rolled out revision 2" in result.message


def test_rollout_fails_without_a_new_template_or_before_it_finished():
    one = run([deployment(revision="1"), replica_set("api-old", "1", 3)], "rollout", object="Deployment/api")
    assert one.status is Status.FAIL and "one pod template only" in one.message
    midway = run([deployment(updated=2, replicas=4), replica_set("api-old", "1", 2), replica_set("api-new", "2", 2)],
                 "rollout", object="Deployment/api")
    assert midway.status is Status.FAIL and "2 of 3 pods run the new template, 2 old ones remain" in midway.message
    unseen = run([deployment(observed=2)], "rollout", object="Deployment/api")
    assert unseen.status is Status.FAIL and "has not acted" in unseen.message


def test_a_manual_scale_to_zero_is_not_a_rollout():
    result = run([deployment(), replica_set("api-old", "1", 0, writer="kubectl"), replica_set("api-new", "2", 3)],
                 "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "scaled to 0 by kubectl, not by the Deployment controller" in result.message
    by_hand = replica_set("api-old", "1", 0)
    by_hand["metadata"]["managedFields"][0]["fieldsV1"] = {"f:spec": {"f:selector": {}}}  # after kubectl scale
    result = run([deployment(), by_hand, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "scaled to 0 by hand (kubectl scale)" in result.message
    # A ReplicaSet of another (deleted) Deployment of the same name is not this one's.
    stray = run([deployment(), replica_set("api-x", "1", 2, owner="gone"), replica_set("api-new", "2", 3)],
                "rollout", object="Deployment/api")
    assert stray.status is Status.FAIL and "no old ReplicaSet of Deployment api is left" in stray.message


def scaled_at(rs, desired, most):
    """The annotations the Deployment controller writes with each scale of `rs`."""
    rs["metadata"]["annotations"].update({"deployment.kubernetes.io/desired-replicas": str(desired),
                                          "deployment.kubernetes.io/max-replicas": str(most)})
    return rs


def test_scaling_the_deployment_down_and_back_is_not_a_rollout():
    drained = scaled_at(replica_set("api-old", "1", 0), 0, 1)
    result = run([deployment(), drained, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "while the Deployment asked for 0 pods" in result.message
    # Scaled to 2 (not 0), template changed, scaled back to 3: one pod fewer served (a hostile tester).
    shrunk = scaled_at(replica_set("api-old", "1", 0), 2, 3)
    result = run([deployment(), shrunk, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "asked for 2 pods, fewer than the 3" in result.message
    stepped = scaled_at(replica_set("api-old", "1", 0), 3, 4)
    assert run([deployment(), stepped, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api").ok
    # Rolled out at 5 and scaled down to 3 afterwards: never fewer than 3.
    bigger = scaled_at(replica_set("api-old", "1", 0), 5, 6)
    assert run([deployment(), bigger, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api").ok


def test_an_old_replicaset_stepped_down_with_no_surge_was_recreated():
    # Recreate (MaxSurge 0): max-replicas equals desired-replicas, whatever the strategy says now.
    recreated = scaled_at(replica_set("api-old", "1", 0), 3, 3)
    result = run([deployment(), recreated, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "as the Recreate strategy" in result.message
    # Recreate to revision 2, strategy set back, then `rollout restart`: revision 2 was rolled over
    # properly, revision 1 was not (a hostile tester).
    rolled = scaled_at(replica_set("api-2", "2", 0), 3, 4)
    result = run([deployment(revision="3"), recreated, rolled, replica_set("api-3", "3", 3)], "rollout",
                 object="Deployment/api")
    assert result.status is Status.FAIL and "api-old" in result.message and "no extra pod" in result.message
    # maxSurge 1 or 100%: extra pods allowed.
    for most in (4, 6):
        surged = scaled_at(replica_set("api-old", "1", 0), 3, most)
        assert run([deployment(), surged, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api").ok


def owned_pod(name, created, ready_at, owner="rs-new", restarts=0):
    return {"kind": "Pod", "metadata": {"name": name, "namespace": NS, "creationTimestamp": created,
                                        "ownerReferences": [{"kind": "ReplicaSet", "uid": owner, "controller": True}]},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ready_at}],
                       "containerStatuses": [{"name": "api", "restartCount": restarts}]}}


def rolled_over(stepped_down="2026-11-29T10:00:05Z"):
    old = scaled_at(replica_set("api-old", "1", 0), 3, 4)
    old["metadata"]["managedFields"][0]["time"] = stepped_down
    new = scaled_at(replica_set("api-new", "2", 3), 3, 4)
    new["metadata"]["uid"] = "rs-new"
    return [deployment(), old, new]


def test_a_new_pod_ready_only_after_the_last_old_pod_went_means_capacity_was_lost():
    # maxUnavailable 1 (set back to 0 afterwards), as seen on a cluster: the old ReplicaSet went to 0
    # at :05 while the pod created at :05 turned Ready at :07 (a hostile tester).
    pods = [owned_pod("a", "2026-11-29T10:00:03Z", "2026-11-29T10:00:05Z"),
            owned_pod("b", "2026-11-29T10:00:04Z", "2026-11-29T10:00:05Z"),
            owned_pod("c", "2026-11-29T10:00:05Z", "2026-11-29T10:00:07Z")]
    result = run([*rolled_over(), *pods], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "before the new pod c was ready" in result.message
    # maxUnavailable 0: every new pod Ready at or before the last step-down (same second counts).
    on_time = [*pods[:2], owned_pod("c", "2026-11-29T10:00:05Z", "2026-11-29T10:00:05Z")]
    assert run([*rolled_over(), *on_time], "rollout", object="Deployment/api").ok
    # A pod created after the rollout (a replacement) and one whose container restarted (a node
    # reboot) turned Ready later for their own reasons; a pod of another ReplicaSet is not looked at.
    later = [*pods[:2], owned_pod("c", "2026-11-29T10:03:00Z", "2026-11-29T10:03:02Z"),
             owned_pod("d", "2026-11-29T10:00:05Z", "2026-11-29T10:09:00Z", restarts=1),
             owned_pod("e", "2026-11-29T10:00:01Z", "2026-11-29T10:09:00Z", owner="elsewhere")]
    assert run([*rolled_over(), *later], "rollout", object="Deployment/api").ok


def test_a_rollout_with_no_old_replicaset_left_shows_nothing():
    # revisionHistoryLimit 0 (or the old ReplicaSet deleted by hand) removes the only evidence.
    result = run([deployment(), replica_set("api-new", "2", 3)], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "revisionHistoryLimit" in result.message


def test_a_revision_whose_replicaset_was_pruned_hides_how_it_was_rolled_out():
    # Recreate to revision 2, a rolling restart (3), revisionHistoryLimit 1: revision 1's ReplicaSet,
    # stepped down by Recreate, is pruned (a hostile tester).
    rolled = scaled_at(replica_set("api-2", "2", 0), 3, 4)
    result = run([deployment(revision="3"), rolled, replica_set("api-3", "3", 3)], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "revision 1 of Deployment api left no ReplicaSet" in result.message
    # `rollout undo` and back: revisions 1 and 2 live on in the reused ReplicaSets' revision-history.
    first = scaled_at(replica_set("api-1", "3", 0), 3, 4)
    first["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] = "1"
    again = scaled_at(replica_set("api-2", "4", 3), 3, 4)
    again["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] = "2"
    assert run([deployment(revision="4"), first, again], "rollout", object="Deployment/api").ok


def test_replicas_owners_reads_managed_fields():
    assert replicas_owners(replica_set("a", "1", 0, writer="kubectl")) == ["kubectl"]
    assert replicas_owners({"metadata": {"managedFields": [{"manager": "x", "fieldsV1": {"f:metadata": {}}}]}}) == []


# -- logs: validation ------------------------------------------------------------------

def test_logs_trigger_needs_a_nonce_and_running_pods():
    kind = check_kinds()["logs"]
    trigger = {"container": "app", "command": ["sh", "-c", "echo ${NONCE} >> /log"]}
    assert not kind.problems({"pod": "p", "container": "shipper", "contains": "${NONCE}", "trigger": trigger})
    assert kind.problems({"pod": "p", "contains": "fixed text", "trigger": trigger})
    assert kind.problems({"pod": "p", "contains": "${NONCE}", "trigger": trigger, "finished": True})
    assert kind.problems({"pod": "p", "contains": "x", "matches": "y"})
    assert kind.problems({"pod": "p", "contains": "${NONCE}", "trigger": {"command": [], "shell": True}})


def test_logs_of_finished_pods_wait_for_completion():
    running = {"kind": "Pod", "metadata": {"name": "report-abc", "namespace": NS, "labels": {"job-name": "report"}},
               "status": {"phase": "Running"}}
    result = run([running], "logs", selector="job-name=report", finished=True, container="report", contains="done")
    assert result.status is Status.FAIL and "has completed (report-abc is Running)" in result.message


# -- pvc usedAgainBy: the running pod replaced the one the volume was bound for -----------

def _claim_objects(pod_created):
    claim = {"kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
             "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
             "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}
    volume = {"kind": "PersistentVolume", "metadata": {"name": "pv-1", "creationTimestamp": "2026-01-01T10:00:05Z"},
              "status": {"phase": "Bound", "lastPhaseTransitionTime": "2026-01-01T10:00:05Z"}}
    pod = {"kind": "Pod", "metadata": {"name": "shop-1", "namespace": NS, "labels": {"app": "shop"},
                                       "creationTimestamp": pod_created}}
    return [claim, volume, pod]


def test_pvc_used_again_only_by_a_pod_created_after_the_bind():
    first = run(_claim_objects("2026-01-01T10:00:01Z"), "pvc", name="data", usedAgainBy="app=shop")
    assert first.status is Status.FAIL and "pod shop-1 is the one" in first.message
    same_second = run(_claim_objects("2026-01-01T10:00:05Z"), "pvc", name="data", usedAgainBy="app=shop")
    assert same_second.status is Status.FAIL
    replacement = run(_claim_objects("2026-01-01T10:01:00Z"), "pvc", name="data", usedAgainBy="app=shop")
    assert replacement.ok, replacement.message
    nobody = run(_claim_objects("2026-01-01T10:01:00Z"), "pvc", name="data", usedAgainBy="app=web")
    assert nobody.status is Status.FAIL and "no pod matching app=web" in nobody.message
