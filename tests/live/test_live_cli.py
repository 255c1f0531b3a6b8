"""The learner's loop through the CLI on a real cluster: start, check, solve, check, reset."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labrunner import cli
from labrunner.checks import check_kinds
from labrunner.cluster import delete_namespace

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
    assert cluster.get("Namespace", "lab-nodeport-basics") is None  # reset returns once it is gone


def _last_json(capsys) -> str:
    out = capsys.readouterr().out
    return out[out.index("{"):]


# -- settled verdicts: the CLI as a learner runs it, in a process of its own ------------------

REPO = Path(__file__).resolve().parents[2]


def copy_lab(tmp_path: Path, lab_id: str, new_id: str) -> list[str]:
    """A throwaway copy of a shipped lab under another id (so another namespace, lab-NEW_ID), for
    tests that must not share the lab's own namespace; returns the `--labs` option for it."""
    labs = tmp_path / "labs"
    shutil.copytree(REPO / "labs" / lab_id, labs / new_id)
    shutil.copy(REPO / "labs" / "curriculum.yaml", labs / "curriculum.yaml")
    lab_file = labs / new_id / "lab.yaml"
    text = lab_file.read_text()
    assert f"\nid: {lab_id}\n" in text
    lab_file.write_text(text.replace(f"\nid: {lab_id}\n", f"\nid: {new_id}\n", 1))
    return ["--labs", str(labs)]


def labrunner(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`labrunner ARGS` in a new process with this checkout's code and a private progress file."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "LABRUNNER_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "labrunner.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False, cwd=REPO)  # `-m` puts the cwd first on sys.path


def setup_is_there(cluster, namespace: str, deployments: list[str]) -> None:
    """The namespace is active and the step's Deployments exist in it, not being deleted."""
    ns = cluster.get("Namespace", namespace)
    assert ns is not None and not ns["metadata"].get("deletionTimestamp"), ns and ns["status"]
    for name in deployments:
        obj = cluster.get("Deployment", name, namespace=namespace)
        assert obj is not None, f"Deployment {name} vanished from {namespace}"
        assert not obj["metadata"].get("deletionTimestamp"), f"Deployment {name} is being deleted"


def test_reset_then_start_at_once_leaves_the_setup_there(cluster, tmp_path):
    """`labrunner reset services && labrunner start services` used to say "set up" while the
    namespace was terminating; the setup then vanished and check blamed the learner."""
    labs = copy_lab(tmp_path, "services", "lr-settle-services")
    namespace = "lab-lr-settle-services"
    try:
        first = labrunner(tmp_path, *labs, "start", "lr-settle-services", "clusterip")
        assert first.returncode == 0, first.stderr
        # Someone deletes the namespace without waiting (kubectl delete ns --wait=false, an older
        # labrunner): start must wait for it rather than apply into a namespace about to vanish.
        delete_namespace(cluster, namespace, wait=False)
        again = labrunner(tmp_path, *labs, "start", "lr-settle-services", "clusterip")
        assert again.returncode == 0, again.stderr
        assert f"namespace {namespace} is still being deleted" in again.stderr
        assert "is set up in namespace" in again.stdout
        setup_is_there(cluster, namespace, ["api", "frontend"])

        reset = labrunner(tmp_path, *labs, "reset", "lr-settle-services")
        assert reset.returncode == 0, reset.stderr
        assert cluster.get("Namespace", namespace) is None  # reset returned only once it was gone
        start = labrunner(tmp_path, *labs, "start", "lr-settle-services", "clusterip")
        assert start.returncode == 0, start.stderr
        assert "still being deleted" not in start.stderr
        time.sleep(5)  # the old fault showed here: the namespace controller deleted the new setup
        setup_is_there(cluster, namespace, ["api", "frontend"])
        check = labrunner(tmp_path, *labs, "check", "lr-settle-services", "--json")
        assert json.loads(check.stdout)["status"] == "fail"  # unsolved, but no error: the setup is whole
    finally:
        labrunner(tmp_path, *labs, "reset", "lr-settle-services")


def test_a_fresh_loadbalancer_passes_with_wait_and_says_it_is_settling(cluster, tmp_path):
    """exposing/loadbalancer: `kubectl expose deployment frontend --name shop --type LoadBalancer
    --port 80 --target-port 8080`, checked at once, used to fail for a second or two with "no
    answer"; with --wait it passes and says meanwhile that it is settling.

    "At once" made sure: `check --wait` is already running (its first attempt has failed) when
    the Service is created, so the checks see it from its first moment."""
    labs = copy_lab(tmp_path, "exposing", "lr-settle-exposing")
    namespace = "lab-lr-settle-exposing"
    try:
        start = labrunner(tmp_path, *labs, "start", "lr-settle-exposing", "loadbalancer", "--catch-up")
        assert start.returncode == 0, start.stderr
        check = labrunner_running(tmp_path, *labs, "check", "lr-settle-exposing", "--step", "loadbalancer",
                                  "--wait", "60", "--json")
        said = [check.stderr.readline()]  # the first attempt failed: it says so, and checks again
        assert said[0].startswith("... "), said
        expose(cluster, namespace)
        out, rest = check.communicate(timeout=120)
        said += rest.splitlines()
        assert check.returncode == 0, out + "".join(said)
        report = json.loads(out)
        assert report["status"] == "pass" and report["secondsToPass"] is not None and report["attempts"] > 2
        lags = [check_kinds()[kind].lags for kind in ("service", "http")]
        for line in filter(None, (line.strip() for line in said)):
            assert line.startswith("... ") and "; checking again" in line, line
            seconds = float(line.rsplit(", ", 1)[1].rstrip("s)"))
            if seconds < 10:  # within the kinds' settling time: what may lag, never the learner's fault
                assert any(lag in line for lag in lags), line
                assert "no answer" not in line and "nothing answers" not in line and "does not" not in line, line
    finally:
        labrunner(tmp_path, *labs, "reset", "lr-settle-exposing")


def labrunner_running(tmp_path: Path, *args: str) -> subprocess.Popen:
    """`labrunner ARGS` started in a new process, its stdout and stderr to read while it runs."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "LABRUNNER_STATE_DIR": str(tmp_path / "state")}
    return subprocess.Popen([sys.executable, "-m", "labrunner.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def expose(cluster, namespace: str) -> None:
    """`kubectl expose deployment frontend --name shop --type LoadBalancer --port 80 --target-port 8080`,
    or the Service it creates when kubectl is not installed."""
    if shutil.which("kubectl"):
        done = subprocess.run(["kubectl", "-n", namespace, "expose", "deployment", "frontend", "--name", "shop",
                               "--type", "LoadBalancer", "--port", "80", "--target-port", "8080"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return
    from labrunner.cluster import apply_manifests
    from labrunner.model import Manifest

    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop"},
               "spec": {"type": "LoadBalancer", "selector": {"app": "frontend"},
                        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}
    apply_manifests(cluster, [Manifest(Path("expose.yaml"), (service,))], namespace=namespace, lab_id="lr-settle-exposing")


ERROR_LAB = """format: 1
id: lr-settle-error
title: An error stays an error
summary: One check the cluster cannot run, one the learner has not done.
difficulty: beginner
minutes: 1
topics: [SVC-1]
requires: []
images: []
steps:
  - id: only
    title: Only
    text: steps/only.md
    checks:
      - kind: exists
        id: gizmo
        title: a Gizmo exists (a kind this cluster does not serve)
        object: Gizmo/g
        apiVersion: labrunner-test.example.com/v1
      - kind: exists
        id: never
        title: ConfigMap never exists
        object: ConfigMap/never
    solution:
      apply: [solution/never.yaml]
"""


def test_wait_keeps_an_error_an_error(cluster, tmp_path):
    lab = tmp_path / "labs" / "lr-settle-error"
    (lab / "steps").mkdir(parents=True)
    (lab / "steps" / "only.md").write_text("Nothing to do.\n")
    (lab / "lab.yaml").write_text(ERROR_LAB)
    (lab / "solution").mkdir()
    (lab / "solution" / "never.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: never}\n")
    shutil.copy(REPO / "labs" / "curriculum.yaml", tmp_path / "labs" / "curriculum.yaml")
    labs = ["--labs", str(tmp_path / "labs")]
    started = time.monotonic()
    check = labrunner(tmp_path, *labs, "check", "lr-settle-error", "--wait", "30", "--json")
    assert check.returncode == 3, check.stdout + check.stderr
    report = json.loads(check.stdout)
    gizmo = next(c for c in report["checks"] if c["id"] == "gizmo")
    assert report["status"] == "error" and gizmo["status"] == "error" and gizmo["attempts"] == 1
    assert "serves no kind Gizmo" in gizmo["message"]
    assert time.monotonic() - started < 25  # an error ends the wait: no more attempt can change it
    text = labrunner(tmp_path, *labs, "check", "lr-settle-error", "--wait", "30")
    assert text.returncode == 3 and "ERROR a Gizmo exists" in text.stdout and "a check could not run" in text.stdout
