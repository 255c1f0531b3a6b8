"""Each exit status, from each command that can give it (labrunner/exitcodes.py):
0 all pass, 1 some fail, 2 invalid input, 3 an error of the cluster or the environment.
130 (Ctrl-C) is proven in test_cli.py with a real SIGINT."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from labrunner import cli, exitcodes

REPO = Path(__file__).resolve().parents[2]
LABS = ["--labs", str(REPO / "labs")]


def test_the_codes_are_the_documented_ones():
    assert (exitcodes.OK, exitcodes.FAILED, exitcodes.BAD_INPUT, exitcodes.ERROR, exitcodes.INTERRUPTED) == \
        (0, 1, 2, 3, 130)
    readme = (REPO / "README.md").read_text()
    for code in ("0 all checks pass", "1 a check failed", "2 invalid input", "3 an error of the cluster or the environment",
                 "130 interrupted"):
        assert code in readme


@pytest.mark.parametrize("argv", [
    ["list"], ["show", "netpol"], ["show", "netpol", "deny-all"], ["validate", str(REPO / "labs" / "services")],
    ["dev", "coverage"], ["hint", "services"],
])
def test_zero_when_the_command_did_what_it_says(argv, capsys):
    assert cli.main(LABS + argv) == 0


def test_zero_and_one_are_the_verdict(capsys):
    assert cli.main(LABS + ["check", "sidecars", "--step", "smi"]) == 1  # not answered yet: not there yet
    assert cli.main(LABS + ["answer", "sidecars", "smi", "a"]) == 1  # a wrong answer
    assert cli.main(LABS + ["answer", "sidecars", "smi", "b"]) == 0
    assert cli.main(LABS + ["check", "sidecars", "--step", "smi"]) == 0


@pytest.mark.parametrize("argv, said", [
    (["check"], "the following arguments are required"),
    (["check", "netpol", "--wait", "x"], "invalid float value"),
    (["no-such-command"], "invalid choice"),
    (["show", "nope"], "no lab 'nope'"),
    (["check", "netpol", "--step", "nope"], "has no step 'nope'"),
    (["answer", "sidecars", "smi", "z"], "'z' is not a choice"),
    (["answer", "netpol", "deny-all", "a"], "is not a quiz"),
    (["solve", "sidecars", "--step", "smi"], "it is a quiz"),
    (["reset"], "say which lab to reset"),
    (["check", "netpol", "--wait", "5", "--watch"], "does not go with --watch"),
    (["check", "netpol", "--junit", "/no/such/folder/report.xml"], "does not exist"),
])
def test_two_for_invalid_input(argv, said, capsys):
    try:
        code = cli.main(LABS + argv)
    except SystemExit as exc:  # argparse's own
        code = exc.code
    assert code == 2
    assert said in capsys.readouterr().err


def test_two_for_a_broken_lab(tmp_path, capsys):
    (tmp_path / "lab.yaml").write_text("id: broken\ntitle: [unclosed\n")
    assert cli.main(["validate", str(tmp_path)]) == 2


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A local TCP port nothing listens on: bound, then let go."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable(tmp_path, closed_port) -> Path:
    """A kubeconfig whose API server is a closed port on this machine: no cluster is used."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: x, cluster: {{server: 'https://127.0.0.1:{closed_port}'}}}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\nusers: [{name: x, user: {token: t}}]\n")
    return path


@pytest.mark.parametrize("argv", [
    ["check", "netpol"], ["check", "netpol", "--json"], ["check", "netpol", "--wait", "5"], ["start", "netpol"],
    ["solve", "netpol"], ["reset", "netpol"], ["reset", "--all"], ["dev", "check", "netpol"],
])
def test_three_when_the_cluster_does_not_answer(unreachable, argv, capsys):
    assert cli.main(["--kubeconfig", str(unreachable)] + LABS + argv) == 3
    err = capsys.readouterr().err
    assert "cannot reach the Kubernetes API server" in err or "does not answer" in err, err
    assert "Traceback" not in err


def test_three_from_doctor_without_a_cluster(unreachable, monkeypatch, capsys):
    from labrunner import kindcluster

    monkeypatch.setattr(kindcluster, "_docker_works", lambda: False)
    assert cli.main(["--kubeconfig", str(unreachable)] + LABS + ["doctor"]) == 3
    assert "[FAIL] cluster reachable" in capsys.readouterr().out


def test_three_when_kubeconfig_in_the_environment_points_at_a_closed_port(unreachable, tmp_path):
    """As a user meets it: KUBECONFIG set, the real command, a separate process."""
    env = {**os.environ, "KUBECONFIG": str(unreachable), "PYTHONPATH": str(REPO),
           "LABRUNNER_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.run([sys.executable, "-m", "labrunner.cli", *LABS, "check", "netpol", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert "does not answer" in proc.stderr or "cannot reach" in proc.stderr, proc.stderr


def test_three_when_a_check_could_not_run(monkeypatch, capsys):
    from labrunner import runner
    from labrunner.checks import CheckResult

    class Started:
        def get(self, kind, name, **_):  # noqa: ANN001, ANN003, ANN201
            return {"kind": kind, "metadata": {"name": name}, "status": {"phase": "Active"}}

    monkeypatch.setattr(cli, "_cluster", lambda args: Started())
    monkeypatch.setattr(runner, "run_check", lambda ctx, spec: CheckResult.errored("the probe pod could not start"))
    assert cli.main(LABS + ["check", "netpol", "--step", "deny-all"]) == 3
    assert "ERROR" in capsys.readouterr().out


@pytest.mark.parametrize("fault", ["ApiRejected", "Forbidden", "WaitTimedOut", "LabrunnerError"])
def test_three_when_the_cluster_refuses_or_times_out(fault, monkeypatch, capsys):
    from labrunner import errors, runner

    def refused(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise getattr(errors, fault)("admission webhook denied the request")

    monkeypatch.setattr(cli, "_cluster", lambda args: object())
    monkeypatch.setattr(runner, "start_step", refused)
    assert cli.main(LABS + ["start", "netpol"]) == 3
    assert "admission webhook denied the request" in capsys.readouterr().err
