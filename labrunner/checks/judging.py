"""Judging one connectivity probe: its reading, and for a deny its control.

A probe that does not connect shows only that *something* stops it. Which side
does is what a step teaches: ingress isolation of the target ("the db refuses
the shell") or egress isolation of the source ("the frontend may not send
there"). Each deny therefore comes with a control probe that rules out the
other side, as the upstream NetworkPolicy e2e tests do ("a deny is only
meaningful when the same source can reach something else in the same run"):

- `deniedBy: ingress` (the default): the same source reaches labrunner's open
  server outside the lab, on the same port; so the source is free to send and
  it is the target that refuses it.
- `deniedBy: egress`: an unrestricted pod outside the lab (the open server)
  reaches the same target and port; so the target accepts traffic and it is
  the source that may not send.

A sweep ("the source may send nowhere else") is a set of egress denies over
destinations labrunner chose; a destination that accepts nobody shows nothing
either way, so it is left out instead of failing the learner.
"""

from __future__ import annotations

from .base import Status
from .probing import Finding, ProbeOutcome, Reading, Verdict

INGRESS, EGRESS = "ingress", "egress"
DENIED_BY = (INGRESS, EGRESS)
LEFT_OUT = None  # the status of a sweep destination that shows nothing


def judge(
    expect: str,
    reading: Reading,
    control: ProbeOutcome | None = None,
    *,
    denied_by: str = INGRESS,
    source: str = "the source",
    target: str = "the target",
    sweep: bool = False,
) -> tuple[Status | None, str]:
    """(status, why) for one probe, `why` said after "<from> -> <to>:<port>".

    `control` is the deny's control probe (see the module docstring); an
    allow needs none. Status is PASS, FAIL or ERROR; for a `sweep` destination
    it is LEFT_OUT (None) when the destination accepts nobody we can test.
    Messages name the reason a learner can act on, e.g. "the source cannot send
    anywhere, so this does not show that the target refuses it".
    """
    finding = reading.finding
    if finding is Finding.BROKEN:
        return Status.ERROR, reading.detail
    if expect == "allow":
        if finding is Finding.CONNECTED:
            return Status.PASS, "connected"
        return Status.FAIL, f"should be allowed: {reading.detail}"
    if finding is Finding.CONNECTED:
        return Status.FAIL, "should be blocked: it connected"
    if sweep and finding is not Finding.BLOCKED:
        return LEFT_OUT, f"left out of the sweep: {reading.detail}"
    if finding is Finding.NOT_LISTENING:
        return Status.FAIL, f"{reading.detail}, so this says nothing about the policy"
    if finding is Finding.UNREACHABLE:
        # Neither a policy nor a closed port can be told apart from a broken path.
        return Status.ERROR, f"{reading.detail}, so this cannot show that a policy blocks it"
    if finding is not Finding.BLOCKED:
        return Status.FAIL, f"{reading.detail}, so this says nothing about the policy"
    if control is None:
        return Status.ERROR, f"{reading.detail}, but no control probe ran to show which side blocks it"
    if control.verdict is Verdict.CONNECTED:
        return Status.PASS, reading.detail
    if control.verdict is Verdict.BROKEN:
        return Status.ERROR, f"{reading.detail}, but the control probe could not run: {control.detail}"
    if denied_by == EGRESS:
        if sweep:
            return LEFT_OUT, f"left out of the sweep: it accepts no one ({control.detail})"
        return Status.FAIL, (f"{reading.detail}, but {target} accepts no one: an unrestricted pod outside the lab "
                             f"cannot reach it either ({control.detail}), so this does not show that {source} "
                             "may not send to it")
    return Status.FAIL, (f"{reading.detail}, but {source} cannot send anywhere: it cannot reach labrunner's open "
                         f"server outside the lab either ({control.detail}), so this does not show that {target} "
                         "refuses it")
