import argparse
from pathlib import Path

from labrunner import kindcluster
from labrunner.checks import Status
from labrunner.devcheck import StepProof, _prove_quiz, dev_namespace
from labrunner.loader import find_curriculum, load_curriculum, load_lab

REPO = Path(__file__).resolve().parents[2]
LAB = load_lab(REPO / "tests" / "fixtures" / "labs" / "nodeport-basics", load_curriculum(find_curriculum(REPO / "labs")))


def test_dev_namespaces_are_valid_and_distinct():
    lab = LAB
    names = {dev_namespace(lab, i) for i in range(len(lab.steps))}
    assert len(names) == len(lab.steps)
    assert all(len(n) <= 63 and not n.endswith("-") for n in names)


def test_a_quiz_step_flips_without_a_cluster():
    lab = LAB
    proof = _prove_quiz(lab, lab.step("externalname"))
    assert proof.before is Status.FAIL and proof.after is Status.PASS and proof.flipped


def test_a_step_that_passes_before_its_solution_does_not_flip():
    assert not StepProof("l", "s", Status.PASS, Status.PASS, 0, 0).flipped
    assert not StepProof("l", "s", Status.ERROR, None, 0, 0, "boom").flipped
    assert StepProof("l", "s", Status.FAIL, Status.PASS, 0, 0).flipped


def test_up_without_docker_points_to_any_cluster(monkeypatch, capsys):
    monkeypatch.setattr(kindcluster.shutil, "which", lambda name: None)
    assert kindcluster.command_up(argparse.Namespace(name="labrunner"), []) == 3  # the environment lacks docker
    assert "KUBECONFIG" in capsys.readouterr().err


def test_doctor_without_a_cluster_says_how_to_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(kindcluster.shutil, "which", lambda name: None)
    args = argparse.Namespace(kubeconfig=str(tmp_path / "missing"), context=None)
    assert kindcluster.command_doctor(args, []) == 3  # no cluster: an error of the environment
    out = capsys.readouterr().out
    assert "[FAIL] docker" in out and "fix: install Docker" in out
    assert "cluster reachable" in out and "fix: start a cluster" in out


def test_the_kind_config_maps_the_lab_ports():
    import yaml

    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    ports = {m["hostPort"] for m in config["nodes"][0]["extraPortMappings"]}
    assert {30080, 80, 443} <= ports
    assert config["networking"]["disableDefaultCNI"] is False


def test_a_wrong_answers_other_namespace_fits_in_63_characters_for_the_longest_valid_names():
    """The loader allows a 40-character lab id and a 40-character `namespace:` suffix; the proof's
    "<namespace>-<suffix>" must still be a valid namespace name, or the proof breaks on the API's refusal."""
    from dataclasses import replace

    from labrunner.model import ActionGroup, Actions, Answer

    suffix = "a" * 39 + "z"
    answer = Answer(id="elsewhere", title="in another namespace", fails={"c": ("",)},
                    do=(ActionGroup(actions=Actions(), run="true", namespace=suffix),))
    step = replace(LAB.steps[0], wrong=(answer,))
    lab = replace(LAB, id="l" * 40, steps=(step, *LAB.steps[1:]))
    for index in (0, 9, 42):
        base = dev_namespace(lab, index, "ffff")
        other = f"{base}-{suffix}"
        assert len(other) <= 63 and not base.endswith("-"), other
        assert base.startswith("lrdev-l") and base.endswith(f"-{index}-ffff")
