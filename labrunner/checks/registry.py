"""Which check kinds exist, and running one so that it never raises."""

from __future__ import annotations

import importlib
import threading
import time
from importlib.metadata import entry_points

from ..errors import ClusterUnreachable, LabrunnerError
from ..model import CheckSpec
from .base import CheckContext, CheckKind, CheckResult, Status

ENTRY_POINT_GROUP = "labrunner.checks"
_BUILTIN_MODULES = ("objects", "services", "network", "pods", "http", "rbac", "admission", "storage", "quiz", "events", "identity", "rollouts", "logs")

_lock = threading.Lock()
_kinds: dict[str, CheckKind] | None = None
_plugin_problems: list[str] = []


def check_kinds() -> dict[str, CheckKind]:
    """Every known kind by name: the built-ins, then plug-ins from entry points."""
    global _kinds
    with _lock:
        if _kinds is None:
            kinds = builtin_kinds()
            _load_plugins(kinds)
            _kinds = kinds
        return _kinds


def builtin_kinds() -> dict[str, CheckKind]:
    """The kinds labrunner itself defines, by name, without plug-ins (the published JSON Schema's)."""
    kinds: dict[str, CheckKind] = {}
    for module_name in _BUILTIN_MODULES:
        module = importlib.import_module(f"{__package__}.{module_name}")
        for kind in module.KINDS:
            kinds[kind.name] = kind
    return kinds


def plugin_problems() -> list[str]:
    """Plug-ins that could not be loaded, one line each (for `doctor` and `validate`)."""
    check_kinds()
    return list(_plugin_problems)


def _load_plugins(kinds: dict[str, CheckKind]) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = ep.load()
        except Exception as exc:  # a broken plug-in must not break labrunner
            _plugin_problems.append(f"check plug-in {ep.name} ({ep.value}) failed to load: {exc}")
            continue
        if not isinstance(kind, CheckKind):
            _plugin_problems.append(f"check plug-in {ep.name} ({ep.value}) is not a labrunner.checks.CheckKind")
        elif kind.name in kinds:
            _plugin_problems.append(f"check plug-in {ep.name} reuses the kind name {kind.name!r}; ignored")
        else:
            kinds[kind.name] = kind


def run_check(ctx: CheckContext, spec: CheckSpec) -> CheckResult:
    """Run one check; every exception becomes an `error` result, never a `fail`."""
    from ..cluster.applying import substitute

    started = time.monotonic()
    kind = check_kinds().get(spec.kind)
    if kind is None:
        result = CheckResult.errored(f"unknown check kind {spec.kind!r}")
    else:
        params = substitute(dict(spec.params), ctx.namespace)
        try:
            result = kind.run(ctx, params)
            if not isinstance(result, CheckResult):
                result = CheckResult.errored(f"check kind {spec.kind!r} returned {type(result).__name__}, not a CheckResult")
        except ClusterUnreachable as exc:
            result = CheckResult.errored(str(exc))
        except LabrunnerError as exc:
            result = CheckResult.errored(f"the check could not run: {exc}")
        except Exception as exc:
            result = CheckResult.errored(f"the {spec.kind} checker crashed: {type(exc).__name__}: {exc}")
    return CheckResult(
        status=result.status,
        message=result.message,
        details=result.details,
        check_id=spec.id,
        title=spec.title or _default_title(spec),
        seconds=time.monotonic() - started,
    )


def _default_title(spec: CheckSpec) -> str:
    p = spec.params
    target = p.get("name") or p.get("selector") or p.get("pod") or ""
    return f"{spec.kind} {target}".strip()


__all__ = ["ENTRY_POINT_GROUP", "Status", "builtin_kinds", "check_kinds", "plugin_problems", "run_check"]
