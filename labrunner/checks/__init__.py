"""Check kinds: a registry of built-in and plug-in kinds, and how to run one.

A plug-in package names a `CheckKind` in the entry-point group
`labrunner.checks` (see docs/lab-format.md).
"""

from .base import CheckContext, CheckKind, CheckResult, Param, Status
from .evidence import AccessReview, EventNote, Evidence, ProbeCell
from .registry import ENTRY_POINT_GROUP, check_kinds, param_problems, plugin_problems, run_check

__all__ = [
    "ENTRY_POINT_GROUP",
    "AccessReview",
    "CheckContext",
    "CheckKind",
    "CheckResult",
    "EventNote",
    "Evidence",
    "Param",
    "ProbeCell",
    "Status",
    "check_kinds",
    "param_problems",
    "plugin_problems",
    "run_check",
]
