"""The issue-8 lab cases, proven as `labrunner dev check` proves a step's answers.

Each case is a wrong answer or an alternative in its lab's lab.yaml; a live test
names it and asserts the proof holds (a wrong answer fails as its `fails` says
and never passes, an alternative passes), in a fresh namespace of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from labrunner.devcheck import AnswerProof, Shell, prove_answer
from labrunner.loader import discover_labs

LABS_DIR = Path(__file__).resolve().parents[2] / "labs"
LABS = {lab.id: lab for lab in discover_labs(LABS_DIR).labs}


def prove(cluster, lab_id: str, step_id: str, answer_id: str, *, timeout: float = 120) -> AnswerProof:
    """Prove one answer of a step (found among its `wrong` and `alternatives`); the proof, held or not."""
    lab = LABS[lab_id]
    index = lab.step_index(step_id)
    step = lab.steps[index]
    wrong = {a.id: a for a in step.wrong}
    alternatives = {a.id: a for a in step.alternatives}
    answer = wrong.get(answer_id) or alternatives[answer_id]
    return prove_answer(cluster, lab, step, index, answer, wrong=answer_id in wrong, timeout=timeout,
                        shell=Shell(os.environ.get("KUBECONFIG")))
