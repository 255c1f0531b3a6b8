"""In-cluster network checks: `connectivity` (TCP probes) and `dns`."""

from __future__ import annotations

import re
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Mapping

from ..cluster import condition_status, exec_in_pod
from ..cluster.probepods import LABRUNNER_NAMESPACE, ensure_node_probes, ensure_probe_pods, node_probe_name, probe_pod_name
from ..errors import LabrunnerError
from .base import CheckContext, CheckKind, CheckResult, Param, Status
from .canary import check_policy_enforced
from .probing import DID_NOT_CONNECT, Finding, Probe, ProbeOutcome, Reading, Verdict, read_with_witness, run_probes, submit
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


@dataclass(frozen=True)
class Target:
    address: str
    node: str | None = None  # where the target runs: the node that can witness it
    ports: tuple[int, ...] | None = None  # a Service's ports
    closed: str = ""  # why nothing can listen there, when known (a Service without ready endpoints)


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

    def target(self, spec: Mapping[str, Any]) -> Target | str:
        """The target, or what is missing."""
        ns = spec.get("namespace") or self.ctx.namespace
        if "host" in spec:
            return Target(spec["host"])
        if "service" in spec:
            name = spec["service"]
            svc = self.ctx.cluster.get("Service", name, namespace=ns)
            if svc is None:
                return f"Service {name} does not exist"
            svc_spec = svc.get("spec") or {}
            ip = svc_spec.get("clusterIP")
            if svc_spec.get("type") == "ExternalName" or not ip or ip == "None":
                # A name for pods (headless) or for a host outside: connected to at the probe's port, as is.
                return Target(f"{name}.{ns}.svc")
            address = ip
            ports = tuple(port.get("port") for port in svc_spec.get("ports") or [])
            # The node of a ready endpoint connects to the Service itself (kube-proxy
            # translates the node's traffic too). Where endpoints span nodes, kube-proxy
            # may send it to another node's pod, which a policy may isolate from this
            # node: a deny can then read "unreachable" or "nothing listening", never a
            # wrong pass. Single-node clusters (kind's default, the testbed) are exact.
            nodes = _endpoint_nodes(self.ctx, name, ns)
            if not nodes:
                return Target(address, ports=ports, closed=f"Service {name} has no ready endpoints")
            return Target(address, node=nodes[0], ports=ports)
        pod, missing = find_pod(self.ctx.cluster, spec, namespace=ns)
        if pod is None:
            return missing
        return Target(pod["status"]["podIP"], node=(pod.get("spec") or {}).get("nodeName"))


def _endpoint_nodes(ctx: CheckContext, service: str, namespace: str) -> list[str]:
    """The nodes of a Service's ready endpoints (those with a known node first)."""
    slices = ctx.cluster.list("EndpointSlice", namespace=namespace, selector=f"kubernetes.io/service-name={service}")
    nodes = [endpoint.get("nodeName") or "" for s in slices for endpoint in s.get("endpoints") or []
             if (endpoint.get("conditions") or {}).get("ready") is not False]
    return sorted(set(nodes), key=lambda n: (not n, n))


def _any_node(ctx: CheckContext) -> str | None:
    """A Ready node, for targets that run on no node of the cluster (a `host:`)."""
    names = sorted(n["metadata"]["name"] for n in ctx.cluster.list("Node") if condition_status(n, "Ready") == "True")
    return names[0] if names else None


def _resolve_all(resolve, specs: list[Mapping[str, Any]]) -> list[Any]:  # noqa: ANN001
    keys = [repr(sorted(spec.items())) for spec in specs]
    unique = {key: spec for key, spec in zip(keys, specs)}
    futures = {key: submit(resolve, spec) for key, spec in unique.items()}
    return [futures[key].result() for key in keys]


def closed_reason(target: Target, port: int, service: str | None = None) -> str:
    """Why nothing can listen at the target's port, known from the API alone."""
    if target.ports is not None and port not in target.ports:
        return f"Service {service or target.address} has no port {port}"
    return target.closed


def judge(expect: str, reading: Reading) -> tuple[Status, str]:
    """(pass, fail or error; why) for one probe, said after "<from> -> <to>:<port>"."""
    finding = reading.finding
    if finding is Finding.BROKEN:
        return Status.ERROR, reading.detail
    if expect == "allow":
        if finding is Finding.CONNECTED:
            return Status.PASS, "connected"
        return Status.FAIL, f"should be allowed: {reading.detail}"
    if finding is Finding.BLOCKED:
        return Status.PASS, reading.detail
    if finding is Finding.CONNECTED:
        return Status.FAIL, "should be blocked: it connected"
    if finding is Finding.NOT_LISTENING:
        return Status.FAIL, f"{reading.detail}, so this says nothing about the policy"
    if finding is Finding.UNREACHABLE:
        # Neither a policy nor a closed port can be told apart from a broken path.
        return Status.ERROR, f"{reading.detail}, so this cannot show that a policy blocks it"
    return Status.FAIL, f"{reading.detail}, so this says nothing about the policy"


Ask = tuple[str, str, int]  # (node, address, port): a connection for a node's own probe to try


def _placed(ctx: CheckContext, asks: list[Ask | None]) -> list[Ask | None]:
    """The asks with no node of their own given any Ready node (None where there is none)."""
    node = _any_node(ctx)
    return [ask if ask is None or ask[0] else ((node, ask[1], ask[2]) if node else None) for ask in asks]


def _node_probes(asks: list[Ask]) -> list[Probe]:
    return [Probe(node_probe_name(node), LABRUNNER_NAMESPACE, host, port) for node, host, port in asks]


def _witness(ctx: CheckContext, asks: list[Ask], tried: dict[Ask, ProbeOutcome] | None = None) -> dict[Ask, ProbeOutcome]:
    """Try each ask from a hostNetwork probe pod on its node, all at once.

    The pods are exec'd into by name first: they are usually there already.
    Where that fails, they are started (or found Ready) and asked once more.
    `tried` holds outcomes from asks already run alongside the lab's probes.
    """
    done = dict(tried or {})
    todo = [ask for ask in asks if ask not in done]
    if todo:
        done.update(zip(todo, run_probes(ctx.cluster, _node_probes(todo))))
    broken = [ask for ask in asks if done[ask].verdict is Verdict.BROKEN]
    if broken:
        try:
            ensure_node_probes(ctx.cluster, sorted({node for node, _, _ in broken}))
        except LabrunnerError as exc:
            return {**done, **{ask: ProbeOutcome(Verdict.BROKEN, f"the node probe could not start: {exc}") for ask in broken}}
        done.update(zip(broken, run_probes(ctx.cluster, _node_probes(broken))))
    return done


_MARKS = {Status.PASS: "ok", Status.FAIL: "fail", Status.ERROR: "error"}


def _connectivity(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    probes = p["probes"]
    expects_deny = any(probe["expect"] == "deny" for probe in probes)
    canary: Future | None = None
    if expects_deny:
        canary = submit(check_policy_enforced, ctx.cluster)  # runs while the lab's probes run
    resolver = _Resolver(ctx)
    resolver.start_probes([probe["from"] for probe in probes])
    runnable: list[tuple[int, Probe, Target]] = []
    lines: list[str | None] = [None] * len(probes)
    missing: list[str] = []
    # Look up every distinct source and target at once: each is an API call.
    sources = _resolve_all(resolver.source, [probe["from"] for probe in probes])
    targets = _resolve_all(resolver.target, [probe["to"] for probe in probes])
    for i, probe in enumerate(probes):
        what = _describe(probe["from"], probe["to"], probe["port"])
        source, target = sources[i], targets[i]
        if isinstance(source, str) or isinstance(target, str):
            reason = source if isinstance(source, str) else target
            missing.append(f"{what}: {reason}")
            lines[i] = f"[fail] {what}: {reason}"
            continue
        pod, ns, container = source
        runnable.append((i, Probe(pod, ns, target.address, probe["port"], container), target))
    closed = [closed_reason(t, probes[i]["port"], probes[i]["to"].get("service")) for i, _, t in runnable]
    # Which node to ask about each target: its own (a `host:` runs on none, so any).
    asks: list[Ask | None] = [None if shut else (t.node or "", probe.host, probe.port)
                              for (_, probe, t), shut in zip(runnable, closed)]
    denies = [k for k, (i, _, _) in enumerate(runnable) if asks[k] and probes[i]["expect"] == "deny"]
    if any(not asks[k][0] for k in denies):  # type: ignore[index]
        asks = _placed(ctx, asks)
    # A deny is expected not to connect, and then needs the node's word: ask the node at the same time.
    early = sorted({asks[k] for k in denies if asks[k]})  # type: ignore[misc]
    results = run_probes(ctx.cluster, [probe for _, probe, _ in runnable] + _node_probes(early))
    outcomes, tried = results[: len(runnable)], dict(zip(early, results[len(runnable):]))
    if any(ask and not ask[0] and outcome.verdict in DID_NOT_CONNECT for ask, outcome in zip(asks, outcomes)):
        asks = _placed(ctx, asks)
    needed = sorted({ask for ask, outcome in zip(asks, outcomes) if ask and outcome.verdict in DID_NOT_CONNECT})
    witnessed = _witness(ctx, needed, {ask: tried[ask] for ask in needed if ask in tried}) if needed else {}
    if canary is not None:
        verdict = canary.result()
        if not verdict.enforced:
            return CheckResult.errored(verdict.message)
    wrong: list[str] = []
    broken: list[str] = []
    for (i, _, _), outcome, shut, ask in zip(runnable, outcomes, closed, asks):
        spec = probes[i]
        what = _describe(spec["from"], spec["to"], spec["port"])
        witness = witnessed.get(ask) if ask else None
        if ask is None and not shut and outcome.verdict in DID_NOT_CONNECT:
            witness = ProbeOutcome(Verdict.BROKEN, "the cluster has no Ready node to ask whether anything listens")
        reading = read_with_witness(outcome, witness, closed=shut)
        status, why = judge(spec["expect"], reading)
        lines[i] = f"[{_MARKS[status]}] {what}: expected {spec['expect']}, {reading.detail}"
        if status is Status.ERROR:
            broken.append(f"{what}: {why}")
        elif status is Status.FAIL:
            wrong.append(f"{what} {why}" if why.startswith("should") else f"{what}: {why}")
    details = [line for line in lines if line]
    if broken:
        return CheckResult.errored("; ".join(broken), details)
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
        lags="NetworkPolicy enforcement (or kube-proxy, for a Service) may still be programming this path", settles_within=15,
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
        lags="CoreDNS may still cache the missing name (up to 30 s)", settles_within=35,
    ),
]
