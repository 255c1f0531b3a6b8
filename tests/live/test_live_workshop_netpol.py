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


def _shadowing_agnhost(pod: dict, open_ip: str) -> dict:
    """`pod` (labrunner's outside probe) as a learner re-creates it: the same spec, plus a downward API
    file (a shell script in an annotation, mode 0755) mounted with subPath over /agnhost that reads
    TIMEOUT for every probe and connects to the open server at `open_ip`."""
    script = ('#!/bin/sh\ncase "$1" in\npause) while true; do sleep 3600; done;;\n'
              f'connect) case "$2" in {open_ip}:*) exit 0;; *) echo "TIMEOUT: faked"; exit 1;; esac;;\nesac\n')
    spec = {k: pod["spec"][k] for k in ("terminationGracePeriodSeconds", "automountServiceAccountToken",
                                        "enableServiceLinks", "securityContext", "containers")}
    container = {k: v for k, v in spec["containers"][0].items() if k != "resources"}
    container["volumeMounts"] = [{"name": "x", "mountPath": "/agnhost", "subPath": "agnhost"}]
    spec["containers"] = [container]
    spec["volumes"] = [{"name": "x", "downwardAPI": {"defaultMode": 0o755, "items": [
        {"path": "agnhost", "fieldRef": {"fieldPath": "metadata.annotations['x']"}}]}}]
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec,
            "metadata": {"name": pod["metadata"]["name"], "labels": pod["metadata"]["labels"], "annotations": {"x": script}}}


def test_an_outside_probe_with_a_script_over_agnhost_is_replaced_and_the_wrong_answer_still_fails(room, cluster):
    """Seat-02 has no policy: its deny of outside traffic must fail. Its learner's outside probe, labrunner's
    spec plus a file of its own over /agnhost, made those probes pass before not_own compared volumes."""
    ns = Seat(room["name"], "seat-02").probe_namespace
    b = cfg(room, "seat-02")
    pods = {p["metadata"]["name"]: p for p in cluster.list("Pod", namespace=ns)}
    outside = next(p for name, p in pods.items() if name.startswith("lr-out-"))
    name = outside["metadata"]["name"]
    assert kubectl_as(b, "-n", ns, "delete", "pod", name, "--wait=true").returncode == 0
    forged = _shadowing_agnhost(outside, pods[OPEN_SERVER_NAME]["status"]["podIP"])
    made = kubectl_as(b, "-n", ns, "create", "-f", "-", stdin=json.dumps(forged))
    assert made.returncode == 0, made.stderr
    assert kubectl_as(b, "-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s").returncode == 0
    forged_uid = cluster.get("Pod", name, namespace=ns)["metadata"]["uid"]
    faked = kubectl_as(b, "-n", ns, "exec", name, "--", "/agnhost", "connect", "192.0.2.1:80")
    assert "TIMEOUT: faked" in faked.stdout  # the forgery works, as a learner would see it
    checked = run(room, "seat-02", "check", "netpol", "--step", "deny-all")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "outside role=customer -> service frontend:80: expected deny, should be blocked: it connected" in checked.stdout
    now = cluster.get("Pod", name, namespace=ns)
    assert now["metadata"]["uid"] != forged_uid and not now["spec"].get("volumes")


def test_a_service_split_between_endpoints_and_endpointslices_is_no_witness(room, cluster):
    """Seat-02 has no policy. Its learner makes Service frontend selectorless: v1 Endpoints (the API server's
    service proxy reads them) to a listening frontend pod, unmirrored, and an EndpointSlice (kube-proxy's) to
    an address where nothing answers. The probes then time out while the service proxy connects, which
    passed the deny; the witness now asks the pods of the EndpointSlices, and there are none."""
    ns = Seat(room["name"], "seat-02").namespace("netpol")
    b = cfg(room, "seat-02")
    original = cluster.get("Service", "frontend", namespace=ns)
    pod = next(p for p in cluster.list("Pod", namespace=ns, selector="app=frontend"))
    node = pod["spec"]["nodeName"]
    split = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "frontend"},
         "spec": {"clusterIP": original["spec"]["clusterIP"], "ports": original["spec"]["ports"]}},
        {"apiVersion": "v1", "kind": "Endpoints",
         "metadata": {"name": "frontend", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
         "subsets": [{"addresses": [{"ip": pod["status"]["podIP"], "nodeName": node,
                                     "targetRef": {"kind": "Pod", "name": pod["metadata"]["name"], "namespace": ns}}],
                      "ports": [{"port": 8080, "protocol": "TCP"}]}]},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "frontend-blackhole", "labels": {"kubernetes.io/service-name": "frontend"}},
         "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP", "name": ""}],
         "endpoints": [{"addresses": ["192.0.2.1"], "nodeName": node, "conditions": {"ready": True}}]},
    ]
    try:
        assert kubectl_as(b, "-n", ns, "delete", "service", "frontend", "--wait=true").returncode == 0
        made = kubectl_as(b, "-n", ns, "create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": split}))
        assert made.returncode == 0, made.stderr
        checked = run(room, "seat-02", "check", "netpol", "--step", "deny-all")
        assert checked.returncode != 0, checked.stdout + checked.stderr
        line = next(l for l in checked.stdout.splitlines() if "outside role=customer -> service frontend:80" in l and "[" in l)
        assert "[ok]" not in line and "is not a pod of namespace" in line, line
    finally:
        kubectl_as(b, "-n", ns, "delete", "service", "frontend", "--wait=true")
        kubectl_as(b, "-n", ns, "delete", "endpointslice", "frontend-blackhole")
        kubectl_as(b, "-n", ns, "delete", "endpoints", "frontend")
        back = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "frontend", "labels": original["metadata"].get("labels") or {}},
                "spec": {"selector": original["spec"]["selector"], "ports": original["spec"]["ports"]}}
        kubectl_as(b, "-n", ns, "create", "-f", "-", stdin=json.dumps(back))
