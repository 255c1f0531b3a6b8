"""connectivity (allow, deny, the canary) and dns: each can fail and can pass."""

import pytest

from labrunner.checks.canary import check_policy_enforced

from live_manifests import service, web_deployment

pytestmark = pytest.mark.live

DENY_WEB = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
"""
ALLOW_FRONTEND = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-frontend}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {role: frontend}}}]
"""


def test_the_canary_proves_enforcement(cluster):
    result = check_policy_enforced(cluster, fresh=True)
    assert result.enforced is True, result.message
    print(result.message)


def test_connectivity_allow_and_deny(ns):
    ns.apply(web_deployment())
    ns.apply(service())
    ns.wait_ready("Deployment", "web")
    frontend = {"probe": {"role": "frontend"}}
    other = {"probe": {"role": "other"}}
    probes = [
        {"from": frontend, "to": {"service": "web"}, "port": 80, "expect": "allow"},
        {"from": other, "to": {"service": "web"}, "port": 80, "expect": "deny"},
    ]
    before = ns.check("connectivity", probes=probes)
    assert before.status.value == "fail", before.message
    assert "probe role=other -> service web:80 should be blocked" in before.message
    ns.apply(DENY_WEB)
    ns.apply(ALLOW_FRONTEND)
    after = _eventually(lambda: ns.check("connectivity", probes=probes))
    assert after.ok, (after.message, after.details)


def test_nothing_listening_is_not_taken_for_a_block(ns):
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    result = ns.check("connectivity", probes=[
        {"from": {"probe": {"role": "x"}}, "to": {"selector": "app=web"}, "port": 9999, "expect": "allow"}])
    assert result.status.value == "fail" and "nothing listening (the node itself is refused)" in result.message


def test_allowed_blocked_and_nothing_listening_are_three_verdicts(ns):
    """On this testbed blocked traffic is refused, exactly like a closed port; the node tells them apart."""
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    ns.apply(ALLOW_FRONTEND)
    frontend, other, web = {"probe": {"role": "frontend"}}, {"probe": {"role": "other"}}, {"selector": "app=web"}
    allowed = {"from": frontend, "to": web, "port": 8080, "expect": "allow"}
    blocked = {"from": other, "to": web, "port": 8080, "expect": "deny"}
    result = _eventually(lambda: ns.check("connectivity", probes=[allowed, blocked]))
    assert result.ok, (result.message, result.details)
    assert "expected allow, it connected" in result.details[0]
    assert "blocked (" in result.details[1] and "yet the node itself connects" in result.details[1]
    # A port nobody serves, from a source the policy lets in and from one it blocks: the
    # blocked one is refused just like a block, yet neither is taken for one.
    for source in (frontend, other):
        closed = ns.check("connectivity", probes=[{"from": source, "to": web, "port": 9999, "expect": "deny"}])
        assert closed.status.value == "fail", (closed.message, closed.details)
        assert closed.message.endswith(":9999: nothing listening (the node itself is refused), so this says nothing about the policy")
    still_allowed = ns.check("connectivity", probes=[{"from": other, "to": web, "port": 8080, "expect": "allow"}])
    assert still_allowed.status.value == "fail"
    assert "should be allowed: blocked" in still_allowed.message, still_allowed.message


def test_deny_fails_when_the_server_stops_listening(ns):
    """The learner's policy is right, then the Service is broken: the deny must no longer pass."""
    ns.apply(web_deployment())
    ns.apply(service(selector={"app": "web"}))
    ns.wait_ready("Deployment", "web")
    ns.apply(ALLOW_FRONTEND)
    probes = [{"from": {"probe": {"role": "other"}}, "to": {"service": "web"}, "port": 80, "expect": "deny"}]
    working = _eventually(lambda: ns.check("connectivity", probes=probes))
    assert working.ok, (working.message, working.details)
    ns.apply(service(selector={"app": "web"}, target=9090))  # the pods still run and are Ready, on 8080
    broken = _eventually(lambda: ns.check("connectivity", probes=probes), until=lambda r: not r.ok)
    assert broken.status.value == "fail", (broken.message, broken.details)
    assert "nothing listening (the node itself is refused)" in broken.message
    ns.apply(web_deployment(replicas=0))
    gone = _eventually(lambda: ns.check("connectivity", probes=probes), until=lambda r: "endpoints" in r.message)
    assert gone.status.value == "fail" and "Service web has no ready endpoints" in gone.message, gone.message


def test_missing_source_pod_is_a_fail(ns):
    result = ns.check("connectivity", probes=[
        {"from": {"pod": "ghost"}, "to": {"host": "10.96.0.10"}, "port": 53, "expect": "allow"}])
    assert result.status.value == "fail" and "no pod ghost" in result.message


def test_dns(ns):
    client = {"probe": {"role": "dns"}}
    # CoreDNS caches a "no such name" for its TTL, so the failing case asks for
    # a name that never comes to exist.
    missing = ns.check("dns", **{"from": client, "name": f"nothing.{ns.name}.svc.cluster.local", "serviceIP": "web"})
    assert missing.status.value == "fail"
    assert ns.check("dns", **{"from": client, "name": f"nothing.{ns.name}.svc.cluster.local", "resolves": False}).ok
    ns.apply(service())
    name = f"web.{ns.name}.svc.cluster.local"
    assert ns.check("dns", **{"from": client, "name": name, "serviceIP": "web"}).ok
    assert ns.check("dns", **{"from": client, "name": "web", "serviceIP": "web"}).ok  # the search path
    assert ns.check("dns", **{"from": client, "name": name, "resolves": False}).status.value == "fail"
    assert ns.check("dns", **{"from": client, "name": name, "addresses": ["10.0.0.1"]}).status.value == "fail"


def test_dns_headless_gives_the_pod_addresses(ns):
    ns.apply(web_deployment(replicas=2))
    ns.apply(service(name="pods", selector={"app": "web"}, clusterIP="None"))
    ns.wait_ready("Deployment", "web")
    client = {"probe": {"role": "dns"}}
    result = _eventually(lambda: ns.check("dns", **{"from": client, "name": f"pods.{ns.name}.svc.cluster.local", "podIPs": "app=web"}))
    assert result.ok, (result.message, result.details)
    assert ns.check("dns", **{"from": client, "name": f"pods.{ns.name}.svc.cluster.local", "podIPs": "app=none"}).status.value == "fail"


def test_dns_cname_of_an_external_name(ns):
    client = {"probe": {"role": "dns"}}
    ns.apply("apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {type: ExternalName, externalName: db.example.com}\n")
    name = f"db.{ns.name}.svc.cluster.local"
    result = ns.check("dns", **{"from": client, "name": name, "cname": "db.example.com"})
    assert result.ok, (result.message, result.details)
    wrong = ns.check("dns", **{"from": client, "name": name, "cname": "other.example.com"})
    assert wrong.status.value == "fail" and "db.example.com" in wrong.message


def _eventually(run, attempts: int = 15, until=lambda result: result.ok):  # noqa: ANN001
    """The CNI programs a new policy (kube-proxy a new Service port) a moment after it exists; there is no event for that."""
    import time

    for _ in range(attempts):
        result = run()
        if until(result):
            return result
        time.sleep(1)
    return result
