"""The labs' learning order (curriculum.yaml's `order`) and the lab to take next."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labrunner.cli import main
from labrunner.loader import discover_labs
from labrunner.progress import Progress

REPO = Path(__file__).resolve().parents[2]
CURRICULUM = """\
topics:
  T-1: a topic
{order}
"""
LAB = """\
format: 1
id: {id}
title: Lab {id}
summary: A lab.
difficulty: beginner
minutes: 5
topics: [T-1]
steps:
  - id: only
    title: Only
    quiz:
      question: Is it?
      choices: [{{id: a, text: Sure}}, {{id: b, text: Never}}]
      answer: a
      explanation: Yes.
"""


def course(tmp_path: Path, order: str, ids=("alpha", "beta", "gamma")) -> Path:
    root = tmp_path / "labs"
    root.mkdir()
    (root / "curriculum.yaml").write_text(CURRICULUM.format(order=order))
    for lab_id in ids:
        (root / lab_id).mkdir()
        (root / lab_id / "lab.yaml").write_text(LAB.format(id=lab_id))
    return root


def test_labs_follow_the_order_and_the_unnamed_ones_come_after_by_folder(tmp_path):
    report = discover_labs(course(tmp_path, "order: [gamma, alpha]", ids=("alpha", "beta", "gamma", "delta")))
    assert report.problems == []
    assert [lab.id for lab in report.labs] == ["gamma", "alpha", "beta", "delta"]


def test_without_an_order_the_labs_come_by_folder(tmp_path):
    assert [lab.id for lab in discover_labs(course(tmp_path, "")).labs] == ["alpha", "beta", "gamma"]


def test_an_order_naming_no_lab_is_a_problem_with_its_line(tmp_path):
    report = discover_labs(course(tmp_path, "order:\n  - alpha\n  - betta\n"))
    [problem] = report.problems
    assert problem.file.endswith("curriculum.yaml") and (problem.line, problem.field) == (5, "order[1]")
    assert problem.message == "no lab has the id 'betta'; expected the id of a lab in this folder (alpha, beta, gamma)"
    assert [lab.id for lab in report.labs] == ["alpha", "beta", "gamma"]  # the labs still load


def test_one_lab_of_a_course_is_validated_without_the_others_missing(tmp_path):
    root = course(tmp_path, "order: [gamma, alpha, beta]")
    report = discover_labs(root / "beta")
    assert report.problems == [] and [lab.id for lab in report.labs] == ["beta"]


@pytest.mark.parametrize("order, expected", [
    ("order: [alpha, alpha]", "lab 'alpha' is named twice"),
    ("order: [Alpha]", "order[0]"),
    ("order: alpha", "order"),
])
def test_a_bad_order_is_named(tmp_path, order, expected):
    report = discover_labs(course(tmp_path, order))
    assert report.labs == [] and any(expected in str(p) for p in report.problems), report.problems


def test_the_shipped_course_names_every_lab_in_its_order():
    report = discover_labs(REPO / "labs")
    assert report.problems == []
    from labrunner.loader import load_curriculum

    order = load_curriculum(REPO / "labs" / "curriculum.yaml").order
    assert [lab.id for lab in report.labs][:len(order)] == list(order)
    assert report.labs[0].id == "orchestration"


def test_the_next_lab_is_the_first_not_done():
    labs = discover_labs(REPO / "labs").labs
    progress = Progress()
    assert progress.next_lab(labs) is labs[0]  # a new learner starts with the first lab
    assert progress.labs == {}  # asking adds no entry to the file
    for step in labs[0].steps:
        progress.lab(labs[0].id).step(step.id).status = "passed"
    assert progress.next_lab(labs) is labs[1]
    progress.lab(labs[1].id).step(labs[1].steps[0].id).status = "passed"  # partly done: still the next
    assert progress.next_lab(labs) is labs[1]
    assert progress.next_lab(labs[:1]) is None  # every lab done


def test_list_names_the_first_lab_for_a_new_learner(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = course(tmp_path, "order: [beta, gamma, alpha]")
    assert main(["--labs", str(root), "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["beta", "gamma", "alpha"]
    assert lines[-1].startswith("Next: beta (`labrunner tui beta`")


def test_the_shipped_curriculum_is_the_one_a_copy_of_the_labs_uses(tmp_path):
    copy = shutil.copytree(REPO / "labs", tmp_path / "labs")
    assert [lab.id for lab in discover_labs(copy).labs] == [lab.id for lab in discover_labs(REPO / "labs").labs]


def test_an_installed_package_finds_the_labs_and_kind_config_it_ships(tmp_path, monkeypatch):
    """As a wheel lays it out (setup.py): site-packages/labrunner/shipped/{labs,kind-config.yaml},
    with no checkout around; run from a folder with no labs of its own."""
    from labrunner import labfolders
    from labrunner.capabilities.portmaps import kind_config_path

    package = tmp_path / "site-packages" / "labrunner"
    shutil.copytree(REPO / "labs", package / "shipped" / "labs")
    shutil.copy(REPO / "kind-config.yaml", package / "shipped" / "kind-config.yaml")
    (tmp_path / "site-packages" / "labs").mkdir()  # a stray top-level folder of that name is not taken
    monkeypatch.setattr(labfolders, "_PACKAGE", package)
    monkeypatch.delenv("LABRUNNER_LABS", raising=False)
    monkeypatch.delenv("LABRUNNER_KIND_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path / "site-packages" / "labs")
    assert labfolders.default_labs_dir() == package / "shipped" / "labs"
    assert kind_config_path() == package / "shipped" / "kind-config.yaml"
    report = discover_labs()
    assert report.problems == [] and report.labs[0].id == "orchestration"


def test_a_checkout_finds_its_own_labs(monkeypatch, tmp_path):
    from labrunner import labfolders

    monkeypatch.delenv("LABRUNNER_LABS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert labfolders.default_labs_dir() == REPO / "labs"
    assert labfolders.shipped_path(labfolders.SHIPPED_KIND_CONFIG) == REPO / "kind-config.yaml"


def test_the_build_ships_what_labrunner_looks_for():
    """setup.py copies SHIPPED into labrunner/shipped/; labfolders looks there for these names."""
    import ast

    from labrunner import labfolders

    tree = ast.parse((REPO / "setup.py").read_text())
    [shipped] = [ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SHIPPED"]
    assert set(shipped) == {labfolders.SHIPPED_LABS, labfolders.SHIPPED_KIND_CONFIG}
    assert all((REPO / name).exists() for name in shipped)
