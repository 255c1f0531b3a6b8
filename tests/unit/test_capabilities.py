"""Pure logic of labrunner.capabilities: requirements judged against findings, the disk cache and its
age, the kubeconfig's server read without the client, kind's published ports, and the checks that
turn a capability the cluster lacks into an error with the fix. What each probe finds on a real
cluster, and each case with the capability really changed, is in tests/live/test_capabilities.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from labrunner import capabilities as caps
from labrunner.capabilities import Capability, judge, unmet_cached
from labrunner.capabilities.portmaps import kind_port_mappings, mappings_from_config, mappings_from_docker
from labrunner.checks import CheckContext, Status
from labrunner.checks.reachability import load_balancer_unserved, node_port_addresses
from labrunner.model import Difficulty, Lab, Step

REPO = Path(__file__).resolve().parents[2]


def _version(minor: int) -> Capability:
    return Capability("kubernetes", True, f"Kubernetes v1.{minor}.0", data={"major": 1, "minor": minor})


def test_a_minimum_release_is_met_by_that_release_and_later_only():
    assert judge("kubernetes>=1.29", _version(29)) is None
    assert judge("kubernetes>=1.29", _version(34)) is None
    unmet = judge("kubernetes>=1.29", _version(28))
    assert unmet is not None and "Kubernetes 1.28" in unmet.why and "1.29 or later" in unmet.fix


def test_unknown_is_never_missing():
    assert judge("networkpolicy", None) is None
    assert judge("networkpolicy", Capability("networkpolicy", None, "the canary could not run")) is None
    assert judge("kubernetes>=1.29", Capability("kubernetes", True, "odd", data={})) is None


def test_unmet_names_each_missing_requirement_with_its_fix():
    found = {"networkpolicy": Capability("networkpolicy", True, "enforced"),
             "networkpolicy-egress": Capability("networkpolicy-egress", False, "ingress only", "use Calico"),
             "kubernetes": _version(28)}
    unmet = unmet_cached(found, ["networkpolicy", "networkpolicy-egress", "kubernetes>=1.29", "kubernetes>=1.28"])
    assert [u.requirement for u in unmet] == ["networkpolicy-egress", "kubernetes>=1.29"]
    assert unmet[0].fix == "use Calico" and "ingress only" in str(unmet[0])


class _Configured:
    def __init__(self, host: str) -> None:
        self.configuration = type("C", (), {"host": host})()


def test_a_finding_is_kept_on_disk_per_server_for_a_while(monkeypatch):
    cluster = _Configured("https://192.0.2.1:6443/")
    caps.remember(cluster, Capability("storage", False, "no default StorageClass", "install one", seen_at=time.time()))
    caps.remember(cluster, Capability("dns", None, "could not run", seen_at=time.time()))  # unknown: not kept
    kept = caps.cached("https://192.0.2.1:6443")
    assert list(kept) == ["storage"] and kept["storage"].fix == "install one"
    assert caps.cached("https://192.0.2.2:6443") == {}
    monkeypatch.setattr(caps, "CACHE_SECONDS", 0.0)
    assert caps.cached("https://192.0.2.1:6443") == {}  # too old


def test_a_broken_cache_file_is_ignored():
    caps.cache_path().parent.mkdir(parents=True, exist_ok=True)
    caps.cache_path().write_text("[1, 2")
    assert caps.cached("https://192.0.2.1:6443") == {}
    caps.cache_path().write_text(json.dumps({"https://192.0.2.1:6443": {"storage": {"name": "storage", "bogus": 1}}}))
    assert caps.cached("https://192.0.2.1:6443") == {}


def test_a_probe_runs_once_then_its_finding_is_remembered():
    cluster = _Configured("https://192.0.2.9:6443")
    calls = []

    def probe(_cluster):  # noqa: ANN001, ANN202
        calls.append(1)
        return Capability("ingress", True, "IngressClass nginx")

    first = caps.capability(cluster, "ingress", probes={"ingress": probe})
    second = caps.capability(cluster, "ingress", probes={"ingress": probe})
    assert first.state is True and second.detail == "IngressClass nginx" and len(calls) == 1
    caps.capability(cluster, "ingress", probes={"ingress": probe}, fresh=True)
    assert len(calls) == 2


def test_a_probe_that_raises_is_unknown_not_missing():
    def probe(_cluster):  # noqa: ANN001, ANN202
        raise RuntimeError("no route to host")

    found = caps.capability(_Configured("https://192.0.2.8:6443"), "csr", probes={"csr": probe})
    assert found.state is None and "no route to host" in found.detail


def test_the_server_is_read_from_the_kubeconfig_as_kubectl_merges_it(tmp_path, monkeypatch):
    first = tmp_path / "a"
    first.write_text("current-context: kind-lab\ncontexts: [{name: kind-lab, context: {cluster: kind-lab}}]\n")
    second = tmp_path / "b"
    second.write_text("clusters: [{name: kind-lab, cluster: {server: 'https://127.0.0.1:40123/'}},"
                      " {name: other, cluster: {server: 'https://10.0.0.1'}}]\n"
                      "contexts: [{name: other, context: {cluster: other}}]\n")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert caps.server_of() == "https://127.0.0.1:40123"
    assert caps.server_of(context="other") == "https://10.0.0.1"
    assert caps.server_of(str(tmp_path / "missing")) is None


def test_the_repository_kind_config_publishes_node_port_30080_on_loopback():
    found = mappings_from_config((REPO / "kind-config.yaml").read_text())
    assert found[30080] == ("127.0.0.1", 30080)


def test_kind_mappings_honour_listen_address_and_protocol():
    text = """
kind: Cluster
nodes:
  - role: control-plane
    extraPortMappings:
      - {containerPort: 30080, hostPort: 8080, listenAddress: 127.0.0.2}
      - {containerPort: 30053, hostPort: 30053, protocol: UDP}
  - role: worker
    extraPortMappings: [{containerPort: 30081, hostPort: 30081}]
"""
    assert mappings_from_config(text) == {30080: ("127.0.0.2", 8080)}
    assert mappings_from_config("- not a kind config") == {}


def test_docker_port_output_is_read():
    out = "30080/tcp -> 0.0.0.0:30080\n30080/tcp -> [::]:30080\n6443/tcp -> 127.0.0.1:40123\n53/udp -> 0.0.0.0:53\n"
    assert mappings_from_docker(out) == {30080: ("127.0.0.1", 30080), 6443: ("127.0.0.1", 40123)}


def test_a_kind_config_is_read_only_for_kind_or_when_named(tmp_path, monkeypatch):
    monkeypatch.setattr("labrunner.capabilities.portmaps.shutil.which", lambda name: None)
    monkeypatch.delenv("LABRUNNER_KIND_CONFIG", raising=False)
    assert kind_port_mappings("testbed") == ({}, "")
    config = tmp_path / "kind.yaml"
    config.write_text("nodes: [{role: control-plane, extraPortMappings: [{containerPort: 30080, hostPort: 31080}]}]\n")
    monkeypatch.setenv("LABRUNNER_KIND_CONFIG", str(config))
    found, source = kind_port_mappings("testbed")
    assert found == {30080: ("127.0.0.1", 31080)} and "kind.yaml" in source


# -- the checks' side ---------------------------------------------------------------------

def _ctx(cluster) -> CheckContext:  # noqa: ANN001
    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(step,), path=Path("."))
    return CheckContext(cluster=cluster, namespace="lab-demo", lab=lab, step=step)


def test_a_pending_address_is_an_error_only_where_no_implementation_serves_the_class(fake_cluster):
    pending = {"kind": "Service", "metadata": {"name": "shop"}, "spec": {"type": "LoadBalancer", "loadBalancerClass": "x.io/lb"}}
    asked = []

    def none(cluster, name, fresh=False):  # noqa: ANN001, ANN202
        asked.append(name)
        return Capability(name, False, "no load-balancer implementation serves class x.io/lb", "run it",
                          seen_at=time.time())

    result = load_balancer_unserved(_ctx(fake_cluster()), pending, lookup=none)
    assert result is not None and result.status is Status.ERROR and asked == ["loadbalancer:x.io/lb"]
    assert "none will come" in result.message and "fix: run it" in result.details
    slow = lambda cluster, name, fresh=False: Capability(name, True, "served")  # noqa: E731 - just slow
    assert load_balancer_unserved(_ctx(fake_cluster()), pending, lookup=slow) is None
    cluster_ip = {"kind": "Service", "metadata": {"name": "shop"}, "spec": {"type": "ClusterIP"}}
    assert load_balancer_unserved(_ctx(fake_cluster()), cluster_ip, lookup=none) is None  # the learner's to fix


def test_node_ports_go_through_the_published_port_or_are_an_error(fake_cluster, monkeypatch):
    monkeypatch.setenv("LABRUNNER_NODE_ADDRESS", "192.0.2.10")
    cluster = fake_cluster()
    found = Capability("nodeport", True, "the node address does not answer; 30080 is published",
                       data={"direct": False, "mappings": {"30080": ["127.0.0.1", 31080]}, "asked": ["192.0.2.10"]},
                       seen_at=time.time())
    monkeypatch.setattr("labrunner.checks.reachability.capability", lambda c, name, fresh=False: found)
    assert node_port_addresses(_ctx(cluster), [30080]) == [(30080, "127.0.0.1", 31080)]
    error = node_port_addresses(_ctx(cluster), [30123])
    assert error.status is Status.ERROR and "cannot reach node port 30123" in error.message
    assert "use a node port this machine reaches (30080)" in error.details[0]


@pytest.mark.parametrize("requirement, problem", [
    ("kubernetes>=1.29", None),
    ("networkpolicy-egress", None),
    ("kubernetes>1.29", "kubernetes>=MAJOR.MINOR"),
    ("gpu", "unknown feature 'gpu'"),
])
def test_requirements_in_a_lab_file(requirement, problem):
    from labrunner.format.lab import _requirement

    found = _requirement(requirement)
    assert (found is None) if problem is None else (problem in found)


def test_a_step_that_requires_what_the_cluster_lacks_errors_every_check(fake_cluster):
    from labrunner.model import CheckSpec
    from labrunner.runner import run_step_checks

    cluster = fake_cluster([{"kind": "Pod", "metadata": {"name": "web", "namespace": "lab-demo"}}])
    caps.remember(cluster, Capability("kubernetes", True, "Kubernetes v1.28.9", data={"major": 1, "minor": 28},
                                      seen_at=time.time()))
    spec = CheckSpec(id="web", kind="exists", params={"object": "Pod/web"})
    needy = Step(id="s", title="S", text="", text_path=None, checks=(spec,), requires=("kubernetes>=1.29",))
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(needy,), path=Path("."))
    report = run_step_checks(cluster, lab, needy)
    assert [r.status for r in report.results] == [Status.ERROR]
    assert "kubernetes>=1.29: this cluster runs Kubernetes 1.28" in report.results[0].message
    assert any("1.29 or later" in line for line in report.results[0].details)
    plain = Step(id="s", title="S", text="", text_path=None, checks=(spec,))
    assert [r.status for r in run_step_checks(cluster, lab, plain).results] == [Status.PASS]


def test_forgetting_on_disk_drops_one_servers_findings():
    one, other = _Configured("https://192.0.2.1:6443"), _Configured("https://192.0.2.2:6443")
    for cluster in (one, other):
        caps.remember(cluster, Capability("storage", True, "default StorageClass standard", seen_at=time.time()))
    caps.forget(one, on_disk=True)
    assert caps.cached("https://192.0.2.1:6443") == {} and list(caps.cached("https://192.0.2.2:6443")) == ["storage"]


def test_doctor_shows_every_capability_and_the_labs_it_stops(fake_cluster, monkeypatch, capsys):
    from labrunner import kindcluster

    states = {"loadbalancer": False, "ingress": False, "csr": None}

    def found(cluster, names, fresh=False):  # noqa: ANN001, ANN202
        return [Capability(n, states.get(n, True), f"{n} seen", f"fix {n}" if states.get(n, True) is False else "",
                           data={"major": 1, "minor": 34} if n == "kubernetes" else {}) for n in names]

    monkeypatch.setattr(caps, "capabilities", found)
    step = Step(id="s", title="S", text="", text_path=None, requires=("kubernetes>=1.29",))
    lab = Lab(id="exposing", title="E", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
              requires=("nodeport", "loadbalancer"), images=(), steps=(step,), path=Path("."))
    findings = kindcluster.cluster_findings(fake_cluster(), [lab])
    kindcluster.print_findings(findings)
    out = capsys.readouterr().out
    for name in caps.NAMES:
        assert f"] {name}: {name} seen" in out
    assert "[FAIL] loadbalancer: loadbalancer seen\n       fix: fix loadbalancer (needed by exposing)" in out
    assert "[ -- ] ingress: ingress seen (no lab here needs it)" in out  # missing, but nobody needs it
    assert "[ -- ] csr: csr seen" in out  # not found out
    assert "[FAIL] lab exposing cannot be done on this cluster: loadbalancer (loadbalancer seen)" in out
    assert [f.what.split(":")[0] for f in findings if f.ok is False and f.counts] == ["loadbalancer", "lab exposing cannot be done on this cluster"]


def test_an_old_missing_load_balancer_is_looked_at_again_before_an_error(fake_cluster):
    pending = {"kind": "Service", "metadata": {"name": "shop"}, "spec": {"type": "LoadBalancer"}}
    asked = []

    def lookup(cluster, name, fresh=False):  # noqa: ANN001, ANN202
        asked.append(fresh)
        if fresh:  # cloud-provider-kind was started since
            return Capability(name, True, "served", seen_at=time.time())
        return Capability(name, False, "none", "cloud-provider-kind", seen_at=time.time() - 3600)

    assert load_balancer_unserved(_ctx(fake_cluster()), pending, lookup=lookup) is None and asked == [False, True]


# -- Docker Desktop: node addresses this machine does not reach --------------------------------------

def _node(address: str, kubelet_port: int) -> dict:
    return {"kind": "Node", "metadata": {"name": "n1"},
            "status": {"addresses": [{"type": "InternalIP", "address": address}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}}}}


def test_a_node_is_reached_when_its_kubelet_port_opens_a_connection_and_not_otherwise(fake_cluster, monkeypatch):
    import socket

    from labrunner.capabilities.probes import node_reached

    monkeypatch.delenv("LABRUNNER_NODE_ADDRESS", raising=False)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert node_reached(fake_cluster([_node("127.0.0.1", port)])) == "127.0.0.1"
    # the same port, nothing listening any more: a connection is refused until NODE_CONNECT_WAIT runs out
    assert node_reached(fake_cluster([_node("127.0.0.1", port)])) is None


def _lb_ctx(fake_cluster, found: Capability):  # noqa: ANN001, ANN202
    cluster = fake_cluster()
    caps.remember(cluster, found)
    return _ctx(cluster)


SHOP = {"kind": "Service", "metadata": {"name": "shop"}, "spec": {"type": "LoadBalancer"}}


def test_a_load_balancer_address_that_answers_is_asked_directly(fake_cluster):
    from labrunner.checks.reachability import load_balancer_targets

    found = Capability("loadbalancer", True, "path: the load-balancer address",
                       data={"address": "172.30.1.1", "reachable": True, "path": "address"}, seen_at=time.time())
    never = lambda *a: pytest.fail("docker asked although the address answers")  # noqa: E731
    assert load_balancer_targets(_lb_ctx(fake_cluster, found), SHOP, "172.30.1.5", 80, published=never) == \
        [("172.30.1.5", 80)]


def test_on_docker_desktop_the_published_port_is_asked_or_its_absence_is_an_error(fake_cluster):
    from labrunner.checks.reachability import load_balancer_targets

    found = Capability("loadbalancer", True, "path: ports published on this machine",
                       data={"address": "172.18.0.9", "reachable": True, "path": "published"}, seen_at=time.time())
    asked = []

    def published(context, namespace, service):  # noqa: ANN001, ANN202
        asked.append((namespace, service))
        return {80: ("127.0.0.1", 80), 10000: ("127.0.0.1", 32768)}

    ctx = _lb_ctx(fake_cluster, found)
    assert load_balancer_targets(ctx, SHOP, "172.18.0.9", 80, published=published) == [("127.0.0.1", 80)]
    assert asked == [("lab-demo", "shop")]
    error = load_balancer_targets(ctx, SHOP, "172.18.0.9", 8080, published=published)
    assert error.status is Status.ERROR and "publishes no host port for its port 8080" in error.message
    assert "delete Service shop and create it again" in error.details[0]
    unreachable = Capability("loadbalancer", True, "address 172.30.1.1, not reachable",
                             data={"address": "172.30.1.1", "reachable": False, "path": None}, seen_at=time.time())
    error = load_balancer_targets(_lb_ctx(fake_cluster, unreachable), SHOP, "172.30.1.5", 80, published=lambda *a: {})
    assert error.status is Status.ERROR and "--enable-lb-port-mapping" in error.details[0]


def test_cloud_provider_kinds_published_ports_are_found_by_its_label(tmp_path, monkeypatch):
    from labrunner.capabilities.portmaps import lb_published_ports

    docker = tmp_path / "docker"
    docker.write_text('#!/bin/sh\necho "$@" >>"$0.log"\n'
                      'case "$1" in ps) echo 0123abcd;; port) printf "80/tcp -> 0.0.0.0:80\\n10000/tcp -> 0.0.0.0:32768\\n";; esac\n')
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert lb_published_ports("kind-labs", "lab-exposing", "shop") == {80: ("127.0.0.1", 80), 10000: ("127.0.0.1", 32768)}
    assert (tmp_path / "docker.log").read_text().splitlines() == [
        "ps -q --filter label=io.x-k8s.cloud-provider-kind.loadbalancer.name=labs/lab-exposing/shop", "port 0123abcd"]
    assert lb_published_ports("testbed", "lab-exposing", "shop") == {}  # not a kind context: docker is not asked


def test_a_load_balancer_port_docker_could_not_publish_is_an_error_with_the_fix(fake_cluster):
    # The event the service controller records when cloud-provider-kind's `docker run --publish=0.0.0.0:80:80/TCP`
    # fails on Docker Desktop (Docker's own words, seen here with kind-config.yaml's port 80 published).
    event = {"kind": "Event", "metadata": {"name": "shop.1", "namespace": "lab-demo"}, "reason": "SyncLoadBalancerFailed",
             "type": "Warning", "involvedObject": {"kind": "Service", "name": "shop"},
             "lastTimestamp": "2026-11-29T23:00:00Z",
             "message": "Error syncing load balancer: failed to ensure load balancer: failed to create continers "
                        "kindccm-1a2b: driver failed programming external connectivity on endpoint kindccm-1a2b: "
                        "Bind for 0.0.0.0:80 failed: port is already allocated"}
    pending = {"kind": "Service", "metadata": {"name": "shop"}, "spec": {"type": "LoadBalancer"}}
    served = lambda cluster, name, fresh=False: Capability(name, True, "served")  # noqa: E731
    result = load_balancer_unserved(_ctx(fake_cluster([event])), pending, lookup=served)
    assert result is not None and result.status is Status.ERROR
    assert "could not publish its port on this machine" in result.message and "port is already allocated" in result.message
    assert "kind-config.yaml publishes 80 and 443" in result.details[0]
    other = {**event, "involvedObject": {"kind": "Service", "name": "other"}}
    assert load_balancer_unserved(_ctx(fake_cluster([other])), pending, lookup=served) is None  # another's, not shop's


def test_a_fail_is_an_error_when_what_the_step_requires_went_down_since_it_was_probed(fake_cluster, monkeypatch):
    """Gatekeeper found ready a minute ago, down now: its webhook fails open, so a privileged pod is admitted
    and the admission check fails; the requirement is probed again before that fail is shown, and it
    becomes an error with the fix. A pass needs no new probe."""
    from labrunner.capabilities import probes
    from labrunner.model import CheckSpec
    from labrunner.runner import run_step_checks

    cluster = fake_cluster([{"kind": "Pod", "metadata": {"name": "web", "namespace": "lab-demo"}}])
    caps.forget(cluster)
    caps.remember(cluster, Capability("gatekeeper", True, "OPA Gatekeeper: 3 ready", seen_at=time.time() - 60))
    probed = []

    def down(cluster):  # noqa: ANN001, ANN202
        probed.append(1)
        return Capability("gatekeeper", False, "Gatekeeper is installed, but gatekeeper-controller-manager has no "
                          "ready pod", "kubectl -n gatekeeper-system get pods")

    monkeypatch.setattr(probes, "probe_for", lambda name: down)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(), path=Path("."))
    passing = Step(id="s", title="S", text="", text_path=None, requires=("gatekeeper",),
                   checks=(CheckSpec(id="web", kind="exists", params={"object": "Pod/web"}),))
    assert [r.status for r in run_step_checks(cluster, lab, passing).results] == [Status.PASS] and not probed
    failing = Step(id="s", title="S", text="", text_path=None, requires=("gatekeeper",),
                   checks=(CheckSpec(id="db", kind="exists", params={"object": "Pod/db"}),))
    report = run_step_checks(cluster, lab, failing)
    assert probed and [r.status for r in report.results] == [Status.ERROR]
    assert "gatekeeper-controller-manager has no ready pod" in report.results[0].message
    assert report.results[0].details == ("fix: kubectl -n gatekeeper-system get pods",)


def test_a_slow_probe_is_not_run_again_on_every_fail(fake_cluster, monkeypatch):
    """networkpolicy's probe is a canary (up to a minute): a failing step in watch mode must not run it on
    every round; only the add-ons are probed again before a fail is shown."""
    from labrunner.capabilities import probes
    from labrunner.model import CheckSpec
    from labrunner.runner import run_step_checks

    cluster = fake_cluster([])
    caps.forget(cluster)
    caps.remember(cluster, Capability("networkpolicy", True, "enforced", seen_at=time.time() - 60))
    probed = []
    monkeypatch.setattr(probes, "probe_for", lambda name: lambda c: probed.append(name))
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(), path=Path("."))
    failing = Step(id="s", title="S", text="", text_path=None, requires=("networkpolicy",),
                   checks=(CheckSpec(id="db", kind="exists", params={"object": "Pod/db"}),))
    assert [r.status for r in run_step_checks(cluster, lab, failing).results] == [Status.FAIL] and not probed
