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
