"""Commands run while the lab namespace is still terminating (a reset a moment ago, or one
interrupted with Ctrl-C): each waits for it or says what to do, never a raw API refusal."""

import pytest

from labrunner.cluster import delete_namespace

from test_live_cli import copy_lab, labrunner, setup_is_there

pytestmark = pytest.mark.live


def test_reset_step_and_solve_while_the_namespace_terminates(cluster, tmp_path):
    labs = copy_lab(tmp_path, "services", "lr-half-done")
    namespace = "lab-lr-half-done"
    try:
        first = labrunner(tmp_path, *labs, "start", "lr-half-done", "clusterip")
        assert first.returncode == 0, first.stderr

        delete_namespace(cluster, namespace, wait=False)  # `reset lr-half-done`, interrupted
        again = labrunner(tmp_path, *labs, "reset", "lr-half-done", "--step", "clusterip")
        assert again.returncode == 0, again.stderr
        assert "forbidden" not in again.stderr and f"namespace {namespace} is still being deleted" in again.stderr
        setup_is_there(cluster, namespace, ["api", "frontend"])

        delete_namespace(cluster, namespace, wait=False)
        solve = labrunner(tmp_path, *labs, "solve", "lr-half-done", "--step", "clusterip")
        assert solve.returncode == 1 and "forbidden" not in solve.stderr, solve.stderr
        assert f"namespace {namespace} is being deleted" in solve.stderr
        assert "`labrunner start lr-half-done clusterip`" in solve.stderr
    finally:
        labrunner(tmp_path, *labs, "reset", "lr-half-done")
