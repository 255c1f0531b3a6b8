import json
import os

from labrunner.progress import Progress, load_progress, save_progress, state_dir


def test_state_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "x"))
    assert state_dir() == tmp_path / "x"


def test_round_trip(tmp_path):
    progress = Progress()
    step = progress.lab("services").step("clusterip")
    step.status, step.hints_shown, step.answer = "passed", 2, "b"
    path = save_progress(progress, tmp_path / "p.json")
    again = load_progress(path)
    assert again.lab("services").step("clusterip").hints_shown == 2
    assert again.answers("services") == {"clusterip": "b"}
    assert json.loads(path.read_text())["version"] == 1


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    save_progress(Progress(), path)
    before = path.read_text()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    progress = Progress()
    progress.lab("x").step("y").status = "passed"
    try:
        save_progress(progress, path)
    except OSError:
        pass
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_a_broken_file_is_moved_aside(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    progress = load_progress(path)
    assert progress.labs == {} and "unreadable" in progress.warning
    assert not path.exists() and any(p.name.startswith("p.json.broken") for p in tmp_path.iterdir())


def test_default_location_uses_the_state_dir(tmp_path):
    progress = Progress()
    saved = save_progress(progress)
    assert saved.parent == state_dir() and saved.exists()


def _reveal_hints(path, step_id, times):  # runs in a child process
    from labrunner.progress import update_progress

    for _ in range(times):
        update_progress(lambda p: setattr(p.lab("lab").step(step_id), "hints_shown",
                                          p.lab("lab").step(step_id).hints_shown + 1), path)


def test_concurrent_processes_never_lose_each_others_changes(tmp_path):
    import multiprocessing

    from labrunner.progress import update_progress

    path = tmp_path / "p.json"
    update_progress(lambda p: p.lab("lab"), path)
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_reveal_hints, args=(path, f"step-{i}", 20)) for i in range(3)]
    for child in children:
        child.start()
    _reveal_hints(path, "same", 20)
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    steps = load_progress(path).lab("lab").steps
    assert {sid: s.hints_shown for sid, s in steps.items()} == {"step-0": 20, "step-1": 20, "step-2": 20, "same": 20}


def test_an_update_reads_the_file_anew_rather_than_a_copy_read_earlier(tmp_path):
    from labrunner.progress import update_progress

    path = tmp_path / "p.json"
    stale = load_progress(path)  # a long `check --wait` read this at its start
    update_progress(lambda p: setattr(p.lab("lab").step("b"), "hints_shown", 2), path)  # `hint` meanwhile
    stale.lab("lab").step("a").status = "failed"
    update_progress(lambda p: setattr(p.lab("lab").step("a"), "status", "failed"), path)
    again = load_progress(path).lab("lab")
    assert again.step("b").hints_shown == 2 and again.step("a").status == "failed"
