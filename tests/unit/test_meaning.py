"""Values compared by meaning, not spelling: quantities and int-or-percent values."""

from decimal import Decimal
from pathlib import Path

import pytest

from labrunner.checks import CheckContext, Status, check_kinds, run_check
from labrunner.checks.meaning import (
    is_quantity_with_unit,
    parse_quantity,
    same_value,
    scaled_value,
    why_percent_differs,
)
from labrunner.model import CheckSpec, Difficulty, Lab, Step

NS = "lab-demo"


def test_quantities_parse_with_the_clients_rules():
    assert parse_quantity("1Gi") == parse_quantity("1024Mi") == 2**30
    assert parse_quantity("1G") == 10**9
    assert parse_quantity("500m") == Decimal("0.5")
    assert parse_quantity(2) == 2
    with pytest.raises(ValueError):
        parse_quantity("1 gigabyte")
    with pytest.raises(ValueError):
        parse_quantity("v2")


@pytest.mark.parametrize("found, wanted", [
    ("1024Mi", "1Gi"), ("1Gi", "1Gi"), ("1073741824", "1Gi"), ("0.5", "500m"), ("2", "2000m"), ("2000m", "2"),
    ("0%", 0), ("0%", "0"), (0, "0%"), ("0%", "0%"), (80, "80"), ("v2", "v2"),
])
def test_same_meaning(found, wanted):
    assert same_value(found, wanted)


@pytest.mark.parametrize("found, wanted", [
    ("1000Mi", "1Gi"), ("1G", "1Gi"), ("25%", 0), ("100%", 3), (1, "0%"), ("010", "10"), ("v2", "v3"),
    (False, 0), ("0%", False), ("0", "0Mi-ish"),
])
def test_different_meaning(found, wanted):
    assert not same_value(found, wanted)


def test_plain_numbers_without_a_unit_keep_their_spelling():
    # An environment variable "010" is not the quantity 10: only a value with a unit
    # on either side makes the comparison a quantity comparison.
    assert not is_quantity_with_unit("10")
    assert is_quantity_with_unit("1Gi") and is_quantity_with_unit("500m") and is_quantity_with_unit("2e3")
    assert not is_quantity_with_unit("v2") and not is_quantity_with_unit(3)


@pytest.mark.parametrize("value, total, round_up, expected", [
    ("25%", 3, False, 0),   # maxUnavailable at 3 replicas: 0.75 rounds down
    ("25%", 3, True, 1),    # maxSurge at 3 replicas: 0.75 rounds up
    ("25%", 4, False, 1),
    ("0%", 100, True, 0),
    ("100%", 3, False, 3),
    (2, 10, False, 2),
])
def test_scaled_value_rounds_like_the_deployment_controller(value, total, round_up, expected):
    assert scaled_value(value, total, round_up=round_up) == expected


def test_scaled_value_refuses_other_text():
    with pytest.raises(ValueError):
        scaled_value("a quarter", 4, round_up=False)


def test_why_a_percent_is_not_zero():
    assert "0 below 4 replicas but 1 or more from 4 on" in why_percent_differs("25%", 0)
    assert "below 10 replicas" in why_percent_differs("10%", 0)
    assert why_percent_differs("0%", 0) == "" and why_percent_differs("25%", 1) == ""


def _run(objects, **params):
    from conftest import FakeCluster

    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
              requires=(), images=(), steps=(step,), path=Path("."))
    assert not check_kinds()["field"].problems(params)
    ctx = CheckContext(cluster=FakeCluster(objects), namespace=NS, lab=lab, step=step)
    return run_check(ctx, CheckSpec(id="c", kind="field", params=params))


def deployment(max_unavailable):
    return {"kind": "Deployment", "metadata": {"name": "api", "namespace": NS},
            "spec": {"replicas": 3, "strategy": {"rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": 1}}}}


def test_field_equals_by_meaning():
    path = "{.spec.strategy.rollingUpdate.maxUnavailable}"
    passed = _run([deployment("0%")], object="Deployment/api", path=path, equals=0)
    assert passed.status is Status.PASS and "(0%)" in passed.message
    failed = _run([deployment("25%")], object="Deployment/api", path=path, equals=0)
    assert failed.status is Status.FAIL
    assert "should be 0, it is 25% (25% is a share of the replicas" in failed.message
    assert _run([deployment(1)], object="Deployment/api", path=path, equals=0).status is Status.FAIL

    claim = {"kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
             "spec": {"resources": {"requests": {"storage": "1024Mi"}}}}
    storage = "{.spec.resources.requests.storage}"
    assert _run([claim], object="PersistentVolumeClaim/data", path=storage, equals="1Gi").ok
    assert _run([claim], object="PersistentVolumeClaim/data", path=storage, equals="1G").status is Status.FAIL
