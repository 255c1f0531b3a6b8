"""Every lab in tests/broken_labs fails validation clearly: exit 2, no traceback, the file, the
field and the line named (EXPECTED), within bounded time and memory.

Each case runs `labrunner validate` in a process of its own under a memory limit and a timeout,
so a case that would hang or flood fails the test instead of the test run. A case folder may hold,
besides the lab:

- EXPECTED: lines that must each appear in the error output;
- SETUP: what git cannot store, made in a copy of the case before it runs, one per line:
  `fifo PATH` (a FIFO nobody writes to) or `fill PATH BYTES` (a Markdown file of that size);
- site/: put on PYTHONPATH, for check plug-ins (a `*.dist-info` with `entry_points.txt`);
- XFAIL: a case labrunner does not refuse yet, with why; the test is then expected to fail
  (strictly: when labrunner learns to refuse it, the test says so and XFAIL goes).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "broken_labs"
CASES = sorted(p for p in BROKEN.iterdir() if p.is_dir())
MEMORY_LIMIT = 512 << 20  # address space; `validate` of every shipped lab peaks near 60 MiB
TIME_LIMIT = 60  # seconds; the slowest case takes a few on a loaded 2-core machine


def _limit_memory() -> None:  # runs in the child, before it executes Python
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def materialize(case: Path, into: Path) -> Path:
    """A copy of `case` in `into` with its SETUP done; returns the copy's folder."""
    copy = into / case.name
    shutil.copytree(case, copy, symlinks=True)
    setup = copy / "SETUP"
    for line in setup.read_text().splitlines() if setup.exists() else []:
        action, path, *rest = line.split()
        target = copy / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if action == "fifo":
            os.mkfifo(target)
        elif action == "fill":
            size = int(rest[0])
            target.write_text(("Filler text of a step that goes on and on.\n" * (size // 44 + 1))[:size])
        else:
            raise ValueError(f"{setup}: unknown action {action!r}")
    return copy


def validate(path: Path, *, site: Path | None = None) -> subprocess.CompletedProcess:
    """`labrunner validate PATH` in its own process, under MEMORY_LIMIT and TIME_LIMIT, from the repo root
    (so the curriculum is the repo's)."""
    python_path = [str(REPO)] + ([str(site)] if site and site.is_dir() else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path)}
    return subprocess.run([sys.executable, "-m", "labrunner.cli", "validate", str(path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=TIME_LIMIT, preexec_fn=_limit_memory)


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_validate_names_the_problem(case, tmp_path, request):
    xfail = case / "XFAIL"
    if xfail.exists():
        request.applymarker(pytest.mark.xfail(reason=xfail.read_text().strip(), strict=True))
    lab = materialize(case, tmp_path)
    proc = validate(lab, site=lab / "site")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "MemoryError" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    for expected in (case / "EXPECTED").read_text().splitlines():
        assert expected in proc.stderr, f"{expected!r} not in:\n{proc.stderr}"
    assert ".yaml" in proc.stderr or ".md" in proc.stderr


def test_the_python_tag_never_runs(tmp_path):
    marker = Path("/tmp/labrunner-pwned")
    marker.unlink(missing_ok=True)
    validate(BROKEN / "python-tag")
    assert not marker.exists()


def test_validate_of_the_whole_corpus_prints_no_traceback():
    proc = validate(BROKEN)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("error: ") >= len([case for case in CASES if not (case / "XFAIL").exists()])


def test_the_limits_hold_a_hog_down(tmp_path):
    """The harness's own proof: a process past MEMORY_LIMIT dies instead of passing."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", "x = bytearray(1 << 30)"], env=env, capture_output=True, text=True,
                          timeout=TIME_LIMIT, preexec_fn=_limit_memory)
    assert proc.returncode != 0 and "MemoryError" in proc.stderr
