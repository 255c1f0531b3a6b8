"""The connectivity check's flow: who is asked what, and when, with probes faked at our boundary."""

from types import SimpleNamespace

import pytest

from labrunner.checks import network
from labrunner.checks.base import CheckContext, Status
from labrunner.checks.canary import CanaryResult
from labrunner.checks.probing import ProbeOutcome, Verdict
from labrunner.cluster.probepods import LABRUNNER_NAMESPACE, node_probe_name

NS = "lab"
NODE_PROBE = node_probe_name("n1")
CONNECTED = ProbeOutcome(Verdict.CONNECTED, "connected")
REFUSED = ProbeOutcome(Verdict.REFUSED, "refused")
TIMEOUT = ProbeOutcome(Verdict.TIMEOUT, "no answer within 1s")


def _pod(name: str, ip: str, labels: dict | None = None) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
            "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


def _objects(endpoints: bool = True) -> list[dict]:
    ready = [{"addresses": ["10.244.0.9"], "nodeName": "n1", "conditions": {"ready": True}}] if endpoints else []
    return [
        _pod("client", "10.244.0.5"),
        _pod("db-0", "10.244.0.9", {"app": "db"}),
        {"kind": "Service", "metadata": {"name": "db", "namespace": NS},
         "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.9", "ports": [{"port": 5432}]}},
        {"kind": "EndpointSlice", "metadata": {"name": "db-x", "namespace": NS, "labels": {"kubernetes.io/service-name": "db"}},
         "endpoints": ready},
        {"kind": "Node", "metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    ]


class Net:
    """What each (pod, host, port) sees; records every batch of probes and every node probe start."""

    def __init__(self, seen: dict):
        self.seen = seen
        self.batches: list[list[tuple[str, str, int]]] = []
        self.started: list[list[str]] = []

    def run_probes(self, cluster, probes):  # noqa: ANN001
        batch = [(p.pod, p.host, p.port) for p in probes]
        self.batches.append(batch)
        assert all(p.namespace == LABRUNNER_NAMESPACE for p in probes if p.pod == NODE_PROBE)
        return [self.seen[key] for key in batch]

    def ensure_node_probes(self, cluster, nodes):  # noqa: ANN001
        self.started.append(nodes)
        self.seen = {key: (CONNECTED if value.verdict is Verdict.BROKEN else value) for key, value in self.seen.items()}
        return {node: node_probe_name(node) for node in nodes}


@pytest.fixture
def run(fake_cluster, monkeypatch):
    def run_check(probes: list[dict], seen: dict, *, endpoints: bool = True):
        net = Net(seen)
        monkeypatch.setattr(network, "run_probes", net.run_probes)
        monkeypatch.setattr(network, "ensure_node_probes", net.ensure_node_probes)
        monkeypatch.setattr(network, "check_policy_enforced", lambda cluster: CanaryResult(True, "enforced"))
        ctx = CheckContext(cluster=fake_cluster(_objects(endpoints)), namespace=NS, lab=SimpleNamespace(id="t"), step=None)
        return network._connectivity(ctx, {"probes": probes}), net

    return run_check


def _probe(expect: str, to: dict | None = None, port: int = 5432) -> dict:
    return {"from": {"pod": "client"}, "to": to or {"service": "db"}, "port": port, "expect": expect}


LAB_PROBE = ("client", "10.96.0.9", 5432)
NODE_ASK = (NODE_PROBE, "10.96.0.9", 5432)


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
    assert net.batches == [[LAB_PROBE, NODE_ASK]]  # one round, not two


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
    assert net.started == [["n1"]] and net.batches[-1] == [NODE_ASK]


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
    assert result.status is Status.PASS and net.batches == [[("client", "10.96.0.10", 53), ask]]
