"""The events and whoami check kinds against a fake cluster."""

import base64
from pathlib import Path

from labrunner.checks import CheckContext, Status, check_kinds, run_check
from labrunner.model import CheckSpec, Difficulty, Lab, Step

NS = "lab-demo"


def make_lab() -> Lab:
    step = Step(id="s", title="S", text="", text_path=None)
    return Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
               requires=(), images=(), steps=(step,), path=Path("."))


def run(cluster, kind: str, **params):
    lab = make_lab()
    assert not check_kinds()[kind].problems(params), check_kinds()[kind].problems(params)
    return run_check(CheckContext(cluster=cluster, namespace=NS, lab=lab, step=lab.steps[0]),
                     CheckSpec(id="c", kind=kind, params=params))


def rs(name: str, uid: str) -> dict:
    return {"kind": "ReplicaSet", "metadata": {"name": name, "namespace": NS, "uid": uid}}


def event(n: int, reason: str, name: str, uid: str, kind: str = "ReplicaSet") -> dict:
    return {"kind": "Event", "metadata": {"name": f"e{n}", "namespace": NS}, "reason": reason,
            "message": f"Created pod: {name}-{n}", "involvedObject": {"kind": kind, "name": name, "uid": uid}}


def test_events_counts_only_current_objects(fake_cluster):
    cluster = fake_cluster([rs("api-1", "new"), event(1, "SuccessfulCreate", "api-1", "old"),
                            event(2, "SuccessfulCreate", "api-1", "new"), event(3, "SuccessfulCreate", "api-1", "new"),
                            event(4, "SuccessfulDelete", "api-1", "new"), event(5, "SuccessfulCreate", "web-1", "w")])
    created = dict(reason="SuccessfulCreate", involvedKind="ReplicaSet", involvedNameMatches="^api-")
    assert run(cluster, "events", atLeast=2, **created).ok
    result = run(cluster, "events", atLeast=3, explain="delete a pod", **created)
    assert result.status is Status.FAIL
    assert result.message == "delete a pod (expected at least 3 SuccessfulCreate events for ReplicaSet /^api-/, found 2)"
    assert run(cluster, "events", atLeast=3, current=False, **created).ok
    deleted = run(cluster, "events", reason="SuccessfulDelete", involvedKind="ReplicaSet", involvedName="api-1", atMost=0)
    assert deleted.status is Status.FAIL and "at most 0" in deleted.message


def test_events_parameters():
    kind = check_kinds()["events"]
    assert kind.problems({"reason": "X", "involvedKind": "Pod"})  # neither atLeast nor atMost
    assert kind.problems({"reason": "X", "involvedKind": "Pod", "atMost": 0, "involvedName": "a",
                          "involvedNameMatches": "a"})
    assert kind.problems({"reason": "X", "involvedKind": "Pod", "atMost": 0, "messageMatches": "("})
    assert not kind.problems({"reason": "X", "involvedKind": "Pod", "atLeast": 1})


def test_whoami_fails_before_it_talks_to_the_server(fake_cluster):
    def secret(data):
        return {"kind": "Secret", "metadata": {"name": "cert", "namespace": NS}, "type": "kubernetes.io/tls",
                "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}

    missing = run(fake_cluster([]), "whoami", secret="cert", user="jane")
    assert missing.status is Status.FAIL and "create secret tls cert" in missing.message
    half = run(fake_cluster([secret({"tls.crt": b"x"})]), "whoami", secret="cert", user="jane")
    assert half.status is Status.FAIL and "needs both tls.crt and tls.key" in half.message
    request = secret({"tls.crt": b"-----BEGIN CERTIFICATE REQUEST-----\n", "tls.key": b"k"})
    csr = run(fake_cluster([request]), "whoami", secret="cert", user="jane")
    assert csr.status is Status.FAIL and "certificate *request*" in csr.message
