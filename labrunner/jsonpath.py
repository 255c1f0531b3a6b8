"""The subset of kubectl's JSONPath that checks and waits need.

Supported: `{.a.b}`, `.a.b` (braces optional), `[0]`, `[-1]`, `[*]`,
`['key.with.dots']`, and filters `[?(@.type=="Ready")]` / `[?(@.port==80)]`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import clip

_MAX_DIGITS = 18  # an index or a filter's number: int64 as the API's numbers are; longer is a typo

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
            raise JsonPathError(f"cannot read {clip(path, 60)} at {clip(text[pos:], 40)}; expected .field, [0], [*], "
                                "['key'] or [?(@.field==\"value\")]")
        if match.group("field") is not None:
            steps.append(("field", match.group("field")))
        elif match.group("index") is not None:
            steps.append(("index", _number(match.group("index"), path)))
        elif match.group("star") or match.group("dotstar"):
            steps.append(("all", None))
        elif match.group("quote"):
            steps.append(("field", match.group("key")))
        else:
            raw = match.group("fvalue")
            # Quoted text is taken as written, as kubectl does (no escapes); true, false or a number otherwise.
            value = raw[1:-1] if raw[0] in "'\"" else {"true": True, "false": False}.get(raw) if raw in ("true", "false") \
                else _number(raw, path)
            steps.append(("filter", (match.group("fpath").split("."), match.group("op"), value)))
        pos = match.end()
    return steps


def _number(text: str, path: str) -> int | float:
    digits = sum(c.isdigit() for c in text)
    if digits > _MAX_DIGITS:
        raise JsonPathError(f"the number {clip(text, 24)} in {clip(path, 40)} has {digits} digits; "
                            f"give at most {_MAX_DIGITS}")
    return float(text) if "." in text else int(text)


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
