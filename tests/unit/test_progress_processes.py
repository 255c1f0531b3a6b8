"""Progress written by many processes at once: the real CLI and the real TUI, each in a process of
its own, started together on one progress file. Nothing any of them wrote may be lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labrunner.loader import load_labs
from labrunner.progress import load_progress

REPO = Path(__file__).resolve().parents[2]
LABS = REPO / "labs"

# The CLI exactly as the `labrunner` command runs it, held at a barrier once imported so that
# every process reaches the progress file at the same moment; then `cli.main` once per argv
# (argvs separated by "--next").
_CLI_AT_ONCE = """
import sys
from labrunner import cli

runs, argv = [], []
for word in sys.argv[1:] + ["--next"]:
    if word == "--next":
        runs += [argv] if argv else []
        argv = []
    else:
        argv.append(word)
print("ready", flush=True)
sys.stdin.readline()
sys.exit(max(cli.main(argv) for argv in runs))
"""

# The TUI as `labrunner tui LAB` runs it, on a fake cluster (the TUI tests' FakeBackend, at the
# TUI's own boundary), driven by a Pilot: it opens the lab (its set-up and first verdict are
# written), says ready, and at "go" presses `h` for hints, pausing between presses.
_TUI = """
import asyncio, importlib.util, sys
from pathlib import Path

repo, lab_id, presses = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
spec = importlib.util.spec_from_file_location("tui_conftest", repo / "tests" / "tui" / "conftest.py")
fakes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fakes)

from labrunner.loader import load_labs
from labrunner.tui.app import LabApp
from labrunner.tui.screens.lab_view import LabViewScreen


async def until(pilot, condition, what):
    for _ in range(600):
        if condition():
            return
        await pilot.pause(0.05)
    raise SystemExit(f"timed out waiting for {what}")


async def main():
    labs = [lab for lab in load_labs(repo / "labs") if lab.id == lab_id]
    app = LabApp(fakes.FakeBackend(), labs, lab_id=lab_id)  # the progress file of LABRUNNER_STATE_DIR
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LabViewScreen)
                    and app.screen.query_one("#checks").report is not None, "the first verdict")
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for _ in range(presses):
            await pilot.press("h")
            await pilot.pause(0.15)
    print("done", flush=True)


asyncio.run(main())
"""


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "LABRUNNER_STATE_DIR": str(tmp_path / "state"),
            "KUBECONFIG": str(tmp_path / "no-kubeconfig")}


def _start(code: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _together(procs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    """Wait until every process is ready, release them all at once, collect (code, out, err)."""
    try:
        for proc in procs:
            line = proc.stdout.readline()
            assert line == "ready\n", f"{line!r}: {proc.stderr.read()}"
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            results.append((proc.returncode, out, err))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _steps_with_hints() -> list[tuple[str, str, int]]:
    """(lab id, step id, number of hints) of every shipped step with hints."""
    return [(lab.id, step.id, len(step.hints)) for lab in load_labs(LABS) for step in lab.steps if step.hints]


def _clean(results: list[tuple[int, str, str]]) -> None:
    for code, out, err in results:
        assert code == 0, f"exit {code}\n{out}\n{err}"
        assert "Traceback" not in err and "warning" not in err, err


def test_twenty_processes_hinting_twenty_steps_at_once_keep_all_twenty(tmp_path):
    steps = _steps_with_hints()[:20]
    assert len(steps) == 20, "the shipped labs have fewer than 20 steps with hints"
    env = _env(tmp_path)
    procs = [_start(_CLI_AT_ONCE, ["--labs", str(LABS / lab), "hint", lab, "--step", step], env)
             for lab, step, _ in steps]
    results = _together(procs)
    _clean(results)
    assert all("Hint 1/" in out for _, out, _ in results)
    progress = load_progress(tmp_path / "state" / "progress.json")
    assert progress.warnings == []
    assert {(lab, step): progress.lab(lab).step(step).hints_shown for lab, step, _ in steps} == \
        {(lab, step): 1 for lab, step, _ in steps}
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [".progress.json.lock", "progress.json"]


def test_tui_and_cli_writes_interleaved_are_all_kept(tmp_path):
    """The TUI reveals hints on its step while CLI processes reveal every hint of other steps (one
    `hint` after another), one more on the TUI's own step, and answer the quizzes: every count
    comes out whole, and the TUI's own set-up and verdict are there too."""
    labs = load_labs(LABS)
    tui_lab = next(lab for lab in labs if len(lab.steps[0].hints) >= 2)
    tui_step = tui_lab.steps[0]
    env = _env(tmp_path)
    tui = _start(_TUI, [str(REPO), tui_lab.id, str(len(tui_step.hints) - 1)], env)
    cli_steps = [(lab, step, n) for lab, step, n in _steps_with_hints() if (lab, step) != (tui_lab.id, tui_step.id)][:8]
    quizzes = [(lab, step) for lab in labs for step in lab.steps if step.quiz]
    clis = [_start(_CLI_AT_ONCE, [word for _ in range(n) for word in
                                  ("--labs", str(LABS / lab), "hint", lab, "--step", step, "--next")], env)
            for lab, step, n in cli_steps]
    clis.append(_start(_CLI_AT_ONCE, ["--labs", str(LABS / tui_lab.id), "hint", tui_lab.id, "--step", tui_step.id], env))
    clis += [_start(_CLI_AT_ONCE, ["--labs", str(LABS / lab.id), "answer", lab.id, step.id, step.quiz.answer], env)
             for lab, step in quizzes]
    results = _together([tui, *clis])
    _clean(results)
    assert results[0][1].endswith("done\n")

    progress = load_progress(tmp_path / "state" / "progress.json")
    assert progress.warnings == []
    written_by_cli = {(lab, step): progress.lab(lab).step(step).hints_shown for lab, step, _ in cli_steps}
    assert written_by_cli == {(lab, step): n for lab, step, n in cli_steps}
    mine = progress.lab(tui_lab.id)
    assert mine.step(tui_step.id).hints_shown == len(tui_step.hints)  # the TUI's presses and the CLI's one
    assert mine.current_step == tui_step.id  # the TUI's set-up
    assert mine.step(tui_step.id).status == "failed" and mine.step(tui_step.id).attempts >= 1  # its verdict
    for lab, step in quizzes:
        assert progress.lab(lab.id).step(step.id).answer == step.quiz.answer
        assert progress.lab(lab.id).step(step.id).status == "passed"


def test_processes_finding_a_broken_file_at_once_move_it_aside_once(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "progress.json").write_text("{this is not json")
    env = _env(tmp_path)
    procs = [_start(_CLI_AT_ONCE, ["--labs", str(LABS / "services"), "list"], env) for _ in range(6)]
    results = _together(procs)
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err, err
        assert "services" in out
    said = [err for _, _, err in results if "unreadable" in err]
    assert len(said) == 1  # the process that moved it says where it went
    aside = [p for p in state.iterdir() if p.name.startswith("progress.json.broken-")]
    assert len(aside) == 1 and aside[0].read_text() == "{this is not json"
    assert all(aside[0].name in err for err in said)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("odd", ["fifo", "dev-zero", "folder", "file-for-folder"])
def test_an_odd_progress_file_or_folder_never_hangs_or_crashes_a_command(tmp_path, odd):
    state = tmp_path / "state"
    if odd == "file-for-folder":
        state.write_text("not a folder")
    else:
        state.mkdir()
        target = state / "progress.json"
        {"fifo": lambda: os.mkfifo(target), "dev-zero": lambda: target.symlink_to("/dev/zero"),
         "folder": lambda: target.mkdir()}[odd]()
    env = _env(tmp_path)
    cli = [sys.executable, "-m", "labrunner.cli", "--labs", str(LABS / "services")]
    listed = subprocess.run([*cli, "list"], env=env, capture_output=True, text=True, timeout=60)
    hinted = subprocess.run([*cli, "hint", "services", "--step", "clusterip"], env=env, capture_output=True,
                            text=True, timeout=60)
    for proc in (listed, hinted):
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "services" in listed.stdout and "Hint 1/" in hinted.stdout
    lines = [line for line in hinted.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: "), hinted.stderr
    assert str(state) in lines[0]
    if odd == "file-for-folder":
        assert "progress is not saved" in lines[0] and "is a file, not a folder" in lines[0]
        assert state.read_text() == "not a folder"
    else:
        assert "will not overwrite it" in lines[0]
