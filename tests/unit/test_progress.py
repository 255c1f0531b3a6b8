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
