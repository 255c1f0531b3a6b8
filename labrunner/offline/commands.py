"""`labrunner bundle FILE` and `labrunner bundle-load FILE`: the instructor's offline commands
(docs/workshops.md, "Offline")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import exitcodes
from ..errors import UsageError


def chosen_labs(labs: list, lab_ids: list[str] | None) -> list:
    """`labs` (model.Lab) named by `lab_ids`, in that order, or all when none named. UsageError for an unknown id."""
    if not lab_ids:
        return list(labs)
    by_id = {lab.id: lab for lab in labs}
    unknown = [i for i in lab_ids if i not in by_id]
    if unknown:
        raise UsageError(f"no lab {', '.join(unknown)} (labs: {', '.join(by_id) or 'none'})")
    return [by_id[i] for i in dict.fromkeys(lab_ids)]


def addons_for(labs: list) -> list:
    """labrunner's add-ons (addons.Addon) that provide something one of `labs` needs."""
    from ..addons import load_addons

    needs = {feature for lab in labs for feature in lab.needs}
    return [a for a in load_addons().values() if needs & set(a.spec.provides)]


def command_bundle(args: argparse.Namespace, labs: list) -> int:
    """Write the bundle; print what it holds. Exit 0, or 3 (BundleError) / 2 (UsageError) raised to cli."""
    from .writing import host_platform_name, write_bundle

    chosen = chosen_labs(labs, args.lab_ids)
    if not chosen:
        raise UsageError("no labs to bundle: pass --labs DIR (before `bundle`) with a labs folder")
    platform = args.platform or host_platform_name()
    if platform.count("/") not in (1, 2) or not platform.startswith("linux/"):
        raise UsageError(f"--platform {platform}: expected linux/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64")
    manifest = write_bundle(args.file, chosen, addons_for(chosen), labs_root=chosen[0].path.parent,
                            platform=platform, mirror=args.mirror, extra=args.images or (),
                            say=lambda line: print(f"  {line}", flush=True))
    print(manifest.summary())
    print(f"Wrote {args.file} ({Path(args.file).stat().st_size / 1e6:.1f} MB). Offline: "
          f"`labrunner up --from {args.file}` (kind), then `labrunner doctor --bundle {args.file}`.")
    return exitcodes.OK


def command_bundle_load(args: argparse.Namespace) -> int:
    """Load the bundle's images into a kind cluster's nodes (`--kind NAME`) or a containerd (`--containerd SOCKET`)."""
    from .loading import load_into_containerd, load_into_kind

    if bool(args.kind) == bool(args.containerd):
        raise UsageError("say where to load the images: --kind CLUSTER or --containerd SOCKET (one of them)")
    if args.kind:
        manifest = load_into_kind(args.file, args.kind)
    else:
        manifest = load_into_containerd(args.file, args.containerd)
    print(f"Loaded {len(manifest.images)} images ({manifest.platform}). `labrunner doctor --bundle {args.file}` "
          "shows each on each node.", file=sys.stdout)
    return exitcodes.OK
