"""Placeholders in lab text: `${LAB_NAMESPACE}` exists, `${LAB_NAMESPCE}` is a typo.

labrunner fills in `${LAB_NAMESPACE}` (and, in a `logs` check, `${NONCE}`);
anything else in `${...}` would reach the cluster or the shell as written. So
every `${...}` must be a placeholder labrunner knows, except shell parameter
expansion with an operator (`${d#/proc/}`, `${#body}`, `${x:-default}`), which
cannot be a misspelt placeholder and has no spelling without braces. A shell
variable without an operator is written `$HOME`, not `${HOME}`: that is the
escape, and the only one (docs/lab-format.md, Placeholders).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterator

NAMESPACE = "LAB_NAMESPACE"
NONCE = "NONCE"
ALL = (NAMESPACE, NONCE)
MAX_SHOWN = 10  # wrong placeholders named per text; the rest are counted
_BRACED = re.compile(r"\$\{([^}$]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `${NAME` that no `}` closes: a name, then neither `}` nor a shell operator (nor more of a name).
# The shell stops on it ("bad substitution") and the cluster would get it as written.
_UNCLOSED = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_.]*)(?![A-Za-z0-9_.]|\s*\}|[:\-=?+#%/^,\[@])")
# Shell parameter expansion with an operator (POSIX 2.6.2, and bash's ${#x} ${x/a/b} ${x^} ${x,} ${x:1:2} ${x[i]}).
_SHELL = re.compile(r"#[A-Za-z_][A-Za-z0-9_]*|#[0-9@*#?$!-]|"
                    r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?(:?[-=?+]|##?|%%?|//?|\^\^?|,,?|:[0-9 -]|@[QEPAaKk]).*",
                    re.DOTALL)


def wrong_placeholders(text: str, known: frozenset[str] | set[str], *, limit: int = MAX_SHOWN) -> list[str]:
    """What is wrong with each `${...}` in `text` that is not a placeholder in `known`.

    Each wrong spelling is named once; after `limit` of them, one last message counts the
    rest, so a text of 60,000 typos gives a short answer in linear time.
    """
    problems, more = counted_placeholders(text, known, limit=limit)
    if more:
        problems.append(f"and {more} more unknown placeholder{'s' if more != 1 else ''}")
    return problems


def counted_placeholders(text: str, known: frozenset[str] | set[str], *, limit: int) -> tuple[list[str], int]:
    """(what is wrong with the first `limit` wrong `${...}` of `text`, how many more are wrong)."""
    problems: list[str] = []
    seen: set[str] = set()
    more = 0
    closed = {match.start() for match in _BRACED.finditer(text)} if "${" in text else set()
    for match in _UNCLOSED.finditer(text):
        if match.start() in closed or "${" + match.group(1) in seen:
            continue
        seen.add("${" + match.group(1))
        if len(problems) >= limit:
            more += 1
            continue
        problems.append(_unclosed(match.group(1)))
    for match in _BRACED.finditer(text):
        name = match.group(1)
        if name in known or name in seen:
            continue
        seen.add(name)
        if len(problems) >= limit:
            more += 0 if _is_shell(name) else 1
            continue
        problem = _problem(name, known)
        if problem:
            problems.append(problem)
    return problems, more


def _unclosed(name: str) -> str:
    shown = "${" + (name if len(name) <= 40 else name[:37] + "...")
    spelled = re.sub(r"[\s.-]+", "_", name.strip()).upper()
    near = _nearest(spelled)
    fix = f"${{{near}}}" if near else f"${name} for a shell variable"
    return f"{shown} is not closed: no }} follows the name; write {fix}"


def _is_shell(name: str) -> bool:
    """Whether `${name}` is shell parameter expansion with an operator, not naming labrunner's own."""
    spelled = re.sub(r"[\s.-]+", "_", name.strip()).upper()
    return bool(_SHELL.fullmatch(name)) and not spelled.lstrip("#").startswith(("LAB_", NONCE))


def _problem(name: str, known: frozenset[str] | set[str]) -> str | None:
    if _is_shell(name):
        return None  # shell syntax such as ${d#/proc/}
    spelled = re.sub(r"[\s.-]+", "_", name.strip()).upper()
    shown = "${" + (name if len(name) <= 40 else name[:37] + "...") + "}"
    near = _nearest(spelled)
    if spelled == NONCE or (near == NONCE and NONCE not in known):
        return f"{shown} is filled in only by a logs check (in its trigger, contains or matches)"
    if near in known:
        return f"unknown placeholder {shown}; did you mean ${{{near}}}?"
    listed = ", ".join(f"${{{k}}}" for k in sorted(known))
    if _NAME.fullmatch(name) and not spelled.startswith("LAB_"):
        return (f"unknown placeholder {shown}; labrunner fills in {listed}. For a shell variable write "
                f"${name} (without braces)")
    return f"unknown placeholder {shown}; labrunner fills in {listed}"


def _nearest(spelled: str) -> str | None:
    """The placeholder `spelled` (upper case, `_` for separators) misspells, if any: one or two letters
    apart, or the placeholder's last word alone (`${NAMESPACE}`)."""
    if len(spelled) > 40:
        return None
    for known in ALL:
        if spelled == known or spelled == known.removeprefix("LAB_") or spelled == known.replace("_", ""):
            return known
    best = max(ALL, key=lambda known: difflib.SequenceMatcher(None, spelled, known).ratio())
    return best if difflib.SequenceMatcher(None, spelled, best).ratio() >= 0.85 else None


def walk_placeholders(value: Any, known: frozenset[str] | set[str], at: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, problem) for every wrong placeholder in the strings of a YAML value, keys of mappings too.

    Iterative (no depth of nesting exhausts the stack); in document order.
    """
    stack: list[tuple[Any, tuple]] = [(value, at)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            for problem in wrong_placeholders(item, known):
                yield where, problem
        elif isinstance(item, list):
            stack.extend(reversed([(v, where + (i,)) for i, v in enumerate(item)]))
        elif isinstance(item, dict):
            for key in item:
                if isinstance(key, str):
                    for problem in wrong_placeholders(key, known):
                        yield where + (key,), f"in the key: {problem}"
            stack.extend(reversed([(v, where + (k,)) for k, v in item.items()]))
