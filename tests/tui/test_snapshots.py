"""Snapshots of the main screens at 80x24, fed by the fake backend and the
fixed labs in tests/tui/labs, so they change only when the TUI does.

Update after a deliberate change: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from labrunner.tui.app import LabApp
from labrunner.tui.screens.help import HelpScreen
from labrunner.tui.screens.lab_view import LabViewScreen

from .conftest import FakeBackend
from .pilot import shown_status, text_of, wait_for

SIZE = (80, 24)


def make_app(tmp_path, demo_labs, **backend_args) -> LabApp:  # noqa: ANN001
    return LabApp(FakeBackend(**backend_args), demo_labs, progress_path=tmp_path / "progress.json",
                  namespaces={"demo": "lab-demo"})


async def _probed(pilot) -> None:  # noqa: ANN001
    await wait_for(pilot, lambda: "Kubernetes" in text_of(pilot.app, "#cluster-status")
                   or "unreachable" in text_of(pilot.app, "#cluster-status"))
    await pilot.app.workers.wait_for_complete()
    # The features worker's report is a message of its own: on a busy machine it may land after the
    # workers are done, so wait for the list to hold it (or to know there is no cluster to ask).
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "reachable", None) is False
                   or getattr(pilot.app.screen, "features", None) is not None, what="the cluster's features")
    await pilot.pause()


async def _in_lab(pilot) -> None:  # noqa: ANN001
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LabViewScreen))
    await wait_for(pilot, lambda: shown_status(pilot.app) == "fail" or pilot.app.screen.banner.display)
    await wait_for(pilot, lambda: "listing" not in text_of(pilot.app, "#resource-list"))
    await pilot.pause()


def test_lab_list_marks_what_the_cluster_lacks(snap_compare, tmp_path, demo_labs):
    app = make_app(tmp_path, demo_labs, features={"networkpolicy": False})
    assert snap_compare(app, terminal_size=SIZE, run_before=_probed)


def test_lab_view_with_failing_checks_and_the_namespace(snap_compare, tmp_path, demo_labs):
    app = make_app(tmp_path, demo_labs)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await _probed(pilot)
        await _in_lab(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_lab_view_when_the_cluster_is_unreachable(snap_compare, tmp_path, demo_labs):
    app = make_app(tmp_path, demo_labs, reachable=False)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await _probed(pilot)
        await _in_lab(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, tmp_path, demo_labs):
    app = make_app(tmp_path, demo_labs)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await _probed(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
