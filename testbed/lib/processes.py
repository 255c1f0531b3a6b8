"""Host processes of the testbed: start detached with a log and a pid file, probe, stop."""
from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from config import Config
from log import say


def pid_file(cfg: Config, name: str) -> Path:
    return cfg.paths.run / "pids" / f"{name}.pid"


def mount_namespace(pid: int | str = "self") -> str | None:
    """The mount namespace of a process (`mnt:[4026531841]`), None when it cannot be read."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def is_testbed_process(exe: str, cmd: str, mount_ns: str | None, *, own_mount_ns: str | None,
                       own_bins: set[str], folders: tuple[str, ...]) -> bool:
    """Whether a process is one the testbed started: it runs in the testbed's mount namespace
    (`own_mount_ns`: the one `testbed/up` and `down` run in), and either its executable is one of the
    testbed's own builds (`own_bins`, under the testbed's cache: no other program has that path), or
    its command line names one of the testbed's `folders` (state, run: how containerd, etcd and the
    shims, whose binaries are the system's, are told apart from the same binaries run by anyone else).
    A process in another mount namespace is never the testbed's, whatever its name: Docker's own
    containerd in its namespaces, a kind node's containerd or kubelet, a pod's process (the testbed's
    pods are found by their cgroups, not here)."""
    if mount_ns is None or mount_ns != own_mount_ns:
        return False
    return exe.removesuffix(" (deleted)") in own_bins or any(folder in cmd for folder in folders)


def running_pid(cfg: Config, name: str) -> int | None:
    try:
        pid = int(pid_file(cfg, name).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    # A recycled pid is not ours: its command line must be the binary we started.
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")  # its build may have been replaced
    except OSError:
        return None
    if mount_namespace(pid) != mount_namespace():  # a recycled pid in Docker's or a kind node's namespaces
        return None
    return pid if Path(exe).name == Path(cfg.binary(cfg.raw["components"][name]["bin"])).name else None


def start(cfg: Config, name: str) -> bool:
    """Start a component unless it already runs. Returns True when it was started now."""
    if running_pid(cfg, name):
        return False
    spec = cfg.raw["components"][name]
    args = [str(cfg.binary(spec["bin"])), *(cfg.fill(a) for a in spec.get("args", []))]
    cfg.paths.logs.mkdir(parents=True, exist_ok=True)
    pid_file(cfg, name).parent.mkdir(parents=True, exist_ok=True)
    log = open(cfg.paths.logs / f"{name}.log", "ab")
    env = {**os.environ, **spec.get("env", {}), "OTEL_TRACES_EXPORTER": "none"}
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env, cwd=cfg.paths.state)
    pid_file(cfg, name).write_text(str(proc.pid))
    return True


def probe(url: str) -> bool:
    try:
        if url.startswith("unix:"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(url[5:])
            return True
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # readiness only, no data
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_ready(cfg: Config, name: str, timeout: float = 120) -> None:
    spec = cfg.raw["components"][name]
    url = cfg.fill(spec["ready"]) if spec.get("ready") else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running_pid(cfg, name):
            raise SystemExit(f"testbed: {name} exited; last lines of its log:\n{tail(cfg, name)}")
        if url is None or probe(url):
            return
        time.sleep(0.2)
    raise SystemExit(f"testbed: {name} not ready after {timeout:.0f}s at {url}; log:\n{tail(cfg, name)}")


def tail(cfg: Config, name: str, lines: int = 25) -> str:
    try:
        return "\n".join((cfg.paths.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(cfg: Config, *names: str, timeout: float = 10) -> None:
    """Stop components together: each gets SIGTERM at once, then SIGKILL past the timeout."""
    from concurrent.futures import ThreadPoolExecutor
    pids = {name: running_pid(cfg, name) for name in names}
    with ThreadPoolExecutor(max(1, len(names))) as pool:
        list(pool.map(lambda pid: _terminate(pid, timeout), [p for p in pids.values() if p]))
    for name, pid in pids.items():
        if pid:
            say(f"stopped {name}")
        pid_file(cfg, name).unlink(missing_ok=True)


def _terminate(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
