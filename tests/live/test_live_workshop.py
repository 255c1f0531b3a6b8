"""A workshop on a real cluster: three seats made through the CSR API, a lab step run as two seats at
once, the room's data and its exports, the isolation between seats (SubjectAccessReviews over every
verb and resource a seat holds, and real kubectl attempts), the refusals of `workshop create`, and a
delete that leaves nothing behind.

Needs the cluster admin's KUBECONFIG (the testbed's) and kubectl on PATH.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labrunner.cluster import connect
from labrunner.cluster.applying import WORKSHOP_LABEL
from labrunner.errors import UsageError
from labrunner.loader import discover_labs
from labrunner.workshop import identity, rooms
from labrunner.workshop.exports import export
from labrunner.workshop.grid import read_room
from labrunner.workshop.rbac import ALL, SEAT_RULES
from labrunner.workshop.records import RECORD_NAME
from labrunner.workshop.rooms import MissingRights, create_workshop, delete_workshop, existing
from labrunner.workshop.seats import Seat

from conftest import no_cluster

LABS = ("orchestration", "sidecars")


def labrunner(kubeconfig: Path, *args: str, state: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """The learner's labrunner command, as a separate process on the seat's kubeconfig."""
    env = {**os.environ, "LABRUNNER_STATE_DIR": str(state), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([sys.executable, "-m", "labrunner.cli", "--kubeconfig", str(kubeconfig), *args],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def kubectl_as(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture(scope="module")
def room(cluster, tmp_path_factory):
    """A 3-seat workshop for LABS; deleted after, and proven gone."""
    if shutil.which("kubectl") is None:
        no_cluster("kubectl is not on PATH: the isolation tests are real kubectl attempts")
    labs = [lab for lab in discover_labs(None).labs if lab.id in LABS]
    name = f"ws-live-{uuid.uuid4().hex[:5]}"
    out = tmp_path_factory.mktemp("seats")
    made = create_workshop(cluster, name, seats=3, labs=labs, out=out)
    try:
        yield {"name": name, "out": out, "labs": labs, "made": made,
               "state": tmp_path_factory.mktemp("state")}
    finally:
        delete_workshop(cluster, name)
        assert existing(cluster, name) == []
        left = cluster.list("ConfigMap", selector=f"{WORKSHOP_LABEL}={name}")
        assert left == []


def rendered_in_chromium(page: str, path: Path) -> str:
    """The DOM headless Chromium builds from `page` (no network: the page must be self-contained)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        no_cluster("chromium is not installed (the Debian package `chromium`; testbed/up installs it)")
    path.write_text(page, encoding="utf-8")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def seat_cfg(room, seat: str) -> Path:
    return room["out"] / f"{seat}.kubeconfig"


def test_each_seat_is_known_by_its_certificate(room):
    for seat in ("seat-01", "seat-02", "seat-03"):
        done = kubectl_as(seat_cfg(room, seat), "auth", "whoami", "-o", "json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"]["userInfo"]["username"] == f"labrunner:workshop:{room['name']}:{seat}"


def test_two_seats_run_a_step_at_once_and_the_room_sees_both(room, cluster):
    state = room["state"]
    results: dict[str, subprocess.CompletedProcess] = {}

    def start(seat: str) -> None:
        results[seat] = labrunner(seat_cfg(room, seat), "start", "orchestration", state=state / seat)

    threads = [threading.Thread(target=start, args=(seat,)) for seat in ("seat-01", "seat-02")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seat, done in results.items():
        assert done.returncode == 0, (seat, done.stderr)
        assert f"namespace {room['name']}-{seat}-orchestration" in done.stdout
    solved = labrunner(seat_cfg(room, "seat-01"), "solve", "orchestration", state=state / "seat-01")
    assert solved.returncode == 0, solved.stderr
    passed = labrunner(seat_cfg(room, "seat-01"), "check", "orchestration", "--wait", "90", state=state / "seat-01")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    hint = labrunner(seat_cfg(room, "seat-02"), "hint", "orchestration", state=state / "seat-02")
    assert hint.returncode == 0 and f"{room['name']}-seat-02-orchestration" in hint.stdout
    failing = labrunner(seat_cfg(room, "seat-02"), "check", "orchestration", state=state / "seat-02")
    assert failing.returncode == 1, failing.stdout + failing.stderr  # seat-01's solution is not seat-02's

    grid = read_room(cluster, room["name"], room["labs"])
    rows = {row["seat"]: row["labs"]["orchestration"] for row in grid["seats"]}
    assert [s["state"] for s in rows["seat-01"]["steps"]][0] == "passed"
    assert rows["seat-02"]["steps"][0]["state"] == "failing" and rows["seat-02"]["hints"] == 1
    assert rows["seat-02"]["current"] == "self-heal" and rows["seat-02"]["minutesOnStep"] == 0
    assert all(s["state"] == "not-started" for s in rows["seat-03"]["steps"])
    assert [lab["id"] for lab in grid["labs"]] == list(LABS)

    table = list(csv.DictReader(io.StringIO(export(grid, "csv").decode())))
    assert {"seat": "seat-01", "lab": "orchestration", "step": "self-heal", "state": "passed"}.items() <= table[0].items()
    suites = ET.fromstring(export(grid, "junit"))
    seat02 = next(s for s in suites if s.get("name") == "seat-02")
    assert seat02.find("testcase/failure") is not None and int(suites.get("skipped")) > 0
    page = export(grid, "html").decode()
    assert "<script" not in page and "http" not in page.split("<body>")[1] and "seat-03" in page
    dom = rendered_in_chromium(page, room["state"] / "room.html")
    assert dom.count('class="passed"') >= 1 and 'class="failing"' in dom and dom.count("<tr") == 2 + 3

    reset = labrunner(seat_cfg(room, "seat-01"), "reset", "orchestration", state=state / "seat-01")
    assert reset.returncode == 0, reset.stderr
    ns = f"{room['name']}-seat-01-orchestration"
    assert cluster.get("Namespace", ns) is not None  # a seat's reset empties its namespace, keeps it
    assert cluster.list("Deployment", namespace=ns) == []
    assert cluster.list("RoleBinding", namespace=ns, selector=f"{WORKSHOP_LABEL}={room['name']}")


def _review(cluster, user: str, groups: list[str], **attributes) -> bool:
    review = cluster.create({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                             "spec": {"user": user, "groups": groups, "resourceAttributes": attributes}})
    return bool(review["status"].get("allowed"))


def test_a_seat_may_do_nothing_in_another_seats_namespaces(room, cluster):
    """Every verb on every resource a seat holds (rbac.SEAT_RULES) plus namespace and quota writes: allowed
    in seat A's own namespace (so the review can say yes), denied in each of seat B's."""
    a, b = Seat(room["name"], "seat-01"), Seat(room["name"], "seat-02")
    groups = [a.group, "system:authenticated"]
    resources = [(group, resource) for group, names, _ in SEAT_RULES for resource in names]
    asked = 0
    for group, resource in resources:
        base, _, sub = resource.partition("/")
        for verb in ALL + ["escalate", "bind", "impersonate"]:
            for lab in room["labs"]:
                attrs = {"verb": verb, "group": group, "resource": base, "namespace": b.namespace(lab.id)}
                if sub:
                    attrs["subresource"] = sub
                assert not _review(cluster, a.user, groups, **attrs), attrs
                asked += 1
    assert asked > 400
    own = a.namespace("orchestration")
    assert _review(cluster, a.user, groups, verb="create", resource="pods", namespace=own)
    assert _review(cluster, a.user, groups, verb="delete", resource="configmaps", namespace=own, name=RECORD_NAME)
    for verb in ALL:  # the other seat's progress records, by name
        for lab in room["labs"]:
            assert not _review(cluster, a.user, groups, verb=verb, resource="configmaps", namespace=b.namespace(lab.id),
                               name=RECORD_NAME)
    for verb in ("create", "update", "patch", "delete"):  # its own quota, limits and namespace are not its to change
        assert not _review(cluster, a.user, groups, verb=verb, resource="resourcequotas", namespace=own)
        assert not _review(cluster, a.user, groups, verb=verb, resource="limitranges", namespace=own)
        assert not _review(cluster, a.user, groups, verb=verb, resource="namespaces", name=own)
    assert not _review(cluster, a.user, groups, verb="list", resource="namespaces")
    assert not _review(cluster, a.user, groups, verb="get", resource="namespaces", name=b.namespace("orchestration"))
    assert _review(cluster, a.user, groups, verb="get", resource="namespaces", name=own)
    # labrunner's own namespace holds the shared canary and probes: seats read them, never change them
    assert _review(cluster, a.user, groups, verb="list", resource="pods", namespace="labrunner-canary")
    for verb in ("create", "update", "patch", "delete", "deletecollection"):
        assert not _review(cluster, a.user, groups, verb=verb, resource="pods", namespace="labrunner-canary")
    assert not _review(cluster, a.user, groups, verb="create", resource="pods", subresource="exec",
                       namespace="labrunner-canary")


def test_real_kubectl_attempts_of_one_seat_on_another_are_forbidden(room):
    a = seat_cfg(room, "seat-01")
    theirs = f"{room['name']}-seat-02-orchestration"
    mine = f"{room['name']}-seat-01-orchestration"
    attempts = [
        ("get", "pods", "-n", theirs), ("get", "secrets", "-n", theirs), ("get", "configmap", RECORD_NAME, "-n", theirs),
        ("delete", "configmap", RECORD_NAME, "-n", theirs), ("run", "x", "--image=busybox", "-n", theirs),
        ("create", "rolebinding", "in", "--clusterrole=view", f"--user={Seat(room['name'], 'seat-01').user}", "-n", theirs),
        ("create", "rolebinding", "admin", "--clusterrole=admin", "--user=me", "-n", mine),  # more than the seat holds
        ("create", "clusterrolebinding", f"{room['name']}-x", "--clusterrole=view", "--user=me"),
        ("get", "namespaces"), ("get", "namespace", theirs), ("get", "secrets", "-A"),
        ("label", "--overwrite", "namespace", mine, "pod-security.kubernetes.io/enforce=privileged"),
        ("delete", "resourcequota", "labrunner-seat", "-n", mine),
        # root on the node every seat shares: Pod Security baseline refuses it in the seat's own namespace
        ("run", "priv", "--image=registry.k8s.io/e2e-test-images/agnhost:2.56", "-n", mine, "--overrides",
         json.dumps({"spec": {"containers": [{"name": "priv", "image": "registry.k8s.io/e2e-test-images/agnhost:2.56",
                                              "securityContext": {"privileged": True}}]}})),
        ("run", "hostnet", "--image=registry.k8s.io/e2e-test-images/agnhost:2.56", "-n", mine, "--overrides",
         json.dumps({"spec": {"hostNetwork": True}})),
    ]
    for attempt in attempts:
        done = kubectl_as(a, *attempt)
        assert done.returncode != 0 and "forbidden" in done.stderr.lower(), (attempt, done.stdout, done.stderr)
    allowed = kubectl_as(a, "get", "pods", "-n", mine)
    assert allowed.returncode == 0, allowed.stderr  # the same seat can reach its own: the denials mean something


def test_create_refuses_a_second_workshop_of_that_name(room, cluster, tmp_path):
    with pytest.raises(UsageError, match="exists already"):
        create_workshop(cluster, room["name"], seats=1, labs=room["labs"], out=tmp_path)
    assert not list(tmp_path.iterdir())


def test_create_without_admin_rights_says_which_it_lacks(room, tmp_path):
    seat = connect(kubeconfig=str(seat_cfg(room, "seat-03")))
    with pytest.raises(MissingRights, match="create namespaces"):
        create_workshop(seat, "ws-never", seats=1, labs=room["labs"], out=tmp_path)


def test_a_create_that_fails_half_way_leaves_nothing(cluster, tmp_path, monkeypatch):
    labs = [lab for lab in discover_labs(None).labs if lab.id in LABS]
    name = f"ws-half-{uuid.uuid4().hex[:5]}"

    def broken(*args, **kwargs):
        raise identity.WaitTimedOut("the signer did not answer (made to fail by this test)")

    monkeypatch.setattr(identity, "request_certificates", broken)
    with pytest.raises(identity.WaitTimedOut):
        create_workshop(cluster, name, seats=2, labs=labs, out=tmp_path)
    assert not list(tmp_path.glob("*.kubeconfig"))
    left = cluster.list("Namespace", selector=f"{WORKSHOP_LABEL}={name}")
    assert all(ns["metadata"].get("deletionTimestamp") for ns in left)  # gone, or going
    assert [found for found in existing(cluster, name) if not found.startswith("Namespace/")] == []
    delete_workshop(cluster, name)  # waits for the namespaces
    assert existing(cluster, name) == []


def test_a_seat_cannot_forge_another_seats_record_in_the_room(room, cluster, tmp_path):
    """Seat-01 writes, in its own namespace, ConfigMaps labelled and filled as seat-02's record of a lab
    (all passed, and one that would make seat-02 stuck): the room still shows seat-02 as it is."""
    steps = [{"id": step.id, "status": "passed", "attempts": 1, "hints": 0}
             for step in next(lab for lab in room["labs"] if lab.id == "sidecars").steps]
    mine = f"{room['name']}-seat-01-sidecars"
    for name in (RECORD_NAME, "forged"):
        forged = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": name, "namespace": mine,
                               "labels": {WORKSHOP_LABEL: room["name"], "labrunner.dev/seat": "seat-02",
                                          "labrunner.dev/lab": "sidecars", "labrunner.dev/record": "progress"}},
                  "data": {"workshop": room["name"], "seat": "seat-02", "lab": "sidecars", "steps": json.dumps(steps),
                           "current": steps[0]["id"], "currentSince": "2020-01-01T00:00:00+00:00",
                           "updatedAt": "2020-01-01T00:00:00+00:00"}}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(forged))
        done = kubectl_as(seat_cfg(room, "seat-01"), "apply", "-f", str(path))
        assert done.returncode == 0, done.stderr  # its own namespace: the write itself is allowed
    grid = read_room(cluster, room["name"], room["labs"])
    rows = {row["seat"]: row["labs"]["sidecars"] for row in grid["seats"]}
    assert all(s["state"] == "not-started" for s in rows["seat-02"]["steps"]) and rows["seat-02"]["current"] is None
    assert "seat-02" not in grid["stuck"]
    assert all(s["state"] == "not-started" for s in rows["seat-01"]["steps"])  # and it is not seat-01's record either


def test_a_seat_cannot_take_cluster_wide_traffic_or_preempt_other_seats(room):
    """In its own namespace, a seat's Service with externalIPs would make every node's kube-proxy send it
    the traffic for those addresses, from every pod (CVE-2020-8554: e.g. 8.8.8.8:53); a pod of priority
    class system-node-critical would preempt other seats' pods (and the shared canary) off a full node.
    Both are refused, with the reason."""
    a = seat_cfg(room, "seat-01")
    mine = f"{room['name']}-seat-01-orchestration"
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hijack", "namespace": mine},
               "spec": {"selector": {"app": "x"}, "ports": [{"port": 53, "protocol": "UDP"}],
                        "externalIPs": ["8.8.8.8"]}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "critical", "namespace": mine},
           "spec": {"priorityClassName": "system-node-critical",
                    "containers": [{"name": "c", "image": "registry.k8s.io/e2e-test-images/agnhost:2.56", "args": ["pause"]}]}}
    for body in (service, pod):
        done = subprocess.run(["kubectl", "--kubeconfig", str(a), "create", "-f", "-"], input=json.dumps(body),
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode != 0 and "denied" in done.stderr.lower(), (body["kind"], done.stdout, done.stderr)
    del service["spec"]["externalIPs"]
    del pod["spec"]["priorityClassName"]
    for body in (service, pod):  # the same objects without them are the seat's to make: the refusals mean something
        done = subprocess.run(["kubectl", "--kubeconfig", str(a), "create", "--dry-run=server", "-f", "-"],
                              input=json.dumps(body), capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, (body["kind"], done.stderr)
