import builtins
import json
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
