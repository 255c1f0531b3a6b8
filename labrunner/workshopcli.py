"""`labrunner workshop ...`: the instructor's commands, a thin table over labrunner.workshop."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from . import exitcodes
from .model import Lab

Connect = Callable[[], Any]  # the instructor's cluster, connected and pinged on first call


def _say(line: str) -> None:
    print(f"labrunner: {line}", file=sys.stderr, flush=True)


def workshop_command(args: argparse.Namespace, labs: list[Lab], connect: Connect) -> int:
    """Run `labrunner workshop <create|delete|status|export>`; the exit code (errors are raised)."""
    return _COMMANDS[args.workshop_command](args, labs, connect)


def _create(args: argparse.Namespace, labs: list[Lab], connect: Connect) -> int:
    from .workshop.rooms import choose_labs, create_workshop
    from .workshop.seats import check_workshop_name, seat_names

    check_workshop_name(args.name)  # bad input before any cluster work
    seat_names(args.seats)
    chosen = choose_labs(labs, args.lab_ids)
    made = create_workshop(connect(), args.name, seats=args.seats, labs=chosen, out=args.out, on_progress=_say)
    for line in made.warnings:
        _say(f"warning: {line}")
    print(f"Workshop {made.name}: {len(made.seats)} seats, labs {', '.join(made.labs)} ({made.seconds:.1f}s).")
    print(f"Kubeconfigs in {args.out}: {made.kubeconfigs[0].name} ... {made.kubeconfigs[-1].name}; "
          f"a learner runs `labrunner --kubeconfig {made.kubeconfigs[0].name}`.")
    return exitcodes.OK


def _delete(args: argparse.Namespace, labs: list[Lab], connect: Connect) -> int:
    from .workshop.rooms import delete_workshop
    from .workshop.seats import check_workshop_name

    check_workshop_name(args.name)
    count = delete_workshop(connect(), args.name, on_progress=_say)
    print(f"Removed workshop {args.name} ({count} objects)." if count else f"No workshop {args.name} on this cluster.")
    return exitcodes.OK


def _status(args: argparse.Namespace, labs: list[Lab], connect: Connect) -> int:
    from .workshop.grid import read_room

    if not args.json and sys.stdout.isatty():
        try:
            from .tui.room import run_room
        except ImportError:
            pass
        else:
            return run_room(cluster=connect(), name=args.name, labs=labs)
    grid = read_room(connect(), args.name, labs)
    if args.json:
        print(json.dumps(grid, indent=2))
    else:
        print(_grid_text(grid), end="")
    return exitcodes.OK


def _grid_text(grid: dict) -> str:
    """The grid as plain text: a row per seat, a column per step (P passed, F failing, E error, . not started)."""
    marks = {"passed": "P", "failing": "F", "error": "E", "not-started": "."}
    lines = [f"workshop {grid['workshop']} at {grid['at']}  (P passed, F failing, E error, . not started)"]
    for row in grid["seats"]:
        parts = []
        for lab in grid["labs"]:
            cell = row["labs"][lab["id"]]
            steps = "".join(marks.get(s["state"], "?") for s in cell["steps"])
            on = f" {cell['current']} {cell['minutesOnStep']}m" if cell["current"] and cell["minutesOnStep"] is not None else ""
            parts.append(f"{lab['id']} {steps}{on} h{cell['hints']}")
        lines.append(f"{row['seat']}{' STUCK' if row['stuck'] else ''}  " + "  ".join(parts))
    return "\n".join(lines) + "\n"


def _export(args: argparse.Namespace, labs: list[Lab], connect: Connect) -> int:
    from .workshop.exports import export
    from .workshop.grid import read_room

    data = export(read_room(connect(), args.name, labs), args.format)
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        args.output.write_bytes(data)
        _say(f"wrote {args.output}")
    return exitcodes.OK


_COMMANDS = {"create": _create, "delete": _delete, "status": _status, "export": _export}
