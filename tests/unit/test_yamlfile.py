from pathlib import Path

import pytest

from labrunner.yamlfile import YamlError, read_yaml, read_yaml_documents


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    return path


def test_values_and_their_lines(tmp_path):
    data, lines = read_yaml(write(tmp_path, "a: 1\nb:\n  - x\n  - {c: true}\n"), shown_as="f.yaml")
    assert data == {"a": 1, "b": ["x", {"c": True}]}
    assert lines[("a",)] == 1
    assert lines[("b", 1)] == 4
    assert lines[("b", 1, "c")] == 4


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['true']\n",
        "a: !!python/object:builtins.dict {x: 1}\n",
        "a: !!python/name:os.system\n",
        "a: !custom 1\n",
        "!!python/object/new:list [[1]]\n",
    ],
)
def test_non_standard_tags_are_refused_with_their_line(tmp_path, text):
    with pytest.raises(YamlError) as err:
        read_yaml(write(tmp_path, text), shown_as="f.yaml")
    assert "is not allowed" in str(err.value) or "not valid YAML" in str(err.value)
    assert err.value.problem.line == 1


def test_duplicate_keys_are_an_error(tmp_path):
    with pytest.raises(YamlError, match="appears twice"):
        read_yaml(write(tmp_path, "a: 1\nb: 2\na: 3\n"), shown_as="f.yaml")


def test_syntax_error_names_the_line(tmp_path):
    with pytest.raises(YamlError) as err:
        read_yaml(write(tmp_path, "a: 1\nb: [1, 2\n"), shown_as="f.yaml")
    assert err.value.problem.line == 3
    assert "not valid YAML" in err.value.problem.message


def test_alias_bomb_is_stopped(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}]")
    with pytest.raises(YamlError, match="too large"):
        read_yaml(write(tmp_path, "\n".join(lines) + "\n"), shown_as="f.yaml")


def test_several_documents(tmp_path):
    docs = read_yaml_documents(write(tmp_path, "a: 1\n---\nb: 2\n---\n"), shown_as="f.yaml")
    assert [d for d, _ in docs] == [{"a": 1}, {"b": 2}, None]  # the loader skips the empty one


# -- reader faults: each an error with its line, never a traceback -------------------------------

@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("a: 1\nb: x\x00y\n", 2, "U+0000 (NUL)"),
        ("a: 1\nb: \x1b[31mred\n", 2, "U+001B (ESC)"),
        ('a: 1\nb: "red\\e[0m"\n', 2, "U+001B (ESC)"),  # an escape in quotes makes the same character
        ('a: 1\nb: "\\0"\n', 2, "U+0000 (NUL)"),
        ('a: 1\nb: "\\ud800"\n', 2, "invalid Unicode character escape"),  # libyaml; PyYAML: "a surrogate"
        ("a: 1\nb: !!int twenty\n", 2, "'twenty' is not a valid int"),
        ("a: 1\nb: !!float many\n", 2, "'many' is not a valid float"),
        ("a: 1\nb: !!bool maybe\n", 2, "'maybe' is not a valid bool"),
        ('a: 1\nb: !!int ""\n', 2, "'' is not a valid int"),
        ("a: 1\nb: !!null nothing\n", 2, "'nothing' is not a valid null"),
        ("a: 1\nb: !!timestamp 2024-02-30\n", 2, "is not allowed"),
        ("a: 1\nb: !!binary aGVsbG8=\n", 2, "is not allowed"),
        ("a: 1\nb: " + "9" * 5000 + "\n", 2, "too long"),
        ("a: 1\nb: 0x" + "f" * 40 + "\n", 2, "too long"),
        ("a: 1\nb: 9223372036854775808\n", 2, "does not fit in 64 bits"),
        ("a: 1\nb: &x {c: 1}\nd:\n  <<: *x\n", 4, "merge keys"),
        ("a:\n" + "".join("  " * i + f" k{i}:\n" for i in range(1, 150)), 100, "nested too deeply"),
        ("a: 1\nb: " + "[" * 5000 + "]" * 5000 + "\n", 2, "nested too deeply"),
        ("a: &a [*a]\n", 1, "nested too deeply"),
    ],
    ids=["nul", "esc", "esc-escaped", "nul-escaped", "surrogate", "int-twenty", "float-word", "bool-word", "int-empty",
         "null-word", "timestamp-tag",
         "binary-tag", "long-int", "long-hex", "int64-overflow", "merge-key", "deep-block", "deep-flow", "self-alias"],
)
def test_reader_faults_name_the_line(tmp_path, text, line, says):
    with pytest.raises(YamlError) as err:
        read_yaml(write(tmp_path, text), shown_as="f.yaml")
    assert says in err.value.problem.message
    assert err.value.problem.line == line
    assert err.value.problem.file == "f.yaml"


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(YamlError) as err:
        read_yaml(path, shown_as="f.yaml")
    assert err.value.problem.line == 2 and "UTF-8" in err.value.problem.message


def test_dates_are_text(tmp_path):
    data, _ = read_yaml(write(tmp_path, "a: 2024-02-30\nb: 2024-01-01\nc: =\n"), shown_as="f.yaml")
    assert data == {"a": "2024-02-30", "b": "2024-01-01", "c": "="}


def test_alias_bombs_count_across_documents(tmp_path):
    # Each document alone is well under the limit; together they are not (60 documents of 10^4).
    doc = ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n")
    with pytest.raises(YamlError, match="over 200000 values"):
        read_yaml_documents(write(tmp_path, "---\n".join([doc] * 60)), shown_as="f.yaml")
    assert len(read_yaml_documents(write(tmp_path, "---\n".join([doc] * 3)), shown_as="f.yaml")) == 3


def test_a_lab_budget_spans_files(tmp_path):
    from labrunner.labfiles import Budget

    budget = Budget(values_left=1000)
    text = "items: [" + ", ".join(["x"] * 600) + "]\n"
    read_yaml(write(tmp_path, text), shown_as="f.yaml", budget=budget)
    with pytest.raises(YamlError, match="the lab's YAML files together hold over"):
        read_yaml(write(tmp_path, text), shown_as="g.yaml", budget=budget)


def test_alias_uses_point_at_their_own_line(tmp_path):
    data, lines = read_yaml(write(tmp_path, "a: &a {b: 1}\nc: *a\n"), shown_as="f.yaml")
    assert data == {"a": {"b": 1}, "c": {"b": 1}}
    assert lines[("c",)] == 2 and ("c", "b") not in lines  # errors inside fall back to line 2


def test_a_long_text_used_by_many_aliases_is_too_large(tmp_path):
    # 200 KB on disk, 10,000 values: but spelled out, 2 GB of text (a message or a request body would)
    text = "s: &s " + "x" * 200_000 + "\nt: &t [" + ", ".join(["*s"] * 100) + "]\nu: [" + ", ".join(["*t"] * 100) + "]\n"
    with pytest.raises(YamlError, match="the file spells out over 8388608 characters of text"):
        read_yaml(write(tmp_path, text), shown_as="f.yaml")
