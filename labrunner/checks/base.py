"""What a check kind is, what it returns, and what it is given."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ..verdict import Status
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .evidence import NO_EVIDENCE, Evidence

if TYPE_CHECKING:
    from ..cluster import Cluster
    from ..model import Lab, Step


@dataclass(frozen=True)
class CheckResult:
    status: Status
    message: str
    details: tuple[str, ...] = ()  # one line per probe, object, ...
    check_id: str = ""
    title: str = ""
    seconds: float = 0.0  # of the last attempt
    attempts: int = 1  # how often the check ran for this verdict (`check --wait`, watch mode)
    seconds_to_pass: float | None = None  # from the first attempt's start to the passing one's end
    # The kind's lag (see CheckKind.lags) when this fail is shown while the truth may still be
    # settling: the message then says so and the probe's own words move to `details`.
    settling: str = ""
    # What was expected and seen, as data (see checks/evidence.py); empty when the kind gives none.
    evidence: Evidence = NO_EVIDENCE
    # A fail no waiting can turn: the lagging truth was read after the last change (an audit that
    # started after the Constraint changed and saw the objects). It is not re-run while settling.
    final: bool = False

    @classmethod
    def passed(cls, message: str, details: tuple[str, ...] | list[str] = (), *,
               evidence: Evidence = NO_EVIDENCE) -> "CheckResult":
        return cls(Status.PASS, message, tuple(details), evidence=evidence)

    @classmethod
    def failed(cls, message: str, details: tuple[str, ...] | list[str] = (), *,
               evidence: Evidence = NO_EVIDENCE, final: bool = False) -> "CheckResult":
        """A fail; `final` when the kind read its lagging truth after the last change (see `final`)."""
        return cls(Status.FAIL, message, tuple(details), evidence=evidence, final=final)

    @classmethod
    def errored(cls, message: str, details: tuple[str, ...] | list[str] = (), *,
                evidence: Evidence = NO_EVIDENCE) -> "CheckResult":
        return cls(Status.ERROR, message, tuple(details), evidence=evidence)

    @property
    def ok(self) -> bool:
        return self.status is Status.PASS

    def while_settling(self, lag: str) -> "CheckResult":
        """This fail as shown while `lag` may still explain it: the message names the lag (never
        "nothing answers" as if the learner were wrong) and the probe's words become evidence."""
        if self.status is not Status.FAIL:
            return self
        return replace(self, message=f"{lag}; checking again", settling=lag,
                       details=(f"so far: {self.message}", *self.details))

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `check --json` (schema/check-result-v1.json): seconds are of the last
        attempt, secondsToPass is null unless the check passed; settling is true only in reports made
        while re-checking; evidence always has its six keys (nulls and empty lists when none)."""
        return {
            "id": self.check_id,
            "title": self.title,
            "status": self.status.value,
            "message": self.message,
            "details": list(self.details),
            "seconds": round(self.seconds, 3),
            "attempts": self.attempts,
            "secondsToPass": None if self.seconds_to_pass is None else round(self.seconds_to_pass, 3),
            "settling": bool(self.settling),
            "evidence": self.evidence.as_dict(),
        }


@dataclass
class CheckContext:
    """Everything a check may use. `answers` holds quiz answers by step id."""

    cluster: "Cluster"
    namespace: str
    lab: "Lab"
    step: "Step"
    answers: Mapping[str, str] = field(default_factory=dict)
    node_address: str | None = None  # where NodePorts are reached from this machine


@dataclass(frozen=True)
class Param:
    """One parameter of a check kind, for validation before any cluster work.

    `type` is a plain Python type or a tuple of them (YAML's: str, int, float, bool,
    list, dict; true/false is never a number), a value type of `labrunner.format.values`
    (`Port`, `Count`, `Regex`, `Quantity`, `seconds(60)`, ...), or a model of
    `labrunner.format.shape.Shape` for a mapping with fields of its own.
    """

    type: Any
    required: bool = False
    doc: str = ""
    choices: tuple[Any, ...] | None = None
    # A path to a manifest in the lab folder: the loader checks and parses it
    # and hands the check a `Manifest` in its place.
    file: bool = False


Validator = Callable[[Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class CheckKind:
    """A registered kind: its parameters and the function that runs it.

    `run(ctx, params) -> CheckResult`; an exception it raises is reported as an
    `error` result, never a `fail`. `validate(params)` returns extra problems
    (e.g. "give exactly one of equals, matches") as text, "param: what" to point
    at one parameter; it sees only parameters of the declared types.
    """

    name: str
    params: Mapping[str, Param]
    run: Callable[[CheckContext, Mapping[str, Any]], CheckResult]
    validate: Validator | None = None
    doc: str = ""
    # A truth this kind observes that reaches the cluster only some time after the API accepted
    # the change, said as the learner should read it ("kube-proxy may still be programming this
    # Service"); "" when the kind reads only what the API server stores. A failing check of a
    # lagging kind is re-checked (watch mode, `check --wait`) for `settles_within` seconds after
    # a change before its fail is shown as the learner's.
    lags: str = ""
    settles_within: float = 10.0  # seconds the lagging truth takes at most on a healthy cluster
    # Placeholders besides ${LAB_NAMESPACE} this kind fills in its parameters (e.g. "NONCE").
    placeholders: tuple[str, ...] = ()

    @property
    def model(self) -> Any:
        """The pydantic model of one check of this kind (see labrunner.format.checks); made once."""
        from ..format.checks import check_model

        made = _models.get(id(self))
        if made is None or made[0] is not self:
            made = _models[id(self)] = (self, check_model(self))
        return made[1]

    def problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(parameter, what is wrong) for every problem in `params` ("" for the check as a whole;
        "probes[0].port" for a value inside one). Files (`Param.file`) are not looked at."""
        from pydantic import ValidationError

        from ..format.problems import locate, wording
        from ..yamlfile import dotted

        model = self.model
        # A file parameter may come resolved already (a Manifest, as run_check gets it): its file was checked.
        given = {k: "resolved.yaml" if k in self.params and self.params[k].file and not isinstance(v, str) else v
                 for k, v in params.items()}
        try:
            model.model_validate({**given, "kind": self.name})
        except ValidationError as exc:
            found = []
            for error in exc.errors():
                path, message = wording(error, locate(model, tuple(error["loc"])))
                found.append((dotted(path), message))
            return found
        return []


_models: dict[int, tuple[CheckKind, Any]] = {}


def exactly_one(*keys: str) -> Validator:
    def check(params: Mapping[str, Any]) -> list[str]:
        given = [k for k in keys if k in params]
        if len(given) != 1:
            return [f"give exactly one of {', '.join(keys)} (got {', '.join(given) or 'none'})"]
        return []

    return check


def all_of(*validators: Validator) -> Validator:
    def check(params: Mapping[str, Any]) -> list[str]:
        return [problem for v in validators for problem in v(params)]

    return check


def valid_regex(key: str) -> Validator:
    def check(params: Mapping[str, Any]) -> list[str]:
        if key in params:
            from ..format.values import regex_problem

            problem = regex_problem(params[key]) if isinstance(params[key], str) else "expected text"
            if problem:
                return [f"{key}: {problem}"]
        return []

    return check
