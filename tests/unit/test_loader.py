import textwrap
from pathlib import Path

import pytest

from labrunner.errors import LabFormatError
from labrunner.loader import discover_labs, load_lab, load_labs
from labrunner.model import Difficulty

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
format: 1
id: demo
title: Demo
summary: A small lab.
difficulty: beginner
minutes: 10
topics: [SVC-1, SEC-1]
requires: [nodeport]
images: [registry.k8s.io/e2e-test-images/agnhost:2.56]
steps:
  - id: one
    title: One
    text: steps/one.md
    topics: [SVC-1]
    setup:
      apply: [manifests/app.yaml]
      wait:
        - {kind: Deployment, name: web, condition: Available, timeout: 30}
        - {kind: Pod, selector: app=web, jsonpath: '{.status.phase}', value: Running}
    checks:
      - {kind: service, name: web, type: ClusterIP}
      - {kind: field, id: port, object: Service/web, path: '{.spec.ports[0].port}', equals: 80}
    hints: [first, second]
    solution:
      apply: [solution/svc.yaml]
      delete: [{kind: Pod, name: old}]
      explanation: Because.
    cleanup:
      delete: [{kind: Service, name: web}]
  - id: quiz
    title: Quiz
    topics: [SEC-1]
    quiz:
      question: Which C is not one of the 4Cs?
      choices: [{id: a, text: Cloud}, {id: b, text: Cookie}]
      answer: b
      explanation: Cloud, Cluster, Container, Code.
"""


def make_lab(tmp_path: Path, text: str = GOOD, files: dict[str, str] | None = None) -> Path:
    lab = tmp_path / "labs" / "demo"
    (lab / "steps").mkdir(parents=True)
    (lab / "manifests").mkdir()
    (lab / "solution").mkdir()
    (lab / "lab.yaml").write_text(text)
    (lab / "steps" / "one.md").write_text("Do it in ${LAB_NAMESPACE}.\n")
    (lab / "manifests" / "app.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
    (lab / "solution" / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n")
    for name, content in (files or {}).items():
        (lab / name).parent.mkdir(parents=True, exist_ok=True)
        (lab / name).write_text(content)
    return lab


def problems_of(tmp_path: Path, text: str, curriculum, files=None) -> list[str]:
    lab = make_lab(tmp_path, text, files)
    with pytest.raises(LabFormatError) as err:
        load_lab(lab, curriculum)
    return [str(p) for p in err.value.problems]


def test_a_good_lab_loads_completely(tmp_path, curriculum):
    lab = load_lab(make_lab(tmp_path), curriculum)
    assert lab.id == "demo" and lab.namespace == "lab-demo"
    assert lab.difficulty is Difficulty.BEGINNER
    one = lab.step("one")
    assert one.text.startswith("Do it")
    assert [m.path.as_posix() for m in one.setup.apply] == ["manifests/app.yaml"]
    assert one.setup.wait[0].condition == "Available" and one.setup.wait[0].timeout == 30
    assert one.setup.wait[1].jsonpath == "{.status.phase}" and one.setup.wait[1].selector == "app=web"
    assert [c.id for c in one.checks] == ["service-1", "port"]
    assert one.hints == ("first", "second")
    assert one.solution.explanation == "Because."
    assert one.solution.actions.delete[0].name == "old"
    assert len(one.solution.actions.apply[0].documents) == 1  # the empty document is skipped
    quiz = lab.step("quiz")
    assert quiz.is_quiz and quiz.quiz.answer == "b" and quiz.checks == ()
    assert [m.path.as_posix() for m in lab.manifests()] == ["manifests/app.yaml", "solution/svc.yaml"]


def test_the_shipped_labs_are_valid():
    labs = load_labs(REPO / "labs")
    assert {"services", "netpol", "storage", "user-access"} <= {lab.id for lab in labs}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("minutes: 10", "minutes: 0", "minutes: expected a positive number"),
        ("minutes: 10", "minutes: true", "minutes: expected a whole number, got true or false"),
        ("difficulty: beginner", "difficulty: easy", "expected beginner, intermediate or advanced"),
        ("id: demo", "id: Demo_Lab", "id: expected lower-case letters"),
        ("requires: [nodeport]", "requires: [gpu]", "unknown feature 'gpu'"),
        ("title: Demo\n", "title: Demo\ncolor: red\n", "color: unknown field"),
        ("text: steps/one.md", "text: steps/two.md", "'steps/two.md' does not exist"),
        ("text: steps/one.md", "text: manifests/app.yaml", "expected a .md file"),
        ("apply: [solution/svc.yaml]", "apply: [/etc/passwd]", "is absolute"),
        ("apply: [solution/svc.yaml]", "apply: [../../x.yaml]", "leads outside the lab folder"),
        ("{kind: service, name: web, type: ClusterIP}", "{kind: nope, name: web}", "unknown check kind 'nope'"),
        ("{kind: service, name: web, type: ClusterIP}", "{kind: service}", "name: required by check kind 'service'"),
        ("{kind: service, name: web, type: ClusterIP}", "{kind: service, name: 5}", "name: expected a Service name: lower-case letters, digits and '-', a letter first (at most 63), got a whole number"),
        ("equals: 80}", "equals: 80, matches: '8.'}", "give exactly one of equals, matches, present"),
        ("path: '{.spec.ports[0].port}'", "path: '{.spec[}'", "cannot read"),
        ("object: Service/web", "object: web", "expected Kind/name"),
        ("condition: Available, timeout: 30", "timeout: 30", "give exactly one of condition, jsonpath"),
        ("hints: [first, second]", "hints: [first, {a: b}]", "hints[1]: expected text"),
        ("answer: b", "answer: z", "expected the id of a choice"),
        ("topics: [SEC-1]\n    quiz", "topics: [NET-1]\n    quiz", "topic 'NET-1' is not in the lab's `topics`"),
        ("    solution:\n      apply: [solution/svc.yaml]\n      delete: [{kind: Pod, name: old}]\n", "    solution:\n", "solution: expected at least one of apply, delete, wait"),
        ("    checks:\n", "    checks: []\n    old_checks:\n", "old_checks: unknown field"),
        ("condition: Available, timeout: 30", "condition: Available, timeout: 3600", "timeout: expected a number of seconds from 1 to 600"),
        ("condition: Available, timeout: 30", "condition: Available, timeout: .inf", "inf is not a finite number"),
        ("hints: [first, second]", "hints: [first, 'kubectl -n ${LAB_NAMESPCE} get pods']", "hints[1]: unknown placeholder ${LAB_NAMESPCE}"),
        ("equals: 80}", "matches: '(80'}", "checks[1].matches: not a valid regular expression"),
    ],
)
def test_each_problem_is_named(tmp_path, curriculum, old, new, expected):
    assert old in GOOD, old
    problems = problems_of(tmp_path, GOOD.replace(old, new, 1), curriculum)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(str(tmp_path)) or "labs/demo" in p for p in problems)


def test_problem_points_at_the_line(tmp_path, curriculum):
    problems = problems_of(tmp_path, GOOD.replace("minutes: 10", "minutes: ten"), curriculum)
    assert any(":6: minutes:" in p for p in problems), problems


def test_symlink_out_of_the_lab_is_refused(tmp_path, curriculum):
    outside = tmp_path / "outside.md"
    outside.write_text("secret")
    lab = make_lab(tmp_path)
    (lab / "steps" / "one.md").unlink()
    (lab / "steps" / "one.md").symlink_to(outside)
    with pytest.raises(LabFormatError, match="leads outside the lab folder"):
        load_lab(lab, curriculum)


def test_manifest_problems_name_the_manifest_file(tmp_path, curriculum):
    problems = problems_of(tmp_path, GOOD, curriculum, files={"solution/svc.yaml": "apiVersion: v1\nmetadata: {}\n"})
    assert any("solution/svc.yaml:1: kind: missing" in p for p in problems), problems
    assert any("metadata.name: missing" in p for p in problems), problems


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("steps/one.md", "Work in\nthe namespace ${LAB_NAMESPCE}.\n", "steps[0].text: 'steps/one.md' line 2: unknown placeholder ${LAB_NAMESPCE}"),
    ("solution/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: '${LAB_NAMESPCE}'}\n",
     "solution/svc.yaml:3: metadata.namespace: unknown placeholder ${LAB_NAMESPCE}"),
])
def test_a_misspelt_placeholder_in_a_file_is_named_there(tmp_path, curriculum, name, text, expected):
    problems = problems_of(tmp_path, GOOD, curriculum, files={name: text})
    assert any(expected in p for p in problems), problems


def test_admission_manifest_is_resolved(tmp_path, curriculum):
    text = GOOD.replace(
        "{kind: service, name: web, type: ClusterIP}",
        "{kind: admission, manifest: tests/bad.yaml, expect: rejected}",
    )
    lab_dir = make_lab(tmp_path, text, files={"tests/bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\n"})
    lab = load_lab(lab_dir, curriculum)
    manifest = lab.step("one").checks[0].params["manifest"]
    assert manifest.documents[0]["metadata"]["name"] == "bad"
    missing = problems_of(tmp_path / "b", text, curriculum)
    assert any("'tests/bad.yaml' does not exist" in p for p in missing), missing


def test_discover_reports_duplicate_lab_ids(tmp_path, curriculum):
    make_lab(tmp_path)
    twin = tmp_path / "labs" / "twin"
    twin.mkdir()
    for item in (tmp_path / "labs" / "demo").iterdir():
        target = twin / item.name
        if item.is_dir():
            target.mkdir()
            for f in item.iterdir():
                (target / f.name).write_text(f.read_text())
        else:
            target.write_text(item.read_text())
    report = discover_labs(tmp_path / "labs", curriculum)
    assert [lab.id for lab in report.labs] == ["demo"]
    assert any("lab id 'demo' is already used" in str(p) for p in report.problems)


def test_missing_folder_is_a_problem_not_a_crash(tmp_path, curriculum):
    report = discover_labs(tmp_path / "nothing", curriculum)
    assert report.problems and "no such file or folder" in str(report.problems[0])


def test_curriculum_has_every_topic(curriculum):
    for topic in ["ORCH-1", "RT-3", "SEC-3", "SEC-4", "SVC-2a", "SVC-6", "MESH-1", "MESH-2", "MESH-4", "STO-4"]:
        assert topic in curriculum
    assert len(curriculum.topics) == 31


ANSWERS = """\
    wrong:
      - id: no-port
        title: a Service without the port
        do:
          - apply: [wrong/svc.yaml]
            namespace: other
          - delete: [{kind: Service, name: web}]
            run: kubectl -n ${LAB_NAMESPACE} get svc
            wait: [{kind: Service, name: web, deleted: true}]
        fails:
          port: "should be 80"
          service-1: ["", "not found"]
    alternatives:
      - id: by-hand
        title: the same Service, made with kubectl
        do:
          - run: kubectl -n ${LAB_NAMESPACE} expose deployment web --port 80
"""
WRONG_SVC = {"wrong/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"}


def with_answers(answers: str = ANSWERS) -> str:
    return GOOD.replace("    cleanup:\n", answers + "    cleanup:\n")


def test_wrong_answers_and_alternatives_load(tmp_path, curriculum):
    lab = load_lab(make_lab(tmp_path, with_answers(), WRONG_SVC), curriculum)
    step = lab.step("one")
    (wrong,) = step.wrong
    assert wrong.id == "no-port" and wrong.title == "a Service without the port"
    assert [m.path.as_posix() for m in wrong.do[0].actions.apply] == ["wrong/svc.yaml"]
    assert wrong.do[0].namespace == "other" and wrong.do[0].run == ""
    assert wrong.do[1].actions.delete[0].name == "web" and wrong.do[1].actions.wait[0].deleted
    assert wrong.do[1].run == "kubectl -n ${LAB_NAMESPACE} get svc"
    assert dict(wrong.fails) == {"port": ("should be 80",), "service-1": ("", "not found")}
    (alternative,) = step.alternatives
    assert alternative.id == "by-hand" and alternative.fails == {}
    assert "expose" in alternative.do[0].run
    assert "wrong/svc.yaml" in [m.path.as_posix() for m in lab.manifests()]  # reset knows its kinds


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("port: \"should be 80\"", "porte: \"should be 80\"", "fails.porte: no check 'porte' in this step; expected one of port, service-1"),
        ("port: \"should be 80\"", "port: 80", "fails.port: expected the text"),
        ("id: by-hand", "id: no-port", "alternatives[0].id: answer id 'no-port' is already used by steps[0].wrong[0]"),
        ("apply: [wrong/svc.yaml]", "apply: [wrong/none.yaml]", "do[0].apply[0]: 'wrong/none.yaml' does not exist"),
        ("apply: [wrong/svc.yaml]", "apply: [../../x.yaml]", "leads outside the lab folder"),
        ("namespace: other", "namespace: Other_NS", "do[0].namespace: expected a suffix"),
        ("          - run: kubectl -n ${LAB_NAMESPACE} expose", "          - shell: kubectl expose", "do[0].shell: unknown field"),
        ("          - run: kubectl -n ${LAB_NAMESPACE} expose deployment web --port 80",
         "          - namespace: other", "alternatives[0].do[0]: expected at least one of apply, delete, run, wait"),
        ("        title: the same Service", "        fails: {port: ''}\n        title: the same Service", "alternatives[0].fails: unknown field"),
        ("        fails:\n          port: \"should be 80\"\n          service-1: [\"\", \"not found\"]\n", "", "wrong[0].fails: missing"),
    ],
)
def test_each_answer_problem_is_named(tmp_path, curriculum, old, new, expected):
    text = with_answers()
    assert old in text
    problems = problems_of(tmp_path, text.replace(old, new), curriculum, WRONG_SVC)
    assert any(expected in p for p in problems), problems


def test_a_quiz_step_has_no_answers_as_data(tmp_path, curriculum):
    text = GOOD + "    alternatives: []\n"  # on the quiz, the last step
    problems = problems_of(tmp_path, text, curriculum)
    assert any("steps[1].alternatives: a quiz step has no `alternatives`" in p for p in problems), problems


def test_a_wrong_manifest_gets_the_same_safety_checks(tmp_path, curriculum):
    files = {"wrong/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {generateName: web-}\n"}
    problems = problems_of(tmp_path, with_answers(), curriculum, files)
    assert any("svc.yaml" in p and "metadata.name" in p for p in problems), problems


def test_manifests_stay_in_the_lab_unless_declared(tmp_path, curriculum):
    files = {"solution/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: kube-dns\n  namespace: kube-system\n"}
    problems = problems_of(tmp_path, GOOD, curriculum, files)
    assert any("solution/svc.yaml:5: metadata.namespace: 'kube-system' is outside the lab's namespace" in p
               for p in problems), problems
    declared = GOOD.replace("steps:\n", "outside:\n  namespaces: [kube-system]\nsteps:\n", 1)
    lab = load_lab(make_lab(tmp_path / "again", declared, files), curriculum)
    assert lab.steps[0].solution.actions.apply[0].documents[0]["metadata"]["namespace"] == "kube-system"


def test_a_delete_outside_the_lab_is_refused(tmp_path, curriculum):
    text = GOOD.replace("delete: [{kind: Pod, name: old}]", "delete: [{kind: ClusterRoleBinding, name: cluster-admin}]")
    problems = problems_of(tmp_path, text, curriculum)
    assert any("lab.yaml:" in p and "steps[0].solution.delete[0]: ClusterRoleBinding/cluster-admin is a name the "
               "cluster itself uses" in p for p in problems), problems


def test_manifest_metadata_types_are_checked(tmp_path, curriculum):
    files = {"manifests/app.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    tier: 1\n"}
    problems = problems_of(tmp_path, GOOD, curriculum, files)
    assert any("manifests/app.yaml:6: metadata.labels.tier: expected text, got 1" in p for p in problems), problems


def test_a_lab_that_trips_a_bug_is_broken_alone(tmp_path, curriculum, monkeypatch):
    import labrunner.loader as loader

    make_lab(tmp_path / "a")
    make_lab(tmp_path / "b", GOOD.replace("id: demo", "id: other"))
    real = loader.read_lab

    def read(lab_dir, curriculum):  # noqa: ANN001
        if lab_dir.parent.parent.name == "a":
            raise RecursionError("maximum recursion depth exceeded")
        return real(lab_dir, curriculum)

    monkeypatch.setattr(loader, "read_lab", read)
    report = discover_labs(tmp_path, curriculum)
    assert [lab.id for lab in report.labs] == ["other"]
    assert [b.name for b in report.broken] == ["demo"]
    assert "this is a bug in labrunner" in str(report.broken[0].problems[0])


def test_every_entry_named_lab_yaml_is_a_lab_folder(tmp_path, curriculum):
    import os

    make_lab(tmp_path)
    (tmp_path / "labs" / "loop").mkdir()
    (tmp_path / "labs" / "loop" / "lab.yaml").symlink_to("lab.yaml")
    (tmp_path / "labs" / "pipe").mkdir()
    os.mkfifo(tmp_path / "labs" / "pipe" / "lab.yaml")
    (tmp_path / "labs" / ".hidden").mkdir()
    (tmp_path / "labs" / ".hidden" / "lab.yaml").write_text("nonsense: [")
    report = discover_labs(tmp_path / "labs", curriculum)
    assert [lab.id for lab in report.labs] == ["demo"]
    messages = {b.name: str(b.problems[0]) for b in report.broken}
    assert "is a symlink loop" in messages["loop"]
    assert "is a FIFO, not a regular file" in messages["pipe"]
    assert set(messages) == {"loop", "pipe"}
