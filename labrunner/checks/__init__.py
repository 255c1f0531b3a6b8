"""Check kinds: a registry of built-in and plug-in kinds, and how to run one.

This folder is the machinery; the kinds themselves are in `kinds/`. Here: what a kind is and
returns (`base`, `evidence`), the registry that finds and runs kinds (`registry`), and what several
kinds share: TCP probes and their judging (`probing`, `probeplan`, `judging`, `canary`,
`policyreach`), finding pods (`targets`), reading Services, Events and access reviews (`endpoints`,
`reachability`, `servicelinks`, `objectevents`, `accessreview`, `certificates`), comparing values
(`meaning`) and parameter shapes (`shapes`). A module that defines a kind (has a `KINDS` list) goes
in `kinds/`; a module here never does.

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
