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
