"""The engine's proof labs (tests/fixtures/labs) end to end: every step fails before its solution and passes after."""

from pathlib import Path

import pytest

from labrunner.devcheck import StepProof, prove_lab
from labrunner.loader import find_curriculum, load_curriculum, load_lab

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "labs"
CURRICULUM = load_curriculum(find_curriculum(ROOT))


@pytest.mark.parametrize("lab_id", ["nodeport-basics", "policy-basics"])
def test_every_step_flips(cluster, lab_id):
    lab = load_lab(ROOT / lab_id, CURRICULUM)
    proofs = [p for p in prove_lab(cluster, lab, timeout=90) if isinstance(p, StepProof)]
    assert [p.step_id for p in proofs] == [s.id for s in lab.steps]
    for proof in proofs:
        assert proof.flipped, f"{proof.step_id}: before={proof.before} after={proof.after} {proof.problem}"
