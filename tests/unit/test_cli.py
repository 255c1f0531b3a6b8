import builtins
import json
import os
import sys
from pathlib import Path

import pytest

from labrunner import cli

REPO = Path(__file__).resolve().parents[2]
LABS = ["--labs", str(REPO / "labs" / "services")]
QUIZ_LABS = ["--labs", str(REPO / "labs" / "sidecars")]


def test_validate_the_shipped_labs(capsys):
    assert cli.main(["validate", str(REPO / "labs" / "services")]) == 0
    assert "ok  services" in capsys.readouterr().out


def test_list_and_show(capsys):
    assert cli.main(LABS + ["list"]) == 0
    out = capsys.readouterr().out
    assert "services" in out and "0/3 steps" in out
    assert cli.main(LABS + ["show", "services", "clusterip"]) == 0
    assert "two `api` pods" in capsys.readouterr().out


def test_unknown_lab_or_step_is_bad_input(capsys):
    assert cli.main(LABS + ["show", "nope"]) == 2
    assert "no lab 'nope'" in capsys.readouterr().err
    assert cli.main(LABS + ["hint", "services", "--step", "nope"]) == 2
    assert "has no step 'nope'" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["check"])
    assert exc.value.code == 2


def test_hints_are_counted_across_runs(capsys):
    assert cli.main(LABS + ["hint", "services", "--step", "clusterip"]) == 0
    assert cli.main(LABS + ["hint", "services", "--step", "clusterip"]) == 0
    out = capsys.readouterr().out
    assert "Hint 1/3" in out and "Hint 2/3" in out
    assert cli.main(LABS + ["hint", "services", "--step", "clusterip"]) == 0
    assert "lab-services expose deployment api" in capsys.readouterr().out  # the namespace is filled in


def test_quiz_answer_and_check_without_a_cluster(capsys):
    assert cli.main(QUIZ_LABS + ["answer", "sidecars", "smi", "a"]) == 1
    assert cli.main(QUIZ_LABS + ["answer", "sidecars", "smi", "b"]) == 0
    capsys.readouterr()
    assert cli.main(QUIZ_LABS + ["check", "sidecars", "--step", "smi", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "pass" and report["checks"][0]["id"] == "answer"


def test_an_unreachable_cluster_is_one_clear_message(tmp_path, capsys):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: x, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\nusers: [{name: x, user: {token: t}}]\n"
    )
    assert cli.main(["--kubeconfig", str(kubeconfig)] + LABS + ["check", "services"]) == 3
    err = capsys.readouterr().err
    assert "does not answer" in err and "Traceback" not in err and err.count("\n") == 1


def test_a_missing_kubeconfig_is_one_clear_message(tmp_path, capsys):
    assert cli.main(["--kubeconfig", str(tmp_path / "none")] + LABS + ["solve", "services"]) == 3
    assert "no usable kubeconfig" in capsys.readouterr().err


def test_no_arguments_opens_the_tui(monkeypatch):
    called = []
    module = type(sys)("labrunner.tui.app")
    module.run_tui = lambda **options: called.append(options)
    monkeypatch.setitem(sys.modules, "labrunner.tui.app", module)
    assert cli.main([]) == 0 and called[-1]["lab_id"] is None
    # `tui LAB` opens one lab, and the global options reach the app.
    assert cli.main(["--context", "kind-labrunner", "tui", "netpol"]) == 0
    assert called[-1]["lab_id"] == "netpol" and called[-1]["context"] == "kind-labrunner"


def test_no_tui_is_a_clear_message(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_tui(name, *args, **kwargs):
        if name.startswith("labrunner.tui"):
            raise ImportError("No module named 'textual'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "labrunner.tui.app", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_tui)
    assert cli.main([]) == 2
    assert "not available" in capsys.readouterr().err


def test_dev_coverage_lists_every_topic(capsys):
    assert cli.main(LABS + ["dev", "coverage"]) == 0
    out = capsys.readouterr().out
    assert "NET-5" in out and "services/clusterip" in out and "MESH-4" in out
    assert "topics covered" in out


def test_dev_check_names_labs_without_clobbering_the_labs_option(monkeypatch):
    from labrunner import devcheck

    seen = {}
    monkeypatch.setattr(cli, "_cluster", lambda args: "cluster")
    monkeypatch.setattr(devcheck, "dev_check",
                        lambda cluster, labs, **options: seen.update(labs=[l.id for l in labs], **options) or 0)
    assert cli.main(LABS + ["dev", "check", "services"]) == 0
    assert seen["labs"] == ["services"] and seen["repeat"] == 1 and seen["step_id"] is None
    assert cli.main(LABS + ["dev", "check", "nope"]) == 2
    assert cli.main(LABS + ["dev", "check", "--repeat", "3", "--step", "headless"]) == 0
    assert seen["labs"] == ["services"] and seen["repeat"] == 3 and seen["step_id"] == "headless"
    assert cli.main(LABS + ["dev", "check", "--step", "no-such-step"]) == 2


# -- check --wait ----------------------------------------------------------------------------

class StartedCluster:
    """A cluster whose only question here is whether the lab namespace exists: it does, active."""

    def get(self, kind, name, **_):  # noqa: ANN001, ANN003, ANN201
        return {"kind": kind, "metadata": {"name": name}, "status": {"phase": "Active"}}


def _settled_report(status, *, settling: str = ""):  # noqa: ANN001, ANN202
    from dataclasses import replace

    from labrunner.checks import CheckResult, Status
    from labrunner.runner import StepReport

    make = {Status.PASS: CheckResult.passed, Status.FAIL: CheckResult.failed, Status.ERROR: CheckResult.errored}[status]
    result = replace(make("nothing answers on 10.96.0.7:80"), check_id="frontend-reaches-api", title="frontend reaches api",
                     attempts=3)
    if settling:
        result = result.while_settling(settling)
    return StepReport("services", "clusterip", (result,), 2.5, attempts=3,
                      seconds_to_pass=2.4 if status is Status.PASS else None)


def test_wait_goes_with_seconds_and_not_with_watch(capsys):
    assert cli.main(LABS + ["check", "services", "--wait", "5", "--watch"]) == 2
    assert "does not go with --watch" in capsys.readouterr().err
    assert cli.main(LABS + ["check", "services", "--wait", "-1"]) == 2


def test_wait_says_it_is_settling_then_gives_the_verdict_with_attempts(monkeypatch, capsys):
    from labrunner import runner
    from labrunner.checks import Status

    asked = {}

    def settle(cluster, lab, step, *, window, confirm, answers, on_report, namespace=None):  # noqa: ANN001, ANN202
        asked.update(window=window(step.checks[0]), confirm=confirm)
        lag = "kube-proxy may still be programming this Service"
        on_report(_settled_report(Status.FAIL, settling=lag))
        on_report(_settled_report(Status.FAIL, settling=lag))  # the same line is not said twice
        return _settled_report(Status.PASS)

    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "settle_step_checks", settle)
    assert cli.main(LABS + ["check", "services", "--wait", "20", "--json"]) == 0
    out, err = capsys.readouterr()
    assert asked == {"window": 20.0, "confirm": True}
    assert err.count("kube-proxy may still be programming this Service; checking again") == 1
    assert "nothing answers" not in err
    data = json.loads(out)
    assert data["status"] == "pass" and data["attempts"] == 3 and data["secondsToPass"] == 2.4
    assert data["checks"][0]["attempts"] == 3


def test_wait_keeps_an_error_an_error(monkeypatch, capsys):
    from labrunner import runner
    from labrunner.checks import Status

    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "settle_step_checks", lambda *a, **k: _settled_report(Status.ERROR))
    assert cli.main(LABS + ["check", "services", "--wait", "20"]) == 3
    assert "ERROR frontend reaches api" in capsys.readouterr().out


def test_a_one_shot_fail_of_a_lagging_kind_suggests_waiting(monkeypatch, capsys):
    from labrunner import runner
    from labrunner.checks import Status

    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "run_step_checks", lambda *a, **k: _settled_report(Status.FAIL))
    assert cli.main(LABS + ["check", "services", "--step", "clusterip"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  frontend reaches api: nothing answers" in out
    assert "If you changed this a moment ago: NetworkPolicy enforcement (or kube-proxy" in out
    assert "labrunner check services --step clusterip --wait 15" in out


def test_a_hint_revealed_while_check_wait_runs_is_kept(monkeypatch, capsys):
    """A learner runs `check --wait` in one terminal and `hint` on another step in a second: the
    check's verdict, saved at its end, must not write back the progress it read at its start."""
    from labrunner import runner
    from labrunner.checks import Status
    from labrunner.progress import load_progress

    def settle(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        assert cli.main(LABS + ["hint", "services", "--step", "discovery"]) == 0  # the other terminal
        return _settled_report(Status.FAIL)

    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "settle_step_checks", settle)
    assert cli.main(LABS + ["check", "services", "--step", "clusterip", "--wait", "5"]) == 1
    steps = load_progress().lab("services").steps
    assert steps["discovery"].hints_shown == 1
    assert steps["clusterip"].status == "failed" and steps["clusterip"].attempts == 1


def test_watch_mode_keeps_what_another_process_saved_between_its_reports(monkeypatch, capsys):
    from labrunner import runner
    from labrunner.checks import Status
    from labrunner.progress import load_progress

    def watch(cluster, lab, step, *, on_report, stop, answers, namespace=None):  # noqa: ANN001, ANN202
        on_report(_settled_report(Status.FAIL))
        assert cli.main(LABS + ["hint", "services", "--step", "headless"]) == 0
        on_report(_settled_report(Status.PASS))

    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "watch_step", watch)
    assert cli.main(LABS + ["check", "services", "--step", "clusterip", "--watch"]) == 0
    steps = load_progress().lab("services").steps
    assert steps["headless"].hints_shown == 1
    assert steps["clusterip"].status == "passed" and steps["clusterip"].attempts == 2


_SLOW_CHECK_CLI = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (a background job)
from labrunner import cli, runner
from labrunner.checks import CheckResult

def slow(ctx, spec):
    print("checking", flush=True)  # the check is running: Ctrl-C now lands in it, not in start-up
    time.sleep(40)  # a probe pod that takes its time to start
    return CheckResult.failed("slow")

runner.run_check = slow
class StartedCluster:
    def get(self, kind, name, **_):
        return {"kind": kind, "metadata": {"name": name}, "status": {"phase": "Active"}}

cli._cluster = lambda args: StartedCluster()
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("extra", [[], ["--wait", "30"]])
def test_ctrl_c_during_a_slow_check_ends_at_once_with_a_message(tmp_path, extra):
    import signal
    import subprocess
    import time

    env = {**__import__("os").environ, "PYTHONPATH": str(REPO), "LABRUNNER_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_CHECK_CLI, *LABS, "check", "services", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().startswith("checking")  # the step's checks run at once: each says so
    interrupted = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert time.monotonic() - interrupted < 10, "Ctrl-C waited for the check to end"
    assert proc.returncode == 130
    assert "labrunner: interrupted; no verdict was recorded" in err and "Traceback" not in err
    assert not (tmp_path / "state" / "progress.json").exists()


def test_ctrl_c_says_what_may_be_left_half_done(monkeypatch, capsys):
    from labrunner import runner

    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "start_step", interrupted)
    monkeypatch.setattr(runner, "reset_lab", interrupted)
    assert cli.main(LABS + ["start", "services", "discovery"]) == 130
    assert "half set up: run `labrunner start services discovery` again" in capsys.readouterr().err
    assert cli.main(LABS + ["reset", "services"]) == 130
    assert "run `labrunner reset services` again" in capsys.readouterr().err
    assert cli.main(LABS + ["reset", "--all"]) == 130
    assert "run `labrunner reset --all` again" in capsys.readouterr().err


def test_watch_with_json_prints_only_json_on_stdout(monkeypatch, capsys):
    """CI reads `check --watch --json` as a stream of JSON documents: the "watching" note is for
    people and goes to stderr."""
    from labrunner import runner
    from labrunner.checks import Status

    def watch(cluster, lab, step, *, on_report, stop, answers, namespace=None):  # noqa: ANN001, ANN202
        on_report(_settled_report(Status.FAIL))
        on_report(_settled_report(Status.PASS))

    monkeypatch.setattr(cli, "_cluster", lambda args: StartedCluster())
    monkeypatch.setattr(runner, "watch_step", watch)
    assert cli.main(LABS + ["check", "services", "--watch", "--json"]) == 0
    out, err = capsys.readouterr()
    decoder, documents, at = json.JSONDecoder(), [], 0
    while out[at:].strip():
        at += len(out[at:]) - len(out[at:].lstrip())
        document, at = decoder.raw_decode(out, at)
        documents.append(document)
    assert [d["status"] for d in documents] == ["fail", "pass"]
    assert "watching the lab namespace" in err


def test_checking_a_lab_that_is_not_started_says_so_first(monkeypatch, capsys, fake_cluster):
    from labrunner import runner
    from labrunner.checks import Status

    monkeypatch.setattr(cli, "_cluster", lambda args: fake_cluster([]))
    monkeypatch.setattr(runner, "run_step_checks", lambda *a, **k: _settled_report(Status.FAIL))
    assert cli.main(LABS + ["check", "services", "--step", "clusterip", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["status"] == "fail"
    assert "namespace lab-services does not exist" in err and "`labrunner start services clusterip`" in err

    terminating = {"kind": "Namespace", "metadata": {"name": "lab-services", "deletionTimestamp": "now"}}
    monkeypatch.setattr(cli, "_cluster", lambda args: fake_cluster([terminating]))
    assert cli.main(LABS + ["check", "services", "--step", "clusterip"]) == 1
    assert "namespace lab-services is being deleted" in capsys.readouterr().err


@pytest.fixture
def mixed_labs(tmp_path):
    """Two good labs and two broken ones (a FIFO for a step text, an id that is not an id)."""
    import os
    import shutil

    labs = tmp_path / "labs"
    labs.mkdir()
    shutil.copy(REPO / "labs" / "curriculum.yaml", labs)
    for name in ("services", "sidecars", "netpol"):
        shutil.copytree(REPO / "labs" / name, labs / name)
    first_text = sorted((labs / "netpol" / "steps").iterdir())[0]
    first_text.unlink()
    os.mkfifo(first_text)  # nobody writes to it: reading it whole would hang
    (labs / "odd").mkdir()
    (labs / "odd" / "lab.yaml").write_text("format: 1\nid: Not An Id\n")
    return labs


def test_one_broken_lab_never_stops_the_others(mixed_labs, capsys):
    labs = ["--labs", str(mixed_labs)]
    assert cli.main(labs + ["list"]) == 0
    out = capsys.readouterr().out
    assert "services  0/3 steps" in out and "sidecars" in out
    assert "netpol    BROKEN: 1 problem in its files" in out and "odd       BROKEN:" in out
    assert cli.main(labs + ["show", "services"]) == 0
    assert cli.main(labs + ["hint", "services", "--step", "clusterip"]) == 0
    assert "Hint 1/3" in capsys.readouterr().out
    assert cli.main(labs + ["answer", "sidecars", "smi", "b"]) == 0
    capsys.readouterr()
    assert cli.main(labs + ["show", "netpol"]) == 2  # the broken one says why
    err = capsys.readouterr().err
    assert "netpol/lab.yaml:" in err and "steps[0].text:" in err and "is a FIFO, not a regular file" in err
    assert cli.main(labs + ["show", "nope"]) == 2
    assert "(labs: services, sidecars; broken: netpol, odd)" in capsys.readouterr().err


def test_validate_says_ok_for_each_good_lab_and_exits_2(mixed_labs, capsys):
    assert cli.main(["validate", str(mixed_labs)]) == 2
    captured = capsys.readouterr()
    assert "ok  services: 3 steps" in captured.out and "ok  sidecars:" in captured.out
    assert "bad netpol: 1 problem" in captured.out
    assert "odd/lab.yaml" in captured.err and "is a FIFO" in captured.err and "Traceback" not in captured.err


def test_validate_fails_on_a_broken_plugin(monkeypatch, capsys):
    from labrunner.checks import registry

    registry.check_kinds()
    monkeypatch.setattr(registry, "_plugin_problems", ["check plug-in bad (pkg:bad) failed to load: it called sys.exit(0)"])
    assert cli.main(["validate", str(REPO / "labs" / "services")]) == 2
    captured = capsys.readouterr()
    assert "ok  services" in captured.out
    assert "error: check plug-in bad (pkg:bad) failed to load: it called sys.exit(0)" in captured.err
    assert "1 problem found" in captured.err


def test_a_terminal_that_is_not_utf8_gets_escapes_not_a_crash(tmp_path):
    import re
    import shutil
    import subprocess

    labs = tmp_path / "labs"
    shutil.copytree(REPO / "labs" / "services", labs / "services")
    shutil.copy(REPO / "labs" / "curriculum.yaml", labs)
    lab_file = labs / "services" / "lab.yaml"
    text = re.sub(r"(?m)^title: .*$", "title: Caf\u00e9 \U0001f600", lab_file.read_text(encoding="utf-8"), count=1)
    lab_file.write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "labrunner.cli", "--labs", str(labs), "list"],
                          env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "ascii",
                               "LABRUNNER_STATE_DIR": str(tmp_path / "state")},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "Caf\\xe9 \\U0001f600" in proc.stdout
