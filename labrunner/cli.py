"""The `labrunner` command. Without arguments it opens the TUI.

Exit codes (labrunner/exitcodes.py): 0 ok (for `check`: every check passed); 1 a check failed;
2 invalid input (a lab file, an argument, an unknown lab or step); 3 an error of the cluster or the
environment (unreachable, a check could not run, a tool missing); 130 interrupted (Ctrl-C), with a
line on what may be left half done. Output into a closed pipe is dropped quietly (closedpipe.py).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from . import runner
    from .progress import ProgressStore
    from .session import ClusterActions, LabSession
    from .workshop.seats import Seat

# The engine's heavy parts load where they are used, so that `labrunner list` and the TUI's first
# screen do not wait for them (tests/unit/test_import_hygiene.py): runner and the cluster side pull
# in the kubernetes client; loader, progress, session and settings pull in pydantic.
try:
    from . import cliprint, exitcodes
    from .closedpipe import quiet_pipes
    from .cliparser import build_parser
    from .errors import LabFormatError, LabrunnerError, UsageError, count_problems
    from .labfolders import BrokenLab, LoadReport, default_labs_dir
    from .model import Lab, Step
except KeyboardInterrupt:  # Ctrl-C while the Kubernetes client loads (seconds on a busy machine): no traceback
    print("\nlabrunner: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = exitcodes.OK, exitcodes.FAILED, exitcodes.BAD_INPUT, exitcodes.ERROR
EXIT_INTERRUPTED = exitcodes.INTERRUPTED  # Ctrl-C, as shells report SIGINT


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
            cliprint.print_problems(exc)
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
    if args.command == "up":
        return "; the cluster may be half made: run `labrunner up` again, or `labrunner down` to remove it"
    if args.command == "down":
        return "; some of it may be left: run `labrunner down` again"
    if args.command == "bundle":
        return f"; no bundle was written ({args.file} is as it was before)"
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
    if args.command == "workshop":
        from .workshopcli import workshop_command

        return workshop_command(args, _labs_quietly(args), lambda: _cluster(args))
    if args.command == "bundle":
        from .offline.commands import command_bundle

        return command_bundle(args, _labs(args))
    if args.command == "bundle-load":
        from .offline.commands import command_bundle_load

        return command_bundle_load(args)
    if args.command in ("up", "down", "doctor", "addons"):
        from . import kindcluster

        return getattr(kindcluster, f"command_{args.command}")(args, _labs_quietly(args))
    report = _load(args)
    if args.command == "list":
        return cliprint.list_labs(report, _progress_store(_seat(args)).read(), _known_capabilities(args))
    if args.command == "show":
        seat = _seat(args)
        lab = _lab(report, args.lab)
        return cliprint.show_lab(lab, args.step, namespace=seat.namespace(lab.id) if seat else None)
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
        cliprint.print_problems(LabFormatError(report.problems), also=len(plugins))
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


def _progress_store(seat: Seat | None = None) -> ProgressStore:
    """The learner's progress for this command (a workshop seat's own file); what is wrong with it, once, on stderr."""
    from .progress import ProgressStore

    path = None
    if seat is not None:
        from .workshop.learning import seat_progress_path

        path = seat_progress_path(seat)
    return ProgressStore(path, on_warning=_warning_line)


def _warning_line(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)


def _seat(args: argparse.Namespace) -> Seat | None:
    """The workshop seat the kubeconfig is for (workshop/seats.py), or None for an ordinary learner."""
    from .workshop.seats import seat_of

    return seat_of(args.kubeconfig, args.context)


def _actions(args: argparse.Namespace, seat: Seat | None = None) -> ClusterActions:
    """The cluster half of the learner's commands: connected (and pinged) on first use only."""
    from .session import ClusterActions

    return ClusterActions(connect=lambda: _cluster(args), keep_namespaces=seat is not None)


def _session(args: argparse.Namespace, lab: Lab, *, seat: Seat | None, store: ProgressStore | None = None,
             actions: ClusterActions | None = None) -> LabSession:
    """The learner's session with `lab`: in the seat's namespace and recording for the room view on a seat."""
    from .session import LabSession

    actions = actions or _actions(args, seat)
    store = store or _progress_store(seat)
    if seat is None:
        return LabSession(lab, store=store, actions=actions)
    from .workshop.records import SeatRecorder

    return LabSession(lab, store=store, actions=actions, namespace=seat.namespace(lab.id),
                      recorder=SeatRecorder(seat, lambda: actions.cluster, on_warning=_warning_line))


def _cluster(args: argparse.Namespace):  # noqa: ANN202
    """The cluster `--kubeconfig` and `--context` name, pinged: unreachable fails here (exit 3)."""
    from .session import connect_cluster

    return connect_cluster(kubeconfig=args.kubeconfig, context=args.context)


def _learner_command(args: argparse.Namespace, report: LoadReport) -> int:
    if args.command == "reset" and args.all:
        return _reset_all(args, report)
    if args.command == "reset" and not args.lab:
        raise UsageError("say which lab to reset, or --all")
    session = _session(args, _lab(report, args.lab), seat=_seat(args))
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
    print(f"{cliprint.MARK[result.status]} {result.message}")
    for line in result.details:
        print(f"       {line}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _start(args: argparse.Namespace, session: LabSession) -> int:
    step = session.step(args.step)
    session.start(step, catch_up=args.catch_up, on_progress=cliprint.progress_line)
    print(f"Step {step.id} is set up in namespace {session.namespace}.\n")
    return cliprint.show_lab(session.lab, step.id, namespace=session.namespace)


def _solve(args: argparse.Namespace, session: LabSession) -> int:
    step = session.step(args.step)
    explanation = session.solve(step)
    print(f"Applied the solution of {step.id}." + (f"\n\n{explanation}" if explanation else ""))
    return EXIT_OK


def _reset(args: argparse.Namespace, session: LabSession) -> int:
    step = session.step(args.step) if args.step else None
    session.reset(step, on_progress=cliprint.progress_line)
    print(f"Removed everything lab {session.lab.id} created." if step is None else f"Step {step.id} is back to its start.")
    return EXIT_OK


def _reset_all(args: argparse.Namespace, report: LoadReport) -> int:
    seat = _seat(args)
    store, actions = _progress_store(seat), _actions(args, seat)
    actions.cluster  # noqa: B018  connect before the first lab, as one unreachable cluster says it once
    for lab in report.labs:
        if seat is not None and not actions.may_use_namespace(seat.namespace(lab.id)):
            continue  # a lab of no namespace of this seat: not in its workshop
        _session(args, lab, seat=seat, store=store, actions=actions).reset(on_progress=cliprint.progress_line)  # saved
        print(f"reset {lab.id}")
    for broken in report.broken:  # what it applied carries its label, but which kinds is in its broken files
        print(f"labrunner: skipped {broken.name}: its files are broken (`labrunner validate` lists the problems)",
              file=sys.stderr)
    if seat is None:  # on a workshop seat it is the instructor's, shared by every seat
        actions.delete_own_namespace(on_progress=cliprint.progress_line)
    return EXIT_OK


def _check(args: argparse.Namespace, session: LabSession) -> int:
    step = session.step(args.step)
    if args.wait is not None and (args.wait < 0 or args.watch):
        raise UsageError("--wait takes seconds (0 or more) and does not go with --watch, which waits anyway")
    if args.junit is not None:
        cliprint.check_junit_target(args.junit)  # before any cluster work: a typo must not cost a whole run
    if step.is_quiz:  # judged on the saved answer, no cluster
        report = session.check(step, record=False)
        return cliprint.saved_junit(args.junit, report, cliprint.print_report(report, as_json=args.json))
    note = session.namespace_note(step)
    if note:
        cliprint.progress_line(note)
    if args.watch:
        return _watch(session, step, as_json=args.json, junit=args.junit)
    settling = cliprint.SettlingLines()
    report = session.check(step, wait=args.wait, on_report=settling.show)
    code = cliprint.print_report(report, as_json=args.json)
    if args.wait is None and not args.json:
        cliprint.suggest_waiting(session.lab, step, report)
    return cliprint.saved_junit(args.junit, report, code)


# The learner's commands over one LabSession; `reset --all` (every lab) is `_reset_all`.
_COMMANDS = {"hint": _hint, "answer": _answer, "start": _start, "solve": _solve, "reset": _reset, "check": _check}


def _watch(session: LabSession, step: Step, *, as_json: bool, junit: Path | None = None) -> int:
    stop = threading.Event()
    outcome = [EXIT_FAILED]

    settling = cliprint.SettlingLines()

    def show(report: runner.StepReport) -> None:  # each verdict is counted by the session before it comes here
        if report.settling:  # between attempts: a line on stderr per change, not a verdict
            settling.show(report)
            return
        settling.said.clear()
        outcome[0] = cliprint.saved_junit(junit, report, cliprint.print_report(report, as_json=as_json))
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
