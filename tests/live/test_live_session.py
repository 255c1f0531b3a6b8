"""LabSession on a live cluster: reaching step N leaves the namespace as a learner who solved the
steps before it would (those steps pass, this one does not yet), and each verb saves its progress."""

import uuid
from pathlib import Path

import pytest

from labrunner import runner
from labrunner.cluster import delete_namespace
from labrunner.loader import find_curriculum, load_curriculum, load_lab
from labrunner.progress import ProgressStore
from labrunner.session import ClusterActions, LabSession

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "labs"


def test_reach_step_n_then_solve_it_and_reset(cluster, tmp_path):
    lab = load_lab(ROOT / "nodeport-basics", load_curriculum(find_curriculum(ROOT)))
    namespace = f"lt-session-{uuid.uuid4().hex[:6]}"
    session = LabSession(lab, store=ProgressStore(tmp_path / "progress.json"), actions=ClusterActions(cluster),
                         namespace=namespace)
    first, second = lab.steps[0], lab.steps[1]
    try:
        session.reach(second)
        assert session.current_step().id == second.id and session.statuses()[0] == "passed"
        earlier = runner.run_until_passed(cluster, lab, first, namespace=namespace, timeout=90)
        assert earlier.passed, [r.message for r in earlier.results]  # the earlier step's solution is there
        before = session.check(second)
        assert not before.passed and before.status.value == "fail", [r.message for r in before.results]
        session.solve(second)
        after = runner.run_until_passed(cluster, lab, second, namespace=namespace, timeout=90)
        assert after.passed, [r.message for r in after.results]
        session.record(after)
        assert session.statuses()[1] == "passed" and session.current_step().id == lab.steps[2].id
        assert session.progress().lab(lab.id).step(second.id).solved
        session.reset(second)
        assert session.statuses()[1] == "not-started"
        assert not session.check(second, record=False).passed  # back to its start: its solution is gone
    finally:
        delete_namespace(cluster, namespace, wait=True)
