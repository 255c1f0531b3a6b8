"""The parts of `dev check`'s answer proofs that need no cluster: running an
answer's `run:` text and reading a step report against `fails`."""

import os
from pathlib import Path

import pytest

from labrunner.checks import CheckResult, Status
from labrunner.devcheck import AnswerProof, Shell, _print_run, _says, run_command
from labrunner.errors import LabrunnerError
from labrunner.runner import StepReport


class FakeLab:
    def __init__(self, path: Path):
        self.path = path


def test_run_fills_in_the_namespace_and_sets_kubeconfig(tmp_path):
    run_command(FakeLab(tmp_path), 'echo "${LAB_NAMESPACE} $LAB_NAMESPACE $KUBECONFIG" > out', namespace="lrdev-x-1",
                shell=Shell("/some/kubeconfig"), where="do[0].run")
    assert (tmp_path / "out").read_text() == "lrdev-x-1 lrdev-x-1 /some/kubeconfig\n"


def test_a_failing_run_is_a_broken_proof_that_says_why(tmp_path):
    with pytest.raises(LabrunnerError, match=r"do\[1\].run exited with 3: .*: it broke"):
        run_command(FakeLab(tmp_path), "echo it broke >&2; exit 3", namespace="ns", shell=Shell(), where="do[1].run")


def test_a_run_needing_kubectl_without_kubectl_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no kubectl here
    with pytest.raises(LabrunnerError, match="needs kubectl, which is not on PATH"):
        run_command(FakeLab(tmp_path), "kubectl get pods", namespace="ns", shell=Shell(), where="do[0].run")
    assert os.environ["PATH"] == str(tmp_path)


def report(*results: CheckResult) -> StepReport:
    return StepReport("lab", "step", results)


def test_fails_texts_are_read_from_the_message_and_details():
    failed = CheckResult(Status.FAIL, "2 paths wrong", ("a -> b should be allowed", "c -> d should be blocked"), "paths")
    assert _says(report(failed), "paths", ("should be allowed", "should be blocked"))
    assert _says(report(failed), "paths", ("",))
    assert not _says(report(failed), "paths", ("should be allowed", "is Pending"))
    assert not _says(report(failed), "other", ("",))
    passed = CheckResult(Status.PASS, "should be allowed", (), "paths")
    assert not _says(report(passed), "paths", ("",))  # only a fail counts


def test_a_failed_answer_proof_is_counted_and_named(capsys):
    proofs = [AnswerProof("netpol", "deny-all", "egress-only", "wrong", 3.0),
              AnswerProof("netpol", "deny-all", "too-wide", "wrong", 4.0, "the wrong answer PASSES the step: ...")]
    assert _print_run(proofs, 7.0) == ["netpol/deny-all/too-wide"]
    out = capsys.readouterr().out
    assert "FAILED: the wrong answer PASSES" in out and "1/2 wrong answers and alternatives proven" in out


_SLOW_PROOFS = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
from labrunner import cli, devcheck

def prove_step(cluster, lab, step, index, *, timeout):
    print(f"proving {lab.id}/{step.id}", flush=True)
    time.sleep(float(sys.argv[1]))  # a proof takes a while: setup, solution, settling
    print(f"cleaned up {lab.id}/{step.id}", flush=True)
    return devcheck.StepProof(lab.id, step.id, None, None, 0.0, 0.0, "stopped")

devcheck.prove_step = prove_step
devcheck.prove_answer = lambda *a, **k: (_ for _ in ()).throw(AssertionError("no proof may start after Ctrl-C"))
cli._cluster = lambda args: "cluster"
sys.exit(cli.main(sys.argv[2:]))
"""


def _dev_check_interrupted(tmp_path, proof_seconds: float, interrupts: int):  # noqa: ANN202
    import signal
    import subprocess
    import sys
    import time

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "LABRUNNER_STATE_DIR": str(tmp_path)}
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with open(out_path, "w") as out_file, open(err_path, "w") as err_file:
        proc = subprocess.Popen([sys.executable, "-c", _SLOW_PROOFS, str(proof_seconds), "--labs",
                                 str(repo / "labs"), "dev", "check", "services", "netpol"],
                                stdout=out_file, stderr=err_file, text=True, env=env)
        deadline = time.monotonic() + 60
        while out_path.read_text().count("proving ") < 2:  # both labs' first proofs are under way
            assert time.monotonic() < deadline and proc.poll() is None, err_path.read_text()
            time.sleep(0.05)
        for _ in range(interrupts):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.5)
        interrupted = time.monotonic()
        proc.wait(timeout=60)
    return proc.returncode, out_path.read_text(), err_path.read_text(), time.monotonic() - interrupted


def test_ctrl_c_in_dev_check_lets_the_proofs_under_way_clean_up_and_starts_no_more(tmp_path):
    code, out, err, _ = _dev_check_interrupted(tmp_path, proof_seconds=3, interrupts=1)
    assert code == 130, err
    assert "letting the proofs under way finish and delete their namespaces" in err and "Traceback" not in err
    assert out.count("cleaned up ") == 2 and out.count("proving ") == 2  # one per lab, in parallel; no more
    assert "the proofs above are all that ran" in err


def test_a_second_ctrl_c_in_dev_check_leaves_at_once_and_says_what_is_left(tmp_path):
    code, out, err, seconds = _dev_check_interrupted(tmp_path, proof_seconds=40, interrupts=2)
    assert code == 130 and seconds < 10, err
    assert "cleaned up" not in out and "namespaces named lrdev-" in err and "Traceback" not in err
