"""The published JSON Schema is the models' own, accepts every shipped lab, and rejects what the models reject.

A JSON Schema cannot say everything `labrunner validate` checks: files that
exist, topic ids of the curriculum, ids unique in a list, regexes that compile.
The models mark those errors (RULE, FOLDER); every other error is about the
shape of the file, and the schema must reject that file too.
"""

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from labrunner.checks.registry import builtin_kinds
from labrunner.format.lab import lab_file_model
from labrunner.format.schema import SCHEMA_PATH, lab_schema, schema_text
from labrunner.format.shape import FOLDER, RULE
from labrunner.yamlfile import YamlError, read_yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / SCHEMA_PATH
MODELINE = "# yaml-language-server: $schema="


def lab_files(root: Path) -> list[Path]:
    """Every lab.yaml below `root`, without following links (a broken lab may hold a link loop)."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        if "lab.yaml" in files:
            found.append(Path(folder) / "lab.yaml")
    return found


GOOD = lab_files(REPO / "labs") + lab_files(REPO / "tests" / "fixtures" / "labs") + lab_files(REPO / "tests" / "tui" / "labs")
BROKEN = lab_files(REPO / "tests" / "broken_labs")


def as_python(pattern: str) -> str:
    """An ECMA-262 pattern (JSON Schema's) for Python's re: `$` outside a class ends the input, as in
    ECMA-262 without the multiline flag, where Python's `$` would also match before a final newline."""
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
    return "".join(out)


def _ecma_pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not re.search(as_python(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _compiles(instance) -> bool:
    return not isinstance(instance, str) or re.compile(instance) is not None


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    formats = copy.deepcopy(jsonschema.Draft202012Validator.FORMAT_CHECKER)
    # A regex that overflows or nests too deep is no regex either (Python's re raises more than re.error).
    formats.checks("regex", raises=(re.error, OverflowError, RecursionError))(_compiles)
    ecma = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _ecma_pattern})
    return ecma(schema, format_checker=formats)


def test_patterns_are_read_as_json_schema_means_them():
    assert re.search(as_python("^[a-z]+$"), "one\n") is None and re.search(as_python("^[a-z]+$"), "one")
    assert as_python(r"^[^$]\$x$") == r"^[^$]\$x\Z"


def test_the_committed_schema_is_the_models_own():
    assert SCHEMA.read_text() == schema_text(), f"regenerate it: labrunner dev schema --builtin > {SCHEMA_PATH}"


def test_dev_schema_prints_it():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "labrunner.cli", "dev", "schema", "--builtin"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == lab_schema()


@pytest.mark.parametrize("path", GOOD, ids=[str(p.relative_to(REPO)) for p in GOOD])
def test_every_shipped_lab_is_valid_by_the_schema_and_names_it(path, validator):
    data, _ = read_yaml(path, shown_as=str(path))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors
    modeline = path.read_text().splitlines()[0]
    assert modeline.startswith(MODELINE), f"{path} has no yaml-language-server modeline"
    assert (path.parent / modeline.removeprefix(MODELINE)).resolve() == SCHEMA


def model_errors(data) -> list[tuple[str, str]]:
    """(error type, message) for what the models say is wrong, without the lab folder or the curriculum."""
    model = lab_file_model(builtin_kinds())
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return [(e["type"], f"{e['loc']}: {e['msg']}") for e in exc.errors()]
    return []


def read(path: Path):
    try:
        return read_yaml(path, shown_as=str(path))[0]
    except (YamlError, OSError):
        return None  # a fault of the YAML itself: no data for a schema to judge


@pytest.mark.parametrize("path", BROKEN, ids=[str(p.parent.relative_to(REPO / "tests" / "broken_labs")) for p in BROKEN])
def test_the_schema_rejects_each_broken_shape_the_models_reject(path, validator):
    data = read(path)
    if data is None:
        pytest.skip("not readable as YAML: nothing for a schema to judge")
    by_models = model_errors(data)
    of_shape = [message for kind, message in by_models if kind not in (RULE, FOLDER)]
    by_schema = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    if of_shape:
        assert by_schema, f"the schema accepts a shape the models reject: {of_shape}"
    if by_schema:
        assert by_models, f"the schema rejects what the models accept: {by_schema}"


# Cases whose fault is in the shape of lab.yaml; a fault in another file, the curriculum or across
# fields (ids unique, fails naming checks) is beyond a JSON Schema.
SHAPE_CASES = ["wrong-types", "wrong-format", "not-a-mapping", "bad-check-params", "unknown-check-kind",
               "quiz-with-wrong-answers", "absolute-path", "bad-wrong-answers", "negative-count", "yes-for-a-count",
               "fraction-of-minutes", "timeout-too-long", "check-timeout-too-long", "timeout-too-short", "port-out-of-range",
               "exit-code-out-of-range", "http-status-out-of-range", "bad-object-name", "probe-field-misspelt",
               "probe-labels-not-text", "check-that-cannot-fail", "empty-title", "null-title", "unknown-feature",
               "quiz-one-choice", "step-not-a-mapping", "contains-nothing", "no-access-modes", "kind-in-lower-case",
               "bad-api-version"]


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_the_schema_rejects_each_broken_shape(case, validator):
    data = read(REPO / "tests" / "broken_labs" / case / "lab.yaml")
    assert data is not None and not validator.is_valid(data)
