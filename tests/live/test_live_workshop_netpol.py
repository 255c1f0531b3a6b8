"""The netpol lab in a workshop: two seats, each probing from its own probe namespace
(<workshop>-<seat>-probe). A netpol step fails as seat A before its solution and passes after, while
seat B's verdict stays its own; what a seat could do in its probe namespace to sway a check is refused
or caught; the workshop is deleted, leaving nothing.

Needs the cluster admin's KUBECONFIG (the testbed's) and kubectl on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from labrunner.cluster.applying import WORKSHOP_LABEL
from labrunner.cluster.probepods import OPEN_SERVER_NAME
from labrunner.loader import discover_labs
from labrunner.workshop.rbac import ALL, PROBE_RULES, SEAT_RULES
from labrunner.workshop.rooms import create_workshop, delete_workshop, existing
from labrunner.workshop.seats import Seat

from conftest import no_cluster


def labrunner(kubeconfig: Path, *args: str, state: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """The learner's labrunner command, as a separate process on the seat's kubeconfig."""
    env = {**os.environ, "LABRUNNER_STATE_DIR": str(state), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([sys.executable, "-m", "labrunner.cli", "--kubeconfig", str(kubeconfig), *args],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def kubectl_as(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True,
                          input=stdin, timeout=60, check=False)


@pytest.fixture(scope="module")
def room(cluster, tmp_path_factory):
    """A 2-seat workshop with the netpol lab; deleted after, and proven gone."""
    if shutil.which("kubectl") is None:
        no_cluster("kubectl is not on PATH: the isolation tests are real kubectl attempts")
    labs = [lab for lab in discover_labs(None).labs if lab.id == "netpol"]
    name = f"ns-live-{uuid.uuid4().hex[:5]}"
    out = tmp_path_factory.mktemp("seats")
    create_workshop(cluster, name, seats=2, labs=labs, out=out)
    try:
        yield {"name": name, "out": out, "state": tmp_path_factory.mktemp("state")}
    finally:
        delete_workshop(cluster, name)
        assert existing(cluster, name) == []
        assert cluster.list("ConfigMap", selector=f"{WORKSHOP_LABEL}={name}") == []
        assert cluster.list("RoleBinding", selector=f"{WORKSHOP_LABEL}={name}") == []


def cfg(room, seat: str) -> Path:
    return room["out"] / f"{seat}.kubeconfig"


def run(room, seat: str, *args: str) -> subprocess.CompletedProcess:
    return labrunner(cfg(room, seat), *args, state=room["state"] / seat)


def test_a_netpol_step_fails_then_passes_as_one_seat_and_the_other_seat_keeps_its_own_verdict(room, cluster):
    for seat in ("seat-01", "seat-02"):
        started = run(room, seat, "start", "--catch-up", "netpol", "deny-all")
        assert started.returncode == 0, (seat, started.stdout + started.stderr)
        assert f"namespace {room['name']}-{seat}-netpol" in started.stdout

    before = run(room, "seat-01", "check", "netpol")
    assert before.returncode == 1, before.stdout + before.stderr  # a fail, not an error (exit 3)
    assert "outside role=customer -> service frontend:80: expected deny, should be blocked: it connected" in before.stdout

    solved = run(room, "seat-01", "solve", "netpol")
    assert solved.returncode == 0, solved.stderr
    after = run(room, "seat-01", "check", "netpol", "--wait", "60")
    assert after.returncode == 0, after.stdout + after.stderr
    # The deny was read as labrunner reads it for a single learner: blocked, the target listening (the
    # API server's word, on a seat), and the source free to send (the seat's own open server).
    assert "outside role=customer -> pod db-" in after.stdout
    assert "yet the node itself connects; the source reaches labrunner's open server" in after.stdout

    other = run(room, "seat-02", "check", "netpol")
    assert other.returncode == 1, other.stdout + other.stderr  # seat-01's policy is not seat-02's
    assert "should be blocked: it connected" in other.stdout

    # Each seat probed from its own probe namespace, with pods labrunner made.
    for seat in ("seat-01", "seat-02"):
        ns = Seat(room["name"], seat).probe_namespace
        pods = {p["metadata"]["name"]: p for p in cluster.list("Pod", namespace=ns)}
        assert OPEN_SERVER_NAME in pods and any(name.startswith("lr-out-") for name in pods), (seat, sorted(pods))
        assert pods[OPEN_SERVER_NAME]["spec"]["securityContext"]["runAsUser"] == 65534
    assert cluster.list("Pod", namespace="labrunner-canary", selector=f"labrunner.dev/outside-for={room['name']}-seat-01-netpol") == []


def test_a_seat_cannot_use_another_seats_probe_namespace_nor_sway_its_own(room):
    mine, theirs = Seat(room["name"], "seat-01").probe_namespace, Seat(room["name"], "seat-02").probe_namespace
    a = cfg(room, "seat-01")
    for verb, resource in (("create", "pods"), ("list", "pods"), ("create", "pods/exec"), ("get", "pods/proxy")):
        done = kubectl_as(a, "auth", "can-i", verb, resource, "-n", theirs)
        assert done.stdout.strip() == "no", (verb, resource, theirs)
    # In its own: pods only, never a NetworkPolicy (one could block a control and let a wrong answer pass),
    # never a pod patch (an image swapped in place), never a privileged or host-network pod.
    for verb, resource in (("create", "networkpolicies"), ("patch", "pods"), ("update", "pods"),
                           ("create", "services"), ("patch", "pods/ephemeralcontainers")):
        done = kubectl_as(a, "auth", "can-i", verb, resource, "-n", mine)
        assert done.stdout.strip() == "no", (verb, resource, mine)
    assert kubectl_as(a, "auth", "can-i", "create", "pods", "-n", mine).stdout.strip() == "yes"
    host = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sneaky"},
            "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "registry.k8s.io/e2e-test-images/agnhost:2.56",
                                                          "args": ["pause"]}]}}
    refused = kubectl_as(a, "-n", mine, "create", "-f", "-", stdin=json.dumps(host))
    assert refused.returncode != 0 and "hostNetwork" in refused.stderr, refused.stderr


def test_subject_access_reviews_deny_every_verb_of_a_seat_in_another_seats_probe_namespace(room, cluster):
    a, b = Seat(room["name"], "seat-01"), Seat(room["name"], "seat-02")
    groups = [a.group, "system:authenticated"]
    resources = {(group, resource) for rules in (SEAT_RULES, PROBE_RULES) for group, names, _ in rules for resource in names}
    asked = 0
    for group, resource in sorted(resources):
        base, _, sub = resource.partition("/")
        for verb in ALL + ["escalate", "bind", "impersonate"]:
            attrs = {"verb": verb, "group": group, "resource": base, "namespace": b.probe_namespace,
                     **({"subresource": sub} if sub else {})}
            review = cluster.create({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                     "spec": {"user": a.user, "groups": groups, "resourceAttributes": attrs}})
            assert not review["status"].get("allowed"), attrs
            asked += 1
    assert asked > 200


def test_a_forged_probe_pod_is_replaced_before_it_is_trusted(room, cluster):
    """A learner's pod under the name of labrunner's open server (another image or user) is removed and
    labrunner's started before any probe runs from it; the check's verdict is then the real one."""
    ns = Seat(room["name"], "seat-01").probe_namespace
    a = cfg(room, "seat-01")
    assert kubectl_as(a, "-n", ns, "delete", "pod", OPEN_SERVER_NAME, "--wait=true").returncode == 0
    forged = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": OPEN_SERVER_NAME, "labels": {"labrunner.dev/open-server": "true",
                                                                 "app.kubernetes.io/managed-by": "labrunner",
                                                                 "labrunner.dev/lab": "labrunner"}},
              "spec": {"containers": [{"name": "probe", "image": "registry.k8s.io/e2e-test-images/agnhost:2.56",
                                       "args": ["netexec", "--http-port=8080"]}]}}
    made = kubectl_as(a, "-n", ns, "create", "-f", "-", stdin=json.dumps(forged))
    assert made.returncode == 0, made.stderr
    forged_uid = cluster.get("Pod", OPEN_SERVER_NAME, namespace=ns)["metadata"]["uid"]
    checked = run(room, "seat-01", "check", "netpol", "--step", "deny-all", "--wait", "60")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    now = cluster.get("Pod", OPEN_SERVER_NAME, namespace=ns)
    assert now["metadata"]["uid"] != forged_uid and now["spec"]["containers"][0]["args"] == ["porter"]
