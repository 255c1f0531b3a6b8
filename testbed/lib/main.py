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
        up(cfg)
        print(f"KUBECONFIG={cfg.paths.admin_kubeconfig}", flush=True)
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
    if cmd == "addon-images":
        # The images of add-ons (testbed.toml `[[images]]` with `addon`), built and pushed to the running
        # testbed's mirror; their manifests are labrunner's (labrunner/addons/NAME/).
        from images import push_images
        names = tuple(argv[1:])
        known = {img["addon"] for img in cfg.images() if img.get("addon")}
        if not names or set(names) - known:
            print(f"usage: testbed/lib/main.py addon-images NAME... (add-ons with images: {', '.join(sorted(known))})",
                  file=sys.stderr)
            return 2
        push_images(cfg, names)
        return 0
    if cmd == "build":
        from build import build_all, build_pause
        build_all(cfg)
        build_pause(cfg)
        return 0
    print("usage: testbed/lib/main.py up|down|selftest|build|addon-images NAME...|netpol-e2e [e2e.test flags]", file=sys.stderr)
    return 2


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
