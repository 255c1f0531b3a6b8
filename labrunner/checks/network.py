"""In-cluster network checks: `connectivity` (TCP probes) and `dns`."""

from __future__ import annotations

import re
from concurrent.futures import Future
from typing import Any, Mapping

from ..cluster import exec_in_pod
from ..cluster.probepods import ensure_probe_pods, probe_pod_name
from .base import CheckContext, CheckKind, CheckResult, Param
from .canary import check_policy_enforced
from .probing import Probe, ProbeOutcome, Verdict, run_probes, submit
from .targets import find_pod

_FROM_KEYS = ("pod", "selector", "probe")
_TO_KEYS = ("service", "pod", "selector", "host")


def _validate_source(source: Any, where: str) -> list[str]:
    if not isinstance(source, dict) or len([k for k in _FROM_KEYS if k in source]) != 1 or set(source) - set(_FROM_KEYS) - {"namespace", "container"}:
        return [f"{where}: expected exactly one of pod, selector, probe (e.g. {{probe: {{role: client}}}})"]
    if "probe" in source:
        labels = source["probe"]
        if not isinstance(labels, dict) or not labels or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            return [f"{where}.probe: expected labels as a mapping of text to text, e.g. {{role: client}}"]
    elif not isinstance(source.get("pod", source.get("selector")), str):
        return [f"{where}: pod or selector must be text"]
    return []


def _validate_probes(p: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    if not p["probes"]:
        return ["probes: expected at least one probe"]
    for i, probe in enumerate(p["probes"]):
        where = f"probes[{i}]"
        if not isinstance(probe, dict):
            problems.append(f"{where}: expected {{from, to, port, expect}}")
            continue
        extra = set(probe) - {"from", "to", "port", "expect"}
        if extra:
            problems.append(f"{where}: unknown field {', '.join(sorted(extra))}; expected from, to, port, expect")
        problems += _validate_source(probe.get("from"), f"{where}.from")
        target = probe.get("to")
        if not isinstance(target, dict) or len([k for k in _TO_KEYS if k in target]) != 1 or not all(isinstance(v, str) for v in target.values()):
            problems.append(f"{where}.to: expected exactly one of service, pod, selector, host (text)")
        port = probe.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            problems.append(f"{where}.port: expected a port number 1-65535")
        if probe.get("expect") not in ("allow", "deny"):
            problems.append(f"{where}.expect: expected allow or deny")
    return problems


def _describe(source: Mapping[str, Any], target: Mapping[str, Any], port: int) -> str:
    if "probe" in source:
        src = "probe " + ",".join(f"{k}={v}" for k, v in source["probe"].items())
    else:
        src = f"pod {source['pod']}" if "pod" in source else f"pod -l {source['selector']}"
    key = next(k for k in _TO_KEYS if k in target)
    return f"{src} -> {key} {target[key]}:{port}"


class _Resolver:
    """Turns `from`/`to` specs into pods and addresses, once per distinct spec."""

    def __init__(self, ctx: CheckContext):
        self.ctx = ctx
        self.probe_pods: dict[str, str] = {}

    def start_probes(self, sources: list[Mapping[str, Any]]) -> None:
        labels = [s["probe"] for s in sources if "probe" in s]
        unique = list({probe_pod_name(l): l for l in labels}.values())
        if unique:
            self.probe_pods = ensure_probe_pods(self.ctx.cluster, unique, namespace=self.ctx.namespace, lab_id=self.ctx.lab.id)

    def source(self, spec: Mapping[str, Any]) -> tuple[str, str, str | None] | str:
        """(pod, namespace, container) or what is missing."""
        if "probe" in spec:
            return probe_pod_name(spec["probe"]), self.ctx.namespace, None
        pod, missing = find_pod(self.ctx.cluster, spec, namespace=self.ctx.namespace)
        if pod is None:
            return missing
        return pod["metadata"]["name"], pod["metadata"]["namespace"], spec.get("container")

    def target(self, spec: Mapping[str, Any]) -> str | tuple[str]:
        """An address, or (what is missing,)."""
        ns = spec.get("namespace") or self.ctx.namespace
        if "host" in spec:
            return spec["host"]
        if "service" in spec:
            svc = self.ctx.cluster.get("Service", spec["service"], namespace=ns)
            if svc is None:
                return (f"Service {spec['service']} does not exist",)
            ip = (svc.get("spec") or {}).get("clusterIP")
            return ip if ip and ip != "None" else f"{spec['service']}.{ns}.svc"
        pod, missing = find_pod(self.ctx.cluster, spec, namespace=ns)
        if pod is None:
            return (missing,)
        return pod["status"]["podIP"]


def _resolve_all(resolve, specs: list[Mapping[str, Any]]) -> list[Any]:  # noqa: ANN001
    keys = [repr(sorted(spec.items())) for spec in specs]
    unique = {key: spec for key, spec in zip(keys, specs)}
    futures = {key: submit(resolve, spec) for key, spec in unique.items()}
    return [futures[key].result() for key in keys]


def _judge(expect: str, outcome: ProbeOutcome, blocked_as: Verdict | None) -> tuple[bool, str]:
    """(matches expectation, why) for one probe."""
    verdict = outcome.verdict
    if expect == "allow":
        if verdict is Verdict.CONNECTED:
            return True, "connected"
        if verdict is Verdict.REFUSED and blocked_as is Verdict.REFUSED:
            return False, "refused (nothing listening, or a NetworkPolicy rejects it)"
        return False, outcome.detail
    if verdict in (Verdict.BLOCKED, Verdict.REJECTED):
        return True, outcome.detail
    if verdict is Verdict.REFUSED:
        if blocked_as is Verdict.REFUSED:
            return True, "rejected (this cluster answers blocked traffic with a reset)"
        return False, "refused: nothing listens there, so this cannot show that a policy blocks it"
    if verdict is Verdict.CONNECTED:
        return False, "connected, but should be blocked"
    return False, outcome.detail


def _connectivity(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    probes = p["probes"]
    canary: Future | None = None
    if any(probe["expect"] == "deny" for probe in probes):
        canary = submit(check_policy_enforced, ctx.cluster)  # runs while the lab's probes run
    resolver = _Resolver(ctx)
    resolver.start_probes([probe["from"] for probe in probes])
    runnable: list[tuple[int, Probe]] = []
    lines: list[str | None] = [None] * len(probes)
    missing: list[str] = []
    # Look up every distinct source and target at once: each is an API call.
    sources = _resolve_all(resolver.source, [probe["from"] for probe in probes])
    targets = _resolve_all(resolver.target, [probe["to"] for probe in probes])
    for i, probe in enumerate(probes):
        what = _describe(probe["from"], probe["to"], probe["port"])
        source, target = sources[i], targets[i]
        if isinstance(source, str) or isinstance(target, tuple):
            reason = source if isinstance(source, str) else target[0]
            missing.append(f"{what}: {reason}")
            lines[i] = f"[fail] {what}: {reason}"
            continue
        pod, ns, container = source
        runnable.append((i, Probe(pod, ns, target, probe["port"], container)))
    outcomes = run_probes(ctx.cluster, [probe for _, probe in runnable])
    blocked_as = None
    if canary is not None:
        verdict = canary.result()
        if not verdict.enforced:
            return CheckResult.errored(verdict.message)
        blocked_as = verdict.blocked_as
    wrong: list[str] = []
    broken: list[str] = []
    for (i, _probe), outcome in zip(runnable, outcomes):
        spec = probes[i]
        what = _describe(spec["from"], spec["to"], spec["port"])
        if outcome.verdict is Verdict.BROKEN:
            broken.append(f"{what}: {outcome.detail}")
            lines[i] = f"[error] {what}: {outcome.detail}"
            continue
        ok, why = _judge(spec["expect"], outcome, blocked_as)
        lines[i] = f"[{'ok' if ok else 'fail'}] {what}: expected {spec['expect']}, {why}"
        if not ok:
            wrong.append(f"{what} should be {'allowed' if spec['expect'] == 'allow' else 'blocked'} ({why})")
    details = [line for line in lines if line]
    if broken:
        return CheckResult.errored("a probe could not run: " + "; ".join(broken), details)
    if missing or wrong:
        return CheckResult.failed("; ".join(missing + wrong), details)
    return CheckResult.passed(f"all {len(probes)} probes as expected", details)


# -- dns ---------------------------------------------------------------------

_ADDRESS = re.compile(r"^Address(?:\s+\d+)?:\s*(\S+)\s*$")
_CNAME = re.compile(r"canonical name\s*=\s*(\S+?)\.?\s*$")


def parse_nslookup(output: str) -> tuple[list[str], list[str], bool]:
    """(addresses, CNAME targets, NXDOMAIN seen) from busybox or BIND nslookup."""
    addresses: list[str] = []
    cnames: list[str] = []
    in_answer = False
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("Name:"):
            in_answer = True
            continue
        cname = _CNAME.search(line)
        if cname:
            cnames.append(cname.group(1))
            continue
        match = _ADDRESS.match(line)
        if match and in_answer:
            addresses.append(match.group(1))
    nxdomain = "NXDOMAIN" in output or "can't find" in output and not addresses
    return sorted(set(addresses)), list(dict.fromkeys(cnames)), nxdomain


def _dns(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    resolver = _Resolver(ctx)
    resolver.start_probes([p["from"]])
    source = resolver.source(p["from"])
    if isinstance(source, str):
        return CheckResult.failed(source)
    pod, ns, container = source
    result = exec_in_pod(ctx.cluster, pod, ["nslookup", p["name"]], namespace=ns, container=container, timeout=20)
    if result.exit_code is None:
        return CheckResult.errored(f"nslookup could not run in pod {pod}: {result.failure}")
    addresses, cnames, nxdomain = parse_nslookup(result.output)
    got = ", ".join(addresses) or "no address"
    name = p["name"]
    details = [line for line in result.output.splitlines() if line.strip()][-6:]
    if p.get("resolves") is False:
        if addresses or cnames:
            return CheckResult.failed(f"{name} still resolves (to {', '.join(cnames + addresses)})", details)
        return CheckResult.passed(f"{name} does not resolve", details)
    if "cname" in p:
        wanted = p["cname"].rstrip(".")
        if wanted in cnames:
            return CheckResult.passed(f"{name} is a CNAME for {wanted}", details)
        return CheckResult.failed(f"{name} should be a CNAME for {wanted}; it answers {', '.join(cnames) or got}", details)
    if "serviceIP" in p:
        svc = ctx.cluster.get("Service", p["serviceIP"], namespace=ctx.namespace)
        if svc is None:
            return CheckResult.failed(f"Service {p['serviceIP']} does not exist")
        wanted_ips = [ip for ip in (svc.get("spec") or {}).get("clusterIPs") or [] if ip != "None"]
        if not wanted_ips:
            return CheckResult.failed(f"Service {p['serviceIP']} has no cluster IP")
    elif "podIPs" in p:
        pods = ctx.cluster.list("Pod", namespace=ctx.namespace, selector=p["podIPs"])
        wanted_ips = [x["status"]["podIP"] for x in pods if (x.get("status") or {}).get("podIP") and not x["metadata"].get("deletionTimestamp")]
        if not wanted_ips:
            return CheckResult.failed(f"no pod matches {p['podIPs']} yet")
    else:
        wanted_ips = list(p["addresses"])
    if not addresses:
        why = "NXDOMAIN" if nxdomain else "no answer"
        note = ""
        if nxdomain and ("serviceIP" in p or "podIPs" in p):
            # CoreDNS caches "no such name" for its TTL (30 s by default).
            note = " (if you just created the Service, DNS may still remember the name as missing for up to 30s)"
        return CheckResult.failed(f"{name} does not resolve ({why}); it should give {', '.join(sorted(wanted_ips))}{note}", details)
    if sorted(set(wanted_ips)) == addresses:
        return CheckResult.passed(f"{name} resolves to {got}", details)
    return CheckResult.failed(f"{name} resolves to {got}, should be {', '.join(sorted(set(wanted_ips)))}", details)


def _validate_dns(p: Mapping[str, Any]) -> list[str]:
    problems = _validate_source(p["from"], "from")
    modes = [k for k in ("addresses", "serviceIP", "podIPs", "cname", "resolves") if k in p]
    if len(modes) != 1:
        problems.append("give exactly one of addresses, serviceIP, podIPs, cname, resolves: false")
    if p.get("resolves") is True:
        problems.append("resolves: only `false` is meaningful; to expect an answer give addresses, serviceIP, podIPs or cname")
    return problems


KINDS = [
    CheckKind(
        "connectivity",
        {"probes": Param(list, required=True, doc="a list of {from, to, port, expect: allow|deny}")},
        _connectivity,
        validate=_validate_probes,
        doc="TCP connections inside the cluster are allowed or blocked",
    ),
    CheckKind(
        "dns",
        {
            "from": Param(dict, required=True, doc="{pod: ...}, {selector: ...} or {probe: {labels}}"),
            "name": Param(str, required=True, doc="the name to look up"),
            "addresses": Param(list, doc="the exact addresses expected"),
            "serviceIP": Param(str, doc="a Service whose cluster IP is expected"),
            "podIPs": Param(str, doc="a label selector whose pods' IPs are expected"),
            "cname": Param(str, doc="the CNAME target expected"),
            "resolves": Param(bool, doc="false: the name must not resolve"),
        },
        _dns,
        validate=_validate_dns,
        doc="a name resolves inside the cluster as expected",
    ),
]
