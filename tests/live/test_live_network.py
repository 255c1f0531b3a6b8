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
    assert result.status.value == "fail" and "refused" in result.message


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


def _eventually(run, attempts: int = 15):
    """The CNI programs a new policy a moment after it exists; there is no event for that."""
    import time

    for _ in range(attempts):
        result = run()
        if result.ok:
            return result
        time.sleep(1)
    return result
