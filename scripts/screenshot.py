"""Make the README's picture of the lab view: the app's own SVG screenshot,
taken on the live cluster (KUBECONFIG) with a real step set up and checked.

    python scripts/screenshot.py [--lab netpol] [--step deny-all] [--out docs/img/lab-view.svg]

Works in the lab's own namespace so the picture shows what a learner sees;
deletes that namespace afterwards only if it did not exist before.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from labrunner.cluster import connect, delete_namespace, ping  # noqa: E402
from labrunner.loader import load_labs  # noqa: E402
from labrunner.session import LabSession  # noqa: E402
from labrunner.tui.app import LabApp  # noqa: E402
from labrunner.tui.backend import ClusterBackend  # noqa: E402
from labrunner.tui.screens.lab_view import LabViewScreen  # noqa: E402


async def shoot(app: LabApp, out: Path, *, size: tuple[int, int], hints: int) -> None:
    async with app.run_test(size=size) as pilot:
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LabViewScreen)
        report = lambda: screen.query_one("#checks").report  # noqa: E731
        resources = lambda: str(screen.query_one("#resource-list").render())  # noqa: E731
        for _ in range(600):  # up to a minute for the report and every pod to run
            if report() is not None and "Running" in resources() and not any(
                    state in resources() for state in ("ContainerCreating", "Pending")):
                break
            await pilot.pause(0.1)
        for _ in range(hints):
            await pilot.press("h")
        await pilot.pause(0.5)
        app.clear_notifications()  # toasts come and go; the picture is of the screen
        await pilot.pause(0.2)
        app.save_screenshot(filename=out.name, path=str(out.parent))
        app.stop_watches()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="netpol")
    parser.add_argument("--step", default="deny-all")
    parser.add_argument("--hints", type=int, default=1, help="hints to reveal before the picture")
    parser.add_argument("--size", default="100x32", help="terminal COLUMNSxLINES")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "lab-view.svg")
    args = parser.parse_args()

    lab = next(lab for lab in load_labs(REPO / "labs") if lab.id == args.lab)
    step = lab.step(args.step)
    cluster = connect()
    ping(cluster)
    existed = cluster.get("Namespace", lab.namespace) is not None
    print(f"setting up {lab.id}/{step.id} in {lab.namespace} (earlier steps solved)…")
    try:
        with tempfile.TemporaryDirectory() as state:
            app = LabApp(ClusterBackend(cluster), [lab], progress_path=Path(state) / "progress.json")
            LabSession(lab, store=app.store, actions=app.backend).reach(step)
            columns, lines = (int(n) for n in args.size.split("x"))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            asyncio.run(shoot(app, args.out, size=(columns, lines), hints=args.hints))
    finally:
        if not existed:
            delete_namespace(cluster, lab.namespace)
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
