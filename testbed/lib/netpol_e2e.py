"""testbed netpol-e2e: the upstream NetworkPolicy e2e tests against the running testbed, on demand.

They are the `Netpol` specs of k8s.io/kubernetes/test/e2e at the testbed's Kubernetes version, built
with `go test -c` in the wrapper module testbed/go/kubernetes and cached like the other builds. They
prove the NetworkPolicy enforcer (run them after any change of it); they take about 16 minutes.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from build import go_env
from config import HERE, Config
from log import say


def binary(cfg: Config) -> Path:
    """<cache>/netpol-e2e-<kubernetes version>/e2e.test"""
    spec = cfg.raw["netpol_e2e"]
    return cfg.paths.cache / f"netpol-e2e-{cfg.versions[spec['version']]}" / "e2e.test"


def build(cfg: Config) -> Path:
    """Build the e2e test binary unless it is cached. Returns its path. Raises CalledProcessError
    when `go test -c` fails, SystemExit without Go."""
    out = binary(cfg)
    if out.exists():
        return out
    if not shutil.which("go"):
        raise SystemExit("testbed: Go is needed to build the e2e tests (install golang, 1.24 or newer)")
    spec = cfg.raw["netpol_e2e"]
    say(f"building {spec['package']} at {cfg.versions[spec['version']]} (cached afterwards in {out.parent})")
    started = time.monotonic()
    out.parent.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".netpol-e2e-", dir=out.parent.parent))
    try:
        subprocess.run(["go", "test", "-c", "-vet=off", "-trimpath", "-ldflags", "-s -w", "-o", str(tmp / out.name),
                        spec["package"]], cwd=HERE / "go" / spec["module"], env=go_env(), check=True)
        tmp.rename(out.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"built {out.parent.name} in {time.monotonic() - started:.0f}s")
    return out


def suite_args(defaults: list[str], extra: list[str]) -> list[str]:
    """testbed.toml's arguments, less those whose flag `extra` gives (ginkgo ORs repeated focus
    flags, so --ginkgo.focus=X must replace the default focus, not widen it), then `extra`."""
    given = {a.split("=", 1)[0] for a in extra if a.startswith("-")}
    return [a for a in defaults if a.split("=", 1)[0] not in given] + extra


def run(cfg: Config, extra: list[str]) -> int:
    """Run the suite with testbed.toml's arguments, those of `extra` replacing defaults of the same
    flag (e.g. --ginkgo.focus='Netpol.*default-deny-ingress'). Returns the suite's exit code (0: every
    spec passed)."""
    if not cfg.paths.admin_kubeconfig.exists():
        print("testbed: no running testbed (run testbed/up first)", file=sys.stderr)
        return 1
    e2e = build(cfg)
    args = [str(e2e), f"--kubeconfig={cfg.paths.admin_kubeconfig}",
            *suite_args(cfg.raw["netpol_e2e"]["args"], extra)]
    say("running the upstream NetworkPolicy e2e tests (about 16 minutes on an idle machine)")
    started = time.monotonic()
    # The suite's own working files (its report, if asked for) stay out of the clone.
    with tempfile.TemporaryDirectory(prefix="netpol-e2e-") as cwd:
        code = subprocess.run(args, cwd=cwd).returncode
    say(f"netpol-e2e {'passed' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.0f}s")
    return code
