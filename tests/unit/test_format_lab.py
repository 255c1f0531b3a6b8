"""The lab file as models: where each problem is, in YAML terms, and what it says."""

import sys

import pytest
from pydantic import ValidationError

from labrunner.checks import CheckKind, CheckResult, Param, check_kinds
from labrunner.errors import Problem
from labrunner.format.lab import lab_file_model
from labrunner.format.problems import problems_of


def lab(**changes) -> dict:
    data = {
        "format": 1, "id": "demo", "title": "Demo", "summary": "A lab.", "difficulty": "beginner", "minutes": 5,
        "topics": ["SVC-1"],
        "steps": [{"id": "one", "title": "One", "text": "steps/one.md",
                   "checks": [{"kind": "service", "name": "web"}], "solution": {"apply": ["solution/svc.yaml"]}}],
    }
    data.update(changes)
    return data


def problems(data: dict, kinds=None) -> list[str]:
    model = lab_file_model(kinds or check_kinds())
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [f"{p.field}: {p.message}" for p in problems_of(exc, model, file="lab.yaml", lines={})]
    return []


def step(**changes) -> list[dict]:
    return [{**lab()["steps"][0], **changes}]


def test_a_good_lab_file_has_no_problem():
    assert problems(lab()) == []


@pytest.mark.parametrize(("data", "expected"), [
    (lab(minutes=True), "minutes: expected a whole number, got true or false"),
    (lab(minutes=1e9), "minutes: expected a whole number, got a number (1000000000.0)"),
    (lab(colour="red"), "colour: unknown field; expected one of: difficulty, format, id, images, minutes, outside, requires, steps, summary, "
                        "title, topics, workshop"),
    (lab(workshop={"shareable": False}), "workshop.reason: say why the lab cannot be shared"),
    (lab(workshop={"shareable": "no", "reason": "x"}), "workshop.shareable: expected true or false"),
    (lab(steps=step(checks=[{"kind": "service", "name": "web", "port": 0}])), "steps[0].checks[0].port: expected a port number"),
    (lab(steps=step(checks=[{"kind": "service"}])), "steps[0].checks[0].name: required by check kind 'service': the Service"),
    (lab(steps=step(checks=[{"kind": "nope"}])), "steps[0].checks[0].kind: unknown check kind 'nope'; expected one of absent,"),
    (lab(steps=step(checks=[{"name": "web"}])), "steps[0].checks[0].kind: missing; expected the check kind"),
    (lab(steps=step(checks=["service web"])), "steps[0].checks[0]: expected a check (a mapping with `kind`), got text"),
    (lab(steps=step(checks=[{"kind": "service", "name": "web", "colour": "blue"}])),
     "steps[0].checks[0].colour: unknown parameter for check kind 'service' (known: "),
    (lab(steps=step(wrong=[{"id": "a", "title": "A", "do": [{"run": "true"}], "fails": {"service-1": ""}},
                           {"id": "a", "title": "B", "do": [{"run": "true"}], "fails": {"service-1": ""}}])),
     "steps[0].wrong[1].id: answer id 'a' is already used by steps[0].wrong[0]"),
    (lab(steps=step(setup={"wait": [{"kind": "Pod", "name": "a", "condition": "Ready", "timeout": float("nan")}]})),
     "steps[0].setup.wait[0].timeout: expected a number of seconds from 1 to 600; nan is not a finite number"),
    (lab(steps=step(hints=["kubectl -n ${LAB_NAMESPCE} get pods"])),
     "steps[0].hints[0]: unknown placeholder ${LAB_NAMESPCE}; did you mean ${LAB_NAMESPACE}?"),
    (lab(steps=step(checks=[{"kind": "service", "name": "${LAB_NAMESPCE}-web"}])),
     "steps[0].checks[0].name: unknown placeholder ${LAB_NAMESPCE}"),
    (lab(steps=step(checks=[{"kind": "exec", "pod": "a", "command": ["echo", "${NONCE}"]}])),
     "steps[0].checks[0].command[1]: ${NONCE} is filled in only by a logs check"),
    (lab(steps="one"), "steps: expected a list, got text 'one'"),
    (lab(steps=[]), "steps: expected at least one step"),
    (lab(format=2, colour="red"), "format: this labrunner reads format 1, got 2"),
    ({**lab(), 1: "x"}, "[1]: expected a name (text) as the key, got a whole number (1); quote it"),
    (lab(steps=step(wrong=[{"id": "a", "title": "A", "do": [{"run": "true"}], "fails": {7: ""}}])),
     "steps[0].wrong[0].fails[7]: expected a name (text) as the key, got a whole number (7)"),
])
def test_each_problem_names_its_field(data, expected):
    found = problems(data)
    assert any(expected in p for p in found), found


def test_another_format_is_reported_alone():
    assert problems(lab(format=2, colour="red", minutes="x")) == ["format: this labrunner reads format 1, got 2"]


def test_a_quiz_step_is_told_from_a_task_step():
    quiz = {"id": "q", "title": "Q", "quiz": {"question": "?", "choices": [{"id": "a", "text": "A"}, {"id": "a", "text": "B"}],
                                               "answer": "c"}, "checks": []}
    found = problems(lab(steps=[quiz]))
    assert "steps[0].checks: unknown field; expected one of: alternatives, id, quiz, text, title, topics, wrong" not in found
    assert any(p.startswith("steps[0].checks: unknown field; expected one of: id, quiz, text, title, topics") for p in found), found
    assert "steps[0].quiz.choices[1].id: choice id 'a' appears twice" in found


def _run(ctx, params):  # noqa: ANN001
    return CheckResult.passed("yes")


def _exits(params):  # noqa: ANN001
    sys.exit(0)


@pytest.mark.parametrize(("kind", "expected"), [
    (CheckKind("cm", {"name": Param(str)}, _run, validate=lambda p: 1 / 0),
     "test_format_lab) failed while validating these parameters: ZeroDivisionError: division by zero"),
    (CheckKind("cm", {"name": Param(str)}, _run, validate=_exits),
     "failed while validating these parameters: it called sys.exit(0)"),
    (CheckKind("cm", {"name": Param(object())}, _run), "check kind 'cm' cannot be used: the check kind 'cm' (test_format_lab) "
                                                       "declares parameters that are no types"),
])
def test_a_broken_plugin_kind_is_reported_against_it(kind, expected):
    data = lab(steps=step(checks=[{"kind": "cm", "name": "web"}]))
    found = problems(data, {**check_kinds(), "cm": kind})
    assert any(expected in p for p in found), found


def test_problems_carry_the_line_of_their_value():
    model = lab_file_model(check_kinds())
    data = lab(minutes="ten", steps=step(checks=[{"kind": "service"}]))
    lines = {(): 1, ("minutes",): 6, ("steps",): 9, ("steps", 0): 10, ("steps", 0, "checks"): 13, ("steps", 0, "checks", 0): 14}
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    found = problems_of(err.value, model, file="lab.yaml", lines=lines)
    assert Problem("lab.yaml", 6, "minutes", "expected a whole number, got text 'ten'") in found
    assert any(p.line == 14 and p.field == "steps[0].checks[0].name" for p in found), found


def test_many_wrong_values_are_counted_not_each_worded():
    steps = [{**lab()["steps"][0], "id": f"s{i}", "hints": [1] * 50} for i in range(100)]
    found = problems(lab(steps=steps))
    assert len(found) == 51, len(found)
    assert found[-1] == ": and 4950 more problems not shown; fix the ones above first"
    assert "steps[0].hints[0]: expected text" in found[0]


def test_the_count_of_problems_not_shown_is_exact():
    model = lab_file_model(check_kinds())
    steps = [{**lab()["steps"][0], "id": f"s{i}", "hints": [1] * 50} for i in range(100)]
    with pytest.raises(ValidationError) as caught:
        model.model_validate(lab(steps=steps))
    shown = problems_of(caught.value, model, file="lab.yaml", lines={})
    assert sum(p.count for p in shown) == 5000


@pytest.mark.parametrize(("changes", "expected"), [
    ({"steps": step(hints=["h"] * 51)}, "steps[0].hints: expected at most 50 items, got 51"),
    ({"steps": step(checks=[{"kind": "service", "name": "web", "id": f"c{i}"} for i in range(51)])},
     "steps[0].checks: expected at most 50 items, got 51"),
    ({"steps": [{**lab()["steps"][0], "id": f"s{i}"} for i in range(101)]}, "steps: expected at most 100 items, got 101"),
    ({"topics": []}, "topics: expected at least one topic id"),
])
def test_lists_have_a_sane_length(changes, expected):
    found = problems(lab(**changes))
    assert any(expected in p for p in found), found


def test_a_duplicate_among_many_checks_is_found_in_linear_time():
    import time

    checks = [{"kind": "service", "name": "web", "id": f"c{i}"} for i in range(49)] + [{"kind": "service", "name": "web", "id": "c0"}]
    start = time.monotonic()
    found = problems(lab(steps=step(checks=checks)))
    assert any("steps[0].checks[49].id: check id 'c0' appears twice" in p for p in found), found
    assert time.monotonic() - start < 10
