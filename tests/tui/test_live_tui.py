"""The learner's whole loop in the TUI on the live cluster: open a lab, read
step 1, its checks fail, apply the solution, they pass, the step is done, and
the progress is still there after the app restarts."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from labrunner.cluster import delete_namespace
from labrunner.loader import load_labs
from labrunner.progress import load_progress
from labrunner.tui.app import LabApp
from labrunner.tui.backend import ClusterBackend
from labrunner.tui.screens.lab_view import LabViewScreen
from labrunner.tui.widgets.lab_table import LabTable

from .pilot import shown_messages, shown_status, text_of, wait_for

pytestmark = [pytest.mark.live, pytest.mark.asyncio]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def namespace(cluster):
    name = f"lt-tui-{uuid.uuid4().hex[:6]}"  # never the learner's own lab-services
    yield name
    delete_namespace(cluster, name)


async def test_open_fail_solve_pass_persist(cluster, namespace, tmp_path):
    labs = [lab for lab in load_labs(REPO / "labs") if lab.id == "services"]
    lab = labs[0]
    first = lab.steps[0]
    progress_path = tmp_path / "progress.json"
    app = LabApp(ClusterBackend(cluster), labs, progress_path=progress_path, namespaces={"services": namespace})
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "Kubernetes v" in text_of(app, "#cluster-status"), timeout=30)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen))
        assert app.screen.step.id == first.id
        assert f"# {first.title}" in app.screen.query_one("#step-text").source  # step 1 is there to read
        await wait_for(pilot, lambda: shown_status(app) != "", timeout=180, what="the first report")
        assert shown_status(app) == "fail", shown_messages(app)  # fail, not error: the learner is not there yet
        await wait_for(pilot, lambda: "Running" in text_of(app, "#resource-list"), timeout=60,
                       what="the web pods in the resource panel")
        await pilot.press("s", "y")
        await pilot.press("a", "y")
        await wait_for(pilot, lambda: app.screen.query_one("#checks").has_class("-passed"), timeout=180,
                       what="the checks to pass")
        assert "ClusterIP" in text_of(app, "#resource-list")  # the Service the solution made, live
        assert load_progress(progress_path).lab("services").step(first.id).status == "passed"
        assert app.screen.check_action("next_step", ()) is True
    # A new app on the same progress file: the step is still done.
    app = LabApp(ClusterBackend(cluster), labs, progress_path=progress_path, namespaces={"services": namespace})
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(LabTable)
        assert str(table.get_cell("services", "Done")) == f"1/{len(lab.steps)}"
        app.stop_watches()


async def test_e_shows_the_evidence_of_a_failing_check_on_the_live_cluster(cluster, namespace, tmp_path):
    """Step 1 of the services lab, unsolved: `e` shows what its first failing check expected and saw, and the
    command to look for yourself, from the engine's own evidence."""
    from labrunner.tui.screens.evidence import EvidenceScreen

    labs = [lab for lab in load_labs(REPO / "labs") if lab.id == "services"]
    app = LabApp(ClusterBackend(cluster), labs, progress_path=tmp_path / "progress.json",
                 namespaces={"services": namespace})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "Kubernetes v" in text_of(app, "#cluster-status"), timeout=30)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen))
        await wait_for(pilot, lambda: shown_status(app) == "fail", timeout=180, what="the first report")
        report = app.screen.query_one("#checks").report
        failing = next(r for r in report.results if r.status.value == "fail")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvidenceScreen), what="the evidence")
        shown = text_of(app, "#evidence-text")
        assert failing.message in shown
        assert f"Expected  {failing.evidence.expected}" in shown and f"Observed  {failing.evidence.observed}" in shown
        for command in failing.evidence.reproduce():
            assert command in shown
        await pilot.press("escape")
        app.stop_watches()
