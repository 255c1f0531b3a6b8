"""Add-ons on the testbed: labrunner's own (labrunner/addons/<name>/), started only when asked for.

The testbed's part is the images: the add-on's `[[images]]` in testbed.toml (`addon = "<name>"`)
are built from Go modules and pushed to the local mirror under their upstream names. The manifests
are then applied by labrunner itself (`labrunner addons install <name>`), exactly as on kind, so
the same files run in both places.
"""
from __future__ import annotations

import json
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
    trust_issuers(cfg, env)
    say(f"add-ons {', '.join(names)} ready in {time.monotonic() - started:.1f}s")


def trust_issuers(cfg: Config, env: dict[str, str]) -> None:
    """Write the API server's AuthenticationConfiguration (the file its --authentication-config names)
    trusting the OpenID Connect issuers of the installed add-ons. The kube-apiserver reloads the file
    when it changes (it polls once a minute), so no restart is needed; an API server started before the
    flag was in testbed.toml does not read it at all, and says so here."""
    from configs import AUTHN_CONFIG

    out = subprocess.run([*labrunner_command(), "addons", "authn-config"], env=env, check=True,
                         capture_output=True, text=True).stdout
    path = cfg.paths.state / AUTHN_CONFIG
    if path.exists() and path.read_text() == out:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(out)
    tmp.replace(path)
    issuers = [j["issuer"]["url"] for j in json.loads(out)["jwt"]]
    say(f"the API server trusts {', '.join(issuers) or 'no issuer'} ({path}; reloaded within a minute)")
    if not _flag_in_use(path):
        say("the running kube-apiserver was started without --authentication-config: restart the testbed "
            "(testbed/down, testbed/up) for it to trust the issuer")


def _flag_in_use(path: Path) -> bool:
    """Whether a running kube-apiserver process names `path` in its --authentication-config flag."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"kube-apiserver") and f"--authentication-config={path}".encode() in args:
            return True
    return False
