"""The value types of the lab format: each says what it expected, in the words of a lab author."""

import math

import pytest
from pydantic import TypeAdapter, ValidationError

from labrunner.format import values
from labrunner.format.placeholders import NAMESPACE, NONCE, wrong_placeholders
from labrunner.format.shape import RULE, SHAPE


def problem(kind, value) -> tuple[str, str]:
    """(error type, message) of validating `value`, or ("", "") when it is valid."""
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        (error,) = exc.errors()
        return error["type"], error["msg"]
    return "", ""


@pytest.mark.parametrize(("kind", "value", "expected"), [
    (values.Port, "80", "expected a port number 1-65535, got text '80'"),
    (values.Port, 0, "expected a port number 1-65535, got 0"),
    (values.Port, 65536, "expected a port number 1-65535, got 65536"),
    (values.Port, True, "expected a port number 1-65535, got true or false"),
    (values.Count, -1, "expected a count: a whole number, 0 or more, got -1"),
    (values.Count, 1.5, "expected a count: a whole number, 0 or more, got a number (1.5)"),
    (values.seconds(60), math.nan, "nan is not a finite number"),
    (values.seconds(60), math.inf, "inf is not a finite number"),
    (values.seconds(60), 0, "from 1 to 60, got 0"),
    (values.seconds(60), 0.5, "from 1 to 60, got 0.5"),
    (values.seconds(60), 61, "from 1 to 60, got 61"),
    (values.ExitCode, 256, "expected an exit code 0-255"),
    (values.HttpStatus, 99, "expected an HTTP status 100-599"),
    (values.Minutes, 0, "expected a positive number of minutes"),
    (values.Regex, "(", "not a valid regular expression"),
    (values.Regex, "", "an empty regular expression matches anything"),
    (values.Expected, "", "empty text is found in anything"),
    (values.Arguments, ["", "-c"], "the first argument is the program to run"),
    (values.Quantity, "1Gb", "expected a quantity such as 1Gi or 500m, got '1Gb'"),
    (values.Quantity, "inf", "expected a quantity"),
    (values.Quantity, "-1Gi", "expected a quantity"),
    (values.Quantity, "1 Gi", "expected a quantity"),
    (values.Duration, "a day", "not a duration"),
    (values.Duration, 0, "expected a lifetime above 0"),
    (values.JsonPath, "{.spec[}", "cannot read"),
    (values.ObjectName, "web", "expected Kind/name such as Service/web, got 'web'"),
    (values.Id, "Demo_Lab", "expected lower-case letters, digits and '-' (at most 40), got 'Demo_Lab'"),
    (values.Text, "  ", "must not be empty"),
    (values.Arguments, [], "expected a non-empty list of arguments"),
    (values.Arguments, ["cat", {"a": 1}], "expected a non-empty list of arguments"),
    (values.Labels, {"labrunner.dev/x": "y"}, "labrunner.dev/ are labrunner's own"),
    (values.OnlyTrue, False, "only true means something here"),
    (values.choice(("allow", "deny")), "maybe", "expected allow or deny, got 'maybe'"),
    (values.choice(("a", "b", "c")), "d", "expected one of a, b, c, got 'd'"),
    (values.plain_value((str, int, float, list)), [1, math.nan], "nan is not a finite number"),
])
def test_a_wrong_value_is_named(kind, value, expected):
    kind_of_error, message = problem(kind, value)
    assert kind_of_error in (SHAPE, RULE) and expected in message, message


@pytest.mark.parametrize(("kind", "value"), [
    (values.Port, 8080), (values.Count, 0), (values.seconds(60), 1), (values.seconds(60), 1.5), (values.seconds(60), 60),
    (values.Quantity, "1Gi"), (values.Quantity, "500m"), (values.Quantity, 2), (values.Quantity, "1e3"),
    (values.Duration, "1h30m"), (values.Duration, 86400), (values.Regex, "^api-[0-9]+$"),
    (values.JsonPath, "{.status.conditions[?(@.type==\"Ready\")].status}"), (values.ObjectName, "Deployment/web"),
    (values.Arguments, ["sh", "-c", "exit 3", 4]), (values.Labels, {"role": "client"}), (values.OnlyTrue, True),
])
def test_a_right_value_passes_unchanged(kind, value):
    assert TypeAdapter(kind).validate_python(value) == value


def test_what_a_schema_can_say_is_in_the_schema():
    assert TypeAdapter(values.Port).json_schema() == {"type": "integer", "minimum": 1, "maximum": 65535}
    assert TypeAdapter(values.seconds(60)).json_schema() == {"type": "number", "minimum": 1, "maximum": 60}
    assert TypeAdapter(values.Id).json_schema()["pattern"] == values.ID_PATTERN


@pytest.mark.parametrize(("text", "expected"), [
    ("${LAB_NAMESPCE}", "unknown placeholder ${LAB_NAMESPCE}; did you mean ${LAB_NAMESPACE}?"),
    ("${lab_namespace}", "did you mean ${LAB_NAMESPACE}?"),
    ("${LAB-NAMESPACE}", "did you mean ${LAB_NAMESPACE}?"),
    ("${LAB_NS}", "unknown placeholder ${LAB_NS}; labrunner fills in ${LAB_NAMESPACE}"),
    ("echo ${NONCE}", "${NONCE} is filled in only by a logs check"),
    ("${NAMESPACE}", "unknown placeholder ${NAMESPACE}; did you mean ${LAB_NAMESPACE}?"),
    ("${ LAB_NAMESPACE }", "did you mean ${LAB_NAMESPACE}?"),
    ("${LAB.NAMESPACE}", "did you mean ${LAB_NAMESPACE}?"),
    ("${HOME}", "For a shell variable write $HOME (without braces)"),
    ("${LAB_NAMESPCE:-x}", "did you mean ${LAB_NAMESPACE}?"),
])
def test_a_misspelt_placeholder_is_named(text, expected):
    (found,) = wrong_placeholders(text, {NAMESPACE})
    assert expected in found


@pytest.mark.parametrize("text", ["${LAB_NAMESPACE}", "$HOME and $PATH", "${d#/proc/}", "${#body}", "${x:-none}", "$(date)",
                                  "no placeholder"])
def test_shell_and_known_placeholders_pass(text):
    assert wrong_placeholders(text, {NAMESPACE}) == []


def test_a_nonce_is_known_where_it_is_made():
    assert wrong_placeholders("check-${NONCE}", {NAMESPACE, NONCE}) == []


@pytest.mark.parametrize(("pattern", "expected"), [
    ("a{99999999999}", "a repetition count is too large"),
    ("(" * 2000 + ")" * 2000, "not a valid regular expression"),
    ("a(", "not a valid regular expression: missing )"),
])
def test_a_regex_that_cannot_compile_is_said_plainly(pattern, expected):
    from labrunner.format.values import regex_problem

    assert expected in regex_problem(pattern)


@pytest.mark.parametrize("value", ["9" * 5000 + "d", "99999999999h", 10 ** 30])
def test_a_duration_too_long_is_said_plainly(value):
    from labrunner.format.values import parse_duration

    with pytest.raises(ValueError, match="a duration too long") as caught:
        parse_duration(value)
    assert "sys." not in str(caught.value) and len(str(caught.value)) < 200


def test_many_wrong_placeholders_are_named_ten_then_counted():
    from labrunner.format.placeholders import walk_placeholders

    text = " ".join(f"${{LAB_X{i}}}" for i in range(60000)) + " ${LAB_X0}" * 1000
    found = wrong_placeholders(text, {NAMESPACE})
    assert len(found) == 11 and found[-1] == "and 59990 more unknown placeholders"
    assert sum(len(p) for p in found) < 2000


def test_a_placeholder_in_a_key_is_checked():
    from labrunner.format.placeholders import walk_placeholders

    found = list(walk_placeholders({"data": {"${LAB_NAMESPCE}": "x"}}, {NAMESPACE}))
    assert found == [(("data", "${LAB_NAMESPCE}"), "in the key: unknown placeholder ${LAB_NAMESPCE}; did you mean ${LAB_NAMESPACE}?")]
