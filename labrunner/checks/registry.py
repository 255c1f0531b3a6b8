"""Which check kinds exist, and running one so that it never raises."""

from __future__ import annotations

import importlib
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from ..errors import ClusterUnreachable, LabrunnerError
from ..model import CheckSpec, fill_namespace
from .base import CheckContext, CheckKind, CheckResult, Status
from .evidence import Evidence

ENTRY_POINT_GROUP = "labrunner.checks"
_BUILTIN_MODULES = ("objects", "services", "network", "pods", "http", "rbac", "admission", "gatekeeper", "storage", "quiz", "events", "identity", "idtoken", "rollouts", "logs")

_lock = threading.Lock()
_kinds: dict[str, CheckKind] | None = None
_plugin_problems: list[str] = []
_plugin_of: dict[str, str] = {}  # kind name -> "check plug-in NAME (module:attr)"

# What a plug-in may raise without taking labrunner down: everything but Ctrl-C, which must
# still stop the command (each `except _PLUGIN_FAULTS` is preceded by `except KeyboardInterrupt:
# raise`). SystemExit included: `sys.exit(0)` in a plug-in made `validate` pass; so is every other
# BaseException (a test helper's `pytest.fail`, a custom BaseException) that printed a traceback.
_PLUGIN_FAULTS = (BaseException,)


class _ProcessExit(BaseException):
    """A plug-in called os._exit while labrunner ran its code (raised in place of ending the process)."""

    def __init__(self, code: Any) -> None:
        super().__init__(code)
        self.code = code


@contextmanager
def _no_os_exit() -> Iterator[None]:
    """While a plug-in's code runs, os._exit raises _ProcessExit instead of ending the process.

    os._exit skips every handler, so a plug-in calling it on import made `validate` exit 0 with
    nothing said (found by a hostile tester); sys.exit is caught as SystemExit already.
    """
    saved = os._exit

    def refuse(code: int) -> None:
        raise _ProcessExit(code)

    os._exit = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = saved


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
        module = importlib.import_module(f"{__package__}.kinds.{module_name}")
        for kind in module.KINDS:
            kinds[kind.name] = kind
    return kinds


def plugins_present() -> bool:
    """Whether any check plug-in is installed, loaded or not: then what a lab validates against
    is code outside labrunner (the lab cache, labcache.py, is not used)."""
    check_kinds()
    return bool(_plugin_of or _plugin_problems)


def entry_points(*, group: str) -> list:
    """importlib.metadata's entry points of `group`; imported here, as it costs about 30 ms at start-up."""
    from importlib.metadata import entry_points as found

    return list(found(group=group))


def plugin_problems() -> list[str]:
    """Plug-ins that could not be loaded, one line each (for `doctor` and `validate`)."""
    check_kinds()
    return list(_plugin_problems)


def plugin_origin(kind_name: str) -> str | None:
    """"check plug-in NAME (module:attr)" for a kind a plug-in added, None for a built-in one (or
    before `check_kinds` ran): how a plug-in's fault is reported, so its author knows which entry
    point broke. Takes no lock, so a fault met while the kinds load can be reported too."""
    return _plugin_of.get(kind_name)


def param_problems(kind: CheckKind, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`kind.problems(params)`, with a fault of the kind's own validation reported, not raised.

    Returns (parameter or "", message) pairs. A plug-in kind that raises (or calls
    sys.exit) while validating is named with its entry point, so the author knows
    whose code broke; the lab is then invalid, never silently accepted.
    """
    try:
        with _no_os_exit():
            found = kind.problems(params)
            return [(str(key), str(message)) for key, message in found]
    except KeyboardInterrupt:
        raise
    except _PLUGIN_FAULTS as exc:
        owner = _plugin_of.get(kind.name, f"the built-in check kind {kind.name!r}")
        return [("", f"{owner} failed while validating these parameters: {_fault(exc)}")]


def _load_plugins(kinds: dict[str, CheckKind]) -> None:
    try:
        points = list(entry_points(group=ENTRY_POINT_GROUP))
    except KeyboardInterrupt:
        raise
    except _PLUGIN_FAULTS as exc:  # a broken distribution's metadata
        _plugin_problems.append(f"check plug-ins could not be listed: {_fault(exc)}")
        return
    for ep in points:
        where = f"check plug-in {ep.name} ({ep.value})"
        try:
            with _no_os_exit():
                kind = ep.load()
        except KeyboardInterrupt:
            raise
        except _PLUGIN_FAULTS as exc:  # a broken plug-in must not break labrunner
            _plugin_problems.append(f"{where} failed to load: {_fault(exc)}")
            continue
        if not isinstance(kind, CheckKind):
            _plugin_problems.append(f"{where} is not a labrunner.checks.CheckKind")
        elif not isinstance(kind.name, str) or not kind.name or not isinstance(kind.params, Mapping) or not callable(kind.run):
            _plugin_problems.append(f"{where} is a CheckKind without a name, a mapping of params and a run function")
        elif kind.name in kinds:
            _plugin_problems.append(f"check plug-in {ep.name} reuses the kind name {kind.name!r}; ignored")
        else:
            kinds[kind.name] = kind
            _plugin_of[kind.name] = where


def _fault(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    if isinstance(exc, _ProcessExit):
        return f"it called os._exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}"


def run_check(ctx: CheckContext, spec: CheckSpec) -> CheckResult:
    """Run one check; every exception becomes an `error` result, never a `fail`."""

    started = time.monotonic()
    kind = check_kinds().get(spec.kind)
    # A check that could not run has no expected and observed of its own: what broke is its evidence.
    if kind is None:
        result = _broke(f"unknown check kind {spec.kind!r}")
    else:
        params = fill_namespace(dict(spec.params), ctx.namespace)
        try:
            result = kind.run(ctx, params)
            if not isinstance(result, CheckResult):
                result = _broke(f"check kind {spec.kind!r} returned {type(result).__name__}, not a CheckResult")
        except ClusterUnreachable as exc:
            result = _broke(str(exc))
        except LabrunnerError as exc:
            result = _broke(f"the check could not run: {exc}", str(exc))
        except KeyboardInterrupt:
            raise
        except _PLUGIN_FAULTS as exc:
            owner = _plugin_of.get(spec.kind, f"the {spec.kind} checker")
            result = _broke(f"{owner} crashed: {_fault(exc)}", _fault(exc))
    return CheckResult(
        status=result.status,
        message=result.message,
        details=result.details,
        evidence=result.evidence if isinstance(result.evidence, Evidence) else Evidence(),
        check_id=spec.id,
        title=spec.title or _default_title(spec),
        seconds=time.monotonic() - started,
        final=result.final is True and result.status is Status.FAIL,
    )


def _broke(message: str, fault: str = "") -> CheckResult:
    """The error of a check that could not come to a verdict; its evidence is what broke."""
    return CheckResult.errored(message, evidence=Evidence("the check runs to a verdict", fault or message))


def _default_title(spec: CheckSpec) -> str:
    p = spec.params
    target = p.get("name") or p.get("selector") or p.get("pod") or ""
    return f"{spec.kind} {target}".strip()


__all__ = ["ENTRY_POINT_GROUP", "Status", "builtin_kinds", "check_kinds", "param_problems", "plugin_origin",
           "plugin_problems", "run_check"]
