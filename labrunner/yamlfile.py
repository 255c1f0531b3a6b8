"""Safe YAML reading that remembers where each value came from.

PyYAML's safe constructor refuses `!!python/...` tags but forgets line numbers;
we compose the node tree ourselves so validation errors can point at a line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

# Node path (keys and list indexes from the document root) -> 1-based line.
Lines = dict[tuple[Any, ...], int]

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class YamlError(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


def read_yaml_documents(path: Path, *, shown_as: str) -> list[tuple[Any, Lines]]:
    """Every document of a YAML file as plain data, each with its line map."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(Problem(shown_as, None, "", f"cannot read the file: {exc}")) from None
    loader = yaml.SafeLoader(text)
    documents = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: Lines = {}
            documents.append((_to_data(loader, node, (), lines, shown_as), lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(filter(None, [exc.context, exc.problem]))
        raise YamlError(Problem(shown_as, line, "", f"not valid YAML: {message}")) from None
    except yaml.YAMLError as exc:
        raise YamlError(Problem(shown_as, None, "", f"not valid YAML: {exc}")) from None
    finally:
        loader.dispose()
    return documents


def read_yaml(path: Path, *, shown_as: str) -> tuple[Any, Lines]:
    """A file that must hold exactly one YAML document."""
    documents = read_yaml_documents(path, shown_as=shown_as)
    if len(documents) != 1:
        raise YamlError(
            Problem(shown_as, None, "", f"expected one YAML document, found {len(documents)}")
        )
    return documents[0]


_MAX_NODES = 200_000  # aliases can make a tiny file expand without bound


def _to_data(loader: yaml.SafeLoader, node: yaml.Node, at: tuple, lines: Lines, shown_as: str) -> Any:
    lines[at] = node.start_mark.line + 1
    if len(lines) > _MAX_NODES:
        raise YamlError(Problem(shown_as, None, "", f"the document is too large (over {_MAX_NODES} values)"))
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP:
            raise _bad_tag(node, shown_as)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _to_data(loader, key_node, at + ("<key>",), {}, shown_as)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise YamlError(Problem(shown_as, key_node.start_mark.line + 1, "", "a mapping key must be a plain value"))
            if key in result:
                raise YamlError(
                    Problem(shown_as, key_node.start_mark.line + 1, _dotted(at + (key,)), "this key appears twice")
                )
            result[key] = _to_data(loader, value_node, at + (key,), lines, shown_as)
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _bad_tag(node, shown_as)
        return [_to_data(loader, item, at + (i,), lines, shown_as) for i, item in enumerate(node.value)]
    if not node.tag.startswith("tag:yaml.org,2002:"):
        raise _bad_tag(node, shown_as)
    try:
        # The safe constructor knows only the standard scalar tags.
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise YamlError(Problem(shown_as, node.start_mark.line + 1, _dotted(at), f"not valid YAML: {exc.problem}")) from None


def _bad_tag(node: yaml.Node, shown_as: str) -> YamlError:
    return YamlError(
        Problem(
            shown_as,
            node.start_mark.line + 1,
            "",
            f"the YAML tag {node.tag!r} is not allowed (only plain YAML: maps, lists, text, numbers, booleans)",
        )
    )


def _dotted(at: tuple) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


dotted = _dotted
