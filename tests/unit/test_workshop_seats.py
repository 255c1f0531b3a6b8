"""A workshop seat as a learner's labrunner sees it: names, the kubeconfig extension, the progress record."""

import json

import pytest
import yaml

from labrunner.errors import UsageError
from labrunner.loader import discover_labs
from labrunner.progress import Progress
from labrunner.workshop.records import read_record, record_body
from labrunner.workshop.seats import SEAT_EXTENSION, Seat, check_workshop_name, seat_names, seat_of


def kubeconfig(tmp_path, extension=None, *, current="c"):
    context = {"cluster": "k", "user": "u"}
    if extension is not None:
        context["extensions"] = [{"name": SEAT_EXTENSION, "extension": extension}]
    path = tmp_path / "seat.kubeconfig"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": current,
                                    "contexts": [{"name": "c", "context": context},
                                                 {"name": "other", "context": {"cluster": "k", "user": "u"}}]}))
    return str(path)


def test_a_seat_kubeconfig_names_the_seat_and_its_namespaces(tmp_path):
    seat = seat_of(kubeconfig(tmp_path, {"workshop": "kube-101", "seat": "seat-07"}))
    assert seat == Seat("kube-101", "seat-07")
    assert seat.namespace("orchestration") == "kube-101-seat-07-orchestration"
    assert seat.user == "labrunner:workshop:kube-101:seat-07"


def test_an_ordinary_kubeconfig_or_another_context_is_no_seat(tmp_path):
    assert seat_of(kubeconfig(tmp_path)) is None
    assert seat_of(kubeconfig(tmp_path, {"workshop": "w", "seat": "seat-01"}), "other") is None
    assert seat_of(str(tmp_path / "absent")) is None


def test_a_broken_seat_extension_is_bad_input_not_an_ordinary_learner(tmp_path):
    with pytest.raises(UsageError, match="without a valid workshop and seat"):
        seat_of(kubeconfig(tmp_path, {"workshop": "Bad Name", "seat": "seat-01"}))


@pytest.mark.parametrize("name", ["", "A", "-x", "x-", "a" * 21, "a_b", "1abc"])
def test_bad_workshop_names_are_refused(name):
    with pytest.raises(UsageError, match="workshop name"):
        check_workshop_name(name)


@pytest.mark.parametrize("count", [0, -1, 10000])
def test_seat_counts_outside_the_range_are_refused(count):
    with pytest.raises(UsageError, match="--seats"):
        seat_names(count)


def test_seat_names_are_padded_to_sort():
    assert seat_names(3) == ["seat-01", "seat-02", "seat-03"]
    assert seat_names(120)[-1] == "seat-120" and seat_names(120)[0] == "seat-001"


def test_the_labs_with_cluster_wide_objects_or_fixed_ports_say_they_cannot_be_shared():
    labs = {lab.id: lab for lab in discover_labs(None).labs}
    for lab_id in ("user-access", "storage", "exposing", "runtime"):
        assert labs[lab_id].not_shareable, lab_id
    assert labs["orchestration"].not_shareable == ""


def test_the_record_keeps_the_time_on_a_step_until_the_step_changes():
    lab = {lab.id: lab for lab in discover_labs(None).labs}["orchestration"]
    seat, progress = Seat("w", "seat-01"), Progress()
    progress.lab(lab.id).step(lab.steps[0].id).hints_shown = 2
    first = record_body(seat, lab, progress, namespace="w-seat-01-orchestration", current=lab.steps[0].id,
                        at="2026-01-01T10:00:00+00:00")
    same = record_body(seat, lab, progress, namespace="x", current=lab.steps[0].id, previous=first,
                       at="2026-01-01T10:05:00+00:00")
    moved = record_body(seat, lab, progress, namespace="x", current=lab.steps[1].id, previous=same,
                        at="2026-01-01T10:09:00+00:00")
    assert same["data"]["currentSince"] == "2026-01-01T10:00:00+00:00"
    assert moved["data"]["currentSince"] == "2026-01-01T10:09:00+00:00"
    record = read_record(first)
    assert record["steps"][0] == {"id": lab.steps[0].id, "status": "not-started", "attempts": 0, "hints": 2,
                                  "solved": False, "passedAt": None}
    assert read_record({"data": {"steps": json.dumps([{"no": "id"}])}}) is None


def test_every_kind_a_seat_may_create_is_counted_by_its_quota():
    """A seat's namespace may hold only so many of each kind it can create: objects without a count fill
    etcd, and Services without one use up the cluster's ClusterIP range for every other seat. Pods also
    get a default and a quota of ephemeral storage, or one pod's writes fill the node's disk and the
    kubelet evicts every seat's pods."""
    from labrunner.workshop.rbac import DEFAULT_LIMIT, DEFAULT_REQUEST, QUOTA, SEAT_RULES

    core = {"pods": "pods", "services": "services", "secrets": "secrets", "configmaps": "configmaps",
            "persistentvolumeclaims": "persistentvolumeclaims", "replicationcontrollers": "replicationcontrollers"}
    uncounted = []
    for group, resources, verbs in SEAT_RULES:
        if "create" not in verbs:
            continue
        for resource in resources:
            if "/" in resource or group == "authorization.k8s.io":  # subresources; reviews are not stored
                continue
            keys = {f"count/{resource}" + (f".{group}" if group else "")} | ({core[resource]} if not group and resource in core else set())
            if not keys & set(QUOTA):
                uncounted.append(f"{resource}.{group}" if group else resource)
    assert uncounted == []
    assert "limits.ephemeral-storage" in QUOTA and "requests.ephemeral-storage" in QUOTA
    assert "ephemeral-storage" in DEFAULT_LIMIT and "ephemeral-storage" in DEFAULT_REQUEST


def _quantity(text: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def test_every_quota_admits_as_many_pods_as_it_counts_at_the_limitranges_defaults():
    """Seen on a seat: the probe namespace's 2Gi of ephemeral-storage limits held 4 pods at the LimitRange's
    500Mi default, though its quota says 12; the lab namespace's 4Gi held 8 of 20. A check that needs one
    more pod then errors "exceeded quota" whatever the answer. Probe pods set cpu and memory themselves."""
    from labrunner.cluster.probepods import probe_pod_body
    from labrunner.workshop.rbac import DEFAULT_LIMIT, DEFAULT_REQUEST, PROBE_QUOTA, QUOTA

    probe = probe_pod_body("lr-probe-1", {}, lab_id="lab")["spec"]["containers"][0]["resources"]
    for quota, pod in ((QUOTA, {}), (PROBE_QUOTA, probe)):
        pods = int(quota["pods"])
        for kind, defaults in (("requests", DEFAULT_REQUEST), ("limits", DEFAULT_LIMIT)):
            for resource, default in defaults.items():
                each = (pod.get(kind) or {}).get(resource, default)
                hard = quota.get(f"{kind}.{resource}")
                assert hard is None or _quantity(hard) >= pods * _quantity(each), (kind, resource, hard, pods, each)
