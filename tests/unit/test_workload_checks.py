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


def test_scaling_the_deployment_to_zero_and_back_is_not_a_rollout():
    drained = replica_set("api-old", "1", 0)
    drained["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = "0"
    result = run([deployment(), drained, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "while the Deployment asked for 0 pods" in result.message
    stepped = replica_set("api-old", "1", 0)
    stepped["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = "3"
    assert run([deployment(), stepped, replica_set("api-new", "2", 3)], "rollout", object="Deployment/api").ok


def timed(rs, created, scaled):
    rs["metadata"]["creationTimestamp"] = created
    rs["metadata"]["managedFields"][0]["time"] = scaled
    return rs


def test_a_recreate_that_emptied_the_old_replicaset_first_is_not_a_rolling_update():
    old = timed(replica_set("api-old", "1", 0), "2026-11-29T10:00:00Z", "2026-11-29T10:05:02Z")
    recreated = timed(replica_set("api-new", "2", 3), "2026-11-29T10:05:04Z", "2026-11-29T10:05:04Z")
    result = run([deployment(), old, recreated], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "as the Recreate strategy does" in result.message
    # Recreate with pods that stop at once: the new ReplicaSet is made in the same second.
    same_second = timed(replica_set("api-new", "2", 3), "2026-11-29T10:05:02Z", "2026-11-29T10:05:02Z")
    assert run([deployment(), old, same_second], "rollout", object="Deployment/api").status is Status.FAIL
    # `set env` typed wrong, then right: revision 2 is emptied as revision 3 is made, while revision 1
    # keeps its pods until revision 3's are ready. A rolling update (found by a hostile tester).
    first = timed(replica_set("api-1", "1", 0), "2026-11-29T10:00:00Z", "2026-11-29T10:06:10Z")
    typo = timed(replica_set("api-2", "2", 0), "2026-11-29T10:06:02Z", "2026-11-29T10:06:03Z")
    fixed = timed(replica_set("api-3", "3", 3), "2026-11-29T10:06:03Z", "2026-11-29T10:06:09Z")
    assert run([deployment(revision="3"), first, typo, fixed], "rollout", object="Deployment/api").ok
    # Recreate empties every old ReplicaSet before the new one exists.
    recreated3 = timed(replica_set("api-3", "3", 3), "2026-11-29T10:06:12Z", "2026-11-29T10:06:12Z")
    result = run([deployment(revision="3"), first, typo, recreated3], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "as the Recreate strategy does" in result.message
    # A rolling update: the new ReplicaSet exists before the old one's last step down.
    rolled = timed(replica_set("api-new", "2", 3), "2026-11-29T10:04:50Z", "2026-11-29T10:04:58Z")
    assert run([deployment(), old, rolled], "rollout", object="Deployment/api").ok
    # `rollout undo` reuses an older ReplicaSet, created long before: measured from its last scale-up.
    # Rolling: it reached full size before the old one's last step down.
    undone = timed(replica_set("api-new", "3", 3), "2026-11-29T09:00:00Z", "2026-11-29T10:05:00Z")
    undone["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] = "1"
    assert run([deployment(revision="3"), old, undone], "rollout", object="Deployment/api").ok
    # Recreate, then `rollout undo` twice under Recreate, then the strategy set back (a hostile tester):
    # the reused ReplicaSet was scaled up only after the old one was empty.
    undone_late = timed(replica_set("api-new", "4", 3), "2026-11-29T09:00:00Z", "2026-11-29T10:05:03Z")
    undone_late["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] = "2"
    result = run([deployment(revision="4"), old, undone_late], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "scaled up again by `rollout undo`" in result.message


def test_a_rollout_with_no_old_replicaset_left_shows_nothing():
    # revisionHistoryLimit 0 (or the old ReplicaSet deleted by hand) removes the only evidence.
    result = run([deployment(), replica_set("api-new", "2", 3)], "rollout", object="Deployment/api")
    assert result.status is Status.FAIL and "revisionHistoryLimit" in result.message


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
