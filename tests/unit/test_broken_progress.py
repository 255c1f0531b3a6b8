"""Every progress file in tests/broken_progress: `list` and `hint` still work, one warning line
names what was wrong, the hint is saved, and what the case did not break is kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from labrunner.cli import main
from labrunner.progress import load_progress, state_dir

REPO = Path(__file__).resolve().parents[2]
CASES = sorted(p for p in (REPO / "tests" / "broken_progress").iterdir() if p.is_dir())
LABS = ["--labs", str(REPO / "labs" / "services")]


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_a_broken_progress_file_costs_at_most_what_is_broken(case, capsys):
    expected = [line for line in (case / "EXPECTED").read_text().splitlines() if line]
    state_dir().mkdir(parents=True)
    shutil.copy(case / "progress.json", state_dir() / "progress.json")

    assert main(LABS + ["list"]) == 0
    out = capsys.readouterr()
    assert "services" in out.out and "Traceback" not in out.err
    lines = out.err.splitlines()
    if expected:
        assert len(lines) == 1 and lines[0].startswith("warning: the progress file "), out.err
        for words in expected:
            assert words in lines[0], f"{words!r} not in {lines[0]!r}"
    else:
        assert lines == []

    assert main(LABS + ["hint", "services", "--step", "headless"]) == 0
    out = capsys.readouterr()
    assert "Hint 1/" in out.out and out.err == ""  # said once, by the first command: the file was repaired
    progress = load_progress()
    assert progress.warnings == []
    assert progress.lab("services").step("headless").hints_shown == 1
    kept = case / "KEPT"  # "lab step" lines: entries the case did not break, passed with 2 attempts
    for lab_id, step_id in (line.split() for line in (kept.read_text().splitlines() if kept.exists() else [])):
        step = progress.lab(lab_id).steps.get(step_id)
        assert step is not None and (step.status, step.attempts) == ("passed", 2), f"{lab_id} {step_id} lost"
    if any("is unreadable" in words for words in expected):  # started afresh, the old file kept beside it
        assert [p.read_bytes() for p in state_dir().iterdir() if p.name.startswith("progress.json.broken-")] == \
            [(case / "progress.json").read_bytes()]

def test_fields_of_a_newer_labrunner_survive_commands():
    state_dir().mkdir(parents=True)
    shutil.copy(REPO / "tests" / "broken_progress" / "newer-version-fields" / "progress.json",
                state_dir() / "progress.json")
    assert main(LABS + ["hint", "services", "--step", "headless"]) == 0
    data = json.loads((state_dir() / "progress.json").read_text())
    assert data["version"] == 4 and data["sync"] == {"server": "x"} and data["labs"]["services"]["pinned"] is True
    steps = data["labs"]["services"]["steps"]
    assert steps["discovery"]["notes"] == ["mine"] and steps["clusterip"]["status"] == "skipped"


def test_nan_and_infinity_of_a_newer_labrunner_are_kept_as_written():
    state_dir().mkdir(parents=True)
    shutil.copy(REPO / "tests" / "broken_progress" / "extras-nan-infinity" / "progress.json",
                state_dir() / "progress.json")
    assert main(LABS + ["hint", "services", "--step", "headless"]) == 0
    text = (state_dir() / "progress.json").read_text()
    data = json.loads(text)
    assert '"x": NaN' in text and '"y": Infinity' in text and '"score": -Infinity' in text, text
    assert data["labs"]["services"]["steps"]["discovery"]["weight"] != data["labs"]["services"]["steps"]["discovery"]["weight"]  # NaN
    assert data["labs"]["services"]["steps"]["headless"]["hints_shown"] == 1
