"""While a lagging truth settles, the lab view says so and does not count a verdict."""

from __future__ import annotations

import pytest

from labrunner.progress import load_progress
from labrunner.tui.app import LabApp
from labrunner.tui.screens.lab_view import LabViewScreen
from labrunner.tui.widgets.check_panel import report_table

from .pilot import shown_messages, shown_status, wait_for

LAG = "kube-proxy may still be programming this Service"


def rendered(table) -> str:  # noqa: ANN001
    import io

    from rich.console import Console

    console = Console(width=80, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text().strip()


@pytest.mark.asyncio
async def test_the_check_panel_says_a_lagging_check_is_settling(fake_backend, demo_labs, tmp_path):
    backend = fake_backend(settling=LAG)
    app = LabApp(backend, demo_labs, progress_path=tmp_path / "progress.json", namespaces={"demo": "tui-demo"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen), what="the lab view")
        await wait_for(pilot, lambda: shown_status(app) == "fail", what="the settling report")
        panel = app.screen.query_one("#checks")
        assert panel.report.settling
        assert f"{LAG}; checking again" in shown_messages(app)
        assert panel.border_subtitle == "… settling, checking again"
        assert rendered(report_table(panel.report)).startswith("…")
        step = load_progress(tmp_path / "progress.json").lab("demo").step("web-service")
        assert step.attempts == 0 and step.status != "failed"  # settling is no verdict
        backend.release.set()
        await wait_for(pilot, lambda: not panel.report.settling, what="the verdict")
        assert "does not exist yet" in shown_messages(app) and "checking again" not in shown_messages(app)
        assert panel.border_subtitle == "✘ not there yet"
        await wait_for(pilot, lambda: load_progress(tmp_path / "progress.json").lab("demo").step("web-service").attempts == 1,
                       what="the verdict to be counted")
