"""The three verdicts a check gives (light to import: the faces name them before any check loads)."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """A check's verdict, as `check --json` spells it (schema/check-result-v1.json)."""

    PASS = "pass"
    FAIL = "fail"  # the learner is not there yet
    ERROR = "error"  # the checker or the cluster broke: never the learner's fault
