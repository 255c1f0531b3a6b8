"""TCP probes run inside the cluster with `agnhost connect`, in parallel.

agnhost prints a fixed prefix on failure (TIMEOUT, REFUSED, DNS, OTHER). That
alone cannot tell a policy from a closed port: some enforcers drop blocked
traffic (a timeout), others reject it (a refusal, just like a port where
nothing listens). So a probe that does not connect is asked again from the
target's node, which NetworkPolicy never isolates (`read_with_witness`).
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum

from ..cluster import Cluster, ExecResult, exec_in_pod
from ..settings import TIMEOUTS

PROBE_TIMEOUT = "1s"
_POOL = ThreadPoolExecutor(max_workers=24, thread_name_prefix="labrunner-probe")


class Verdict(str, Enum):
    """What one `agnhost connect` saw."""

    CONNECTED = "connected"
    TIMEOUT = "timeout"  # no answer: dropped (by a policy, or no route)
    REJECTED = "rejected"  # an ICMP error: rejected (by a policy, or a route)
    REFUSED = "refused"  # a reset: nothing listening, or a policy that rejects with one
    UNRESOLVED = "unresolved"
    BROKEN = "broken"  # the probe itself could not run


class Finding(str, Enum):
    """What a probe and, when it did not connect, its node witness show together."""

    CONNECTED = "connected"
    BLOCKED = "blocked"  # the node reaches the server, the source does not: a policy
    NOT_LISTENING = "nothing listening"  # the node itself is refused
    UNREACHABLE = "unreachable"  # not even the node reaches it
    UNRESOLVED = "unresolved"
    BROKEN = "broken"  # the probe or the witness could not run


@dataclass(frozen=True)
class ProbeOutcome:
    verdict: Verdict
    detail: str


@dataclass(frozen=True)
class Reading:
    finding: Finding
    detail: str


DID_NOT_CONNECT = (Verdict.TIMEOUT, Verdict.REFUSED, Verdict.REJECTED)


def read_with_witness(outcome: ProbeOutcome, witness: ProbeOutcome | None, *, closed: str = "") -> Reading:
    """Combine a probe's outcome with the node's own attempt at the same target.

    `witness` is only needed when the probe did not connect. `closed` says why
    nothing can listen there (e.g. a Service without ready endpoints), known
    without asking the node.
    """
    verdict = outcome.verdict
    if verdict is Verdict.CONNECTED:
        return Reading(Finding.CONNECTED, "it connected")
    if verdict is Verdict.UNRESOLVED:
        return Reading(Finding.UNRESOLVED, outcome.detail)
    if verdict is Verdict.BROKEN:
        return Reading(Finding.BROKEN, outcome.detail)
    if closed:
        return Reading(Finding.NOT_LISTENING, f"nothing listening ({closed})")
    if witness is None:
        return Reading(Finding.BROKEN, f"{outcome.detail}, and the node was not asked whether anything listens")
    seen = outcome.detail
    if witness.verdict is Verdict.CONNECTED:
        return Reading(Finding.BLOCKED, f"blocked ({seen}), yet the node itself connects")
    if witness.verdict is Verdict.REFUSED:
        return Reading(Finding.NOT_LISTENING, "nothing listening (the node itself is refused)")
    if witness.verdict in (Verdict.TIMEOUT, Verdict.REJECTED):
        return Reading(Finding.UNREACHABLE, f"unreachable: not even the node reaches it ({witness.detail})")
    return Reading(Finding.BROKEN, f"the node could not check the target: {witness.detail}")


@dataclass(frozen=True)
class Probe:
    pod: str
    namespace: str
    host: str
    port: int
    container: str | None = None


def parse_connect(result: ExecResult) -> ProbeOutcome:
    """Read `agnhost connect`'s exit code and stderr."""
    if result.exit_code is None:
        return ProbeOutcome(Verdict.BROKEN, result.failure or "the probe did not run")
    if result.exit_code == 0:
        return ProbeOutcome(Verdict.CONNECTED, "connected")
    text = result.output.strip()
    first = text.splitlines()[0] if text else ""
    if first.startswith("TIMEOUT"):
        return ProbeOutcome(Verdict.TIMEOUT, f"no answer within {PROBE_TIMEOUT}")
    if first.startswith("REFUSED"):
        return ProbeOutcome(Verdict.REFUSED, "refused")
    if first.startswith("DNS"):
        return ProbeOutcome(Verdict.UNRESOLVED, "the name does not resolve")
    lowered = text.lower()
    if first.startswith("OTHER") and any(m in lowered for m in ("no route to host", "host is unreachable", "network is unreachable", "permission denied")):
        return ProbeOutcome(Verdict.REJECTED, "rejected (" + first.split(":")[-1].strip() + ")")
    if "executable file not found" in lowered or "no such file" in lowered or result.exit_code in (126, 127):
        return ProbeOutcome(Verdict.BROKEN, "the source pod has no agnhost binary; probe from a `probe:` pod instead")
    return ProbeOutcome(Verdict.BROKEN, text[:200] or f"agnhost connect exited {result.exit_code}")


def connect_command(host: str, port: int) -> list[str]:
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ["/agnhost", "connect", target, f"--timeout={PROBE_TIMEOUT}"]


def reproduce_command(probe: Probe) -> str:
    """The shell command that runs `probe` by hand, as labrunner runs it:
    `kubectl -n NS exec POD [-c CONTAINER] -- /agnhost connect HOST:PORT --timeout=1s`, each word
    quoted for a POSIX shell (an IPv6 address is bracketed: `[fd00::1]:80`). Its exit code is 0 when
    it connects; otherwise agnhost prints TIMEOUT, REFUSED, DNS or OTHER (see `parse_connect`)."""
    argv = ["kubectl", "-n", probe.namespace, "exec", probe.pod]
    if probe.container:
        argv += ["-c", probe.container]
    return shlex.join([*argv, "--", *connect_command(probe.host, probe.port)])


def run_probe(cluster: Cluster, probe: Probe) -> ProbeOutcome:
    try:
        result = exec_in_pod(cluster, probe.pod, connect_command(probe.host, probe.port), namespace=probe.namespace,
                             container=probe.container, timeout=TIMEOUTS.probe_exec)
    except Exception as exc:  # one broken exec must not hide the other probes' verdicts
        return ProbeOutcome(Verdict.BROKEN, f"exec into {probe.namespace}/{probe.pod} failed: {exc}")
    return parse_connect(result)


# At most this many `agnhost connect` run at once in one pod: each takes some
# MiB of memory, and a sweep's dozen at once got a 32 MiB probe pod OOM-killed.
PER_POD_AT_ONCE = 6


def batch_script(probes: list[Probe]) -> str:
    """One shell line that runs a pod's probes in waves of PER_POD_AT_ONCE and tags each verdict."""
    waves = []
    for start in range(0, len(probes), PER_POD_AT_ONCE):
        parts = []
        for i, probe in enumerate(probes[start: start + PER_POD_AT_ONCE], start):
            command = " ".join(shlex.quote(part) for part in connect_command(probe.host, probe.port))
            parts.append(f'( out=$({command} 2>&1); echo "@@{i} $? $out" ) &')
        waves.append(" ".join(parts) + " wait")
    return "; ".join(waves)


def parse_batch(output: str, count: int) -> list[ProbeOutcome | None]:
    outcomes: list[ProbeOutcome | None] = [None] * count
    for line in output.splitlines():
        if not line.startswith("@@"):
            continue
        index, _, rest = line[2:].partition(" ")
        code, _, text = rest.partition(" ")
        if index.isdigit() and int(index) < count and code.lstrip("-").isdigit():
            outcomes[int(index)] = parse_connect(ExecResult(int(code), "", text))
    return outcomes


def _run_group(cluster: Cluster, probes: list[Probe]) -> list[ProbeOutcome]:
    if len(probes) == 1:
        return [run_probe(cluster, probes[0])]
    first = probes[0]
    try:
        result = exec_in_pod(cluster, first.pod, ["sh", "-c", batch_script(probes)], namespace=first.namespace,
                             container=first.container,
                             timeout=TIMEOUTS.probe_exec + 2 * (len(probes) // PER_POD_AT_ONCE))
    except Exception:
        result = None
    outcomes = parse_batch(result.stdout, len(probes)) if result is not None and result.exit_code == 0 else [None] * len(probes)
    # A pod without a shell (or a garbled line) falls back to one exec per probe.
    return [outcome or run_probe(cluster, probe) for outcome, probe in zip(outcomes, probes)]


def run_probes(cluster: Cluster, probes: list[Probe]) -> list[ProbeOutcome]:
    """All probes at once; results in input order.

    Probes from the same pod share one exec stream (they run in parallel
    inside it), and the streams of different pods run in parallel.
    """
    groups: dict[tuple[str, str, str | None], list[int]] = defaultdict(list)
    for i, probe in enumerate(probes):
        groups[(probe.pod, probe.namespace, probe.container)].append(i)
    results: list[ProbeOutcome | None] = [None] * len(probes)
    futures = {key: _POOL.submit(_run_group, cluster, [probes[i] for i in idx]) for key, idx in groups.items()}
    for key, future in futures.items():
        for i, outcome in zip(groups[key], future.result()):
            results[i] = outcome
    return [r for r in results if r is not None]


def submit(fn, *args):  # noqa: ANN001, ANN201 - a thin pass-through to the shared pool
    return _POOL.submit(fn, *args)
