"""The lab view's behaviour, driven with a Pilot over a fake at the TUI's boundary.

What the checks say is the fake's; that the flow works on a real cluster is
test_live_tui.py's job.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labrunner import cli
from labrunner.errors import ApiRejected
from labrunner.progress import load_progress
from labrunner.tui.app import LabApp
from labrunner.tui.screens.help import HelpScreen, keys_of
from labrunner.tui.screens.lab_view import LabViewScreen
from labrunner.tui.widgets.lab_table import LabTable

from .pilot import shown_messages, shown_status, text_of, wait_for


LABS = ["--labs", "tests/tui/labs"]


def make_app(backend, labs, tmp_path, **kwargs) -> LabApp:  # noqa: ANN001
    return LabApp(backend, labs, progress_path=tmp_path / "progress.json", namespaces={"demo": "tui-demo"}, **kwargs)


async def open_demo(pilot) -> None:  # noqa: ANN001
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LabViewScreen), what="the lab view")
    await wait_for(pilot, lambda: shown_status(pilot.app) == "fail", what="the first report")


@pytest.mark.asyncio
async def test_solve_flow_marks_step_done_and_unlocks_next(fake_backend, demo_labs, tmp_path):
    backend = fake_backend()
    app = make_app(backend, demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_demo(pilot)
        assert "Service/web does not exist yet" in shown_messages(app)
        assert not app.screen.check_action("next_step", ())  # locked until the step passes
        await pilot.press("a")  # apply is disabled before the solution was shown
        assert ("solve", "web-service") not in backend.calls
        await pilot.press("s", "y")
        await wait_for(pilot, lambda: app.screen.query_one("#step-text").source.count("## Solution") == 1)
        assert "kind: Service" in app.screen.query_one("#step-text").source
        await pilot.press("a", "y")
        await wait_for(pilot, lambda: shown_status(app) == "pass", what="checks to pass")
        progress = load_progress(tmp_path / "progress.json").lab("demo")
        assert progress.step("web-service").status == "passed"
        assert progress.step("web-service").solved
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen.step.id == "policies")
        await pilot.press("down", "enter")  # a) None, the wrong answer, is highlighted first
        await wait_for(pilot, lambda: "not right" in shown_messages(app))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: "not isolated" in shown_messages(app), what="the explanation")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, LabViewScreen))
        assert str(app.screen.query_one(LabTable).get_cell("demo", "Done")) == "2/2"
    assert load_progress(tmp_path / "progress.json").lab("demo").passed() == 2


@pytest.mark.asyncio
async def test_labs_load_after_the_first_paint_and_open_the_asked_one(fake_backend, tmp_path):
    backend = fake_backend()
    app = LabApp(backend, labs_dir=Path(__file__).parent / "labs", lab_id="demo",
                 progress_path=tmp_path / "progress.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen), what="the asked lab")
        assert app.screen.lab.id == "demo"
        # Leave only once the view is mounted and setting up: closing the app in the middle of its
        # on_mount pulled the widgets from under it (a flaky NoMatches on a loaded machine).
        await wait_for(pilot, lambda: ("start", "web-service") in backend.calls, what="the step set up")


@pytest.mark.asyncio
async def test_an_unknown_lab_is_said_not_crashed_on(fake_backend, tmp_path):
    app = LabApp(fake_backend(), labs_dir=Path(__file__).parent / "labs", lab_id="nope",
                 progress_path=tmp_path / "progress.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.labs_loaded)
        await pilot.pause()
        assert any("No lab 'nope' (labs: demo)" in n.message for n in app._notifications)
        assert str(app.screen.query_one(LabTable).get_cell("demo", "Done")) == "0/2"


@pytest.mark.asyncio
async def test_hints_one_at_a_time_are_counted(fake_backend, demo_labs, tmp_path):
    app = make_app(fake_backend(), demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_demo(pilot)
        await pilot.press("h")
        source = lambda: app.screen.query_one("#step-text").source  # noqa: E731
        await wait_for(pilot, lambda: "Hint 1 of 2" in source())
        assert "Hint 2 of 2" not in source()
        await pilot.press("h", "h")
        await wait_for(pilot, lambda: "Hint 2 of 2" in source())
        assert "expose deployment web" in source() and "tui-demo" in source()
    assert load_progress(tmp_path / "progress.json").lab("demo").step("web-service").hints_shown == 2


@pytest.mark.asyncio
async def test_one_key_copies_a_code_block_with_the_namespace_filled_in(fake_backend, demo_labs, tmp_path):
    app = make_app(fake_backend(), demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_demo(pilot)
        await pilot.press("1")
        assert app.clipboard.strip() == "kubectl -n tui-demo get pods -l app=web"
        await pilot.press("2")
        assert app.clipboard.strip() == "kubectl -n tui-demo get pods -l app=web"  # no block 2: unchanged


@pytest.mark.asyncio
async def test_unreachable_cluster_shows_a_banner_and_retry_recovers(fake_backend, demo_labs, tmp_path):
    backend = fake_backend(reachable=False)
    app = make_app(backend, demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "unreachable" in text_of(app, "#cluster-status"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen))
        banner = app.screen.query_one("#banner")
        await wait_for(pilot, lambda: banner.display, what="the banner")
        assert "connection refused" in str(banner.render())
        backend.reachable = True
        await pilot.press("r")
        await wait_for(pilot, lambda: shown_status(app) == "fail", what="checks after the retry")
        assert not banner.display
        assert backend.calls.count(("start", "web-service")) == 2


@pytest.mark.asyncio
async def test_a_rejected_manifest_shows_the_servers_message(fake_backend, demo_labs, tmp_path):
    message = 'admission webhook "deny.example" denied the request: no NodePorts here'
    app = make_app(fake_backend(fail_solve=ApiRejected(message, status=400, what="Service/web")), demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_demo(pilot)
        await pilot.press("s", "y", "a", "y")
        banner = app.screen.query_one("#banner")
        await wait_for(pilot, lambda: banner.display, what="the banner")
        assert message in str(banner.render())
        assert "applying the solution" in str(banner.render())
        await pilot.press("escape")  # dismisses the banner, keeps the lab open
        assert not banner.display and isinstance(app.screen, LabViewScreen)


@pytest.mark.asyncio
async def test_progress_is_the_clis(fake_backend, demo_labs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path))  # the CLI's default progress file is the app's
    assert cli.main(LABS + ["hint", "demo"]) == 0
    app = make_app(fake_backend(), demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_demo(pilot)
        assert "Hint 1 of 2" in app.screen.query_one("#step-text").source  # revealed by the CLI
        await pilot.press("s", "y", "a", "y")
        await wait_for(pilot, lambda: shown_status(app) == "pass")
    capsys.readouterr()
    assert cli.main(LABS + ["list"]) == 0
    assert "1/2 steps" in capsys.readouterr().out


@pytest.mark.asyncio
async def test_reset_step_asks_first_and_forgets_the_step(fake_backend, demo_labs, tmp_path):
    backend = fake_backend()
    app = make_app(backend, demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_demo(pilot)
        await pilot.press("h", "x", "n")  # said no
        assert ("reset-step", "web-service") not in backend.calls
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: ("reset-step", "web-service") in backend.calls)
        await wait_for(pilot, lambda: backend.calls.count(("start", "web-service")) == 2, what="the step set up again")
    assert load_progress(tmp_path / "progress.json").lab("demo").step("web-service").hints_shown == 0


@pytest.mark.asyncio
async def test_help_lists_every_key(fake_backend, demo_labs, tmp_path):
    app = make_app(fake_backend(), demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one("#help-keys").content
        rendered = "".join(segment.text for segment in app.console.render(table, app.console.options.update_width(70)))
        for _, description in keys_of(LabViewScreen):
            assert description in rendered
        assert "1-9" in rendered and "Copy code block" in rendered


@pytest.mark.asyncio
async def test_a_broken_lab_is_listed_as_broken_and_the_others_still_open(fake_backend, tmp_path):
    import shutil

    labs = tmp_path / "labs"
    shutil.copytree(Path(__file__).parent / "labs", labs)
    (labs / "zero").mkdir()
    (labs / "zero" / "lab.yaml").symlink_to("/dev/zero")  # read whole, it would never end
    shutil.copytree(labs / "demo", labs / "labels")
    (labs / "labels" / "lab.yaml").write_text((labs / "demo" / "lab.yaml").read_text().replace("id: demo", "id: labels"))
    (labs / "labels" / "manifests" / "web.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  labels: {version: 2}\n")
    app = LabApp(fake_backend(), labs_dir=labs, lab_id="zero", progress_path=tmp_path / "progress.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.labs_loaded, what="the labs")
        await pilot.pause()
        assert [lab.id for lab in app.labs] == ["demo"]
        assert sorted(b.name for b in app.broken) == ["labels", "zero"]
        messages = [n.message for n in app._notifications]
        assert any("2 broken lab(s): labels, zero" in m for m in messages), messages
        assert any("The files of lab zero are broken" in m and "leads outside the lab folder" in m for m in messages)
        table = app.screen.query_one(LabTable)
        assert table.row_count == 3
        assert "broken" in str(table.get_cell("broken/labels", "Cluster"))
        table.move_cursor(row=1)
        await pilot.pause()
        assert "metadata.labels.version: expected text, got 2" in text_of(app, "#lab-details")
        await pilot.press("enter")  # a broken lab says why instead of opening
        await pilot.pause()
        assert not isinstance(app.screen, LabViewScreen)
        table.move_cursor(row=0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen), what="the good lab")
        assert app.screen.lab.id == "demo"
        await wait_for(pilot, lambda: app.screen.query("#checks"), what="the lab view")


@pytest.mark.asyncio
async def test_an_unwritable_state_folder_is_said_once_and_the_lab_still_works(fake_backend, demo_labs, tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")  # where the progress folder should be
    app = LabApp(fake_backend(), demo_labs, progress_path=blocker / "progress.json", namespaces={"demo": "tui-demo"})
    async with app.run_test(size=(80, 24)) as pilot:
        await open_demo(pilot)
        await pilot.press("h")
        await wait_for(pilot, lambda: "Hint 1 of 2" in app.screen.query_one("#step-text").source)
        await pilot.press("s", "y", "a", "y")
        await wait_for(pilot, lambda: shown_status(app) == "pass", what="checks to pass")
        assert app.screen.check_action("next_step", ())  # the pass, kept in memory, unlocks the next step
        said = [n.message for n in app._notifications if "progress is not saved" in n.message]
        assert len(said) == 1 and f"{blocker} is a file, not a folder" in said[0]
    assert blocker.read_text() == "not a folder"


@pytest.mark.asyncio
async def test_a_broken_progress_file_is_said_once(fake_backend, demo_labs, tmp_path):
    path = tmp_path / "progress.json"
    path.write_text('{"labs": {"demo": {"steps": {"web-service": {"hints_shown": "two"}}}}}')
    app = make_app(fake_backend(), demo_labs, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_demo(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, LabViewScreen))
        said = [n.message for n in app._notifications if "wrong type" in n.message]
        assert len(said) == 1 and 'labs.demo.steps.web-service.hints_shown was "two"' in said[0]


@pytest.mark.asyncio
@pytest.mark.parametrize("done, expected", [(0, 0), (1, 1)])
async def test_the_lab_list_opens_on_the_lab_to_take_next(fake_backend, tmp_path, done, expected):
    """The shipped labs in their learning order: a new learner's cursor is on the first lab; once
    the first lab is done, on the second."""
    from labrunner.loader import load_labs
    from labrunner.progress import Progress, save_progress

    labs = load_labs(Path(__file__).resolve().parents[2] / "labs")
    progress = Progress()
    for lab in labs[:done]:
        for step in lab.steps:
            progress.lab(lab.id).step(step.id).status = "passed"
    save_progress(progress, tmp_path / "progress.json")
    app = LabApp(fake_backend(), labs, progress_path=tmp_path / "progress.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(LabTable).row_count == len(labs), what="the lab list")
        assert app.screen.query_one(LabTable).cursor_row == expected
        assert app.screen.selected_lab() is labs[expected]
