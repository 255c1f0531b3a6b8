"""Label selectors as Kubernetes reads them (`app=web,tier!=db`, `env in (a,b)`, `!canary`).

The grammar and the tokens are apimachinery's (`k8s.io/apimachinery/pkg/labels/selector.go`,
`Parse`): requirements joined by `,`; each `key`, `!key`, `key=value`, `key==value`,
`key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`, `key>N` or `key<N` (N a whole
number). Keys and values follow the label syntax (see manifestrules). Labrunner hands
a selector to the API server as written, so one it would refuse is refused here, at
its field, before any cluster work.
"""

from __future__ import annotations

import re

from ..errors import clip

_TOKEN = re.compile(r"\s*(?:(?P<op>==|!=|=|!|\(|\)|,|<|>)|(?P<word>[^\s!=(),<>]+))")
_MAX_LENGTH = 4096  # far above any selector a lab needs; keeps the error short and the work small


class SelectorError(ValueError):
    """A label selector Kubernetes would refuse; the message says where and what to write."""


def _tokens(text: str) -> list[str]:
    found, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise SelectorError(f"cannot read {clip(text[pos:], 30)}")
        if match.group("op") or match.group("word"):
            found.append(match.group("op") or match.group("word"))
        pos = match.end()
    return found


def parse_selector(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(key, operator, values) for each requirement of `text`; SelectorError if Kubernetes would refuse it.

    Operators: exists, !, =, !=, in, notin, >, < (`==` is read as `=`). An empty selector
    (all objects) is refused: a lab that means every object names no selector.
    """
    from ..manifestrules import label_key_problem, label_value_problem

    if len(text) > _MAX_LENGTH:
        raise SelectorError(f"a selector of {len(text)} characters; at most {_MAX_LENGTH}")
    tokens = _tokens(text)
    if not tokens:
        raise SelectorError("an empty selector selects everything; give one such as app=web")
    out: list[tuple[str, str, tuple[str, ...]]] = []
    i = 0

    def take() -> str | None:
        nonlocal i
        token = tokens[i] if i < len(tokens) else None
        i += 1
        return token

    def key_of(token: str | None) -> str:
        if token is None or token in "!=(),<>" or token in ("==", "!="):
            raise SelectorError(f"expected a label key, got {clip(token) if token else 'the end'}")
        problem = label_key_problem(token)
        if problem:
            raise SelectorError(problem)
        return token

    def value_of(token: str | None, *, empty_ok: bool) -> str:
        if token is None or token in ("(", ")", ",", "!", "=", "==", "!=", "<", ">"):
            if empty_ok and token in (None, ","):
                return ""
            raise SelectorError(f"expected a label value, got {clip(token) if token else 'the end'}")
        problem = label_value_problem(token)
        if problem:
            raise SelectorError(problem)
        return token

    while True:
        token = take()
        if token == "!":
            out.append((key_of(take()), "!", ()))
        else:
            key = key_of(token)
            op = tokens[i] if i < len(tokens) else None
            if op in (None, ","):
                out.append((key, "exists", ()))
            elif op in ("=", "==", "!="):
                i += 1
                value = value_of(tokens[i] if i < len(tokens) else None, empty_ok=True)
                if value:
                    i += 1
                out.append((key, "!=" if op == "!=" else "=", (value,)))
            elif op in ("in", "notin"):
                i += 1
                if take() != "(":
                    raise SelectorError(f"expected '(' after {op}, as in `{key} {op} (a,b)`")
                values: list[str] = []
                while True:
                    token = take()
                    if token == ")" and not values:  # apimachinery NewRequirement: "values set can't be empty"
                        raise SelectorError(f"`{key} {op} ()` has no values; Kubernetes needs at least one, "
                                            f"as in `{key} {op} (a,b)`")
                    values.append(value_of(token, empty_ok=False))
                    token = take()
                    if token == ")":
                        break
                    if token != ",":
                        raise SelectorError(f"expected ',' or ')' in the values of {op}, got "
                                            f"{clip(token) if token else 'the end'}")
                out.append((key, op, tuple(values)))
            elif op in ("<", ">"):
                i += 1
                number = take()
                if number is None or not re.fullmatch(r"-?[0-9]{1,18}", number):
                    raise SelectorError(f"expected a whole number after {op}, got {clip(number) if number else 'the end'}")
                out.append((key, op, (number,)))
            else:
                raise SelectorError(f"expected =, ==, !=, in, notin, <, > or ',' after {clip(key)}, got {clip(op)}")
        token = take()
        if token is None:
            return out
        if token != ",":
            raise SelectorError(f"expected ',' between requirements, got {clip(token)}")
