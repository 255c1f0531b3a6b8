"""The connectivity check's flow: who is asked what, and when, with probes faked at our boundary."""

from types import SimpleNamespace

import pytest

from labrunner.checks import check_kinds
from labrunner.checks.kinds import network
from labrunner.checks.base import CheckContext, Status
from labrunner.capabilities import Capability
from labrunner.checks.probing import ProbeOutcome, Verdict
from labrunner.cluster.probepods import LABRUNNER_NAMESPACE, OPEN_SERVER_NAME, node_probe_name, outside_probe_name

NS = "lab"
NODE_PROBE = node_probe_name("n1")
OPEN_IP = "10.244.9.9"
CONNECTED = ProbeOutcome(Verdict.CONNECTED, "connected")
REFUSED = ProbeOutcome(Verdict.REFUSED, "refused")
TIMEOUT = ProbeOutcome(Verdict.TIMEOUT, "no answer within 1s")


def _pod(name: str, ip: str, labels: dict | None = None, ports: tuple[int, ...] = (), namespace: str = NS) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"containerPort": p} for p in ports]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


OPEN_SERVER = _pod(OPEN_SERVER_NAME, OPEN_IP, namespace=LABRUNNER_NAMESPACE)


def _objects(endpoints: bool = True, extra: tuple[dict, ...] = ()) -> list[dict]:
    ready = [{"addresses": ["10.244.0.9"], "nodeName": "n1", "conditions": {"ready": True}}] if endpoints else []
    return [
        _pod("client", "10.244.0.5"),
        _pod("db-0", "10.244.0.9", {"app": "db"}, ports=(5432,)),
        {"kind": "Service", "metadata": {"name": "db", "namespace": NS},
         "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.9", "ports": [{"port": 5432, "targetPort": 5432}]}},
        {"kind": "EndpointSlice", "metadata": {"name": "db-x", "namespace": NS, "labels": {"kubernetes.io/service-name": "db"}},
         "endpoints": ready},
        {"kind": "Node", "metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        *extra,
    ]


class Net:
    """What each (pod, host, port) sees; records every batch of probes and every node probe start.

    A value may be a list: one outcome per time the probe runs. Control probes
    (from or to labrunner's open server) connect unless `seen` says otherwise.
    """

    def __init__(self, seen: dict):
        self.seen = dict(seen)
        self.batches: list[list[tuple[str, str, int]]] = []
        self.started: list[list[str]] = []
        self.runs: dict[tuple, int] = {}

    def answer(self, key: tuple[str, str, int]) -> ProbeOutcome:
        value = self.seen.get(key)
        if value is None and (key[0] == OPEN_SERVER_NAME or key[1] == OPEN_IP):
            return CONNECTED
        if isinstance(value, list):
            n = self.runs[key] = self.runs.get(key, -1) + 1
            return value[min(n, len(value) - 1)]
        assert value is not None, f"unexpected probe {key}"
        return value

    def run_probes(self, cluster, probes):  # noqa: ANN001
        batch = [(p.pod, p.host, p.port) for p in probes]
        self.batches.append(batch)
        assert all(p.namespace == LABRUNNER_NAMESPACE for p in probes if p.pod in (NODE_PROBE, OPEN_SERVER_NAME))
        return [self.answer(key) for key in batch]

    def ensure_node_probes(self, cluster, nodes):  # noqa: ANN001
        self.started.append(nodes)
        self.seen = {key: (CONNECTED if not isinstance(value, list) and value.verdict is Verdict.BROKEN else value)
                     for key, value in self.seen.items()}
        return {node: node_probe_name(node) for node in nodes}


@pytest.fixture
def run(fake_cluster, monkeypatch):
    def run_check(probes: list[dict], seen: dict, *, endpoints: bool = True, extra: tuple[dict, ...] = (),
                  egress: bool | None = True, recheck: float = 0):
        net = Net(seen)
        monkeypatch.setattr(network, "run_probes", net.run_probes)
        monkeypatch.setattr(network, "ensure_node_probes", net.ensure_node_probes)
        monkeypatch.setattr(network, "ensure_open_server", lambda cluster: OPEN_SERVER)
        monkeypatch.setattr(network, "ensure_outside_probes", lambda cluster, ns, labels: {})
        monkeypatch.setattr(network, "_enforcement", lambda cluster: (Capability("networkpolicy", True, "enforced"),
                                                                      Capability("networkpolicy-egress", egress, "egress?",
                                                                                 "use Calico")))
        monkeypatch.setattr(network, "RECHECK_SECONDS", recheck)
        ctx = CheckContext(cluster=fake_cluster(_objects(endpoints, extra)), namespace=NS, lab=SimpleNamespace(id="t"), step=None)
        return network._connectivity(ctx, {"probes": probes}), net

    return run_check


def _probe(expect: str, to: dict | None = None, port: int = 5432) -> dict:
    return {"from": {"pod": "client"}, "to": to or {"service": "db"}, "port": port, "expect": expect}


LAB_PROBE = ("client", "10.96.0.9", 5432)
NODE_ASK = (NODE_PROBE, "10.96.0.9", 5432)
CONTROL = ("client", OPEN_IP, 5432)


def test_allowed_and_connected_pays_for_no_node_probe(run):
    result, net = run([_probe("allow")], {LAB_PROBE: CONNECTED})
    assert result.status is Status.PASS
    assert net.batches == [[LAB_PROBE]] and not net.started


def test_a_failed_allow_asks_the_node_afterwards(run):
    result, net = run([_probe("allow")], {LAB_PROBE: REFUSED, NODE_ASK: CONNECTED})
    assert result.status is Status.FAIL
    assert result.message == "pod client -> service db:5432 should be allowed: blocked (refused), yet the node itself connects"
    assert net.batches == [[LAB_PROBE], [NODE_ASK]]


@pytest.mark.parametrize("seen", [REFUSED, TIMEOUT], ids=["rejected", "dropped"])
def test_a_deny_asks_the_node_alongside_its_probe(run, seen):
    result, net = run([_probe("deny")], {LAB_PROBE: seen, NODE_ASK: CONNECTED})
    assert result.status is Status.PASS, result.message
    # one round for the probe, the node's word and the control (the client to the open server); then the second probe
    assert net.batches == [[LAB_PROBE, NODE_ASK, CONTROL], [LAB_PROBE]]


class Clock:
    """time.monotonic and time.sleep for the network module, advanced by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("took, pause", [(1.0, 0.0), (0.1, 0.9)], ids=["dropped", "rejected"])
def test_a_denys_second_probe_comes_a_second_after_the_first_started(run, monkeypatch, took, pause):
    """On a cluster that drops blocked traffic the first round waited out its 1 s timeout: the
    second probe follows at once, so the check pays one timeout more than on a rejecting one, not two."""
    clock = Clock()
    monkeypatch.setattr(network, "time", clock)
    rounds = Net.run_probes

    def timed(self, cluster, probes):  # noqa: ANN001
        clock.now += took if not self.batches else 0.0  # the first round's wait for its blocked probes
        return rounds(self, cluster, probes)

    monkeypatch.setattr(Net, "run_probes", timed)
    result, net = run([_probe("deny")], {LAB_PROBE: TIMEOUT if took >= 1 else REFUSED, NODE_ASK: CONNECTED}, recheck=1.0)
    assert result.status is Status.PASS, result.message
    assert net.batches == [[LAB_PROBE, NODE_ASK, CONTROL], [LAB_PROBE]]
    assert clock.slept == [pytest.approx(pause)]


def test_a_deny_fails_when_the_server_does_not_listen(run):
    result, _ = run([_probe("deny")], {LAB_PROBE: REFUSED, NODE_ASK: REFUSED})
    assert result.status is Status.FAIL
    assert result.message == ("pod client -> service db:5432: nothing listening (the node itself is refused), "
                              "so this says nothing about the policy")


def test_a_deny_that_connects_fails(run):
    result, _ = run([_probe("deny")], {LAB_PROBE: CONNECTED, NODE_ASK: CONNECTED})
    assert result.status is Status.FAIL and result.message == "pod client -> service db:5432 should be blocked: it connected"


def test_a_deny_nobody_reaches_is_an_error(run):
    result, _ = run([_probe("deny")], {LAB_PROBE: TIMEOUT, NODE_ASK: TIMEOUT})
    assert result.status is Status.ERROR and "not even the node reaches it" in result.message


def test_the_node_probe_is_started_when_it_is_not_there(run):
    missing = ProbeOutcome(Verdict.BROKEN, "exec into labrunner-canary/lr-node-x failed: not found")
    result, net = run([_probe("deny")], {LAB_PROBE: REFUSED, NODE_ASK: missing})
    assert result.status is Status.PASS, result.message
    assert net.started == [["n1"]] and net.batches[-2] == [NODE_ASK]


def test_a_pod_target_is_asked_from_its_node(run):
    ask = (NODE_PROBE, "10.244.0.9", 8080)
    result, net = run([_probe("deny", {"selector": "app=db"}, 8080)], {("client", "10.244.0.9", 8080): REFUSED, ask: CONNECTED})
    assert result.status is Status.PASS and ask in net.batches[0]


def test_a_service_without_endpoints_or_port_needs_no_node(run):
    result, net = run([_probe("deny")], {LAB_PROBE: REFUSED}, endpoints=False)
    assert result.status is Status.FAIL and "nothing listening (Service db has no ready endpoints)" in result.message
    assert net.batches == [[LAB_PROBE]]
    result, net = run([_probe("deny", port=80)], {("client", "10.96.0.9", 80): REFUSED})
    assert result.status is Status.FAIL and "Service db has no port 80" in result.message
    assert net.batches == [[("client", "10.96.0.9", 80)]]


def test_a_host_target_is_asked_from_any_ready_node(run):
    ask = (NODE_PROBE, "10.96.0.10", 53)
    result, net = run([_probe("deny", {"host": "10.96.0.10"}, 53)], {("client", "10.96.0.10", 53): TIMEOUT, ask: CONNECTED})
    assert result.status is Status.PASS and net.batches[0] == [("client", "10.96.0.10", 53), ask, ("client", OPEN_IP, 8080)]


# -- a deny must show the side it is about ------------------------------------------------

def test_an_ingress_deny_is_not_trusted_when_the_source_cannot_send_anywhere(run):
    result, net = run([_probe("deny")], {LAB_PROBE: REFUSED, NODE_ASK: CONNECTED, CONTROL: REFUSED})
    assert result.status is Status.FAIL
    assert "but pod client cannot send anywhere" in result.message
    assert "so this does not show that service db refuses it" in result.message
    assert len(net.batches) == 1  # a failed check needs no second probe


def test_an_ingress_control_asks_the_port_the_policy_sees(run):
    extra = ({"kind": "Service", "metadata": {"name": "web", "namespace": NS},
              "spec": {"clusterIP": "10.96.0.8", "ports": [{"port": 80, "targetPort": 8080}]}},
             {"kind": "EndpointSlice", "metadata": {"name": "web-x", "namespace": NS, "labels": {"kubernetes.io/service-name": "web"}},
              "endpoints": [{"nodeName": "n1"}]})
    seen = {("client", "10.96.0.8", 80): REFUSED, (NODE_PROBE, "10.96.0.8", 80): CONNECTED}
    result, net = run([_probe("deny", {"service": "web"}, 80)], seen, extra=extra)
    assert result.status is Status.PASS, result.message
    assert ("client", OPEN_IP, 8080) in net.batches[0]


def test_an_egress_deny_needs_a_target_an_unrestricted_pod_reaches(run):
    probe = {**_probe("deny", {"selector": "app=db"}), "deniedBy": "egress"}
    lab, node, control = ("client", "10.244.0.9", 5432), (NODE_PROBE, "10.244.0.9", 5432), (OPEN_SERVER_NAME, "10.244.0.9", 5432)
    result, net = run([probe], {lab: REFUSED, node: CONNECTED, control: CONNECTED})
    assert result.status is Status.PASS, result.message
    assert control in net.batches[0] and ("client", OPEN_IP, 5432) not in net.batches[0]
    result, _ = run([probe], {lab: REFUSED, node: CONNECTED, control: REFUSED})
    assert result.status is Status.FAIL
    assert "but pod db-0 accepts no one" in result.message and "does not show that pod client may not send to it" in result.message


def test_an_egress_deny_on_a_cluster_that_enforces_only_ingress_is_an_error(run):
    egress_deny = {**_probe("deny", {"selector": "app=db"}), "deniedBy": "egress"}
    lab, node, control = ("client", "10.244.0.9", 5432), (NODE_PROBE, "10.244.0.9", 5432), (OPEN_SERVER_NAME, "10.244.0.9", 5432)
    seen = {lab: CONNECTED, node: CONNECTED, control: CONNECTED}  # the correct policy blocks nothing here
    result, _ = run([egress_deny], seen, egress=False)
    assert result.status is Status.ERROR and "1 probe(s) expect egress to be blocked" in result.message
    assert result.details == ("fix: use Calico",)
    result, _ = run([egress_deny], seen, egress=True)
    assert result.status is Status.FAIL  # where egress is enforced, the same sight is the learner's
    result, _ = run([_probe("deny")], {LAB_PROBE: REFUSED, NODE_ASK: CONNECTED}, egress=False)
    assert result.status is Status.PASS  # an ingress deny does not need egress enforcement


def test_a_deny_must_hold_on_a_second_probe(run):
    result, net = run([_probe("deny")], {LAB_PROBE: [REFUSED, CONNECTED], NODE_ASK: CONNECTED})
    assert result.status is Status.FAIL
    assert "should be blocked: it connected on a second probe" in result.message
    result, _ = run([_probe("deny")], {LAB_PROBE: [REFUSED, TIMEOUT], NODE_ASK: CONNECTED})
    assert result.status is Status.PASS and "held on a second probe" in result.details[0]


# -- a selector means every pod; outside sources ------------------------------------------

FRONTENDS = (_pod("frontend-1", "10.244.0.21", {"app": "frontend"}), _pod("a-frontend-decoy", "10.244.0.22", {"app": "frontend"}))


def test_a_selector_source_probes_from_every_matching_pod(run):
    probe = {"from": {"selector": "app=frontend"}, "to": {"service": "db"}, "port": 5432, "expect": "allow"}
    seen = {("frontend-1", "10.96.0.9", 5432): CONNECTED, ("a-frontend-decoy", "10.96.0.9", 5432): CONNECTED}
    result, net = run([probe], seen, extra=FRONTENDS)
    assert result.status is Status.PASS and sorted(net.batches[0]) == sorted(seen)
    # the decoy is fine, the Deployment's pod is not: the check fails and names the pod
    seen[("frontend-1", "10.96.0.9", 5432)] = TIMEOUT
    seen[(NODE_PROBE, "10.96.0.9", 5432)] = CONNECTED
    result, _ = run([probe], seen, extra=FRONTENDS)
    assert result.status is Status.FAIL and result.message.startswith("pod frontend-1 -> service db:5432 should be allowed")


def test_a_selector_target_probes_every_matching_pod_but_never_a_pod_to_itself(run):
    probe = {"from": {"selector": "app=frontend"}, "to": {"selector": "app=frontend"}, "port": 8080, "expect": "allow"}
    seen = {("frontend-1", "10.244.0.22", 8080): CONNECTED, ("a-frontend-decoy", "10.244.0.21", 8080): CONNECTED}
    result, net = run([probe], seen, extra=FRONTENDS)
    assert result.status is Status.PASS and sorted(net.batches[0]) == sorted(seen)


def test_an_outside_source_is_a_probe_pod_of_labrunner_for_this_lab_namespace(run):
    name = outside_probe_name(NS, {"role": "customer"})
    assert name != outside_probe_name("other-lab", {"role": "customer"})  # one cluster, many learners
    probe = {"from": {"outside": {"role": "customer"}}, "to": {"service": "db"}, "port": 5432, "expect": "deny"}
    result, net = run([probe], {(name, "10.96.0.9", 5432): CONNECTED, NODE_ASK: CONNECTED})
    assert result.status is Status.FAIL and result.message == "outside role=customer -> service db:5432 should be blocked: it connected"


# -- sweeps -------------------------------------------------------------------------------

def test_a_sweep_probes_the_open_server_on_every_port_and_the_other_lab_pods(run):
    from labrunner.cluster.probepods import OPEN_PORTS

    api = _pod("api-1", "10.244.0.31", {"app": "api"}, ports=(8080,))
    probe = {"from": {"pod": "client"}, "to": {"sweep": {"except": "app=api"}}, "expect": "deny"}
    seen = {("client", OPEN_IP, port): REFUSED for port in OPEN_PORTS}
    seen.update({(NODE_PROBE, OPEN_IP, port): CONNECTED for port in OPEN_PORTS})
    # the db refuses the client, but it refuses an unrestricted pod too: it shows nothing and is left out
    seen.update({("client", "10.244.0.9", 5432): REFUSED, (NODE_PROBE, "10.244.0.9", 5432): CONNECTED,
                 (OPEN_SERVER_NAME, "10.244.0.9", 5432): REFUSED})
    result, net = run([probe], seen, extra=(api,))
    assert result.status is Status.PASS, result.message
    assert not any(key[1] == "10.244.0.31" for key in net.batches[0])  # the excepted api is not swept
    assert any(line.startswith("[--] pod client -> pod db-0:5432") for line in result.details)
    seen[("client", OPEN_IP, 9090)] = CONNECTED
    result, _ = run([probe], seen, extra=(api,))
    assert result.status is Status.FAIL
    assert result.message == "pod client -> labrunner's open server outside the lab:9090 should be blocked: it connected"


def test_a_sweep_that_shows_nothing_is_an_error(run):
    from labrunner.cluster.probepods import OPEN_PORTS

    probe = {"from": {"pod": "client"}, "to": {"sweep": {}}, "expect": "deny"}
    seen = {("client", OPEN_IP, port): REFUSED for port in OPEN_PORTS}
    seen.update({(NODE_PROBE, OPEN_IP, port): REFUSED for port in OPEN_PORTS})  # the open server is down
    seen.update({("client", "10.244.0.9", 5432): REFUSED, (NODE_PROBE, "10.244.0.9", 5432): CONNECTED,
                 (OPEN_SERVER_NAME, "10.244.0.9", 5432): REFUSED})
    result, _ = run([probe], seen)
    assert result.status is Status.ERROR and "no destination of the sweep accepts an unrestricted pod" in result.message


@pytest.mark.parametrize(("probe", "problem"), [
    ({"from": {"pod": "a"}, "to": {"sweep": {}}, "port": 80, "expect": "deny"}, "leave port out"),
    ({"from": {"pod": "a"}, "to": {"sweep": {}}, "expect": "allow"}, "expect: deny"),
    ({"from": {"pod": "a"}, "to": {"sweep": {"except": "app=api"}}, "expect": "deny", "deniedBy": "ingress"}, "expect: deny"),
    ({"from": {"pod": "a"}, "to": {"pod": "b"}, "port": 80, "expect": "allow", "deniedBy": "egress"}, "with expect: deny"),
    ({"from": {"pod": "a"}, "to": {"pod": "b"}, "port": 80, "expect": "deny", "deniedBy": "both"}, "ingress or egress"),
    ({"from": {"outside": {"labrunner.dev/canary": "closed"}}, "to": {"pod": "b"}, "port": 80, "expect": "deny"}, "labrunner's own"),
])
def test_probe_specs_that_cannot_mean_anything_are_rejected(probe, problem):
    problems = check_kinds()["connectivity"].problems({"probes": [probe]})
    assert any(problem in text for _, text in problems), problems


def test_the_sweep_and_outside_forms_are_valid():
    assert check_kinds()["connectivity"].problems({"probes": [
        {"from": {"selector": "app=frontend"}, "to": {"sweep": {"except": "app=api"}}, "expect": "deny"},
        {"from": {"selector": "app=frontend"}, "to": {"sweep": {}}, "expect": "deny", "deniedBy": "egress"},
        {"from": {"outside": {"role": "customer"}}, "to": {"service": "db"}, "port": 80, "expect": "allow"},
        {"from": {"pod": "a"}, "to": {"selector": "k8s-app=kube-dns", "namespace": "kube-system"}, "port": 8181,
         "expect": "deny", "deniedBy": "egress"},
    ]}) == []


# -- dns: every matching pod looks the name up ----------------------------------------------

def test_dns_asks_from_every_matching_pod(fake_cluster, monkeypatch):
    from labrunner.cluster import ExecResult

    answers = {
        "frontend-1": "Server: 10.96.0.10\nAddress: 10.96.0.10:53\n\nName: db.lab.svc.cluster.local\nAddress: 10.96.0.9\n",
        "a-frontend-decoy": ";; connection timed out; no servers could be reached\n",
    }
    asked: list[str] = []

    def fake_exec(cluster, pod, command, **_):  # noqa: ANN001
        asked.append(pod)
        return ExecResult(0 if "Address: 10.96" in answers[pod] else 1, answers[pod], "")

    monkeypatch.setattr(network, "exec_in_pod", fake_exec)
    ctx = CheckContext(cluster=fake_cluster(_objects(extra=FRONTENDS)), namespace=NS, lab=SimpleNamespace(id="t"), step=None)
    db = {"kind": "Service", "metadata": {"name": "db", "namespace": NS}, "spec": {"clusterIPs": ["10.96.0.9"]}}
    ctx.cluster.objects[2] = db
    params = {"from": {"selector": "app=frontend"}, "name": "DB.lab.svc.cluster.local.", "serviceIP": "db"}
    result = network._dns(ctx, params)
    assert sorted(asked) == ["a-frontend-decoy", "frontend-1"]
    assert result.status is Status.FAIL and result.message.startswith("pod a-frontend-decoy: DB.lab.svc.cluster.local. does not resolve")
    assert result.evidence.expected == "10.96.0.9"
    assert set(result.evidence.observed.split("; ")) == {"pod frontend-1: 10.96.0.9", "pod a-frontend-decoy: no answer"}
    answers["a-frontend-decoy"] = answers["frontend-1"]
    result = network._dns(ctx, params)
    assert result.status is Status.PASS and result.message.endswith("from each of the 2 pods"), result.message


# -- evidence: the from x to matrix, each cell with a command that reproduces it ---------------

def test_each_cell_is_evidence_with_a_command_that_reproduces_it(run):
    probes = [_probe("allow"), {"from": {"pod": "client"}, "to": {"pod": "db-0"}, "port": 5432, "expect": "deny"},
              {"from": {"pod": "gone"}, "to": {"service": "db"}, "port": 5432, "expect": "allow"}]
    seen = {LAB_PROBE: TIMEOUT, NODE_ASK: CONNECTED, ("client", "10.244.0.9", 5432): REFUSED,
            (NODE_PROBE, "10.244.0.9", 5432): CONNECTED}
    result, _ = run(probes, seen)
    assert result.status is Status.FAIL
    allow, deny, missing = result.evidence.probes
    assert (allow.source, allow.target, allow.address, allow.port, allow.expected, allow.status) == \
        ("pod client", "service db", "10.96.0.9", 5432, "allow", "fail")
    assert allow.observed == "blocked (no answer within 1s), yet the node itself connects"
    assert allow.why.startswith("should be allowed: blocked") and allow.denied_by == ""
    assert allow.reproduce == "kubectl -n lab exec client -- /agnhost connect 10.96.0.9:5432 --timeout=1s"
    assert (deny.status, deny.denied_by, deny.target) == ("pass", "ingress", "pod db-0")
    assert deny.reproduce == "kubectl -n lab exec client -- /agnhost connect 10.244.0.9:5432 --timeout=1s"
    # a probe spec whose source pod is missing is a failing cell with nothing to reproduce
    assert (missing.source, missing.target, missing.port, missing.status, missing.reproduce) == \
        ("pod gone", "service db", 5432, "fail", "")
    assert "gone" in missing.observed
    assert result.evidence.reproduce() == [allow.reproduce]  # only what did not pass
    data = result.as_dict()["evidence"]["probes"][0]
    assert data["from"] == "pod client" and data["to"] == "service db" and data["deniedBy"] is None


def test_a_sweep_destination_that_shows_nothing_is_a_skipped_cell(run):
    from labrunner.cluster.probepods import OPEN_PORTS

    probe = {"from": {"pod": "client"}, "to": {"sweep": {}}, "expect": "deny"}
    seen = {("client", OPEN_IP, port): REFUSED for port in OPEN_PORTS}
    seen.update({(NODE_PROBE, OPEN_IP, port): CONNECTED for port in OPEN_PORTS})
    seen.update({("client", "10.244.0.9", 5432): REFUSED, (NODE_PROBE, "10.244.0.9", 5432): CONNECTED,
                 (OPEN_SERVER_NAME, "10.244.0.9", 5432): REFUSED})
    result, _ = run([probe], seen)
    assert result.status is Status.PASS
    statuses = {(cell.target, cell.port): cell.status for cell in result.evidence.probes}
    assert statuses[("pod db-0", 5432)] == "skipped"
    assert all(statuses[("labrunner's open server outside the lab", port)] == "pass" for port in OPEN_PORTS)
    assert all(cell.denied_by == "egress" for cell in result.evidence.probes)


def test_dns_evidence_names_what_was_expected_and_what_answered():
    answer = "Server: 10.96.0.10\nAddress: 10.96.0.10:53\n\nName: db.lab.svc.cluster.local\nAddress: 10.96.0.7\n"
    assert network.lookup_evidence({"name": "db"}, answer, ["10.96.0.9"]) == ("10.96.0.9", "10.96.0.7")
    assert network.lookup_evidence({"name": "db", "resolves": False}, "** server can't find db: NXDOMAIN\n", None) \
        == ("no answer", "NXDOMAIN")
    cname = "Server: 10.96.0.10\n\nweb.lab.svc.cluster.local\tcanonical name = example.org.\nName: example.org\n"
    assert network.lookup_evidence({"name": "web", "cname": "example.org."}, cname, None) == \
        ("a CNAME for example.org", "CNAME example.org")
