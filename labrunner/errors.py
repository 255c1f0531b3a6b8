"""The small, flat set of errors the engine raises.

Kubernetes client exceptions never travel past `labrunner.cluster`: they are
translated there (see `translate_api_exception`) into these, so the CLI and the
TUI handle a handful of types and show the API server's own message.
"""

from __future__ import annotations

import json
import reprlib
from dataclasses import dataclass, field


class LabrunnerError(Exception):
    """Base of every error the engine raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a lab folder; `count` > 1 when it stands for that many not shown."""

    file: str
    line: int | None
    field: str
    message: str
    count: int = field(default=1, compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 40, 40


def clip(value: object, width: int = 40) -> str:
    """`value` as a message shows it: its repr, at most about `width` characters.

    Built without spelling the whole value out (reprlib), so a value that aliases made
    huge costs no more than a small one.
    """
    text = _SHORT.repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


MAX_PROBLEMS = 50
"""The most problems one lab or file shows: beyond, only how many more (the first ones show the fault)."""


def more_problems(file: str, count: int) -> Problem:
    """The Problem that stands for `count` problems not shown."""
    return Problem(file, None, "", f"and {count} more problem{'s' if count != 1 else ''} not shown; "
                                   "fix the ones above first", count=count)


def capped(problems: list[Problem], limit: int = MAX_PROBLEMS) -> list[Problem]:
    """`problems`, the first `limit` of them shown and the rest counted in one last Problem."""
    if sum(p.count for p in problems) <= limit + 1:
        return list(problems)
    shown = [p for p in problems if p.count == 1][:limit]
    rest = sum(p.count for p in problems) - len(shown)
    return shown + [more_problems(shown[-1].file if shown else problems[0].file, rest)]


def count_problems(problems: list[Problem]) -> int:
    """How many problems `problems` stand for (a "and N more" Problem counts N)."""
    return sum(p.count for p in problems)


class LabFormatError(LabrunnerError):
    """A lab (or the curriculum) is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(LabrunnerError):
    """The user asked for something that does not exist (a lab, a step...)."""


class ClusterUnreachable(LabrunnerError):
    """No kubeconfig, a bad context, or the API server does not answer."""


class ApiRejected(LabrunnerError):
    """The API server refused a request; `message` is its own words."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", what: str = ""):
        self.status = status
        self.reason = reason
        self.what = what
        self.server_message = message
        prefix = f"{what}: " if what else ""
        super().__init__(f"{prefix}{message}")


class NotFound(ApiRejected):
    """The object or the resource type does not exist."""


class Forbidden(ApiRejected):
    """RBAC forbids labrunner's own identity to do this."""


class WaitTimedOut(LabrunnerError):
    """A wait did not see its condition in time."""


def translate_api_exception(exc: Exception, *, what: str = "") -> LabrunnerError:
    """Turn a kubernetes ApiException (or a connection failure) into ours."""
    status = getattr(exc, "status", None)
    if status is None or status == 0:
        return ClusterUnreachable(f"cannot reach the Kubernetes API server: {_short(exc)}")
    message, reason = _status_message(getattr(exc, "body", None)) or (str(getattr(exc, "reason", exc)), "")
    if status == 404:
        return NotFound(message, status=status, reason=reason or "NotFound", what=what)
    if status in (401, 403):
        return Forbidden(message, status=status, reason=reason or "Forbidden", what=what)
    if status >= 500 and status not in (500,):
        # 502-504: the server is there but not serving; treat like unreachable.
        return ClusterUnreachable(f"the API server answered {status}: {message}")
    return ApiRejected(message, status=status, reason=reason, what=what)


def _status_message(body: object) -> tuple[str, str] | None:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:500], ""
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"]), str(data.get("reason") or "")
    return None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
