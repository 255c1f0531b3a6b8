"""What the `labrunner` command prints: step reports, the lab list and a lab's text, progress lines,
problems with lab files, and the JUnit file `--junit` asks for.

Verdicts and exit codes come from the engine (runner.StepReport, exitcodes.py); this module only
renders them. stdout holds the result, stderr progress and problems, so that `--json` output pipes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import LabFormatError, UsageError, count_problems
from .exitcodes import ERROR as EXIT_ERROR, FAILED as EXIT_FAILED, OK as EXIT_OK
from .model import Lab, Step
from .verdict import Status

if TYPE_CHECKING:
    from . import runner
    from .labfolders import LoadReport
    from .progress import Progress

MARK = {Status.PASS: "PASS ", Status.FAIL: "FAIL ", Status.ERROR: "ERROR"}


def print_problems(exc: LabFormatError, *, also: int = 0) -> None:
    """Each problem of `exc` on stderr, then their count (plus `also` problems printed elsewhere)."""
    for problem in exc.problems:
        print(f"error: {problem}", file=sys.stderr)
    count = count_problems(exc.problems) + also
    print(f"{count} problem{'s' if count != 1 else ''} found; see docs/lab-format.md", file=sys.stderr)



def list_labs(report: LoadReport, progress: Progress, capabilities: dict | None = None) -> int:
    """One line per lab; a lab the cluster is known to lack something for says what (from the
    capabilities `doctor` and the checks found, never probed here)."""
    from .capabilities import unmet_cached

    labs = report.labs
    width = max([len(lab.id) for lab in labs] + [len(b.name) for b in report.broken], default=4)
    for lab in labs:
        done = sum(1 for s in lab.steps if progress.lab(lab.id).step(s.id).status == "passed")
        lacking = unmet_cached(capabilities or {}, lab.needs)
        mark = f"  [CANNOT RUN HERE: {', '.join(u.requirement for u in lacking)} missing]" if lacking else ""
        print(f"{lab.id:<{width}}  {done}/{len(lab.steps)} steps  {lab.difficulty.value:<12} ~{lab.minutes:>3} min  "
              f"{lab.title}{mark}")
    if capabilities is None and any(lab.needs for lab in labs):
        print("(`labrunner doctor` finds out which labs this cluster can run; the list then marks the others)")
    for broken in report.broken:
        count = count_problems(list(broken.problems))
        print(f"{broken.name:<{width}}  BROKEN: {count} problem{'s' if count != 1 else ''} in its files; "
              f"`labrunner validate {broken.shown}` lists them")
    following = progress.next_lab(labs)
    if following is not None:
        print(f"Next: {following.id} (`labrunner tui {following.id}`, or `labrunner start {following.id}` "
              "to work with the commands)")
    return EXIT_OK


def show_lab(lab: Lab, step_id: str | None, *, namespace: str | None = None) -> int:
    """A lab's summary and steps, or one step's text (with its quiz); exit 0. Raises UsageError for an unknown step."""
    if step_id is None:
        print(f"{lab.title}  ({lab.id}, {lab.difficulty.value}, ~{lab.minutes} min)\n")
        print(lab.summary)
        print(f"\nTopics: {', '.join(lab.topics)}")
        if lab.needs:
            print(f"Needs from the cluster: {', '.join(lab.needs)}")
        print("\nSteps:")
        for i, step in enumerate(lab.steps, 1):
            print(f"  {i}. {step.id}: {step.title}" + ("  (quiz)" if step.is_quiz else ""))
        return EXIT_OK
    from .session import step_named

    step = step_named(lab, step_id)
    print(f"# {step.title}\n")
    if step.text:
        print(lab.render(step.text, namespace=namespace).rstrip())
    if step.quiz:
        print(f"\n{step.quiz.question}")
        for choice in step.quiz.choices:
            print(f"  {choice.id}) {choice.text}")
        print(f"\nAnswer with: labrunner answer {lab.id} {step.id} CHOICE")
    return EXIT_OK



def check_junit_target(path: Path) -> None:
    """Raise UsageError (exit 2) when `path` cannot be a JUnit report: a folder, or in a folder that is not there."""
    if path.is_dir():
        raise UsageError(f"--junit {path}: that is a folder; give a file name such as {path / 'labrunner.xml'}")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"--junit {path}: the folder {folder} does not exist; create it first")


def saved_junit(path: Path | None, report: runner.StepReport, code: int) -> int:
    """Write `report` as JUnit XML to `path` (when given); `code` when written, EXIT_ERROR when it could not be."""
    if path is None:
        return code
    from .junit import write_junit

    try:
        write_junit(path, [report])
    except OSError as exc:
        print(f"labrunner: could not write the JUnit report {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    return code


def progress_line(line: str) -> None:
    """Progress of a long wait, on stderr so that stdout stays the result."""
    print(f"labrunner: {line}", file=sys.stderr, flush=True)


class SettlingLines:
    """Progress of `check --wait` on stderr: a line when a failing check's message changes."""

    def __init__(self) -> None:
        self.said: dict[str, str] = {}

    def show(self, report: runner.StepReport) -> None:
        for result in report.results:
            if result.status is not Status.FAIL:
                self.said.pop(result.check_id, None)
                continue
            line = result.message if result.settling else f"not yet: {result.message}; checking again"
            if self.said.get(result.check_id) != line:
                self.said[result.check_id] = line
                print(f"... {result.title}: {line} (attempt {result.attempts}, {report.seconds:.1f}s)",
                      file=sys.stderr, flush=True)


def suggest_waiting(lab: Lab, step: Step, report: runner.StepReport) -> None:
    """After a one-shot fail of a lagging kind: the truth may only lag a change made a moment ago."""
    if report.status is not Status.FAIL:
        return
    from . import runner

    specs = {spec.id: spec for spec in step.checks}
    lags = [runner.lag_of(specs[r.check_id]) for r in report.results if r.status is Status.FAIL and r.check_id in specs]
    lags = [lag for lag in lags if lag[0]]
    if lags:
        seconds = max(lag[1] for lag in lags)
        print(f"If you changed this a moment ago: {lags[0][0]}. "
              f"`labrunner check {lab.id} --step {step.id} --wait {seconds:.0f}` re-checks until it settles.")


def print_report(report: runner.StepReport, *, as_json: bool) -> int:
    """A step report as text (or as JSON, schema/check-result-v1.json) on stdout; its exit code (0 pass, 1 fail, 3 error)."""
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for result in report.results:
            tries = f" (attempt {result.attempts})" if result.attempts > 1 else ""
            print(f"{MARK[result.status]} {result.title}: {result.message}{tries}")
            for line in result.details:
                print(f"       {line}")
            if not result.ok:
                _print_reproduce(result.evidence.reproduce())
        summary = {Status.PASS: "all checks pass", Status.FAIL: "not there yet", Status.ERROR: "a check could not run"}
        took = f"{report.seconds:.1f}s" + (f", {report.attempts} attempts" if report.attempts > 1 else "")
        print(f"\n{report.step_id}: {summary[report.status]} ({took})")
    return {Status.PASS: EXIT_OK, Status.FAIL: EXIT_FAILED, Status.ERROR: EXIT_ERROR}[report.status]


_REPRODUCE_SHOWN = 3  # commands under a failing check; --json and --junit carry every one


def _print_reproduce(commands: list[str]) -> None:
    """Under a check that did not pass: the commands that reproduce what it saw (a probe, a review)."""
    for command in commands[:_REPRODUCE_SHOWN]:
        print(f"       try: {command}")
    if len(commands) > _REPRODUCE_SHOWN:
        print(f"       ({len(commands) - _REPRODUCE_SHOWN} more such commands in `--json` or `--junit`)")
