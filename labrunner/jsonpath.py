"""The subset of kubectl's JSONPath that checks and waits need.

Supported: `{.a.b}`, `.a.b` (braces optional), `[0]`, `[-1]`, `[*]`,
`['key.with.dots']`, and filters `[?(@.type=="Ready")]` / `[?(@.port==80)]`.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r"""
    \.(?P<field>[A-Za-z0-9_$-]+)
  | \[(?P<index>-?\d+)\]
  | \[(?P<star>\*)\]
  | \.(?P<dotstar>\*)
  | \[\s*(?P<quote>['"])(?P<key>.*?)(?P=quote)\s*\]
  | \[\?\(\s*@\.(?P<fpath>[A-Za-z0-9_.-]+)\s*(?P<op>==|!=)\s*(?P<fvalue>"[^"]*"|'[^']*'|-?\d+(?:\.\d+)?|true|false)\s*\)\]
    """,
    re.VERBOSE,
)


class JsonPathError(ValueError):
    pass


def parse(path: str) -> list[tuple[str, Any]]:
    """Steps of a path; raises JsonPathError naming the part that is not understood."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    if not text:
        raise JsonPathError("empty path; expected something like {.status.phase}")
    if not text.startswith((".", "[")):
        text = "." + text
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise JsonPathError(f"cannot read {path!r} at {text[pos:]!r}")
        if match.group("field") is not None:
            steps.append(("field", match.group("field")))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        elif match.group("star") or match.group("dotstar"):
            steps.append(("all", None))
        elif match.group("quote"):
            steps.append(("field", match.group("key")))
        else:
            raw = match.group("fvalue")
            value = json.loads(raw.replace("'", '"')) if raw[0] in "'\"" else json.loads(raw)
            steps.append(("filter", (match.group("fpath").split("."), match.group("op"), value)))
        pos = match.end()
    return steps


def find(obj: Any, path: str) -> list[Any]:
    """Every value `path` selects in `obj` (an empty list when none)."""
    current = [obj]
    for kind, arg in parse(path):
        nxt: list[Any] = []
        for value in current:
            if kind == "field":
                if isinstance(value, dict) and arg in value:
                    nxt.append(value[arg])
            elif kind == "index":
                if isinstance(value, list) and -len(value) <= arg < len(value):
                    nxt.append(value[arg])
            elif kind == "all":
                if isinstance(value, list):
                    nxt.extend(value)
                elif isinstance(value, dict):
                    nxt.extend(value.values())
            else:
                fields, op, wanted = arg
                items = value if isinstance(value, list) else []
                for item in items:
                    got = _dig(item, fields)
                    if (got == wanted) == (op == "=="):
                        nxt.append(item)
        current = nxt
    return current


def render(value: Any) -> str:
    """A value as kubectl prints it: text plain, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _dig(value: Any, fields: list[str]) -> Any:
    for name in fields:
        if not isinstance(value, dict) or name not in value:
            return None
        value = value[name]
    return value
