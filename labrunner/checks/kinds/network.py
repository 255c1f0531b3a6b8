"""In-cluster network checks: `connectivity` (TCP probes) and `dns`."""

from __future__ import annotations

import ipaddress
import re
import time
from concurrent.futures import Future
from typing import Any, Mapping

from ...cluster import exec_in_pod
from ...cluster.applying import MANAGED_BY
from ...cluster.probepods import (LABRUNNER_NAMESPACE, OPEN_PORTS, OPEN_SERVER_NAME, ensure_node_probes, ensure_open_server,
                                 ensure_outside_probes, ensure_probe_pods, node_probe_name, not_own, open_server_body,
                                 outside_probe_name, outside_probe_body, pod_marks)
from ...capabilities import Capability, capability
from ...errors import LabrunnerError
from ...format.values import DnsName, Selector, ServiceName, value_type
from ...settings import TIMEOUTS
from ..base import CheckContext, CheckKind, CheckResult, Param, Status
from ..apiwitness import ask_witness, proxy_route
from ..evidence import Evidence, ProbeCell
from ..judging import DENIED_BY, EGRESS, LEFT_OUT, judge
from ..policyreach import describe, egress_beyond_for, policies_singling_out_labrunner
from ..probeplan import (Cell, Resolver, Target, any_ready_node, closed_reason, denied_by,
                        describe_source, describe_target)
from ..probing import (DID_NOT_CONNECT, Finding, Probe, ProbeOutcome, Reading, Verdict, read_with_witness, reproduce_command, run_probes,
                      submit)
from ..shapes import Probes, SourceSpec

__all__ = ["KINDS", "Target", "closed_reason", "judge", "parse_nslookup"]

# A deny must hold on a second probe this long after the first: a policy being
# programmed (or removed) can show one blocked connection it does not keep up.
RECHECK_SECONDS = 1.0
_CONTROL_FALLBACK_PORT = 8080  # where the open server is asked when it does not serve the probe's port


def _address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"expected an IP address such as 10.96.0.10 or fd00::1, got {value!r}"
    return None


Address = value_type((str,), what="an IP address", check=_address, rule=True,
                     schema={"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})


def _head(spec: Mapping[str, Any]) -> str:
    port = f":{spec['port']}" if "port" in spec else ""
    return f"{describe_source(spec['from'])} -> {describe_target(spec['to'])}{port}"


def _key(spec: Mapping[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in spec.items()))


def _resolve_all(resolve, specs: list[Any]) -> list[Any]:  # noqa: ANN001
    """resolve(*spec) for each spec, each distinct spec once, all at once (each is an API call)."""
    keys = [_key(dict(enumerate(spec))) for spec in specs]
    unique = dict(zip(keys, specs))
    futures = {key: submit(resolve, *spec) for key, spec in unique.items()}
    return [futures[key].result() for key in keys]


Ask = tuple[str, str, int]  # (node, address, port): a connection for a node's own probe to try


def _placed(ctx: CheckContext, asks: list[Ask | None]) -> list[Ask | None]:
    """The asks with no node of their own given any Ready node (None where there is none)."""
    node = any_ready_node(ctx.cluster)
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


_NO_WITNESS = "a workshop seat cannot ask the node"


def _seat_witness(ctx: CheckContext, cells: list[Cell], asks: list[Ask | None], outcomes: list[ProbeOutcome],
                  controls: dict[int, Probe | ProbeOutcome], control_seen: dict[Probe, ProbeOutcome],
                  namespaces: set[str]) -> dict[Ask, ProbeOutcome]:
    """The witness on a workshop seat, which has no node probe (see `apiwitness`): the API server's
    proxy for a pod or Service of the seat's own namespaces; for another target of an egress deny,
    its control, when it connected: an unrestricted pod reached the target, so something listens
    there and the path is open, which is all the node would have shown. Keyed by ask, as `_witness`."""
    routes: dict[Ask, tuple[str, str, str]] = {}
    stand_ins: dict[Ask, ProbeOutcome] = {}
    for k, (cell, ask, outcome) in enumerate(zip(cells, asks, outcomes)):
        if ask is None or outcome.verdict not in DID_NOT_CONNECT or ask in routes:
            continue
        route = proxy_route(cell.target, cell.port, namespaces)
        if route is not None:
            routes[ask] = route
            continue
        control = controls.get(k)
        seen = control_seen.get(control) if isinstance(control, Probe) else control
        if cell.denied_by == EGRESS and seen is not None and seen.verdict is Verdict.CONNECTED:
            stand_ins.setdefault(ask, ProbeOutcome(Verdict.CONNECTED, "an unrestricted pod outside the lab reaches it"))
        else:
            stand_ins.setdefault(ask, ProbeOutcome(
                Verdict.BROKEN, f"{_NO_WITNESS} whether anything listens at {cell.target.label} "
                                "(outside the seat's namespaces)"))
    futures = {ask: submit(ask_witness, ctx.cluster, route) for ask, route in routes.items()}
    return {**{ask: stand_in for ask, stand_in in stand_ins.items() if ask not in futures},
            **{ask: future.result() for ask, future in futures.items()}}


def _own_bodies(ctx: CheckContext, probes: list[Mapping[str, Any]], *, open_server: bool) -> dict[str, dict]:
    """name -> the body labrunner makes, of each pod of the seat's probe namespace this check probes from."""
    bodies = {OPEN_SERVER_NAME: open_server_body(as_nobody=True)} if open_server else {}
    for probe in probes:
        if "outside" in probe["from"]:
            name = outside_probe_name(ctx.namespace, probe["from"]["outside"])
            bodies[name] = outside_probe_body(name, ctx.namespace, probe["from"]["outside"])
    return bodies


def _probe_pod_marks(ctx: CheckContext, namespace: str, bodies: dict[str, dict]) -> dict[str, tuple[str, int]] | str:
    """The seat's probe pods as they are before probing (probepods.pod_marks), each checked to be
    exactly labrunner's (probepods.not_own); or why one is not."""
    pods = []
    for name, body in bodies.items():
        pod = ctx.cluster.get("Pod", name, namespace=namespace)
        why = "it is gone" if pod is None else not_own(pod, body)
        if why:
            return f"labrunner's probe pod {namespace}/{name} is not labrunner's ({why}); run the check again"
        pods.append(pod)
    return pod_marks(pods)


def _probe_pods_changed(ctx: CheckContext, namespace: str, before: dict[str, tuple[str, int]],
                        bodies: dict[str, dict]) -> str:
    """Why the probes' results cannot be trusted on a seat, or "": a probe pod replaced, changed or
    restarted while it probed (the learner may write the seat's probe namespace), or a NetworkPolicy
    there (a seat may not make one, and one could block a probe's control while letting the learner's
    answer look right)."""
    policies = [p["metadata"]["name"] for p in ctx.cluster.list("NetworkPolicy", namespace=namespace)]
    if policies:
        return (f"NetworkPolicy {', '.join(sorted(policies))} in namespace {namespace}, where labrunner probes from, "
                "would decide what the probes show; ask the instructor to remove it")
    after = _probe_pod_marks(ctx, namespace, bodies)
    if isinstance(after, str):
        return after
    moved = sorted(name for name, mark in before.items() if after.get(name) != mark)
    if moved:
        return (f"labrunner's probe pod {', '.join(moved)} in namespace {namespace} was replaced or restarted while "
                "it probed, so what it saw cannot be trusted; run the check again")
    return ""


def _control(cell: Cell, open_server: dict | None) -> Probe | ProbeOutcome:
    """The probe that shows the other side of a deny is open (see `judging`), or its known outcome."""
    if open_server is None:
        return ProbeOutcome(Verdict.BROKEN, "labrunner's open server is not running")
    if cell.denied_by == EGRESS:
        if cell.target.open:
            return ProbeOutcome(Verdict.CONNECTED, "labrunner's open server accepts anyone")
        return Probe(OPEN_SERVER_NAME, open_server["metadata"].get("namespace") or LABRUNNER_NAMESPACE,
                     cell.target.address, cell.port)
    port = cell.policy_port if cell.policy_port in OPEN_PORTS else _CONTROL_FALLBACK_PORT
    return Probe(cell.source.pod, cell.source.namespace, open_server["status"]["podIP"], port, cell.source.container)


def probe_namespace(ctx: CheckContext) -> str:
    """Where the outside probes and the open server run: labrunner's own namespace, or on a workshop
    seat (the kubeconfig's `labrunner.dev/seat` extension, `Cluster.seat`) the seat's probe namespace,
    which only that seat may write."""
    seat = getattr(ctx.cluster, "seat", None)
    return seat.probe_namespace if seat is not None else LABRUNNER_NAMESPACE


def _start_pods(ctx: CheckContext, probes: list[Mapping[str, Any]], *, open_server: bool) -> tuple[dict | None, str]:
    """Start the probe pods, outside probes and open server the probes need, all at once; (open server pod, error)."""
    def unique(key: str) -> list[dict]:
        labels = [probe["from"][key] for probe in probes if key in probe["from"]]
        return list({repr(sorted(l.items())): l for l in labels}.values())

    futures: list[Future] = []
    where = probe_namespace(ctx)
    # On a seat, in the seat's probe namespace; else labrunner's own (the functions' default).
    place = {"namespace": where} if where != LABRUNNER_NAMESPACE else {}
    if unique("probe"):
        futures.append(submit(lambda: ensure_probe_pods(ctx.cluster, unique("probe"), namespace=ctx.namespace, lab_id=ctx.lab.id)))
    if unique("outside"):
        futures.append(submit(lambda: ensure_outside_probes(ctx.cluster, ctx.namespace, unique("outside"), **place)))
    server = submit(lambda: ensure_open_server(ctx.cluster, **place)) if open_server else None
    try:
        for future in futures:
            future.result()
        return (server.result() if server else None), ""
    except LabrunnerError as exc:
        return None, f"labrunner's probe pods could not start: {exc}"


def _quota_fix(ctx: CheckContext, cannot: str) -> list[str]:
    """A fix for probe pods refused by a seat's probe namespace quota: the pods there that are not
    labrunner's (the learner's kubectl may create pods there), to delete; none when that is not why."""
    where = probe_namespace(ctx)
    if where == LABRUNNER_NAMESPACE or "exceeded quota" not in cannot:
        return []
    others = sorted(p["metadata"]["name"] for p in ctx.cluster.list("Pod", namespace=where)
                    if ((p.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY) != "labrunner")
    if not others:
        return [f"fix: the quota of namespace {where} is full of labrunner's own probe pods; ask the instructor"]
    return [f"fix: namespace {where} is for labrunner's probe pods only; delete the others: "
            f"kubectl -n {where} delete pod {' '.join(others)}"]


_MARKS = {Status.PASS: "ok", Status.FAIL: "fail", Status.ERROR: "error", LEFT_OUT: "--"}
_SHOWN_FAILS = 4  # the message names this many failed probes; the details list every one


def _enforcement(cluster) -> tuple[Capability, Capability]:  # noqa: ANN001
    """(ingress, egress) NetworkPolicy enforcement, as labrunner.capabilities found it (the canary)."""
    return capability(cluster, "networkpolicy"), capability(cluster, "networkpolicy-egress")


def _connectivity(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    probes = p["probes"]
    expects_deny = any(probe["expect"] == "deny" for probe in probes)
    canary: Future | None = None
    if expects_deny:
        canary = submit(_enforcement, ctx.cluster)  # runs while the lab's probes run
    open_server, cannot = _start_pods(ctx, probes, open_server=expects_deny)
    if cannot:
        return CheckResult.errored(cannot, _quota_fix(ctx, cannot), evidence=Evidence("the probe pods running", cannot))
    where = probe_namespace(ctx)
    seat = where != LABRUNNER_NAMESPACE
    resolver = Resolver(ctx.cluster, ctx.namespace, open_server, probe_namespace=where)
    sources = _resolve_all(resolver.sources, [(probe["from"],) for probe in probes])
    targets = _resolve_all(resolver.targets, [(probe["to"], probe.get("port")) for probe in probes])
    cells: list[Cell] = []
    lines: list[str] = []
    missing: list[str] = []
    unplaced: list[tuple[int, ProbeCell]] = []  # probe specs with no cell to run, as evidence
    for i, probe in enumerate(probes):
        reason = next((r for r in (sources[i], targets[i]) if isinstance(r, str)), "")
        made = [] if reason else [
            Cell(i, source, target, port, probe["expect"], denied_by(probe), "sweep" in probe["to"])
            for source in sources[i] for target, port in targets[i]
            if target.pod != (source.namespace, source.pod)  # a pod reaching itself never crosses the network
        ]
        if not reason and not made:
            reason = "the only pod on both sides is the same pod, and a pod reaching itself shows nothing"
        if reason:
            missing.append(f"{_head(probe)}: {reason}")
            lines.append(f"[fail] {_head(probe)}: {reason}")
            unplaced.append((i, unplaced_cell(probe, reason)))
        cells += made
    closed = [closed_reason(c.target, c.port, probes[c.spec]["to"].get("service")) for c in cells]
    # Which node to ask about each target: its own (a `host:` runs on none, so any).
    asks: list[Ask | None] = [None if shut else (c.target.node or "", c.target.address, c.port) for c, shut in zip(cells, closed)]
    denies = [k for k, c in enumerate(cells) if asks[k] and c.expect == "deny"]
    if not seat and any(not asks[k][0] for k in denies):  # type: ignore[index]
        asks = _placed(ctx, asks)  # a seat may not list nodes, and asks the API server instead
    # A deny is expected not to connect, and then needs the node's word and its
    # control: ask both at the same time as the lab's own probes.
    early = [] if seat else sorted({asks[k] for k in denies if asks[k]})  # type: ignore[misc]
    controls: dict[int, Probe | ProbeOutcome] = {k: _control(cells[k], open_server) for k in denies}
    control_probes = list(dict.fromkeys(c for c in controls.values() if isinstance(c, Probe)))
    lab_probes = [c.probe for c in cells]
    bodies = _own_bodies(ctx, probes, open_server=expects_deny) if seat else {}
    marks = _probe_pod_marks(ctx, where, bodies) if seat else {}
    if isinstance(marks, str):
        return CheckResult.errored(marks, evidence=Evidence("labrunner's own probe pods", marks))
    first_round = time.monotonic()
    results = run_probes(ctx.cluster, lab_probes + _node_probes(early) + control_probes)
    outcomes = results[: len(cells)]
    tried = dict(zip(early, results[len(cells): len(cells) + len(early)]))
    control_seen = dict(zip(control_probes, results[len(cells) + len(early):]))
    if not seat and any(ask and not ask[0] and outcome.verdict in DID_NOT_CONNECT for ask, outcome in zip(asks, outcomes)):
        asks = _placed(ctx, asks)
    needed = sorted({ask for ask, outcome in zip(asks, outcomes) if ask and outcome.verdict in DID_NOT_CONNECT})
    if seat:
        witnessed = _seat_witness(ctx, cells, asks, outcomes, controls, control_seen, {ctx.namespace, where})
    else:
        witnessed = _witness(ctx, needed, {ask: tried[ask] for ask in needed if ask in tried}) if needed else {}
    if canary is not None:
        ingress, egress = canary.result()
        if not ingress.state:  # not enforced, or not known: a deny proves nothing here
            return CheckResult.errored(ingress.detail, [f"fix: {ingress.fix}"] if ingress.fix else [],
                                       evidence=Evidence("NetworkPolicy enforced", ingress.detail))
        egress_denies = [c for c in cells if c.expect == "deny" and c.denied_by == EGRESS]
        if egress_denies and egress.state is False:
            # A correct egress policy cannot block anything here: the learner's answer is not what fails.
            return CheckResult.errored(f"{len(egress_denies)} probe(s) expect egress to be blocked, but {egress.detail}",
                                       [f"fix: {egress.fix}"],
                                       evidence=Evidence("egress NetworkPolicy enforced", egress.detail))
    judged: list[tuple[Status | None, str, str]] = []  # (status, why, what was read)
    for k, (cell, outcome, shut, ask) in enumerate(zip(cells, outcomes, closed, asks)):
        witness = witnessed.get(ask) if ask else None
        if ask is None and not shut and outcome.verdict in DID_NOT_CONNECT:
            witness = ProbeOutcome(Verdict.BROKEN, "the cluster has no Ready node to ask whether anything listens")
        reading = read_with_witness(outcome, witness, closed=shut)
        if seat and cell.expect == "allow" and witness is not None and witness.detail.startswith(_NO_WITNESS):
            # Not reached is a fail for an allow whatever the node would say; only a deny needs the node's word.
            reading = Reading(Finding.UNREACHABLE, f"{outcome.detail} ({witness.detail})")
        control = controls.get(k)
        seen = control_seen[control] if isinstance(control, Probe) else control
        status, why = judge(cell.expect, reading, seen, denied_by=cell.denied_by, source=cell.source.label,
                            target=cell.target.label, sweep=cell.sweep)
        detail = reading.detail
        if status is Status.PASS and cell.expect == "deny":
            detail += ("; an unrestricted pod reaches it" if cell.denied_by == EGRESS
                       else "; the source reaches labrunner's open server")
        judged.append((status, why, detail))
    if not missing and all(status in (Status.PASS, LEFT_OUT) for status, _, _ in judged):
        judged = _recheck_denies(ctx, cells, lab_probes, judged, since=first_round)
    if seat:
        changed = _probe_pods_changed(ctx, where, marks, bodies)
        if changed:
            return CheckResult.errored(changed, lines, evidence=Evidence("labrunner's own probe pods", changed))
    wrong: list[str] = []
    broken: list[str] = []
    counted: dict[int, int] = {}
    for cell, (status, why, detail) in zip(cells, judged):
        shown = why if status is LEFT_OUT or status is not Status.PASS else detail
        lines.append(f"[{_MARKS[status]}] {cell.what}: expected {cell.expect}" + (" (every other destination)" if cell.sweep else "")
                     + f", {shown}")
        if status is not LEFT_OUT:
            counted[cell.spec] = counted.get(cell.spec, 0) + 1
        if status is Status.ERROR:
            broken.append(f"{cell.what}: {why}")
        elif status is Status.FAIL:
            wrong.append(f"{cell.what} {why}" if why.startswith("should") else f"{cell.what}: {why}")
    for i, probe in enumerate(probes):
        if "sweep" in probe["to"] and not isinstance(targets[i], str) and not isinstance(sources[i], str) and not counted.get(i):
            broken.append(f"{_head(probe)}: no destination of the sweep accepts an unrestricted pod, so it shows nothing")
    wrong += _policy_findings(ctx, probes, sources, lines) if expects_deny else []
    placed = [(cell.spec, probe_cell(cell, status, why, detail)) for cell, (status, why, detail) in zip(cells, judged)]
    evidence = Evidence(probes=tuple(c for _, c in sorted(unplaced + placed, key=lambda pair: pair[0])))
    if broken:
        return CheckResult.errored(_summary(broken), lines, evidence=evidence)
    if missing or wrong:
        return CheckResult.failed(_summary(missing + wrong), lines, evidence=evidence)
    return CheckResult.passed(f"all {len(cells)} probes as expected (from {len(probes)} probe specs)"
                              if len(cells) != len(probes) else f"all {len(probes)} probes as expected", lines,
                              evidence=evidence)


_PROBE_STATUS = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "error", LEFT_OUT: "skipped"}


def probe_cell(cell: Cell, status: Status | None, why: str, observed: str) -> ProbeCell:
    """One judged cell as evidence: `status` as `judge` gave it (None: left out of a sweep), `why` its
    verdict, `observed` what the probe and its witness read; with the command that reproduces it."""
    return ProbeCell(cell.source.label, cell.target.label, cell.port, cell.expect, _PROBE_STATUS[status],
                     observed, why=why, denied_by=cell.denied_by if cell.expect == "deny" else "",
                     address=cell.target.address, reproduce=reproduce_command(cell.probe))


def unplaced_cell(probe: Mapping[str, Any], reason: str) -> ProbeCell:
    """A probe spec that names no cell to run (its source or target is missing) as a failing cell, named as the
    lab file names its sides; nothing to reproduce."""
    deny = probe.get("expect") == "deny"
    return ProbeCell(describe_source(probe["from"]), describe_target(probe["to"]), probe.get("port"),
                     probe.get("expect", "allow"), "fail", reason, why=reason,
                     denied_by=denied_by(probe) if deny else "")


def _policy_findings(ctx: CheckContext, probes: list[Mapping[str, Any]], sources: list[Any], lines: list[str]) -> list[str]:
    """What the lab namespace's NetworkPolicies say that probes cannot show (see `policyreach`):
    policies naming labrunner's probes, and a swept source's egress beyond the pod network."""
    found: list[str] = []
    named = policies_singling_out_labrunner(ctx.cluster, ctx.namespace, [probe_namespace(ctx)])
    if named:
        found.append(f"NetworkPolicy {', '.join(named)} treats labrunner's own probe pods unlike other clients "
                     "(it names them, or selects by what only they or only other pods carry): a policy must treat "
                     "every client alike, so the probes cannot stand for real ones")
    for i, probe in enumerate(probes):
        if "sweep" not in probe["to"] or isinstance(sources[i], str):
            continue
        pods = [s.pod for s in sources[i] if s.namespace == ctx.namespace]
        ips = [(p.get("status") or {}).get("podIP") for p in ctx.cluster.list("Pod", namespace=ctx.namespace)]
        opened = egress_beyond_for(ctx.cluster, ctx.namespace, pods, [ip for ip in ips if ip])
        if opened:
            found.append(f"{_head(probe)}: {describe(opened)}; nothing else may be reached, outside the cluster neither")
    lines += [f"[fail] {line}" for line in found]
    return found


def _summary(problems: list[str]) -> str:
    if len(problems) <= _SHOWN_FAILS:
        return "; ".join(problems)
    return "; ".join(problems[: _SHOWN_FAILS - 1]) + f"; and {len(problems) - _SHOWN_FAILS + 1} more (see details)"


def _recheck_denies(ctx: CheckContext, cells: list[Cell], lab_probes: list[Probe],
                    judged: list[tuple[Status | None, str, str]], *, since: float) -> list[tuple[Status | None, str, str]]:
    """Probe each passing deny once more, RECHECK_SECONDS after the first probes started (`since`,
    time.monotonic()): it passes only if it still does not connect.

    Counted from the start, not the end, of the first probes: on a cluster that drops blocked
    traffic they already waited out their timeout, so the second probes follow at once and the
    check costs one probe timeout more than on a cluster that rejects, not two."""
    held = [k for k, (status, _, _) in enumerate(judged) if status is Status.PASS and cells[k].expect == "deny"]
    if not held:
        return judged
    time.sleep(max(0.0, RECHECK_SECONDS - (time.monotonic() - since)))
    judged = list(judged)
    for k, outcome in zip(held, run_probes(ctx.cluster, [lab_probes[k] for k in held])):
        if outcome.verdict is Verdict.CONNECTED:
            judged[k] = (Status.FAIL, f"should be blocked: it connected on a second probe {RECHECK_SECONDS:g}s later "
                                      "(a policy still being programmed, or removed, does not hold yet)", "it connected")
        elif outcome.verdict is Verdict.BROKEN:
            judged[k] = (Status.ERROR, f"the second probe could not run: {outcome.detail}", outcome.detail)
        else:
            status, why, detail = judged[k]
            judged[k] = (status, why, f"{detail}; held on a second probe")
    return judged


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


def same_name(a: str, b: str) -> bool:
    """DNS names compare case-insensitively, and `name.` (fully qualified) is `name` (RFC 4343, RFC 1034 3.1)."""
    return a.rstrip(".").lower() == b.rstrip(".").lower()


def normal_addresses(values: list[str]) -> list[str]:
    """Addresses by meaning: `fd00:0::1` is `fd00::1`; sorted, each once. Text that is no address stays as it is."""
    out = set()
    for value in values:
        try:
            out.add(str(ipaddress.ip_address(value.strip())))
        except ValueError:
            out.add(value.strip().lower())
    return sorted(out)


def judge_lookup(p: Mapping[str, Any], output: str, wanted_ips: list[str] | None) -> tuple[Status, str]:
    """(pass or fail, message) for one pod's nslookup `output` against the dns check's params `p`.

    `wanted_ips` are the expected addresses (for addresses, serviceIP, podIPs);
    None for the cname and resolves modes.
    """
    addresses, cnames, nxdomain = parse_nslookup(output)
    addresses = normal_addresses(addresses)
    got = ", ".join(addresses) or "no address"
    name = p["name"]
    if p.get("resolves") is False:
        if addresses or cnames:
            return Status.FAIL, f"{name} still resolves (to {', '.join(cnames + addresses)})"
        return Status.PASS, f"{name} does not resolve"
    if "cname" in p:
        wanted = p["cname"].rstrip(".")
        if any(same_name(wanted, cname) for cname in cnames):
            return Status.PASS, f"{name} is a CNAME for {wanted}"
        return Status.FAIL, f"{name} should be a CNAME for {wanted}; it answers {', '.join(cnames) or got}"
    wanted_ips = normal_addresses(wanted_ips or [])
    if not addresses:
        why = "NXDOMAIN" if nxdomain else "no answer"
        note = ""
        if nxdomain and ("serviceIP" in p or "podIPs" in p):
            # CoreDNS caches "no such name" for its TTL (30 s by default).
            note = " (if you just created the Service, DNS may still remember the name as missing for up to 30s)"
        return Status.FAIL, f"{name} does not resolve ({why}); it should give {', '.join(wanted_ips)}{note}"
    if wanted_ips == addresses:
        return Status.PASS, f"{name} resolves to {got}"
    return Status.FAIL, f"{name} resolves to {got}, should be {', '.join(wanted_ips)}"


def lookup_evidence(p: Mapping[str, Any], output: str, wanted_ips: list[str] | None) -> tuple[str, str]:
    """(expected, observed) of one pod's nslookup `output` for the dns check's params `p`, as short texts
    for its evidence: "10.96.0.9", "a CNAME for db.example.com", "no answer"; observed names the CNAMEs
    and addresses given, or NXDOMAIN, or "no answer"."""
    addresses, cnames, nxdomain = parse_nslookup(output)
    if p.get("resolves") is False:
        expected = "no answer"
    elif "cname" in p:
        expected = f"a CNAME for {p['cname'].rstrip('.')}"
    else:
        expected = ", ".join(normal_addresses(wanted_ips or []))
    given = [f"CNAME {c}" for c in cnames] + normal_addresses(addresses)
    return expected, ", ".join(given) or ("NXDOMAIN" if nxdomain else "no answer")


def _wanted_ips(ctx: CheckContext, p: Mapping[str, Any]) -> list[str] | str | None:
    """The addresses the dns check expects, what is missing for them (text), or None (cname, resolves)."""
    if "serviceIP" in p:
        svc = ctx.cluster.get("Service", p["serviceIP"], namespace=ctx.namespace)
        if svc is None:
            return f"Service {p['serviceIP']} does not exist"
        wanted = [ip for ip in (svc.get("spec") or {}).get("clusterIPs") or [] if ip != "None"]
        return wanted or f"Service {p['serviceIP']} has no cluster IP"
    if "podIPs" in p:
        pods = ctx.cluster.list("Pod", namespace=ctx.namespace, selector=p["podIPs"])
        wanted = [x["status"]["podIP"] for x in pods if (x.get("status") or {}).get("podIP") and not x["metadata"].get("deletionTimestamp")]
        return wanted or f"no pod matches {p['podIPs']} yet"
    if "addresses" in p:
        return list(p["addresses"])
    return None


def _dns(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    _, cannot = _start_pods(ctx, [{"from": p["from"]}], open_server=False)
    if cannot:
        return CheckResult.errored(cannot, _quota_fix(ctx, cannot), evidence=Evidence("the probe pods running", cannot))
    sources = Resolver(ctx.cluster, ctx.namespace).sources(p["from"])
    if isinstance(sources, str):
        return CheckResult.failed(sources, evidence=Evidence("a running pod to look the name up from", sources))
    wanted = _wanted_ips(ctx, p)
    if isinstance(wanted, str):
        return CheckResult.failed(wanted, evidence=Evidence(observed=wanted))
    # Every pod the source names looks the name up: one pod with a broken resolver must not hide behind another.
    lookups = [submit(lambda s=s: exec_in_pod(ctx.cluster, s.pod, ["nslookup", p["name"]], namespace=s.namespace,
                                              container=s.container, timeout=TIMEOUTS.batch_exec)) for s in sources]
    several = len(sources) > 1
    details: list[str] = []
    wrong: list[str] = []
    broken: list[str] = []
    passed: list[str] = []
    expected, observed = lookup_evidence(p, "", wanted)[0], []
    for source, future in zip(sources, lookups):
        result = future.result()
        prefix = f"{source.label}: " if several else ""
        if result.exit_code is None:
            broken.append(f"{prefix}nslookup could not run in {source.label}: {result.failure}")
            observed.append(f"{prefix}nslookup could not run")
            continue
        status, message = judge_lookup(p, result.output, wanted)
        observed.append(prefix + lookup_evidence(p, result.output, wanted)[1])
        output = [line for line in result.output.splitlines() if line.strip()][-6:]
        details += [f"[{_MARKS[status]}] {source.label}: {message}"] + output if several else output
        (passed if status is Status.PASS else wrong).append(prefix + message)
    evidence = Evidence(expected, "; ".join(observed))
    if broken:
        return CheckResult.errored(_summary(broken), details, evidence=evidence)
    if wrong:
        return CheckResult.failed(_summary(wrong), details, evidence=evidence)
    if several:
        return CheckResult.passed(f"{passed[0].split(': ', 1)[1]}, from each of the {len(sources)} pods", details,
                                  evidence=evidence)
    return CheckResult.passed(passed[0], details, evidence=evidence)


def _validate_dns(p: Mapping[str, Any]) -> list[str]:
    problems = []
    modes = [k for k in ("addresses", "serviceIP", "podIPs", "cname", "resolves") if k in p]
    if len(modes) != 1:
        problems.append("give exactly one of addresses, serviceIP, podIPs, cname, resolves: false")
    if p.get("addresses") == []:
        problems.append("addresses: expected at least one address; to expect no answer give resolves: false")
    if p.get("resolves") is True:
        problems.append("resolves: only `false` is meaningful; to expect an answer give addresses, serviceIP, podIPs or cname")
    return problems


KINDS = [
    CheckKind(
        "connectivity",
        {"probes": Param(Probes, required=True, doc="a list of {from, to, port, expect: allow|deny, deniedBy?: ingress|egress}")},
        _connectivity,
        doc="TCP connections inside the cluster are allowed or blocked",
        lags="NetworkPolicy enforcement (or kube-proxy, for a Service) may still be programming this path", settles_within=15,
    ),
    CheckKind(
        "dns",
        {
            "from": Param(SourceSpec, required=True, doc="{pod: ...}, {selector: ...} (every matching pod), {probe: {labels}} or {outside: {labels}}"),
            "name": Param(DnsName, required=True, doc="the name to look up"),
            "addresses": Param(list[Address], doc="the exact addresses expected"),
            "serviceIP": Param(ServiceName, doc="a Service whose cluster IP is expected"),
            "podIPs": Param(Selector, doc="a label selector whose pods' IPs are expected"),
            "cname": Param(DnsName, doc="the CNAME target expected"),
            "resolves": Param(bool, doc="false: the name must not resolve"),
        },
        _dns,
        validate=_validate_dns,
        doc="a name resolves inside the cluster as expected",
        lags="CoreDNS may still cache the missing name (up to 30 s)", settles_within=35,
    ),
]
