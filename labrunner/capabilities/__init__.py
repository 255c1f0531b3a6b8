"""What this cluster can do, found out once per cluster and kept: the one source for `doctor`, the lab
list, `up` and the checks.

A lab's answer is judged only where the cluster can make it true. When it cannot (a CNI that
enforces ingress but not egress policies, no load-balancer implementation, node addresses this
machine cannot reach, a Kubernetes release older than the lab needs, ...), checks return `error`
with the fix, never the learner's `fail`; the lab list marks the lab; `doctor` says what to do.

Each capability has a name (the names a lab's `requires` uses, see `model.FEATURES`, plus
`kubernetes`), a state (True: present; False: missing, with a fix; None: could not be found out,
which nobody treats as missing) and what was seen. Probes run lazily, one capability at a time, and
are kept in memory per process and on disk (`capabilities.json` in the state folder) per API server
for CACHE_SECONDS, so the lab list and the next command know without asking again.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .. import statefile

if TYPE_CHECKING:
    from ..cluster import Cluster

# Every capability, in the order `doctor` shows them.
NAMES = ("kubernetes", "networkpolicy", "networkpolicy-egress", "nodeport", "loadbalancer", "ingress", "gateway-api",
         "gatekeeper", "oidc", "storage", "runtimeclass", "csr", "dns")
CACHE_SECONDS = 600.0  # a cluster's add-ons change rarely; `doctor` always looks again
CACHE_FILE = "capabilities.json"
_CACHE_LIMIT = 1 << 20  # bytes: the disk cache holds a few clusters' findings
# A lab's minimum Kubernetes release, as `requires` writes it: kubernetes>=1.29
VERSION_REQUIREMENT = re.compile(r"^kubernetes>=(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Capability:
    """One finding. `state`: True present, False missing (then `fix` says what to do), None unknown
    (the probe could not run: `detail` says why). `data` holds what checks use (a version, port
    mappings, a class name), JSON-safe."""

    name: str
    state: bool | None
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    seen_at: float = 0.0  # time.time() of the probe

    @property
    def missing(self) -> bool:
        return self.state is False


Probe = Callable[["Cluster"], Capability]
_memory: dict[tuple[str, str], Capability] = {}
_memory_lock = threading.Lock()
_probe_locks: dict[tuple[str, str], threading.Lock] = {}


def identity(cluster: Cluster) -> str:
    """The key a cluster's findings are kept under: its API server URL (two contexts on one server
    share what the cluster can do)."""
    configuration = getattr(cluster, "configuration", None)
    host = getattr(configuration, "host", None)
    return host.rstrip("/") if isinstance(host, str) else f"unnamed-{id(cluster)}"  # a stand-in cluster of a test


def server_of(kubeconfig: str | None = None, context: str | None = None) -> str | None:
    """The API server URL the kubeconfig's `context` (default: its current context) points at, read
    without the Kubernetes client (the lab list must not wait for it). Files are merged as kubectl
    merges KUBECONFIG: the first to set a name wins. None when it cannot be told."""
    import os

    paths = [kubeconfig] if kubeconfig else [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    paths = paths or [str(Path.home() / ".kube" / "config")]
    current, contexts, clusters = context, {}, {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        import yaml  # only for a kubeconfig that exists: the lab list without one stays light

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if not isinstance(data, dict):
            continue
        current = current or data.get("current-context")
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict) and isinstance(entry.get("context"), dict):
                contexts.setdefault(entry.get("name"), entry["context"].get("cluster"))
        for entry in data.get("clusters") or []:
            if isinstance(entry, dict) and isinstance(entry.get("cluster"), dict):
                clusters.setdefault(entry.get("name"), entry["cluster"].get("server"))
    server = clusters.get(contexts.get(current))
    return server.rstrip("/") if isinstance(server, str) else None


def cache_path() -> Path:
    from ..progress import state_dir

    return state_dir() / CACHE_FILE


def capability(cluster: Cluster, name: str, *, fresh: bool = False, max_age: float = CACHE_SECONDS,
               probes: dict[str, Probe] | None = None) -> Capability:
    """The finding for `name` on `cluster`: from memory, else from disk if younger than CACHE_SECONDS,
    else probed now (seconds to a minute: a canary, a Service, a CSR) and kept. `fresh` probes again;
    so does a kept finding older than `max_age` seconds.
    Never raises for a cluster fault: a probe that cannot run gives state None with the reason.
    KeyError for an unknown name."""
    from .probes import probe_for

    probe = probes[name] if probes else probe_for(name)
    key = (identity(cluster), name)
    with _memory_lock:
        lock = _probe_locks.setdefault(key, threading.Lock())
    with lock:  # one probe per capability at a time: parallel checks wait for the first one's answer
        if not fresh:
            found = _remembered(key)
            if found is not None and time.time() - found.seen_at < max_age:
                return found
        try:
            found = probe(cluster)
        except Exception as exc:  # noqa: BLE001 - a probe's fault is "unknown", never a crash of a check
            found = Capability(name, None, f"could not be found out: {exc}")
        found = Capability(found.name, found.state, found.detail, found.fix, found.data, time.time())
        remember(cluster, found)
        return found


def capabilities(cluster: Cluster, names: Iterable[str] = NAMES, *, fresh: bool = False,
                 max_age: float = CACHE_SECONDS) -> list[Capability]:
    """Several findings at once, probed in parallel (the slow ones wait on the cluster, not the CPU)."""
    names = list(names)
    with ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="labrunner-capability") as pool:
        return list(pool.map(lambda n: capability(cluster, n, fresh=fresh, max_age=max_age), names))


def remember(cluster: Cluster, found: Capability) -> None:
    """Keep `found` for this process and on disk (a state folder that cannot be written only loses
    the disk copy)."""
    key = (identity(cluster), found.name)
    with _memory_lock:
        _memory[key] = found
    if found.state is None:
        return  # an unknown is asked again next time, never kept
    try:
        with statefile.locked(cache_path()):
            data = _read_disk()
            data.setdefault(key[0], {})[found.name] = asdict(found)
            statefile.write_atomically(cache_path(), json.dumps(data, indent=1).encode())
    except (statefile.NotWritable, OSError):
        pass


def forget(cluster: Cluster | None = None, *, on_disk: bool = False) -> None:
    """Drop what this process remembers (of one cluster, or all), and with `on_disk` the disk copy
    too: after a change labrunner cannot see (a kind config's port mappings, an add-on installed)."""
    with _memory_lock:
        for key in [k for k in _memory if cluster is None or k[0] == identity(cluster)]:
            del _memory[key]
    if not on_disk:
        return
    try:
        with statefile.locked(cache_path()):
            data = _read_disk()
            for server in [s for s in data if cluster is None or s == identity(cluster)]:
                del data[server]
            statefile.write_atomically(cache_path(), json.dumps(data, indent=1).encode())
    except (statefile.NotWritable, OSError):
        pass


def _remembered(key: tuple[str, str]) -> Capability | None:
    with _memory_lock:
        found = _memory.get(key)
    if found is not None and time.time() - found.seen_at < CACHE_SECONDS:
        return found
    found = cached(key[0]).get(key[1])
    if found is not None:
        with _memory_lock:
            _memory[key] = found
    return found


def cached_for_kubeconfig(kubeconfig: str | None = None, context: str | None = None) -> dict[str, Capability]:
    """`cached` for the cluster the kubeconfig's context points at; {} when nothing is kept (then the
    kubeconfig is not even read)."""
    if not _read_disk():
        return {}
    server = server_of(kubeconfig, context)
    return cached(server) if server else {}


def cached(server: str) -> dict[str, Capability]:
    """The findings kept on disk for the API server `server` that are younger than CACHE_SECONDS; never
    probes, never raises (a broken cache file is ignored). What the lab list uses."""
    entries = _read_disk().get(server)
    if not isinstance(entries, dict):
        return {}
    found: dict[str, Capability] = {}
    now = time.time()
    for name, entry in entries.items():
        try:
            item = Capability(**entry)
        except TypeError:
            continue
        if name in NAMES and isinstance(item.seen_at, (int, float)) and 0 <= now - item.seen_at < CACHE_SECONDS:
            found[name] = item
    return found


def _read_disk() -> dict[str, Any]:
    try:
        raw = statefile.read_bytes(cache_path(), limit=_CACHE_LIMIT)
        data = json.loads(raw) if raw else {}
    except (statefile.Unreadable, ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


# -- what a lab needs ---------------------------------------------------------------------

@dataclass(frozen=True)
class Unmet:
    """A requirement the cluster does not meet: `requirement` as the lab wrote it, `why` what was
    found, `fix` what to do."""

    requirement: str
    why: str
    fix: str

    def __str__(self) -> str:
        return f"needs {self.requirement}: {self.why}" + (f"; fix: {self.fix}" if self.fix else "")


def capability_of(requirement: str) -> str:
    """The capability a `requires` entry asks about: `kubernetes>=1.29` -> kubernetes."""
    return "kubernetes" if VERSION_REQUIREMENT.match(requirement) else requirement


def judge(requirement: str, found: Capability | None) -> Unmet | None:
    """Whether `found` meets `requirement`; None when it does, or when it is not known (unknown is
    never missing: the checks then run and say what they see)."""
    if found is None or found.state is None:
        return None
    match = VERSION_REQUIREMENT.match(requirement)
    if match:
        have = found.data.get("minor")
        major = found.data.get("major")
        if not isinstance(have, int) or not isinstance(major, int):
            return None
        if (major, have) >= (int(match[1]), int(match[2])):
            return None
        return Unmet(requirement, f"this cluster runs Kubernetes {major}.{have}",
                     f"use a cluster of Kubernetes {match[1]}.{match[2]} or later (kind: "
                     f"`kind create cluster --image kindest/node:v{match[1]}.{match[2]}.0` or newer)")
    if found.state:
        return None
    return Unmet(requirement, found.detail, found.fix)


def unmet(cluster: Cluster, requires: Iterable[str], *, fresh: bool = False,
          max_age: float | None = None) -> list[Unmet]:
    """Each requirement `cluster` does not meet, probing what is not known yet (or known for longer
    than `max_age` seconds)."""
    requires = list(dict.fromkeys(requires))
    names = list(dict.fromkeys(capability_of(r) for r in requires))
    ages = {} if max_age is None else {"max_age": max_age}
    found = dict(zip(names, capabilities(cluster, names, fresh=fresh, **ages))) if names else {}
    return [u for u in (judge(r, found.get(capability_of(r))) for r in requires) if u is not None]


def unmet_cached(findings: dict[str, Capability], requires: Iterable[str]) -> list[Unmet]:
    """Like `unmet`, from findings already at hand (`cached`): nothing is probed."""
    return [u for u in (judge(r, findings.get(capability_of(r))) for r in dict.fromkeys(requires)) if u is not None]
