"""The learner's loop through the CLI on a real cluster: start, check, solve, check, reset."""

import json
from pathlib import Path

import pytest

from labrunner import cli

pytestmark = pytest.mark.live

LABS = ["--labs", str(Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "labs" / "nodeport-basics")]


def test_start_check_solve_reset(cluster, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path))
    try:
        assert cli.main(LABS + ["start", "nodeport-basics", "clusterip"]) == 0
        assert cli.main(LABS + ["check", "nodeport-basics", "--json"]) == 1
        before = json.loads(_last_json(capsys))
        assert before["status"] == "fail"
        assert cli.main(LABS + ["solve", "nodeport-basics"]) == 0
        code = 1
        for _ in range(10):
            code = cli.main(LABS + ["check", "nodeport-basics", "--step", "clusterip"])
            if code == 0:
                break
        assert code == 0
        assert cli.main(LABS + ["list"]) == 0
        assert "1/4 steps" in capsys.readouterr().out
    finally:
        assert cli.main(LABS + ["reset", "nodeport-basics"]) == 0
    assert cluster.get("Namespace", "lab-nodeport-basics") is None or cluster.get("Namespace", "lab-nodeport-basics")["status"]["phase"] == "Terminating"


def _last_json(capsys) -> str:
    out = capsys.readouterr().out
    return out[out.index("{"):]
