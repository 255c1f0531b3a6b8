"""Output into a pipe whose reader has gone: no traceback, the command's own exit status, its work done.

Each command runs as a real process whose stdout (or stderr) is a real pipe with its reading end
already closed, so its very first write meets the closed pipe (`labrunner show netpol | head -1`
after head has exited), not only when the output outgrows the pipe's buffer.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labrunner.closedpipe import QuietStream, quiet_pipes

REPO = Path(__file__).resolve().parents[2]
LABS = ["--labs", str(REPO / "labs")]


def _run_into_closed_pipe(argv: list[str], tmp_path: Path, *, stream: str = "stdout",
                          env: dict | None = None) -> tuple[int, str]:
    """(exit status, what it said on the other stream) of `labrunner ARGV` writing `stream` into a closed pipe."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    other = subprocess.PIPE
    env = {**os.environ, "PYTHONPATH": str(REPO), "LABRUNNER_STATE_DIR": str(tmp_path / "state"), **(env or {})}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "labrunner.cli", *argv], env=env, text=True,
                                stdout=write_end if stream == "stdout" else other,
                                stderr=write_end if stream == "stderr" else other)
    finally:
        os.close(write_end)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, (err if stream == "stdout" else out) or ""


def _quiet(said: str) -> None:
    for sign in ("Traceback", "BrokenPipeError", "Exception ignored"):
        assert sign not in said, said


@pytest.mark.parametrize("argv, code", [
    (["show", "netpol"], 0),
    (["show", "netpol", "deny-all"], 0),
    (["list"], 0),
    (["dev", "coverage"], 0),
    (["validate", str(REPO / "labs")], 0),
    (["--help"], 0),
    (["check", "sidecars", "--step", "smi", "--json"], 1),  # not answered: the verdict's own status
])
def test_stdout_into_a_closed_pipe_is_quiet(argv, code, tmp_path):
    status, err = _run_into_closed_pipe(LABS + argv, tmp_path)
    _quiet(err)
    assert status == code, err


def test_a_hint_shown_into_a_closed_pipe_is_still_counted(tmp_path):
    status, err = _run_into_closed_pipe(LABS + ["hint", "services", "--step", "clusterip"], tmp_path)
    _quiet(err)
    assert status == 0
    saved = json.loads((tmp_path / "state" / "progress.json").read_text())
    assert saved["labs"]["services"]["steps"]["clusterip"]["hints_shown"] == 1


def test_errors_into_a_closed_pipe_keep_their_exit_status(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: x\n"
                          "clusters: [{name: x, cluster: {server: 'https://127.0.0.1:1'}}]\n"
                          "contexts: [{name: x, context: {cluster: x, user: x}}]\nusers: [{name: x, user: {token: t}}]\n")
    status, out = _run_into_closed_pipe(["--kubeconfig", str(kubeconfig)] + LABS + ["check", "netpol"], tmp_path,
                                        stream="stderr")
    assert status == 3 and out == ""
    status, _ = _run_into_closed_pipe(LABS + ["show", "nope"], tmp_path, stream="stderr")
    assert status == 2


def test_a_quiet_stream_drops_what_follows_a_gone_reader():
    class GonePipe(io.StringIO):
        def write(self, text):  # noqa: ANN001, ANN201
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):  # noqa: ANN201
            raise BrokenPipeError(32, "Broken pipe")

    stream = QuietStream(GonePipe())
    assert stream.write("first line\n") == len("first line\n")
    assert stream.reader_gone
    stream.write("more\n")
    stream.flush()  # never raises once the reader is gone


def test_quiet_pipes_puts_the_streams_back(capsys):
    before = (sys.stdout, sys.stderr)
    with quiet_pipes():
        assert isinstance(sys.stdout, QuietStream) and isinstance(sys.stderr, QuietStream)
        print("through")
    assert (sys.stdout, sys.stderr) == before
    assert capsys.readouterr().out == "through\n"
