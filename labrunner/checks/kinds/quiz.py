"""The `quiz` check: the learner's recorded answer to a quiz step."""

from __future__ import annotations

from typing import Any, Mapping

from ..base import CheckContext, CheckKind, CheckResult
from ..evidence import Evidence

# The evidence never names the right choice: it would give the answer away.
_RIGHT = "the right choice"


def _quiz(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    quiz = ctx.step.quiz
    if quiz is None:
        return CheckResult.errored(f"step {ctx.step.id} is not a quiz",
                                   evidence=Evidence("a quiz step", f"step {ctx.step.id} has no quiz"))
    answer = ctx.answers.get(ctx.step.id)
    if answer is None:
        return CheckResult.failed("no answer yet", evidence=Evidence(_RIGHT, "no answer"))
    if answer == quiz.answer:
        return CheckResult.passed("right", [quiz.explanation] if quiz.explanation else [])
    chosen = next((c.text for c in quiz.choices if c.id == answer), answer)
    return CheckResult.failed(f"{chosen!r} is not right; try again",
                              evidence=Evidence(_RIGHT, f"{answer}) {chosen}"))


KINDS = [CheckKind("quiz", {}, _quiz, doc="the quiz step was answered right (built in; not for lab files)")]
