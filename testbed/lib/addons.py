"""Add-ons on the testbed: labrunner's own (labrunner/addons/<name>/), started only when asked for.

The testbed's part is the images: the add-on's `[[images]]` in testbed.toml (`addon = "<name>"`)
are built from Go modules and pushed to the local mirror under their upstream names. The manifests
are then applied by labrunner itself (`labrunner addons install <name>`), exactly as on kind, so
the same files run in both places.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from config import HERE, Config
from images import push_images
from log import say

REPO = HERE.parent


def labrunner_command() -> list[str]:
    """How to run labrunner: $LABRUNNER, else the checkout's .venv, else `labrunner` on PATH."""
    if os.environ.get("LABRUNNER"):
        return [os.environ["LABRUNNER"]]
    venv = REPO / ".venv" / "bin" / "labrunner"
    if venv.exists():
        return [str(venv)]
    found = shutil.which("labrunner")
    if found:
        return [found]
    raise SystemExit("testbed: labrunner is needed to install add-ons: `make venv`, or set LABRUNNER to its path")


def start_addons(cfg: Config, names: tuple[str, ...]) -> None:
    """Build and push the images of `names`, then install each with labrunner and wait until it works."""
    known = sorted(p.name for p in (REPO / "labrunner" / "addons").iterdir() if (p / "addon.yaml").is_file())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"testbed: no add-on named {', '.join(unknown)} (known: {', '.join(known)})")
    started = time.monotonic()
    push_images(cfg, names, base=False)
    env = {**os.environ, "KUBECONFIG": str(cfg.paths.admin_kubeconfig),
           "PATH": f"{Path(cfg.binary('kubectl')).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([*labrunner_command(), "addons", "install", *names], env=env, check=True)
    say(f"add-ons {', '.join(names)} ready in {time.monotonic() - started:.1f}s")
