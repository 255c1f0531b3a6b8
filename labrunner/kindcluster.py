"""`labrunner up`, `down` and `doctor`: a local kind cluster, and a health report for any cluster."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import exitcodes, kindauthn, kindsetup
from .errors import LabrunnerError, UsageError
from .model import Lab

KIND_CONFIG = "kind-config.yaml"
_OTHER_CLUSTER = ("No docker here, so no kind cluster. Any other cluster works: point KUBECONFIG at its kubeconfig "
                  "(or pass --kubeconfig / --context), then run `labrunner doctor`.")


def _find_kind_config(given: Path | None = None) -> Path:
    """`--config`, else the kind config `portmaps.kind_config_path` finds (LABRUNNER_KIND_CONFIG, this
    folder or above, else the one labrunner ships)."""
    from .capabilities.portmaps import kind_config_path

    found = given or kind_config_path()
    if found is None or not found.is_file():
        raise UsageError(f"no kind config {found or KIND_CONFIG}: name one with --config FILE")
    return found


def _run(command: list[str], *, quiet: bool = False) -> subprocess.CompletedProcess:
    return kindsetup.run(command, quiet=quiet)


def _docker_works() -> bool:
    return shutil.which("docker") is not None and _run(["docker", "info"], quiet=True).returncode == 0


SERVICE_ACCOUNT_WAIT = 180.0  # s: kind's control plane comes up in about 30 s; a loaded machine takes longer


def wait_for_service_accounts(cluster, *, timeout: float = SERVICE_ACCOUNT_WAIT) -> bool:  # noqa: ANN001
    """Wait until the kube-controller-manager's ServiceAccount controller has made `default/default`:
    until then no pod can be created in any namespace ("serviceaccount default not found"), so `up`
    must not install or probe before. Prints what it waits for, and the seconds every 10 s; True when
    it is there, False after `timeout` s."""
    from .errors import WaitTimedOut
    from .cluster import wait_until

    if cluster.get("ServiceAccount", "default", namespace="default") is not None:
        return True
    print("      waiting for the cluster's ServiceAccount controller (serviceaccount default/default), "
          f"up to {timeout:.0f} s", flush=True)
    started = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - started)
        try:
            wait_until(cluster, "ServiceAccount", namespace="default", name="default", predicate=bool,
                       describe="serviceaccount default/default", timeout=max(0.0, min(10.0, left)))
        except WaitTimedOut:
            if left <= 10.0:
                return False
            print(f"      ... {time.monotonic() - started:.0f} s", flush=True)
            continue
        print(f"      serviceaccount default/default is there ({time.monotonic() - started:.0f} s)", flush=True)
        return True


def command_up(args: argparse.Namespace, labs: list[Lab]) -> int:
    """Create (or reuse) the kind cluster `args.name` and make it ready for `labs`: their images in the
    node, the add-ons they need, a load balancer (kindsetup.py), and, for an add-on's OpenID Connect
    issuer, an API server created with --authentication-config that trusts it (kindauthn.py); then
    what the cluster can do.
    With `--from FILE` (args.bundle) the images come from that bundle (`labrunner bundle`), loaded with
    `kind load image-archive`: nothing is pulled. Exit 3 when docker or kind is missing or `kind create
    cluster` or the load fails; 2 when no kind config is found or FILE is no bundle."""
    bundle = getattr(args, "bundle", None)
    if bundle is not None:
        from .offline import read_manifest

        bundled = read_manifest(bundle)  # a wrong file is said first, before any cluster is made
    if not _docker_works():
        print(_OTHER_CLUSTER, file=sys.stderr)
        return exitcodes.ERROR
    if shutil.which("kind") is None:
        print("kind is not installed: see https://kind.sigs.k8s.io/docs/user/quick-start/#installation", file=sys.stderr)
        return exitcodes.ERROR
    node_image = getattr(args, "image", None)
    config = _find_kind_config(getattr(args, "config", None))
    from .addons import load_addons

    # kind ships local-path storage and, since v0.24, kindnet enforces NetworkPolicy; what else the
    # labs need comes from labrunner's add-ons (labrunner/addons/), their images preloaded too.
    needs = {feature for lab in labs for feature in lab.needs}
    addons = [a for a in load_addons().values() if needs & set(a.spec.provides)]
    lb = "loadbalancer" in needs and not getattr(args, "no_loadbalancer", False)
    images = sorted({image for lab in labs for image in lab.images} | {i for a in addons for i in a.spec.images})
    steps = kindsetup.StepCounter(2 + bool(images or bundle) + bool(addons) + lb)
    existing = _run(["kind", "get", "clusters"], quiet=True).stdout.split()
    issuers = [a for a in addons if a.spec.issuer is not None]
    if args.name not in existing:
        steps.step(f"Creating the kind cluster {args.name} from {config} with {kindsetup.node_image_said(node_image, config)}; "
                   "kind shows its steps (a node image not on this machine is downloaded first: minutes)")
        given = _config_with_authn(args.name, config) if issuers else config
        if given is None:
            return exitcodes.ERROR
        if _run(kindsetup.create_command(args.name, given, node_image)).returncode:
            return exitcodes.ERROR
    else:
        steps.step(f"The kind cluster {args.name} exists: using it"
                   + (" (--image applies when a cluster is created: `labrunner down` first)" if node_image else ""))
        # its context may be missing from this KUBECONFIG (another file, or one cleaned since): kind writes it again
        _run(["kind", "export", "kubeconfig", "--name", args.name])
    from .cluster import connect

    try:
        new_cluster = connect(kubeconfig=getattr(args, "kubeconfig", None), context=f"kind-{args.name}")
        if not wait_for_service_accounts(new_cluster):
            print(f"labrunner: the cluster kind-{args.name} made no serviceaccount default/default in "
                  f"{SERVICE_ACCOUNT_WAIT:.0f} s, so no pod can start: look at `kubectl -n kube-system get pods` "
                  "(kube-controller-manager)", file=sys.stderr)
            return exitcodes.ERROR
    except LabrunnerError as exc:  # the steps below say what fails, each with its fix
        print(f"      (could not ask the cluster whether it is ready: {exc})")
    if bundle is not None:
        steps.step(f"Loading the bundle's {len(bundled.images)} images into the nodes ({bundled.platform}, no network)")
        from .offline import parse_ref
        from .offline.loading import load_into_kind

        load_into_kind(bundle, args.name, runner=_run)
        in_bundle = {i.name for i in bundled.images}
        outside = [image for image in images if parse_ref(image).name not in in_bundle]
        if outside:
            print(f"      not in the bundle: {', '.join(outside)}; the node pulls them when a lab first uses them")
    elif images:
        steps.step(f"Loading the labs' {len(images)} images into the node (those docker has are not pulled again)")
        preloaded = kindsetup.preload_images(args.name, images, runner=_run)
        if preloaded.missing:
            print(f"      not loaded: {', '.join(preloaded.missing)}; the node pulls them when a lab first uses them")
    if addons:
        steps.step(f"Installing the add-ons the labs need: {', '.join(a.name for a in addons)}, and waiting until they work")
        from .addons import install
        from .capabilities import forget
        from .cluster import connect

        try:
            cluster = connect(kubeconfig=getattr(args, "kubeconfig", None), context=f"kind-{args.name}")
            for addon in addons:
                install(cluster, addon)
            forget(cluster, on_disk=True)  # what the add-ons provide is new: probe it again
            if issuers and not _trust_issuers(cluster, args.name, issuers):
                return exitcodes.ERROR
        except LabrunnerError as exc:
            print(f"labrunner: installing add-ons failed: {exc}\n(`labrunner up` again retries; "
                  "`labrunner doctor` shows each add-on)", file=sys.stderr)
            return exitcodes.ERROR
    if lb:
        steps.step("Starting cloud-provider-kind, which gives LoadBalancer Services their addresses")
        reached = kindsetup.node_reached(args.name, runner=_run)
        if reached is False:
            print(f"      this machine does not reach the node's own address (as on Docker Desktop): "
                  f"load balancers' ports will be published here ({kindsetup.LB_PORT_MAPPING})")
        kindsetup.start_load_balancer(runner=_run, port_mapping=reached is False)
    steps.step(f"Asking the cluster kind-{args.name} what it can do for the labs")
    from .cluster import connect

    try:
        print_findings(cluster_findings(connect(kubeconfig=getattr(args, "kubeconfig", None), context=f"kind-{args.name}"), labs))
    except LabrunnerError as exc:
        print(f"(could not ask the cluster yet: {exc}; `labrunner doctor` tries again)")
    steps.close()
    print("Next: `labrunner list`.")
    return 0


def _config_with_authn(name: str, config: Path) -> Path | None:
    """The kind config to create `name` with when its labs need an OpenID Connect issuer
    (kindauthn.py): `config` itself when it already sets --authentication-config (the user's own,
    left alone), else a copy beside the API server's folder, which gets a file trusting no issuer
    first. None (said on stderr) when labrunner's state folder refuses the files."""
    from .addons.authn import authentication_config
    from .progress import state_dir

    text = config.read_text(encoding="utf-8")
    if kindauthn.sets_authentication_config(text):
        print(f"      {config.name} already gives the API server --authentication-config: used as it is "
              "(the issuer must be written where it points: `labrunner addons authn-config` prints it)")
        return config
    folder = kindauthn.authn_folder(state_dir(), name)
    try:
        kindauthn.write_config(folder, authentication_config())
        given = folder.parent / KIND_CONFIG
        given.write_text(kindauthn.with_authn(text, folder), encoding="utf-8")
    except (OSError, ValueError) as exc:
        print(f"labrunner: cannot prepare the API server's authentication config in {folder}: {exc}\n"
              "fix: make labrunner's state folder writable (LABRUNNER_STATE_DIR chooses another)", file=sys.stderr)
        return None
    print(f"      the API server reads --authentication-config from {folder} (mounted at {kindauthn.IN_NODE}); "
          f"kind gets {given} ({config.name} with that mount and flag)")
    return given


def _trust_issuers(cluster, name: str, issuers: list) -> bool:  # noqa: ANN001
    """Write the installed issuers into the cluster's authentication config folder and wait until the
    API server accepts their tokens (the `oidc` capability), up to TIMEOUTS.authn_reload s, saying the
    seconds as it waits. False (said on stderr, with the fix) when it does not in time or the cluster
    has no such folder (made before labrunner set the flag)."""
    import time

    from .addons.authn import installed_config
    from .capabilities import capability
    from .progress import state_dir
    from .settings import TIMEOUTS

    folder = kindauthn.authn_folder(state_dir(), name)
    if not (folder / kindauthn.FILE).is_file():
        here = capability(cluster, "oidc", fresh=True)
        if here.state:
            print(f"      {here.detail}")
            return True
        print(f"labrunner: the kind cluster {name} has no authentication config folder of labrunner ({folder}), "
              f"so labrunner cannot make its API server trust the issuer: {here.detail}\n"
              f"fix: `labrunner down --name {name}`, then `labrunner up` again (or, when your kind config sets "
              "--authentication-config, write `labrunner addons authn-config` where it points)", file=sys.stderr)
        return False
    try:
        written = kindauthn.write_config(folder, installed_config(cluster, issuers))
    except (OSError, ValueError) as exc:
        print(f"labrunner: cannot write the issuer into {folder}: {exc}", file=sys.stderr)
        return False
    print(f"      wrote the issuer {', '.join(a.spec.issuer.url for a in issuers)} into {written}; "
          f"waiting until the API server rereads it (up to {TIMEOUTS.authn_reload:.0f} s)", flush=True)
    started = time.monotonic()
    said = 0.0
    while True:
        found = capability(cluster, "oidc", fresh=True)
        waited = time.monotonic() - started
        if found.state:
            print(f"      the API server trusts it after {waited:.0f} s: {found.detail}", flush=True)
            return True
        if waited >= TIMEOUTS.authn_reload:
            print(f"labrunner: the API server does not trust the issuer {TIMEOUTS.authn_reload:.0f} s after it was "
                  f"written: {found.detail}\nfix: {found.fix or 'labrunner doctor'}", file=sys.stderr)
            return False
        if waited - said >= 10:
            said = waited
            print(f"      {waited:.0f} s: not yet ({found.detail})", flush=True)
        time.sleep(2)


def command_addons(args: argparse.Namespace, labs: list[Lab]) -> int:
    """`labrunner addons`: each add-on and its state on the current cluster; `addons install [NAME...]`
    installs those named (default: those the labs need) and waits until they work; `addons authn-config`
    prints the API server's AuthenticationConfiguration trusting the installed add-ons' issuers. Exit 3 when one is
    not ready, 2 for a name labrunner has no add-on of."""
    from .addons import install, load_addons, state
    from .capabilities import forget
    from .cluster import connect

    known = load_addons()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"labrunner: no add-on named {', '.join(unknown)}; labrunner has {', '.join(known)}", file=sys.stderr)
        return exitcodes.BAD_INPUT
    cluster = connect(kubeconfig=getattr(args, "kubeconfig", None), context=getattr(args, "context", None))
    if args.action == "install":
        needs = {feature for lab in labs for feature in lab.needs}
        chosen = [known[n] for n in args.names] or [a for a in known.values() if needs & set(a.spec.provides)]
        for addon in chosen:
            install(cluster, addon)
        forget(cluster, on_disk=True)  # what the add-ons provide is new: probe it again
        return exitcodes.OK
    if args.action == "authn-config":
        # The API server's AuthenticationConfiguration for the installed issuers, as JSON (which is
        # YAML): whoever runs the API server writes it where --authentication-config points.
        import json

        from .addons.authn import installed_config

        chosen = [known[n] for n in args.names] or list(known.values())
        print(json.dumps(installed_config(cluster, chosen), indent=2))
        return exitcodes.OK
    states = [state(cluster, addon) for addon in known.values()]
    for addon, found in zip(known.values(), states):
        mark = {True: " ok ", False: "FAIL", None: " -- "}[found.ok]
        print(f"[{mark}] {addon.name} ({addon.spec.title} {addon.spec.version}, provides "
              f"{', '.join(addon.spec.provides)}): {found.detail}" + (f"\n       fix: {found.fix}" if found.fix else ""))
    return exitcodes.OK if all(found.ok is not False for found in states) else exitcodes.ERROR


def command_down(args: argparse.Namespace, labs: list[Lab]) -> int:
    """Delete the kind cluster, then what `up` made beside it: the API server's authentication config
    folder (kindauthn.remove_folder) and the load balancers (kindsetup.remove_load_balancer)."""
    if shutil.which("kind") is None:
        print("kind is not installed, so there is no kind cluster to delete.", file=sys.stderr)
        return exitcodes.ERROR
    if _run(["kind", "delete", "cluster", "--name", args.name]).returncode:
        return exitcodes.ERROR
    from .progress import state_dir

    if kindauthn.remove_folder(state_dir(), args.name):
        print(f"removed {kindauthn.cluster_folder(state_dir(), args.name)} (the API server's authentication config)")
    if _docker_works():
        remaining = _run(["kind", "get", "clusters"], quiet=True).stdout.split()
        for line in kindsetup.remove_load_balancer(args.name, [c for c in remaining if c != args.name], runner=_run):
            print(line)
    return exitcodes.OK


@dataclass(frozen=True)
class Finding:
    """One line of `doctor`: `ok` True, False (then `fix` says what to do) or None (not found out,
    or missing but no lab needs it: not counted against the cluster)."""

    ok: bool | None
    what: str
    fix: str = ""
    counts: bool = True  # False: shown, but not a reason for exit 3


def diagnose(args: argparse.Namespace, labs: list[Lab]) -> list[Finding]:
    findings = [
        Finding(_docker_works(), "docker", "install Docker (only needed for `labrunner up` with kind)", counts=False),
        Finding(shutil.which("kind") is not None, "kind", "install kind (only needed for `labrunner up`)", counts=False),
        Finding(shutil.which("kubectl") is not None, "kubectl", "install kubectl to work on the labs", counts=False),
    ]
    from .cluster import connect, ping

    try:
        cluster = connect(kubeconfig=args.kubeconfig, context=args.context)
        version = ping(cluster)
    except LabrunnerError as exc:
        return findings + [Finding(False, f"cluster reachable: {exc}", "start a cluster (`labrunner up`) or set KUBECONFIG")]
    findings.append(Finding(True, f"cluster reachable ({cluster.configuration.host}, {version})"))
    findings += cluster_findings(cluster, labs)
    if getattr(args, "bundle", None) is not None:
        findings += bundle_findings(cluster, args.bundle)
    return findings


def bundle_findings(cluster, bundle: Path) -> list[Finding]:  # noqa: ANN001
    """One finding per image of the bundle and node: present by the bundle's digest, or not (counted)."""
    from .offline import read_manifest
    from .offline.loading import presence

    manifest = read_manifest(bundle)
    fix = f"load it: `labrunner up --from {bundle}` (kind) or `labrunner bundle-load {bundle} --containerd SOCKET`"
    return [Finding(p.ok, f"bundle image {p.image} on node {p.node}: {p.detail}", fix if p.ok is False else "")
            for p in presence(cluster.list("Node"), manifest)]


def cluster_findings(cluster, labs: list[Lab], *, fresh: bool = True) -> list[Finding]:  # noqa: ANN001
    """Every capability (labrunner.capabilities) with its state and fix, the labs this cluster cannot
    run, and the labs' images on the nodes. A missing capability no lab needs is shown, not counted."""
    from .capabilities import NAMES, capabilities, capability_of, unmet_cached

    found = {c.name: c for c in capabilities(cluster, NAMES, fresh=fresh)}
    needed_by: dict[str, list[str]] = {}
    for lab in labs:
        for requirement in lab.needs:
            needed_by.setdefault(capability_of(requirement), []).append(lab.id)
    findings = addon_findings(cluster, needed_by)
    for name in NAMES:
        item = found[name]
        users = sorted(set(needed_by.get(name, [])))
        fix = item.fix + (f" (needed by {', '.join(users)})" if users and item.fix else "")
        counts = bool(users) or name == "kubernetes"
        shown_state = item.state if item.state is not False or counts else None
        findings.append(Finding(shown_state, f"{name}: {item.detail}" + ("" if counts or item.state is not False
                                                                          else " (no lab here needs it)"), fix, counts))
    for lab in labs:
        lacking = unmet_cached(found, lab.needs)
        if lacking:
            findings.append(Finding(False, f"lab {lab.id} cannot be done on this cluster: "
                                           + "; ".join(f"{u.requirement} ({u.why})" for u in lacking),
                                    "; ".join(dict.fromkeys(u.fix for u in lacking if u.fix))))
    present = {name for node in cluster.list("Node") for image in (node.get("status") or {}).get("images") or []
               for name in image.get("names") or []}
    for image in sorted({image for lab in labs for image in lab.images}):
        there = image in present
        findings.append(Finding(there, f"image {image} {'present' if there else 'not on the nodes'}",
                                "" if there else "it will be pulled on first use; `labrunner up` preloads it on kind",
                                counts=False))
    return findings


def addon_findings(cluster, needed_by: dict[str, list[str]]) -> list[Finding]:  # noqa: ANN001
    """One finding per add-on of labrunner's: ready, or missing/not ready with the fix. Counted only
    when a lab needs what it provides (`needed_by`: capability -> lab ids)."""
    from .addons import load_addons, state

    findings = []
    for addon in load_addons().values():
        users = sorted({lab for name in addon.spec.provides for lab in needed_by.get(name, [])})
        found = state(cluster, addon)
        what = f"add-on {addon.name} ({addon.spec.title} {addon.spec.version}, provides {', '.join(addon.spec.provides)})"
        shown = found.ok if found.ok is not False or users else None
        findings.append(Finding(shown, f"{what}: {found.detail}" + ("" if users or found.ok is not False
                                                                    else " (no lab here needs it)"),
                                found.fix + (f" (needed by {', '.join(users)})" if users and found.fix else ""),
                                counts=bool(users)))
    return findings


def print_findings(findings: list[Finding]) -> None:
    for finding in findings:
        mark = {True: " ok ", False: "FAIL", None: " -- "}[finding.ok]
        print(f"[{mark}] {finding.what}" + (f"\n       fix: {finding.fix}" if finding.fix and finding.ok is False else ""))


def command_doctor(args: argparse.Namespace, labs: list[Lab]) -> int:
    findings = diagnose(args, labs)
    print_findings(findings)
    reached = any(f.what.startswith("cluster reachable (") for f in findings)
    # What is missing is the environment's: exit 3, as for any error of the cluster or the environment.
    return exitcodes.OK if reached and all(f.ok is not False for f in findings if f.counts) else exitcodes.ERROR
