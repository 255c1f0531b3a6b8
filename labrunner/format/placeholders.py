"""Placeholders in lab text: `${LAB_NAMESPACE}` exists, `${LAB_NAMESPCE}` is a typo.

labrunner fills in `${LAB_NAMESPACE}` (and, in a `logs` check, `${NONCE}`);
anything else in `${...}` is left as written, which is right for a shell
variable in a command (`${HOME}`) and wrong for a misspelt placeholder, which
would reach the cluster as literal text. So a name is refused when it is
labrunner's (starts with `LAB_`, or is `NONCE` where no nonce is made) or
misspells one of labrunner's names (`${LAB_NAMESPCE}`, `${lab_namespace}`).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterator

NAMESPACE = "LAB_NAMESPACE"
NONCE = "NONCE"
ALL = (NAMESPACE, NONCE)
_BRACED = re.compile(r"\$\{([^}$]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def wrong_placeholders(text: str, known: frozenset[str] | set[str]) -> list[str]:
    """What is wrong with each `${...}` in `text` that is not a placeholder in `known`."""
    problems = []
    for match in _BRACED.finditer(text):
        name = match.group(1)
        if name in known or not _NAME.fullmatch(name):
            continue  # a placeholder, or shell syntax such as ${d#/proc/}
        near = _nearest(name)
        if name == NONCE or (near == NONCE and NONCE not in known):
            problems.append(f"${{{name}}} is filled in only by a logs check (in its trigger, contains or matches)")
        elif near in known:
            problems.append(f"unknown placeholder ${{{name}}}; did you mean ${{{near}}}?")
        elif name.upper().startswith(("LAB_", "LAB-")):
            listed = ", ".join(f"${{{k}}}" for k in sorted(known))
            problems.append(f"unknown placeholder ${{{name}}}; labrunner fills in {listed}")
    return problems


def _nearest(name: str) -> str | None:
    """The placeholder `name` misspells: the same letters but one or two (case and - for _ aside)."""
    spelled = name.upper().replace("-", "_")
    best = max(ALL, key=lambda known: difflib.SequenceMatcher(None, spelled, known).ratio())
    return best if difflib.SequenceMatcher(None, spelled, best).ratio() >= 0.85 else None


def walk_placeholders(value: Any, known: frozenset[str] | set[str], at: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, problem) for every wrong placeholder in the strings of a YAML value."""
    if isinstance(value, str):
        for problem in wrong_placeholders(value, known):
            yield at, problem
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk_placeholders(item, known, at + (i,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_placeholders(item, known, at + (key,))
