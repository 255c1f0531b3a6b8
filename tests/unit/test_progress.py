import errno
import json
import os
from pathlib import Path

import pytest

from labrunner.progress import Progress, load_progress, save_progress, state_dir
from labrunner.statefile import NotWritable

REPO = Path(__file__).resolve().parents[2]


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
    with pytest.raises(NotWritable, match="disk full"):
        save_progress(progress, path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".p.json.lock", "p.json"]


def test_a_broken_file_is_moved_aside(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    progress = load_progress(path)
    assert progress.labs == {} and "unreadable" in progress.warning
    assert not path.exists() and any(p.name.startswith("p.json.broken") for p in tmp_path.iterdir())
    assert (tmp_path / progress.warning.rpartition("kept as ")[2]).read_text() == "{not json"


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


# -- a file labrunner did not write as it expects ------------------------------------------------

GOOD_STEP = {"status": "passed", "hints_shown": 2, "solved": False, "answer": None, "attempts": 3,
             "passed_at": "2025-01-01T10:00:00+00:00"}


def _write(path, data) -> None:  # noqa: ANN001
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_wrong_type_resets_that_entry_alone_with_one_warning(tmp_path):
    path = tmp_path / "p.json"
    _write(path, {"version": 1, "labs": {
        "services": {"current_step": "headless", "steps": {
            "clusterip": dict(GOOD_STEP),
            "discovery": {**GOOD_STEP, "hints_shown": "two", "solved": 1},
            "headless": "passed",
            "extra": {**GOOD_STEP, "attempts": -1, "passed_at": True}}},
        "netpol": {"current_step": 7, "steps": {"deny-all": dict(GOOD_STEP)}},
        "storage": []}})
    progress = load_progress(path)
    services = progress.lab("services")
    assert services.current_step == "headless"
    assert services.step("clusterip").model_dump() == GOOD_STEP  # untouched
    discovery = services.step("discovery")  # only its bad values went back to their defaults
    assert (discovery.hints_shown, discovery.solved, discovery.attempts, discovery.status) == (0, False, 3, "passed")
    assert "headless" not in services.steps  # an entry that is not an object goes as a whole
    assert (services.step("extra").attempts, services.step("extra").passed_at) == (0, None)
    assert progress.lab("netpol").current_step is None and progress.lab("netpol").step("deny-all").status == "passed"
    assert "storage" not in progress.labs
    [warning] = progress.warnings
    assert "7 entries of the wrong type" in warning and "labs.services.steps.discovery.hints_shown was \"two\"" in warning
    assert "and 4 more" in warning  # one line, however many
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("p.json.reset-")]
    assert [p.name for p in kept] == [warning.rpartition("kept as ")[2]]
    assert json.loads(kept[0].read_text())["labs"]["services"]["steps"]["discovery"]["hints_shown"] == "two"
    again = load_progress(path)  # repaired: no warning the next time
    assert again.warnings == [] and again.lab("services").step("clusterip").status == "passed"


def test_counts_and_flags_take_no_look_alikes(tmp_path):
    path = tmp_path / "p.json"
    _write(path, {"labs": {"l": {"steps": {"s": {"hints_shown": 1.0, "attempts": True, "solved": "yes",
                                                 "status": 3, "answer": ["b"]}}}}})
    step = load_progress(path).lab("l").step("s")
    assert step.model_dump() == {"status": "not-started", "hints_shown": 0, "solved": False, "answer": None,
                                 "attempts": 0, "passed_at": None}


def test_fields_a_newer_labrunner_wrote_are_kept(tmp_path):
    from labrunner.progress import update_progress

    path = tmp_path / "p.json"
    _write(path, {"version": 3, "theme": {"dark": True}, "labs": {"services": {
        "bookmarks": ["clusterip"],
        "steps": {"clusterip": {**GOOD_STEP, "notes": "mine", "status": "skipped"}}}}})
    assert load_progress(path).warnings == []
    update_progress(lambda p: setattr(p.lab("services").step("discovery"), "hints_shown", 1), path)
    data = json.loads(path.read_text())
    assert data["version"] == 3 and data["theme"] == {"dark": True}
    assert data["labs"]["services"]["bookmarks"] == ["clusterip"]
    assert data["labs"]["services"]["steps"]["clusterip"]["notes"] == "mine"
    assert data["labs"]["services"]["steps"]["clusterip"]["status"] == "skipped"
    assert data["labs"]["services"]["steps"]["discovery"]["hints_shown"] == 1


@pytest.mark.parametrize("content, reason", [
    (b"{not json", "Expecting property name"),
    (b"[1, 2]", "it holds an array, not an object"),
    (b"\xff\xfe{}", "can't decode"),
    (b'{"labs": {"a": {"steps": {"s": {"attempts": ' + b"9" * 5000 + b"}}}}}", "digits"),
    (b'{"x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "recursion"),
    (b'{"x": ' + b"[" * 500 + b"]" * 500 + b"}", "nests deeper than"),
])
def test_a_file_that_is_not_progress_is_moved_aside_whatever_is_wrong(tmp_path, content, reason):
    path = tmp_path / "p.json"
    path.write_bytes(content)
    progress = load_progress(path)
    assert progress.labs == {} and reason in progress.warning
    aside = tmp_path / progress.warning.rpartition("kept as ")[2]
    assert aside.read_bytes() == content and not path.exists()


def test_a_file_too_large_is_not_read_whole(tmp_path, monkeypatch):
    from labrunner import progress as module

    monkeypatch.setattr(module, "MAX_BYTES", 1024)
    path = tmp_path / "p.json"
    _write(path, {"labs": {}, "padding": "x" * 2000})
    assert "larger than" in load_progress(path).warning


def test_files_moved_aside_in_the_same_second_get_names_of_their_own(tmp_path, monkeypatch):
    import time

    from labrunner import statefile

    epoch = time.gmtime(0)
    monkeypatch.setattr(statefile.time, "gmtime", lambda *args: epoch)
    path = tmp_path / "p.json"
    kept = {}
    for text in ("{one", "[2]", "three"):
        path.write_text(text)
        kept[load_progress(path).warning.rpartition("kept as ")[2]] = text
    assert len(kept) == 3
    assert {name: (tmp_path / name).read_text() for name in kept} == kept


def test_temporary_files_of_a_killed_writer_are_removed_at_the_next_write(tmp_path):
    import subprocess
    import sys

    from labrunner.progress import update_progress

    path = tmp_path / "progress.json"
    update_progress(lambda p: setattr(p.lab("l").step("s"), "hints_shown", 1), path)
    killed = ("import os, signal, sys\n"
              "from pathlib import Path\n"
              "from labrunner import statefile\n"
              "from labrunner.progress import update_progress\n"
              "statefile.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # dies mid-write\n"
              "update_progress(lambda p: p.lab('l'), Path(sys.argv[1]))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", killed, str(path)], env=env, capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    orphans = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(orphans) == 1 and orphans[0].name.startswith(".progress.json.")
    legacy = tmp_path / ".progress-abc123.tmp"  # what a labrunner before the lock left
    legacy.write_text("{")
    mine = tmp_path / "notes.tmp"  # not labrunner's
    mine.write_text("mine")
    update_progress(lambda p: setattr(p.lab("l").step("t"), "hints_shown", 1), path)
    assert not orphans[0].exists() and not legacy.exists() and mine.exists()
    assert {sid: s.hints_shown for sid, s in load_progress(path).lab("l").steps.items()} == {"s": 1, "t": 1}


# -- a state folder labrunner cannot write -----------------------------------------------------------

def _store(said):  # noqa: ANN001, ANN202
    from labrunner.progress import ProgressStore

    return ProgressStore(on_warning=said.append)


def _reveal(progress) -> int:  # noqa: ANN001
    step = progress.lab("services").step("clusterip")
    step.hints_shown += 1
    return step.hints_shown


def test_a_file_in_place_of_the_state_folder_is_one_line_and_work_goes_on(tmp_path, monkeypatch):
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    said: list[str] = []
    store = _store(said)
    assert store.read().labs == {} and said == []  # reading alone needs no folder
    assert store.update(_reveal) == 1
    assert store.update(_reveal) == 2  # kept for the session, in memory
    assert store.read().lab("services").step("clusterip").hints_shown == 2 and store.read_only
    assert len(said) == 1
    assert said[0].startswith("progress is not saved: cannot create the state folder")
    assert f"{blocker} is a file, not a folder" in said[0] and "LABRUNNER_STATE_DIR" in said[0]
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc here")
def test_a_state_folder_on_proc_is_one_line(monkeypatch):
    monkeypatch.setenv("LABRUNNER_STATE_DIR", "/proc/labrunner-state")
    said: list[str] = []
    store = _store(said)
    assert store.update(_reveal) == 1
    assert len(said) == 1 and "cannot create the state folder /proc/labrunner-state" in said[0]


@pytest.mark.parametrize("code, words", [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only"),
                                         (errno.ENOSPC, "the disk is full")])
def test_a_folder_refusing_writes_is_one_line_in_words(tmp_path, monkeypatch, code, words):
    import tempfile

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(code, os.strerror(code))

    save_progress(Progress())  # the folder and lock file exist already, as after earlier use
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    said: list[str] = []
    store = _store(said)
    assert store.update(_reveal) == 1 and store.update(_reveal) == 2
    assert len(said) == 1 and words in said[0] and str(state_dir() / "progress.json") in said[0]
    assert load_progress().labs == {}


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes in read-only folders")
def test_a_read_only_state_folder_is_one_line(tmp_path):
    folder = state_dir()
    folder.mkdir(parents=True)
    folder.chmod(0o500)
    try:
        said: list[str] = []
        assert _store(said).update(_reveal) == 1
        assert len(said) == 1 and "permission denied" in said[0]
    finally:
        folder.chmod(0o700)


def test_a_folder_where_the_file_should_be_is_never_replaced(tmp_path):
    path = state_dir() / "progress.json"
    path.mkdir(parents=True)
    said: list[str] = []
    store = _store(said)
    assert store.read().labs == {} and store.update(_reveal) == 1
    assert said == [f"{path} is a folder, not a file; labrunner starts without your progress and will not overwrite it"]
    assert path.is_dir()


def test_a_lock_held_too_long_is_one_line_not_a_hang(tmp_path, monkeypatch):
    import subprocess
    import sys

    from labrunner import statefile

    holder = ("import sys\n"
              "from pathlib import Path\n"
              "from labrunner import statefile\n"
              "with statefile.locked(Path(sys.argv[1])):\n"
              "    print('holding', flush=True)\n"
              "    sys.stdin.readline()\n")
    path = state_dir() / "progress.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", holder, str(path)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == "holding\n"
        monkeypatch.setattr(statefile, "LOCK_TIMEOUT", 0.3)
        said: list[str] = []
        assert _store(said).update(_reveal) == 1
        assert len(said) == 1 and "another labrunner process has held" in said[0]
    finally:
        proc.communicate("done\n", timeout=30)


@pytest.mark.parametrize("blocker, what", [("folder", "a folder"), ("link", "a symbolic link")])
def test_something_in_place_of_the_lock_file_is_named_with_its_fix(tmp_path, blocker, what):
    lock = state_dir() / ".progress.json.lock"
    state_dir().mkdir(parents=True)
    if blocker == "folder":
        lock.mkdir()
    else:
        lock.symlink_to("/dev/null")
    said: list[str] = []
    assert _store(said).update(_reveal) == 1
    assert len(said) == 1 and f"the lock file {lock} is {what}; remove it" in said[0], said
