"""Commands run while the lab namespace is still terminating (a reset a moment ago, or one
interrupted with Ctrl-C) or already gone: each waits for it or says what to do, never a raw API
refusal, never a solution applied into a namespace without the step's setup."""

import pytest

from labrunner import exitcodes
from labrunner.cluster import delete_namespace

from test_live_cli import copy_lab, labrunner, setup_is_there

pytestmark = pytest.mark.live

HOLD = "labrunner.dev/test-hold"  # a finalizer nobody removes but this test: the namespace stays terminating


def hold_namespace(cluster, namespace: str) -> None:
    cluster.create({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "hold", "namespace": namespace, "finalizers": [HOLD]}}, namespace=namespace)


def release_namespace(cluster, namespace: str) -> None:
    if cluster.get("ConfigMap", "hold", namespace=namespace) is not None:
        cluster.resource("ConfigMap", "v1").patch(name="hold", namespace=namespace, body={"metadata": {"finalizers": None}},
                                                  content_type="application/merge-patch+json")


def test_reset_step_and_solve_while_the_namespace_terminates_or_is_gone(cluster, tmp_path):
    labs = copy_lab(tmp_path, "services", "lr-half-done")
    namespace = "lab-lr-half-done"
    try:
        first = labrunner(tmp_path, *labs, "start", "lr-half-done", "clusterip")
        assert first.returncode == 0, first.stderr

        delete_namespace(cluster, namespace, wait=False)  # `reset lr-half-done`, interrupted
        again = labrunner(tmp_path, *labs, "reset", "lr-half-done", "--step", "clusterip")
        assert again.returncode == 0, again.stderr
        assert "forbidden" not in again.stderr
        setup_is_there(cluster, namespace, ["api", "frontend"])

        hold_namespace(cluster, namespace)
        delete_namespace(cluster, namespace, wait=False)
        solve = labrunner(tmp_path, *labs, "solve", "lr-half-done", "--step", "clusterip")
        assert solve.returncode == exitcodes.BAD_INPUT and "forbidden" not in solve.stderr, solve.stderr
        assert f"namespace {namespace} is being deleted" in solve.stderr
        assert "`labrunner start lr-half-done clusterip`" in solve.stderr
        release_namespace(cluster, namespace)

        delete_namespace(cluster, namespace, wait=True)
        solve = labrunner(tmp_path, *labs, "solve", "lr-half-done", "--step", "clusterip")
        assert solve.returncode == exitcodes.BAD_INPUT and f"namespace {namespace} does not exist" in solve.stderr, solve.stderr
        assert cluster.get("Namespace", namespace) is None
    finally:
        release_namespace(cluster, namespace)
        labrunner(tmp_path, *labs, "reset", "lr-half-done")
