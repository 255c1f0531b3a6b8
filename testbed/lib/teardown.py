"""testbed down: stop everything the testbed started and leave the machine as it was, then prove it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from config import Config
from log import say
from network import link_exists, teardown_network
from processes import _terminate, is_testbed_process, mount_namespace, stop

OURS = re.compile(r"\b(KUBE|CNI)-[A-Za-z0-9_-]*")
IPSET_OURS = re.compile(r"^(inet6:)?(KUBE-|kube-router)")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def stop_containers(cfg: Config) -> int:
    """Kill every container through runc's own state, then the shims that watched them."""
    root = cfg.paths.run / "runc" / "k8s.io"
    count = 0
    if root.exists() and shutil.which("runc"):
        for line in _run("runc", "--root", str(root), "list", "-q").stdout.split():
            _run("runc", "--root", str(root), "delete", "--force", line)
            count += 1
    own = mount_namespace()
    for pid in _pids_matching(lambda exe, cmd, mnt: "containerd-shim" in exe and is_testbed_process(
            exe, cmd, mnt, own_mount_ns=own, own_bins=set(), folders=(str(cfg.paths.run),))):
        _terminate(pid, 5)
    # Anything still in the kubelet's pod cgroups is a container process runc no longer knew.
    for pid in _cgroup_pids():
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while _cgroup_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    return count


def _pids_matching(pred) -> list[int]:
    """Processes for which pred(exe, command line, mount namespace) holds."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            exe = os.readlink(d / "exe")
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if pred(exe, cmd, mount_namespace(d.name)):
            pids.append(int(d.name))
    return pids


def _cgroup_pids() -> list[int]:
    pids: set[int] = set()
    for procs in CGROUP_ROOT.glob("*/kubepods*/**/cgroup.procs"):
        try:
            pids.update(int(p) for p in procs.read_text().split())
        except OSError:
            pass
    return sorted(pids)


def remove_cgroups() -> None:
    for top in CGROUP_ROOT.glob("*/kubepods*"):
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            try:
                d.rmdir()
            except OSError:
                pass
        try:
            top.rmdir()
        except OSError:
            pass


def our_mounts(cfg: Config) -> list[str]:
    prefixes = (str(cfg.paths.state), str(cfg.paths.run), "/run/netns/cni-", "/var/run/netns/cni-")
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefixes):
            points.append(point)
    return points


def unmount_all(cfg: Config) -> None:
    for _ in range(3):
        points = our_mounts(cfg)
        if not points:
            return
        for point in sorted(set(points), key=lambda p: -len(p)):
            if _run("umount", point).returncode != 0:
                _run("umount", "-l", point)


def remove_netns() -> None:
    for base in (Path("/run/netns"), Path("/var/run/netns")):
        if base.exists():
            for ns in base.glob("cni-*"):
                _run("ip", "netns", "delete", ns.name)
                ns.unlink(missing_ok=True)


def clean_iptables() -> None:
    """Drop every KUBE-* and CNI-* chain and each rule that names one, leaving other rules alone."""
    for save, restore in (("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore"),
                          ("iptables-legacy-save", "iptables-legacy-restore")):
        if not shutil.which(save):
            continue
        dump = _run(save).stdout
        if not OURS.search(dump):
            continue
        kept = [line for line in dump.splitlines()
                if not ((line.startswith(":") or line.startswith("-A")) and OURS.search(line))]
        subprocess.run([restore], input="\n".join(kept) + "\n", text=True, check=True)


def clean_ipsets() -> None:
    if not shutil.which("ipset"):
        return
    for name in _run("ipset", "list", "-n").stdout.split():
        if IPSET_OURS.match(name):
            _run("ipset", "destroy", name)


def stray_processes(cfg: Config) -> list[int]:
    """The testbed's processes whether or not a pid file knows them (`processes.is_testbed_process`):
    its own builds, or anything started with its state or run folder, in its mount namespace only."""
    bins = {str(cfg.binary(spec["bin"])) for spec in cfg.raw["components"].values()}
    own_bins = {b for b in bins if Path(b).is_relative_to(cfg.paths.cache)}  # /usr/bin/containerd is anyone's
    own = mount_namespace()
    return _pids_matching(lambda exe, cmd, mnt: is_testbed_process(
        exe, cmd, mnt, own_mount_ns=own, own_bins=own_bins, folders=(str(cfg.paths.state), str(cfg.paths.run))))


def leftovers(cfg: Config) -> list[str]:
    found = [f"process {pid}" for pid in stray_processes(cfg)]
    found += [f"container process {p}" for p in _cgroup_pids()]
    found += [f"mount {m}" for m in our_mounts(cfg)]
    for tool in ("iptables-save", "ip6tables-save", "iptables-legacy-save"):
        if shutil.which(tool):
            found += [f"{tool}: {m.group(0)}" for m in OURS.finditer(_run(tool).stdout)][:5]
    if shutil.which("ipset"):
        found += [f"ipset {n}" for n in _run("ipset", "list", "-n").stdout.split() if IPSET_OURS.match(n)]
    for dev in (cfg.net["bridge"], cfg.net["node_iface"]):
        if link_exists(dev):
            found.append(f"link {dev}")
    found += [f"veth {l.split(':')[1].strip()}" for l in _run("ip", "-o", "link", "show", "type", "veth").stdout.splitlines()]
    found += [f"netns {n}" for n in _run("ip", "netns", "list").stdout.split() if n.startswith("cni-")]
    found += [f"cgroup {p}" for p in CGROUP_ROOT.glob("*/kubepods*")]
    for d in (cfg.paths.state, cfg.paths.run):
        if d.exists():
            found.append(f"folder {d}")
    return found


def down(cfg: Config) -> int:
    started = time.monotonic()
    order = list(cfg.raw["components"])
    # Node agents first, so nothing restarts what the next steps remove; then the control plane.
    agents = [n for n in ("local-path-provisioner", "kube-router", "kube-proxy", "kubelet") if n in order]
    stop(cfg, *agents)
    killed = stop_containers(cfg)
    if killed:
        say(f"removed {killed} containers")
    # The control plane together, then its store, the runtime and the registry.
    rest = [n for n in reversed(order) if n not in agents]
    stop(cfg, *[n for n in rest if n not in ("etcd", "containerd", "registry")])
    stop(cfg, *[n for n in rest if n in ("etcd", "containerd", "registry")])
    for pid in stray_processes(cfg):  # from a run whose pid files were lost
        _terminate(pid, 5)
    unmount_all(cfg)
    remove_netns()
    clean_iptables()
    clean_ipsets()
    teardown_network(cfg)
    remove_cgroups()
    # The kubelet links each container's log into /var/log/containers, whatever podLogsDir says.
    for link in Path("/var/log/containers").glob("*.log"):
        if link.is_symlink() and os.readlink(link).startswith(str(cfg.paths.state)):
            link.unlink()
    for d in (cfg.paths.state, cfg.paths.run):
        shutil.rmtree(d, ignore_errors=True)
    left = leftovers(cfg)
    if left:
        say("left behind: " + ", ".join(left))
        return 1
    say(f"down in {time.monotonic() - started:.1f}s; nothing left behind "
        "(processes, mounts, iptables chains, ipsets, links, veths, netns, cgroups, folders checked)")
    return 0
