"""What start-up defers stays deferred (as harlequin's test_import_hygiene.py proves its own).

Each test runs a fresh interpreter, does what a learner's command does first, and lists which
heavy modules got imported. The start-up budgets of benchmarks/startup.py rest on these.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The kubernetes client and the engine's cluster side: only for commands that reach a cluster.
CLUSTER = ("kubernetes", "urllib3", "labrunner.runner", "labrunner.cluster")
# The lab format's models and the YAML reader: only when lab files are read (not from the cache).
LAB_FILES = ("pydantic", "yaml", "labrunner.loader", "labrunner.format")


def imported_after(code: str, tmp_path: Path) -> set[str]:
    """The top-level packages and labrunner modules in sys.modules after running `code` in a fresh interpreter."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    env = {**os.environ, "PYTHONPATH": str(REPO), "LABRUNNER_STATE_DIR": str(tmp_path / "state"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def present(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in modules]


def test_the_cli_module_imports_no_engine_heavyweight(tmp_path):
    modules = imported_after("import labrunner.cli", tmp_path)
    assert present(modules, CLUSTER + LAB_FILES + ("textual", "filelock")) == []


def test_labrunner_list_reads_no_lab_file_once_cached_and_never_loads_the_cluster_side(tmp_path):
    listing = "import contextlib, io\nimport labrunner.cli as c\nwith contextlib.redirect_stdout(io.StringIO()):\n" \
              "    assert c.main(['list']) == 0\n"
    first = imported_after(listing, tmp_path)
    # (the built-in check kinds it validates against import the cluster module, so kubernetes may load)
    assert present(first, ("labrunner.runner", "textual")) == []
    assert "labrunner.loader" in first  # the first run reads the lab files (and fills the cache)...
    again = imported_after(listing, tmp_path)
    # ...later runs take them from it (pydantic still loads: the progress file is read through its models)
    assert present(again, CLUSTER + ("yaml", "labrunner.loader", "labrunner.format", "textual")) == []


def test_the_tui_paints_before_the_engine_loads(tmp_path):
    """Everything the first screen needs: the app module and its screens, widgets and backend."""
    modules = imported_after("import labrunner.cli, labrunner.tui.app", tmp_path)
    assert "textual" in modules
    assert present(modules, CLUSTER + LAB_FILES + ("labrunner.progress", "filelock")) == []
    assert "labrunner.tui.screens.lab_view" not in modules  # with Textual's Markdown: loaded after the first paint
