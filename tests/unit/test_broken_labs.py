"""Every lab in tests/broken_labs fails validation clearly: exit 2, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labrunner.cli import main

BROKEN = Path(__file__).resolve().parents[1] / "broken_labs"
CASES = sorted(p for p in BROKEN.iterdir() if p.is_dir())


@pytest.mark.parametrize("lab", CASES, ids=[p.name for p in CASES])
def test_validate_names_the_problem(lab, capsys):
    assert main(["validate", str(lab)]) == 2
    out = capsys.readouterr()
    for expected in (lab / "EXPECTED").read_text().splitlines():
        assert expected in out.err, f"{expected!r} not in:\n{out.err}"
    assert "lab.yaml" in out.err or ".yaml" in out.err
    assert "Traceback" not in out.err


def test_the_python_tag_never_runs(tmp_path):
    marker = Path("/tmp/labrunner-pwned")
    marker.unlink(missing_ok=True)
    main(["validate", str(BROKEN / "python-tag")])
    assert not marker.exists()


def test_validate_as_a_process_prints_no_traceback():
    env = {**os.environ, "PYTHONPATH": str(BROKEN.parents[1])}
    proc = subprocess.run([sys.executable, "-m", "labrunner.cli", "validate", str(BROKEN)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("error: ") >= len(CASES)
