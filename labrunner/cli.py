"""The `labrunner` command. Without arguments it opens the TUI.

Exit codes (labrunner/exitcodes.py): 0 ok (for `check`: every check passed); 1 a check failed;
2 invalid input (a lab file, an argument, an unknown lab or step); 3 an error of the cluster or the
environment (unreachable, a check could not run, a tool missing); 130 interrupted (Ctrl-C), with a
line on what may be left half done. Output into a closed pipe is dropped quietly (closedpipe.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from . import runner
    from .progress import Progress, ProgressStore
    from .session import ClusterActions, LabSession

# The engine's heavy parts load where they are used, so that `labrunner list` and the TUI's first
# screen do not wait for them (tests/unit/test_import_hygiene.py): runner and the cluster side pull
# in the kubernetes client; loader, progress, session and settings pull in pydantic.
try:
    from . import exitcodes
    from .closedpipe import quiet_pipes
    from .errors import ClusterUnreachable, LabFormatError, LabrunnerError, UsageError, count_problems
    from .labfolders import BrokenLab, LoadReport, default_labs_dir
    from .model import Lab, Step
    from .verdict import Status
except KeyboardInterrupt:  # Ctrl-C while the Kubernetes client loads (seconds on a busy machine): no traceback
    print("\nlabrunner: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = exitcodes.OK, exitcodes.FAILED, exitcodes.BAD_INPUT, exitcodes.ERROR
EXIT_INTERRUPTED = exitcodes.INTERRUPTED  # Ctrl-C, as shells report SIGINT
_MARK = {Status.PASS: "PASS ", Status.FAIL: "FAIL ", Status.ERROR: "ERROR"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit is 2 too; keep the usage short
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"labrunner: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="labrunner", description="Guided Kubernetes labs on a live cluster. "
                     "Run without a command to open the interactive lab browser.")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument("--labs", type=Path, help="folder holding the labs (default: ./labs or LABRUNNER_LABS)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("list", help="list the labs and your progress")
    p = sub.add_parser("tui", help="open the interactive lab browser (on one lab, if given)")
    p.add_argument("lab", nargs="?")
    p = sub.add_parser("show", help="show a lab, or one step's text")
    p.add_argument("lab")
    p.add_argument("step", nargs="?")
    p = sub.add_parser("start", help="set a step up on the cluster (default: your current step)")
    p.add_argument("lab")
    p.add_argument("step", nargs="?")
    p.add_argument("--catch-up", action="store_true", help="also apply the solutions of earlier steps you have not passed")
    p = sub.add_parser("check", help="run a step's checks (exit 0 only when all pass)")
    p.add_argument("lab")
    p.add_argument("--step", "-s")
    p.add_argument("--json", action="store_true", help="print the results as JSON (schema/check-result-v1.json)")
    p.add_argument("--junit", type=Path, metavar="FILE",
                   help="also write the results as JUnit XML to FILE, for CI (with --watch: the last verdict)")
    p.add_argument("--watch", "-w", action="store_true", help="re-check whenever the lab namespace changes")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="re-run failing checks until all pass or SECONDS pass: kube-proxy rules, NetworkPolicy "
                        "programming, DNS caches and the RBAC authorizer lag the API (an error stays an error)")
    p = sub.add_parser("hint", help="reveal the next hint of a step")
    p.add_argument("lab")
    p.add_argument("--step", "-s")
    p = sub.add_parser("answer", help="answer a quiz step")
    p.add_argument("lab")
    p.add_argument("step")
    p.add_argument("choice")
    p = sub.add_parser("solve", help="apply a step's solution")
    p.add_argument("lab")
    p.add_argument("--step", "-s")
    p = sub.add_parser("reset", help="remove what a lab (or one step) created; --all for every lab")
    p.add_argument("lab", nargs="?")
    p.add_argument("--step", "-s")
    p.add_argument("--all", action="store_true", help="reset every lab")
    p = sub.add_parser("validate", help="check lab files without touching a cluster (exit 2 on any error)")
    p.add_argument("path", nargs="?", type=Path)

    dev = sub.add_parser("dev", help="tools for lab authors")
    dev_sub = dev.add_subparsers(dest="dev_command", metavar="DEV_COMMAND", parser_class=_Parser, required=True)
    p = dev_sub.add_parser("check", help="prove every step fails before its solution and passes after, "
                                         "every wrong answer fails and every alternative passes")
    p.add_argument("lab_ids", nargs="*", metavar="LAB")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds a step may take to pass after its solution (or an answer to settle; "
                        "default: settings.Timeouts.dev_step_pass)")
    p.add_argument("--repeat", type=_positive_int, default=1, metavar="N", help="run the whole proof N times, to catch flakes")
    p.add_argument("--step", dest="step_id", metavar="STEP", help="prove only this step of the chosen labs")
    p.add_argument("--jobs", type=_positive_int, default=3, metavar="N",
                   help="prove up to N answers of a step at once, in labs that keep to their namespace (default 3)")
    dev_sub.add_parser("coverage", help="each curriculum topic and the steps that cover it")
    p = dev_sub.add_parser("schema", help="print the JSON Schema of lab files (for editors: yaml-language-server)")
    p.add_argument("--builtin", action="store_true",
                   help="only the built-in check kinds, as the repository's schema/lab-v1.json holds it")

    p = sub.add_parser("up", help="create a local kind cluster for the labs")
    p.add_argument("--name", default="labrunner")
    p.add_argument("--image", help="the kind node image (default: the kind config's, else kind's own)")
    p = sub.add_parser("down", help="delete the local kind cluster")
    p.add_argument("--name", default="labrunner")
    sub.add_parser("doctor", help="check the tools and the cluster, with a fix for each problem")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a lab's text in a terminal that is not UTF-8: escaped, no crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    with quiet_pipes() as pipes:  # `labrunner list | head -1`: no traceback, the command's own exit status
        args = build_parser().parse_args(argv)
        if args.command in (None, "tui"):
            pipes.release()  # the TUI draws on the terminal itself
        try:
            code = _dispatch(args)
            if argv is None and args.command in (None, "tui"):  # this process is the TUI's: no teardown to wait for
                from .quickexit import exit_now

                exit_now(code)
            return code
        except LabFormatError as exc:
            _print_problems(exc)
            return EXIT_BAD_INPUT
        except LabrunnerError as exc:
            print(f"labrunner: {exc}", file=sys.stderr)
            return _exit_code_for(exc)
        except KeyboardInterrupt:
            print(f"\nlabrunner: interrupted{_left_behind(args)}", file=sys.stderr)
            return EXIT_INTERRUPTED


def _left_behind(args: argparse.Namespace) -> str:
    """What a Ctrl-C in the middle of `args.command` may leave, and how to go on."""
    lab, step = getattr(args, "lab", None), getattr(args, "step", None)
    step_part = f" --step {step}" if step else ""
    if args.command == "start":
        return f"; the step may be half set up: run `labrunner start {lab}{' ' + step if step else ''}` again"
    if args.command == "reset":
        target = "--all" if args.all else f"{lab}{step_part}"
        return f"; some of it may be left: run `labrunner reset {target}` again"
    if args.command == "solve":
        return f"; the solution may be half applied: run `labrunner solve {lab}{step_part}` again"
    if args.command == "check":
        return "; no verdict was recorded"
    if args.command == "dev":
        return "; proofs that were running may have left namespaces named lrdev-<lab>-..."
    return ""


def _exit_code_for(exc: LabrunnerError) -> int:
    """Bad input (UsageError) is 2; anything else the engine raises is the cluster's or the environment's
    (unreachable, refused, timed out, a tool missing): 3. A learner's fail is a result, never raised."""
    if isinstance(exc, UsageError):
        return EXIT_BAD_INPUT
    return EXIT_ERROR


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in (None, "tui"):
        return _open_tui(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "dev" and args.dev_command == "schema":
        return _print_schema(builtin=args.builtin)
    if args.command == "dev" and args.dev_command == "coverage":
        from .coverage import print_coverage

        return print_coverage(_labs(args), _curriculum(args))
    if args.command in ("up", "down", "doctor"):
        from . import kindcluster

        return getattr(kindcluster, f"command_{args.command}")(args, _labs_quietly(args))
    report = _load(args)
    if args.command == "list":
        return _list(report, _progress_store().read(), _known_capabilities(args))
    if args.command == "show":
        return _show(_lab(report, args.lab), args.step)
    if args.command == "dev":
        from .devcheck import dev_check, shell_for

        chosen = [_lab(report, name) for name in args.lab_ids] if args.lab_ids else _labs(args, report)
        if args.step_id:
            chosen = [lab for lab in chosen if args.step_id in {s.id for s in lab.steps}]
            if not chosen:
                raise UsageError(f"no chosen lab has a step {args.step_id!r}")
        from .settings import TIMEOUTS

        timeout = TIMEOUTS.dev_step_pass if args.timeout is None else args.timeout
        return dev_check(_cluster(args), chosen, timeout=timeout, repeat=args.repeat, step_id=args.step_id,
                         shell=shell_for(args.kubeconfig, args.context), jobs=args.jobs)
    return _learner_command(args, report)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def _open_tui(args: argparse.Namespace) -> int:
    try:
        from labrunner.tui.app import run_tui
    except ImportError as exc:
        print(f"labrunner: the interactive lab browser is not available ({exc}). "
              "Use the commands instead: `labrunner --help`.", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = run_tui(kubeconfig=args.kubeconfig, context=args.context, labs_dir=args.labs,
                     lab_id=getattr(args, "lab", None))
    return result if isinstance(result, int) else EXIT_OK


# -- loading -----------------------------------------------------------------------

def _load(args: argparse.Namespace) -> LoadReport:
    """The labs, tolerating broken ones: a broken lab is refused by name (see `_lab`), never
    stops the others. Raises LabFormatError only when no lab could be looked at (no
    curriculum, no such folder)."""
    from .labcache import load_labs_cached

    report = load_labs_cached(args.labs)
    if report.problems and not report.labs and not report.broken:
        raise LabFormatError(report.problems)
    return report


def _labs(args: argparse.Namespace, report: LoadReport | None = None) -> list[Lab]:
    """Every lab, for author tools that judge them all: any problem is an error."""
    from .loader import discover_labs

    report = report or discover_labs(args.labs)
    if report.problems:
        raise LabFormatError(report.problems)
    return report.labs


def _labs_quietly(args: argparse.Namespace) -> list[Lab]:
    from .loader import discover_labs

    return discover_labs(args.labs).labs


def _curriculum(args: argparse.Namespace):  # noqa: ANN202
    from .loader import find_curriculum, load_curriculum

    path = find_curriculum(args.labs or default_labs_dir())
    if path is None:
        raise UsageError("no curriculum.yaml found")
    return load_curriculum(path)


def _lab(report: LoadReport, lab_id: str) -> Lab:
    """The lab `lab_id`; a broken lab of that name raises its problems (exit 2)."""
    found = report.find(lab_id)
    if isinstance(found, Lab):
        return found
    if isinstance(found, BrokenLab):
        raise LabFormatError(list(found.problems))
    known = ", ".join(lab.id for lab in report.labs) or "none"
    broken = f"; broken: {', '.join(b.name for b in report.broken)}" if report.broken else ""
    raise UsageError(f"no lab {lab_id!r} (labs: {known}{broken})")


def _print_problems(exc: LabFormatError, *, also: int = 0) -> None:
    for problem in exc.problems:
        print(f"error: {problem}", file=sys.stderr)
    count = count_problems(exc.problems) + also
    print(f"{count} problem{'s' if count != 1 else ''} found; see docs/lab-format.md", file=sys.stderr)


# -- commands ------------------------------------------------------------------------

def _validate(args: argparse.Namespace) -> int:
    """`ok` for each good lab on stdout; every problem, a broken plug-in's too, on stderr (exit 2)."""
    from .loader import discover_labs
    from .session import plugin_problems

    report = discover_labs(args.path or args.labs)
    for lab in report.labs:
        print(f"ok  {lab.id}: {len(lab.steps)} steps, topics {', '.join(lab.topics)}")
    for broken in report.broken:
        count = count_problems(list(broken.problems))
        print(f"bad {broken.name}: {count} problem{'s' if count != 1 else ''}")
    plugins = plugin_problems()
    for line in plugins:
        print(f"error: {line}", file=sys.stderr)
    if report.problems or plugins:
        _print_problems(LabFormatError(report.problems), also=len(plugins))
        return EXIT_BAD_INPUT
    return EXIT_OK


def _print_schema(*, builtin: bool) -> int:
    from .format.schema import schema_text
    from .session import check_kinds, plugin_problems

    if not builtin:
        for line in plugin_problems():
            print(f"warning: {line}", file=sys.stderr)
    sys.stdout.write(schema_text(None if builtin else check_kinds()))
    return EXIT_OK


def _known_capabilities(args: argparse.Namespace) -> dict | None:
    """What `doctor`, `up` or a check last found out about the kubeconfig's cluster (within the cache's
    time), without contacting it; None when nothing is known."""
    from .capabilities import cached_for_kubeconfig

    return cached_for_kubeconfig(args.kubeconfig, args.context) or None


def _list(report: LoadReport, progress: Progress, capabilities: dict | None = None) -> int:
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
    return EXIT_OK


def _show(lab: Lab, step_id: str | None) -> int:
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
        print(lab.render(step.text).rstrip())
    if step.quiz:
        print(f"\n{step.quiz.question}")
        for choice in step.quiz.choices:
            print(f"  {choice.id}) {choice.text}")
        print(f"\nAnswer with: labrunner answer {lab.id} {step.id} CHOICE")
    return EXIT_OK


def _progress_store() -> ProgressStore:
    """The learner's progress for this command; what is wrong with it, once, on stderr."""
    from .progress import ProgressStore

    return ProgressStore(on_warning=lambda line: print(f"warning: {line}", file=sys.stderr, flush=True))


def _actions(args: argparse.Namespace) -> ClusterActions:
    """The cluster half of the learner's commands: connected (and pinged) on first use only."""
    from .session import ClusterActions

    return ClusterActions(connect=lambda: _cluster(args))


def _cluster(args: argparse.Namespace):  # noqa: ANN202
    """The cluster `--kubeconfig` and `--context` name, pinged: unreachable fails here (exit 3)."""
    from .session import connect_cluster

    return connect_cluster(kubeconfig=args.kubeconfig, context=args.context)


def _learner_command(args: argparse.Namespace, report: LoadReport) -> int:
    if args.command == "reset" and args.all:
        return _reset_all(args, report)
    if args.command == "reset" and not args.lab:
        raise UsageError("say which lab to reset, or --all")
    from .session import LabSession

    session = LabSession(_lab(report, args.lab), store=_progress_store(), actions=_actions(args))
    return _COMMANDS[args.command](args, session)


def _hint(args: argparse.Namespace, session: LabSession) -> int:
    lab, step = session.lab, session.step(args.step)
    hint = session.hint(step)
    if hint is None:
        print(f"No more hints for {step.id}. `labrunner solve {lab.id} --step {step.id}` applies the solution.")
    else:
        print(f"Hint {hint[0]}/{len(step.hints)}: {hint[1]}")
    return EXIT_OK


def _answer(args: argparse.Namespace, session: LabSession) -> int:
    result = session.answer(session.step(args.step), args.choice)
    print(f"{_MARK[result.status]} {result.message}")
    for line in result.details:
        print(f"       {line}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _start(args: argparse.Namespace, session: LabSession) -> int:
    step = session.step(args.step)
    session.start(step, catch_up=args.catch_up, on_progress=_progress_line)
    print(f"Step {step.id} is set up in namespace {session.namespace}.\n")
    return _show(session.lab, step.id)


def _solve(args: argparse.Namespace, session: LabSession) -> int:
    step = session.step(args.step)
    explanation = session.solve(step)
    print(f"Applied the solution of {step.id}." + (f"\n\n{explanation}" if explanation else ""))
    return EXIT_OK


def _reset(args: argparse.Namespace, session: LabSession) -> int:
    step = session.step(args.step) if args.step else None
    session.reset(step, on_progress=_progress_line)
    print(f"Removed everything lab {session.lab.id} created." if step is None else f"Step {step.id} is back to its start.")
    return EXIT_OK


def _reset_all(args: argparse.Namespace, report: LoadReport) -> int:
    from .session import LabSession

    store, actions = _progress_store(), _actions(args)
    actions.cluster  # noqa: B018  connect before the first lab, as one unreachable cluster says it once
    for lab in report.labs:
        LabSession(lab, store=store, actions=actions).reset(on_progress=_progress_line)  # each lab saved as done
        print(f"reset {lab.id}")
    for broken in report.broken:  # what it applied carries its label, but which kinds is in its broken files
        print(f"labrunner: skipped {broken.name}: its files are broken (`labrunner validate` lists the problems)",
              file=sys.stderr)
    actions.delete_own_namespace(on_progress=_progress_line)
    return EXIT_OK


def _check(args: argparse.Namespace, session: LabSession) -> int:
    step = session.step(args.step)
    if args.wait is not None and (args.wait < 0 or args.watch):
        raise UsageError("--wait takes seconds (0 or more) and does not go with --watch, which waits anyway")
    if args.junit is not None:
        _check_junit_target(args.junit)  # before any cluster work: a typo must not cost a whole run
    if step.is_quiz:  # judged on the saved answer, no cluster
        report = session.check(step, record=False)
        return _saved_junit(args.junit, report, _print_report(report, as_json=args.json))
    note = session.namespace_note(step)
    if note:
        _progress_line(note)
    if args.watch:
        return _watch(session, step, as_json=args.json, junit=args.junit)
    settling = _SettlingLines()
    report = session.check(step, wait=args.wait, on_report=settling.show)
    code = _print_report(report, as_json=args.json)
    if args.wait is None and not args.json:
        _suggest_waiting(session.lab, step, report)
    return _saved_junit(args.junit, report, code)


# The learner's commands over one LabSession; `reset --all` (every lab) is `_reset_all`.
_COMMANDS = {"hint": _hint, "answer": _answer, "start": _start, "solve": _solve, "reset": _reset, "check": _check}


def _check_junit_target(path: Path) -> None:
    """Raise UsageError (exit 2) when `path` cannot be a JUnit report: a folder, or in a folder that is not there."""
    if path.is_dir():
        raise UsageError(f"--junit {path}: that is a folder; give a file name such as {path / 'labrunner.xml'}")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"--junit {path}: the folder {folder} does not exist; create it first")


def _saved_junit(path: Path | None, report: runner.StepReport, code: int) -> int:
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


def _progress_line(line: str) -> None:
    """Progress of a long wait, on stderr so that stdout stays the result."""
    print(f"labrunner: {line}", file=sys.stderr, flush=True)


class _SettlingLines:
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


def _suggest_waiting(lab: Lab, step: Step, report: runner.StepReport) -> None:
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


def _print_report(report: runner.StepReport, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for result in report.results:
            tries = f" (attempt {result.attempts})" if result.attempts > 1 else ""
            print(f"{_MARK[result.status]} {result.title}: {result.message}{tries}")
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


def _watch(session: LabSession, step: Step, *, as_json: bool, junit: Path | None = None) -> int:
    stop = threading.Event()
    outcome = [EXIT_FAILED]

    settling = _SettlingLines()

    def show(report: runner.StepReport) -> None:  # each verdict is counted by the session before it comes here
        if report.settling:  # between attempts: a line on stderr per change, not a verdict
            settling.show(report)
            return
        settling.said.clear()
        outcome[0] = _saved_junit(junit, report, _print_report(report, as_json=as_json))
        if report.passed:
            stop.set()
        else:  # with --json, stdout holds only the JSON documents
            print("(watching the lab namespace; Ctrl-C to stop)\n", file=sys.stderr if as_json else sys.stdout)

    try:
        session.watch(step, on_report=show, stop=stop)
    except KeyboardInterrupt:
        stop.set()
        print("\nlabrunner: stopped watching", file=sys.stderr)
    return outcome[0]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
