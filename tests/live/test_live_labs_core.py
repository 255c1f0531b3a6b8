"""The orchestration, runtime, storage and user-access labs end to end: every
step fails before its solution and passes after."""

from pathlib import Path

import pytest

from labrunner.devcheck import prove_lab
from labrunner.loader import discover_labs

pytestmark = pytest.mark.live

LABS = {lab.id: lab for lab in discover_labs(Path(__file__).resolve().parents[2] / "labs").labs}


@pytest.mark.parametrize("lab_id", ["orchestration", "runtime", "storage", "user-access"])
def test_every_step_flips(cluster, lab_id):
    proofs = prove_lab(cluster, LABS[lab_id], timeout=90)
    assert [p.step_id for p in proofs] == [s.id for s in LABS[lab_id].steps]
    for proof in proofs:
        assert proof.flipped, f"{proof.step_id}: before={proof.before} after={proof.after} {proof.problem}"
