"""Every built-in check kind's fail and error carries evidence: what was expected and what was seen, and
for checks that read objects the Events about them. Against a fake cluster at our own boundary: what the
evidence says, not whether a check works (the live tests prove that)."""

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from labrunner.checks import CheckContext, Status, check_kinds, run_check
from labrunner.checks.registry import builtin_kinds
from labrunner.model import CheckSpec, Choice, Difficulty, Lab, Quiz, Step

NS = "lab-ev"
QUIZ = Quiz("Which?", (Choice("a", "this one"), Choice("b", "that one")), answer="b")


def _lab(step: Step) -> Lab:
    return Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
               images=(), steps=(step,), path=Path("."))


def run(cluster, kind: str, *, answers=None, quiz=None, **params):  # noqa: ANN001, ANN003, ANN201
    assert not check_kinds()[kind].problems(params), check_kinds()[kind].problems(params)
    step = Step(id="s", title="S", text="", text_path=None, quiz=quiz)
    ctx = CheckContext(cluster=cluster, namespace=NS, lab=_lab(step), step=step, answers=answers or {},
                       node_address="127.0.0.1")
    return run_check(ctx, CheckSpec(id="c", kind=kind, params=params))


def event(n: int, kind: str, name: str, reason: str, message: str, *, type_: str = "Warning", count: int = 1,
          namespace: str = NS) -> dict:
    return {"kind": "Event", "metadata": {"name": f"e{n}", "namespace": namespace}, "type": type_, "reason": reason,
            "message": message, "count": count, "lastTimestamp": f"2026-01-01T00:00:{n:02d}Z",
            "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
            "source": {"component": "default-scheduler"}}


WEB = {"kind": "Deployment", "metadata": {"name": "web", "namespace": NS, "uid": "d1", "generation": 1,
                                          "annotations": {"deployment.kubernetes.io/revision": "1"}},
       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
       "status": {"readyReplicas": 0, "observedGeneration": 1}}
WEB_RS = {"kind": "ReplicaSet", "metadata": {"name": "web-5d9", "namespace": NS, "labels": {"app": "web"}}}
WEB_POD = {"kind": "Pod", "metadata": {"name": "web-5d9-abcde", "namespace": NS, "labels": {"app": "web"}},
           "status": {"phase": "Pending"}}
PENDING_CLAIM = {"kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
                 "spec": {"storageClassName": "standard", "accessModes": ["ReadWriteOnce"]},
                 "status": {"phase": "Pending"}}
SERVICE = {"kind": "Service", "metadata": {"name": "web", "namespace": NS},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "ports": [{"port": 80}], "selector": {"app": "web"}}}
EVENTS = [
    event(1, "ReplicaSet", "web-5d9", "FailedCreate", 'pods "web-5d9-x" is forbidden: exceeded quota'),
    event(2, "Pod", "web-5d9-abcde", "FailedScheduling", "0/1 nodes are available: 1 Insufficient cpu.", count=3),
    event(3, "PersistentVolumeClaim", "data", "ProvisioningFailed", 'storageclass.storage.k8s.io "standard" not found'),
    event(4, "Pod", "other", "Pulled", "not about any object checked here", type_="Normal"),
    event(5, "Service", "web", "SyncLoadBalancerFailed", "no load balancer here"),
]

# kind -> (params, objects, extra run arguments, the status, a text the observed must hold)
CASES = {
    "exists": ({"object": "Deployment/api"}, [], {}, Status.FAIL, "does not exist"),
    "absent": ({"object": "Deployment/web"}, [WEB], {}, Status.FAIL, "exists"),
    "field": ({"object": "Deployment/web", "path": "{.spec.replicas}", "equals": 3}, [WEB], {}, Status.FAIL, "2"),
    "condition": ({"object": "Deployment/web", "type": "Available"}, [WEB], {}, Status.FAIL, "Available=not reported"),
    "replicas": ({"object": "Deployment/web", "ready": 2}, [WEB, WEB_RS, WEB_POD], {}, Status.FAIL, "0 ready replicas"),
    "pods": ({"selector": "app=web", "ready": 1}, [WEB_POD], {}, Status.FAIL, "0 ready pods of 1 matching"),
    "service": ({"name": "web", "type": "NodePort"}, [SERVICE], {}, Status.FAIL, "type is ClusterIP"),
    "pvc": ({"name": "data", "capacity": "1Gi"}, [PENDING_CLAIM], {}, Status.FAIL, "Pending, class standard"),
    "pv": ({"claim": "data"}, [PENDING_CLAIM], {}, Status.FAIL, "claim data is Pending, no volume"),
    "rollout": ({"object": "Deployment/web"}, [WEB], {}, Status.FAIL, "revision 1"),
    "events": ({"reason": "SuccessfulCreate", "involvedKind": "ReplicaSet", "involvedName": "web-5d9", "atLeast": 1},
               [WEB_RS], {}, Status.FAIL, "0 SuccessfulCreate events"),
    "http": ({"to": {"nodePort": "api"}}, [], {}, Status.FAIL, "Service api does not exist"),
    "env": ({"selector": "app=api", "name": "MODE"}, [], {}, Status.FAIL, "no running pod matches app=api"),
    "exec": ({"pod": "api", "command": ["true"]}, [], {}, Status.FAIL, "there is no pod api"),
    "logs": ({"selector": "app=api", "contains": "ready"}, [], {}, Status.FAIL, "no running pod matches app=api"),
    "whoami": ({"secret": "jane-cert", "user": "jane"}, [], {}, Status.FAIL, "Secret jane-cert does not exist"),
    "certificate": ({"csr": "jane", "user": "jane"}, [], {}, Status.FAIL, "does not exist yet"),
    "idtoken": ({"secret": "alice-token", "user": "oidc:alice"}, [], {}, Status.FAIL, "Secret alice-token does not exist"),
    "quiz": ({}, [], {"answers": {"s": "a"}, "quiz": QUIZ}, Status.FAIL, "a) this one"),
    "rbac": ({"group": "ops", "verb": "get", "resource": "pods"}, [], {}, Status.FAIL, "denied"),
}
# Kinds that run pods or apply manifests: their evidence is tested below, in test_evidence.py and live;
# `audit` asks which kinds the cluster serves: test_gatekeeper_audit.py, with a cluster that answers that.
ELSEWHERE = {"connectivity", "dns", "admission", "audit"}


def test_every_builtin_kind_has_an_evidence_case():
    assert set(builtin_kinds()) == set(CASES) | ELSEWHERE


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_fail_carries_what_was_expected_and_seen(fake_cluster, monkeypatch, kind):
    from labrunner.checks import accessreview

    monkeypatch.setattr(accessreview, "_call", lambda *a, **k: {"status": {"allowed": False}})
    params, objects, extra, status, seen = CASES[kind]
    result = run(fake_cluster(objects + EVENTS), kind, **extra, **params)
    assert result.status is status, result.message
    assert result.evidence.expected and result.evidence.observed, result.evidence
    assert seen in result.evidence.observed
    assert result.evidence.as_dict()["expected"] == result.evidence.expected


def test_a_quiz_fail_never_gives_the_answer_away(fake_cluster):
    result = run(fake_cluster([]), "quiz", answers={"s": "a"}, quiz=QUIZ)
    assert "that one" not in " ".join(result.evidence.lines()) and "b)" not in result.evidence.observed
    assert run(fake_cluster([]), "quiz", quiz=QUIZ).evidence.observed == "no answer"


@pytest.mark.parametrize("kind, params, objects, reasons", [
    # a workload's fail carries the events of its ReplicaSets and pods: where a refused pod is reported
    ("replicas", {"object": "Deployment/web", "ready": 2}, [WEB, WEB_RS, WEB_POD], ["FailedCreate", "FailedScheduling"]),
    ("condition", {"object": "Deployment/web", "type": "Available"}, [WEB, WEB_RS, WEB_POD],
     ["FailedCreate", "FailedScheduling"]),
    ("rollout", {"object": "Deployment/web"}, [WEB, WEB_RS, WEB_POD], ["FailedCreate", "FailedScheduling"]),
    ("pods", {"selector": "app=web", "ready": 1}, [WEB_POD], ["FailedScheduling"]),
    ("pvc", {"name": "data"}, [PENDING_CLAIM], ["ProvisioningFailed"]),
    ("service", {"name": "web", "loadBalancer": True}, [SERVICE], ["SyncLoadBalancerFailed"]),
    ("events", {"reason": "SuccessfulCreate", "involvedKind": "ReplicaSet", "involvedName": "web-5d9", "atLeast": 1},
     [WEB_RS], ["FailedCreate"]),
])
def test_a_fail_on_objects_carries_their_events(fake_cluster, kind, params, objects, reasons):
    result = run(fake_cluster(objects + EVENTS), kind, **params)
    assert result.status is Status.FAIL, result.message
    assert [e.reason for e in result.evidence.events] == reasons  # oldest first, none about other objects
    shown = result.as_dict()["evidence"]["events"]
    assert all(e["type"] == "Warning" and e["source"] == "default-scheduler" for e in shown)
    if "FailedScheduling" in reasons:
        (scheduling,) = [e for e in shown if e["reason"] == "FailedScheduling"]
        assert scheduling == {"type": "Warning", "reason": "FailedScheduling",
                              "message": "0/1 nodes are available: 1 Insufficient cpu.", "object": "Pod/web-5d9-abcde",
                              "count": 3, "lastSeen": "2026-01-01T00:00:02Z", "source": "default-scheduler"}
        assert "event: Warning FailedScheduling Pod/web-5d9-abcde: 0/1 nodes are available: 1 Insufficient cpu. (x3)" \
            in result.evidence.lines()


def test_a_pass_reads_no_events(fake_cluster):
    class Counting(fake_cluster):
        kinds: list = []

        def list(self, kind, **kw):  # noqa: ANN001, ANN003, ANN201
            self.kinds.append(kind)
            return super().list(kind, **kw)

    ready = {**WEB, "status": {"readyReplicas": 2}}
    assert run(Counting([ready] + EVENTS), "replicas", object="Deployment/web", ready=2).ok
    assert "Event" not in Counting.kinds


def test_events_that_cannot_be_read_leave_the_verdict_alone(fake_cluster):
    from labrunner.errors import Forbidden

    class NoEvents(fake_cluster):
        def list(self, kind, **kw):  # noqa: ANN001, ANN003, ANN201
            if kind == "Event":
                raise Forbidden("events is forbidden", status=403, what="Event")
            return super().list(kind, **kw)

    result = run(NoEvents([WEB]), "replicas", object="Deployment/web", ready=2)
    assert result.status is Status.FAIL and result.evidence.events == () and result.evidence.observed


def test_events_of_a_cluster_scoped_object_are_read_in_default(fake_cluster):
    from labrunner.checks.objectevents import events_about

    cluster = fake_cluster([event(1, "PersistentVolume", "pv-1", "VolumeFailedDelete", "busy", namespace="default")])
    assert [e.reason for e in events_about(cluster, None, [("PersistentVolume", "pv-1")])] == ["VolumeFailedDelete"]
    assert events_about(cluster, NS, [("PersistentVolume", "pv-1")]) == ()


def test_http_evidence_has_a_curl_that_asks_the_same():
    from labrunner.checks.kinds.http import Target, curl_command, expected_answer

    assert curl_command({"path": "/healthz"}, Target("http", "127.0.0.1", 30080)) == \
        "curl -sS -i -m 3 http://127.0.0.1:30080/healthz"
    assert curl_command({"timeout": 5}, Target("https", "10.0.0.5", 443, "shop.example")) == \
        "curl -sS -i -m 5 -k --resolve shop.example:443:10.0.0.5 https://shop.example:443/"
    assert curl_command({}, Target("http", "fd00::1", 80, "shop.example")) == \
        "curl -sS -i -m 3 -H 'Host: shop.example' 'http://[fd00::1]:80/'"
    assert expected_answer({"status": 404, "bodyContains": "gone"}) == "status 404, body containing 'gone'"


def test_an_http_request_nobody_answers_says_so_with_its_curl(fake_cluster):
    import socket

    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result = run(fake_cluster([]), "http", to={"url": f"http://127.0.0.1:{port}/"}, timeout=2)
    assert result.status is Status.FAIL
    assert (result.evidence.expected, result.evidence.observed) == ("status 200", "connection refused")
    assert result.evidence.reproduce() == [f"curl -sS -i -m 2 http://127.0.0.1:{port}/"]


def test_a_check_that_could_not_run_says_what_broke(fake_cluster, monkeypatch):
    from labrunner.checks import CheckKind
    from labrunner.errors import ClusterUnreachable

    def unreachable(ctx, p):  # noqa: ANN001, ANN202
        raise ClusterUnreachable("the API server does not answer")

    kinds = {**check_kinds(), "gone": CheckKind("gone", {}, unreachable), "crash": CheckKind("crash", {}, lambda c, p: 1 / 0)}
    monkeypatch.setattr("labrunner.checks.registry.check_kinds", lambda: kinds)
    ctx = CheckContext(cluster=fake_cluster([]), namespace=NS, lab=SimpleNamespace(id="t"), step=None)
    for kind, seen in (("gone", "the API server does not answer"), ("crash", "ZeroDivisionError"),
                       ("nope", "unknown check kind 'nope'")):
        result = run_check(ctx, CheckSpec(id="c", kind=kind, params={}))
        assert result.status is Status.ERROR
        assert result.evidence.expected == "the check runs to a verdict" and seen in result.evidence.observed


def test_junit_text_carries_the_events_and_commands():
    from labrunner.checks import CheckResult, EventNote, Evidence
    from labrunner.junit import failure_text

    result = CheckResult.failed("Service web: no load-balancer address is assigned yet", evidence=Evidence(
        "a load-balancer address", "no load-balancer address is assigned yet",
        events=(EventNote("Warning", "SyncLoadBalancerFailed", "no allocator", "Service/web"),),
        commands=("kubectl -n lab get service web -o wide",)))
    assert failure_text(replace(result, check_id="lb")).splitlines() == [
        "Service web: no load-balancer address is assigned yet",
        "expected: a load-balancer address", "observed: no load-balancer address is assigned yet",
        "event: Warning SyncLoadBalancerFailed Service/web: no allocator",
        "reproduce: kubectl -n lab get service web -o wide"]


def test_an_admission_fail_says_what_the_server_answered(fake_cluster, monkeypatch):
    from labrunner.checks.kinds import admission
    from labrunner.errors import ApiRejected

    rendered = SimpleNamespace(kind="Pod", name="root")
    monkeypatch.setattr(admission, "render", lambda manifests, **kw: [rendered])

    def rejected(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise ApiRejected('pods "root" is forbidden: violates PodSecurity "restricted:latest"', status=403, what="Pod/root")

    manifest = SimpleNamespace(path="wrong/root.yaml")
    monkeypatch.setattr(admission, "apply_object", rejected)
    result = admission.KINDS[0].run(SimpleNamespace(namespace=NS, lab=SimpleNamespace(id="t"), cluster=None),
                                    {"manifest": manifest, "expect": "rejected", "messageContains": "baseline"})
    assert result.status is Status.FAIL
    assert result.evidence.expected == "rejected, with a message containing 'baseline'"
    assert "violates PodSecurity" in result.evidence.observed
    monkeypatch.setattr(admission, "apply_object", lambda *a, **k: None)
    result = admission.KINDS[0].run(SimpleNamespace(namespace=NS, lab=SimpleNamespace(id="t"), cluster=None),
                                    {"manifest": manifest, "expect": "rejected"})
    assert result.status is Status.FAIL
    assert (result.evidence.expected, result.evidence.observed) == (
        "rejected", "Pod root (wrong/root.yaml) accepted (server-side dry run)")


def test_a_field_check_on_a_refused_csr_quotes_the_signer_in_its_details(fake_cluster):
    """user-access step 1's `issued` check (status.certificate present) on a CSR that also asked for server
    auth: the fail's details quote the Failed condition the signer set."""
    refused = {"kind": "CertificateSigningRequest", "metadata": {"name": "jane"},
               "status": {"conditions": [
                   {"type": "Approved", "status": "True", "reason": "KubectlApprove", "message": "approved"},
                   {"type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                    "message": "invalid usage for client certificate: server auth"}]}}
    result = run(fake_cluster([refused]), "field", object="CertificateSigningRequest/jane", path="{.status.certificate}",
                 present=True)
    assert result.status is Status.FAIL
    assert result.details == ('CertificateSigningRequest/jane has condition Failed: SignerValidationFailure: '
                              '"invalid usage for client certificate: server auth"',)
    approved = run(fake_cluster([refused]), "condition", object="CertificateSigningRequest/jane", type="Approved")
    assert approved.ok and approved.details == ()  # a pass is left as it is


def test_an_admission_check_judges_every_probe_of_its_manifest_not_only_the_first(fake_cluster, monkeypatch):
    """A manifest of several probes (a pod per way to break the rule): a policy that rejects the first
    but admits the second is a fail, naming the one admitted."""
    from labrunner.checks.kinds import admission
    from labrunner.errors import ApiRejected

    probes = [SimpleNamespace(kind="Pod", name="docker-io"), SimpleNamespace(kind="Pod", name="bare-name")]
    monkeypatch.setattr(admission, "render", lambda manifests, **kw: probes)

    def only_docker_io(cluster, obj, **kw):  # noqa: ANN001, ANN003, ANN202
        if obj.name == "docker-io":
            raise ApiRejected("denied: images from docker.io", status=403, what="Pod/docker-io")

    monkeypatch.setattr(admission, "apply_object", only_docker_io)
    ctx = SimpleNamespace(namespace=NS, lab=SimpleNamespace(id="t"), cluster=None)
    manifest = SimpleNamespace(path="manifests/try.yaml")
    result = admission.KINDS[0].run(ctx, {"manifest": manifest, "expect": "rejected"})
    assert result.status is Status.FAIL
    assert result.message == "Pod bare-name (manifests/try.yaml) is accepted; a policy should reject it"

    def every_one(cluster, obj, **kw):  # noqa: ANN001, ANN003, ANN202
        raise ApiRejected(f"denied: {obj.name}", status=403, what=f"Pod/{obj.name}")

    monkeypatch.setattr(admission, "apply_object", every_one)
    result = admission.KINDS[0].run(ctx, {"manifest": manifest, "expect": "rejected"})
    assert result.status is Status.PASS and "bare-name" in result.details[0]


def test_an_admission_probe_whose_namespace_is_missing_is_an_error_not_a_rejection(fake_cluster, monkeypatch):
    """A probe for the namespace beside the lab's, on a lab started before that namespace was part of its
    setup: the API server answers 404, which no policy answers; the learner's policy is not to blame."""
    from labrunner.checks.kinds import admission
    from labrunner.errors import NotFound

    monkeypatch.setattr(admission, "render", lambda manifests, **kw: [SimpleNamespace(kind="Pod", name="try")])

    def missing(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise NotFound('namespaces "lab-policy-elsewhere" not found', status=404, what="Pod/try")

    monkeypatch.setattr(admission, "apply_object", missing)
    ctx = SimpleNamespace(namespace=NS, lab=SimpleNamespace(id="policy"), cluster=None)
    for expect in ("accepted", "rejected"):
        result = admission.KINDS[0].run(ctx, {"manifest": SimpleNamespace(path="m.yaml"), "expect": expect})
        assert result.status is Status.ERROR and "lab-policy-elsewhere" in result.message
        assert result.details == ("fix: `labrunner start policy` sets the step up again",)


def test_an_admission_probe_with_a_fresh_name_is_tried_under_a_new_name_each_time(fake_cluster, monkeypatch):
    """A policy that denies the pod named try-privileged (a name the learner reads in the lab's files) and
    admits every other privileged pod: with freshName the probe never carries that exact name."""
    from labrunner.checks.kinds import admission
    from labrunner.cluster.applying import Rendered

    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "try-privileged", "labels": {"a": "b"}}}
    monkeypatch.setattr(admission, "render", lambda manifests, **kw: [Rendered(body, "manifests/try.yaml")])
    tried = []
    monkeypatch.setattr(admission, "apply_object", lambda cluster, obj, **kw: tried.append(obj.name))
    ctx = SimpleNamespace(namespace=NS, lab=SimpleNamespace(id="t"), cluster=None)
    params = {"manifest": SimpleNamespace(path="manifests/try.yaml"), "expect": "accepted", "freshName": True}
    assert admission.KINDS[0].run(ctx, params).status is Status.PASS
    assert admission.KINDS[0].run(ctx, params).status is Status.PASS
    assert len(set(tried)) == 2 and all(t.startswith("try-privileged-") and len(t) == len("try-privileged-") + 6
                                        for t in tried)
    assert body["metadata"]["name"] == "try-privileged"  # the lab's own object stays as read
    assert admission.KINDS[0].run(ctx, {**params, "freshName": False}).status is Status.PASS
    assert tried[-1] == "try-privileged"
