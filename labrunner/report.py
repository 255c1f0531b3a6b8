"""A step's verdict: every check's result, how many rounds it took, and its `check --json` form."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import CheckResult, Status

# The version of the `check --json` document (schema/check-result-v1.json); reportschema.SCHEMA_VERSION.
REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class StepReport:
    lab_id: str
    step_id: str
    results: tuple[CheckResult, ...]
    seconds: float = 0.0
    attempts: int = 1  # rounds of checks this verdict took (`check --wait`, watch mode)
    seconds_to_pass: float | None = None  # until every check passed; None unless the step passed

    @property
    def settling(self) -> bool:
        """True for a report made between attempts while a failing check's truth may still lag."""
        return any(r.settling for r in self.results)

    @property
    def status(self) -> Status:
        """error if any check errored, else fail if any failed, else pass."""
        statuses = {r.status for r in self.results}
        if Status.ERROR in statuses:
            return Status.ERROR
        if Status.FAIL in statuses or not self.results:
            return Status.FAIL
        return Status.PASS

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    def as_dict(self) -> dict:
        """One `check --json` document, as schema/check-result-v1.json describes it (see reportschema)."""
        return {
            "schemaVersion": REPORT_SCHEMA_VERSION,
            "lab": self.lab_id,
            "step": self.step_id,
            "status": self.status.value,
            "seconds": round(self.seconds, 3),
            "attempts": self.attempts,
            "secondsToPass": None if self.seconds_to_pass is None else round(self.seconds_to_pass, 3),
            "checks": [r.as_dict() for r in self.results],
        }
