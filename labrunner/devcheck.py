"""`labrunner dev check`: every step fails before its solution and passes after.

Each step runs in a fresh namespace of its own: the earlier steps' setup and
solutions are applied first (the state a learner reaches), then the step's
setup, then its checks must not pass; after the solution they must. Labs run
in parallel; a lab's steps run one after another.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import runner
from .checks import Status
from .cluster import Cluster, delete_labelled, delete_namespace
from .errors import LabrunnerError
from .model import Lab, Step
from .progress import Progress


@dataclass(frozen=True)
class StepProof:
    lab_id: str
    step_id: str
    before: Status | None
    after: Status | None
    setup_seconds: float
    check_seconds: float
    problem: str = ""

    @property
    def flipped(self) -> bool:
        return not self.problem and self.before is Status.FAIL and self.after is Status.PASS


def dev_namespace(lab: Lab, index: int, run: str = "") -> str:
    """A namespace of its own per run, so authors checking the same lab on one cluster do not collide."""
    suffix = f"-{run}" if run else ""
    return f"lrdev-{lab.id[:40]}-{index}{suffix}"


def prove_step(cluster: Cluster, lab: Lab, step: Step, index: int, *, timeout: float) -> StepProof:
    if step.is_quiz:
        return _prove_quiz(lab, step)
    ns = dev_namespace(lab, index, secrets.token_hex(2))
    started = time.monotonic()
    before = after = None
    setup_seconds = check_seconds = 0.0
    try:
        delete_namespace(cluster, ns, wait=True)
        for earlier in lab.steps[:index]:
            if not earlier.is_quiz:
                runner.run_actions(cluster, lab, earlier.setup, namespace=ns)
                runner.run_actions(cluster, lab, earlier.solution.actions, namespace=ns)
        runner.run_actions(cluster, lab, step.setup, namespace=ns)
        setup_seconds = time.monotonic() - started
        report = runner.run_step_checks(cluster, lab, step, namespace=ns)
        before = report.status
        if before is not Status.FAIL:
            why = "; ".join(r.message for r in report.results if r.status is before)
            return StepProof(lab.id, step.id, before, None, setup_seconds, report.seconds,
                             f"before the solution the checks {'pass' if before is Status.PASS else 'error'}: {why}")
        runner.solve_step(cluster, lab, step, namespace=ns)
        checked = time.monotonic()
        report = runner.run_until_passed(cluster, lab, step, namespace=ns, timeout=timeout)
        check_seconds = time.monotonic() - checked
        after = report.status
        problem = "" if report.passed else "after the solution: " + "; ".join(
            r.message for r in report.results if not r.ok)
        return StepProof(lab.id, step.id, before, after, setup_seconds, check_seconds, problem)
    except LabrunnerError as exc:
        return StepProof(lab.id, step.id, before, after, setup_seconds, check_seconds, str(exc))
    finally:
        try:
            delete_labelled(cluster, lab_id=lab.id, kinds=runner.cluster_scoped_kinds(lab))
            delete_namespace(cluster, ns)
        except LabrunnerError:
            pass


def _prove_quiz(lab: Lab, step: Step) -> StepProof:
    assert step.quiz is not None
    progress = Progress()
    wrong = next((c.id for c in step.quiz.choices if c.id != step.quiz.answer), None)
    before = runner.answer_quiz(progress, lab, step, wrong).status if wrong else Status.FAIL
    after = runner.answer_quiz(progress, lab, step, step.quiz.answer).status
    return StepProof(lab.id, step.id, before, after, 0.0, 0.0)


def prove_lab(cluster: Cluster, lab: Lab, *, timeout: float) -> list[StepProof]:
    return [prove_step(cluster, lab, step, i, timeout=timeout) for i, step in enumerate(lab.steps)]


def dev_check(cluster: Cluster, labs: list[Lab], *, timeout: float = 90.0) -> int:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, len(labs))) as pool:
        proofs = [p for lab_proofs in pool.map(lambda lab: prove_lab(cluster, lab, timeout=timeout), labs) for p in lab_proofs]
    print(f"{'lab/step':<40} {'before':<7} {'after':<7} {'setup':>7} {'to pass':>8}  result")
    for proof in proofs:
        name = f"{proof.lab_id}/{proof.step_id}"
        verdict = "ok" if proof.flipped else f"DOES NOT FLIP: {proof.problem}"
        print(f"{name:<40} {_s(proof.before):<7} {_s(proof.after):<7} {proof.setup_seconds:>6.1f}s {proof.check_seconds:>7.1f}s  {verdict}")
    bad = [p for p in proofs if not p.flipped]
    print(f"\n{len(proofs) - len(bad)}/{len(proofs)} steps flip from fail to pass ({time.monotonic() - started:.0f}s)")
    return 1 if bad else 0


def _s(status: Status | None) -> str:
    return status.value if status else "-"
