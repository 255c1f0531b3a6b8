"""Entry point behind testbed/up, testbed/down, testbed/selftest and testbed/netpol-e2e."""
from __future__ import annotations

import subprocess
import sys

from config import load_config


def main(argv: list[str]) -> int:
    cfg = load_config()
    cmd = argv[0] if argv else ""
    if cmd == "up":
        from cluster import up
        addons = _addons_option(argv[1:])
        up(cfg)
        if addons:
            from addons import start_addons
            start_addons(cfg, addons)
        print(f"KUBECONFIG={cfg.paths.admin_kubeconfig}", flush=True)
        return 0
    if cmd == "addon":
        from addons import start_addons
        if len(argv) < 2:
            print("usage: testbed/addon NAME... (labrunner's add-ons: labrunner/addons/<name>/)", file=sys.stderr)
            return 2
        start_addons(cfg, tuple(argv[1:]))
        return 0
    if cmd == "down":
        from teardown import down
        return down(cfg)
    if cmd == "selftest":
        from selftest import selftest
        return selftest(cfg)
    if cmd == "netpol-e2e":
        from netpol_e2e import run
        return run(cfg, argv[1:])
    if cmd == "build":
        from build import build_all, build_pause
        build_all(cfg)
        build_pause(cfg)
        return 0
    print("usage: testbed/lib/main.py up [--addons NAME,...]|addon NAME...|down|selftest|build|netpol-e2e "
          "[e2e.test flags]", file=sys.stderr)
    return 2


def _addons_option(args: list[str]) -> tuple[str, ...]:
    """`--addons a,b` or `--addons=a,b` -> ("a", "b"); anything else is refused."""
    names: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "--addons" and i + 1 < len(args):
            names += args[i + 1].split(",")
            i += 2
        elif args[i].startswith("--addons="):
            names += args[i].split("=", 1)[1].split(",")
            i += 1
        else:
            raise SystemExit(f"testbed up: unknown argument {args[i]!r} (known: --addons NAME,...)")
    return tuple(n for n in names if n)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except subprocess.CalledProcessError as e:
        out = (e.stderr or e.stdout or "")
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        print(f"testbed: {' '.join(map(str, e.cmd))} failed (exit {e.returncode}): {out.strip()}",
              file=sys.stderr)
        sys.exit(1)
