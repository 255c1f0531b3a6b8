"""connectivity (allow, deny, the canary) and dns: each can fail and can pass."""

import pytest

from labrunner.checks.canary import check_policy_enforced

from live_manifests import AGNHOST as AGNHOST_IMAGE, DENY_WEB, service, web_deployment

pytestmark = pytest.mark.live

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
    # kube-proxy programs the new Service a moment after it exists: await it, as watch mode does.
    before = _eventually(lambda: ns.check("connectivity", probes=probes), until=lambda r: "nothing listening" not in r.message)
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


# -- a deny shows the side it is about; outside sources; sweeps; every matching pod ---------

ISOLATE_OTHER_EGRESS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: other-sends-nothing}
spec:
  podSelector: {matchLabels: {role: other}}
  policyTypes: [Egress]
"""
ONLY_MY_NAMESPACE = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-my-namespace}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {}}]
"""
CLIENT_TO_WEB_ONLY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-to-web-only}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 8080}]
"""
CLIENT_TO_WEB_AND_ANY_9090 = CLIENT_TO_WEB_ONLY.replace("client-to-web-only", "client-also-9090") + """
    - to: [{namespaceSelector: {}}]
      ports: [{port: 9090}]
"""


def _decoy(name: str = "a-web-decoy", labels: dict | None = None, ports: tuple[int, ...] = (8080,)) -> str:
    import yaml

    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "web", "decoy": "yes"}},
                           "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                               "name": "web", "image": AGNHOST_IMAGE, "imagePullPolicy": "IfNotPresent",
                               "args": ["netexec", f"--http-port={ports[0]}"],
                               "ports": [{"containerPort": port} for port in ports],
                               "readinessProbe": {"tcpSocket": {"port": ports[0]}, "periodSeconds": 1}}]}})


def _delete_policy(ns, name: str) -> None:  # noqa: ANN001
    from labrunner.cluster.applying import delete_object
    from labrunner.model import ObjectRef

    assert delete_object(ns.cluster, ObjectRef("NetworkPolicy", name, "networking.k8s.io/v1"), namespace=ns.name)


def _isolate(name: str, labels: dict, types: str) -> str:
    import yaml

    return yaml.safe_dump({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
                           "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": [types]}})


def test_an_ingress_deny_is_not_satisfied_by_a_source_that_cannot_send(ns):
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    probes = [{"from": {"probe": {"role": "other"}}, "to": {"selector": "app=web"}, "port": 8080, "expect": "deny"}]
    ns.apply(ISOLATE_OTHER_EGRESS)  # the source may send nothing: web itself refuses nobody
    wrong = _eventually(lambda: ns.check("connectivity", probes=probes),
                        until=lambda r: "cannot send anywhere" in r.message)
    assert wrong.status.value == "fail", (wrong.message, wrong.details)
    assert "it cannot reach labrunner's open server outside the lab either" in wrong.message
    assert "so this does not show that pod web-" in wrong.message and wrong.message.endswith("refuses it")
    _delete_policy(ns, "other-sends-nothing")
    ns.apply(DENY_WEB)
    right = _eventually(lambda: ns.check("connectivity", probes=probes))
    assert right.ok, (right.message, right.details)
    assert "the source reaches labrunner's open server" in right.details[0]
    assert "held on a second probe" in right.details[0]


def test_an_egress_deny_is_not_satisfied_by_a_target_that_refuses_everyone(ns):
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    probes = [{"from": {"probe": {"role": "other"}}, "to": {"selector": "app=web"}, "port": 8080, "expect": "deny",
               "deniedBy": "egress"}]
    ns.apply(DENY_WEB)  # the target refuses everyone: the source's egress is untouched
    wrong = _eventually(lambda: ns.check("connectivity", probes=probes), until=lambda r: "accepts no one" in r.message)
    assert wrong.status.value == "fail", (wrong.message, wrong.details)
    assert "an unrestricted pod outside the lab cannot reach it either" in wrong.message
    assert wrong.message.endswith("so this does not show that probe role=other may not send to it")
    _delete_policy(ns, "deny-web")
    ns.apply(ISOLATE_OTHER_EGRESS)
    right = _eventually(lambda: ns.check("connectivity", probes=probes))
    assert right.ok, (right.message, right.details)
    assert "an unrestricted pod reaches it" in right.details[0]


def test_outside_sources_probe_from_another_namespace(ns):
    ns.apply(web_deployment())
    ns.apply(service())
    ns.wait_ready("Deployment", "web")
    customer = {"outside": {"role": "customer"}}
    inside = {"probe": {"role": "customer"}}
    anyone = [{"from": customer, "to": {"service": "web"}, "port": 80, "expect": "allow"},
              {"from": inside, "to": {"service": "web"}, "port": 80, "expect": "allow"}]
    assert _eventually(lambda: ns.check("connectivity", probes=anyone)).ok  # kube-proxy programs the new Service
    ns.apply(ONLY_MY_NAMESPACE)  # "anyone" written as every pod of this namespace only
    wrong = _eventually(lambda: ns.check("connectivity", probes=anyone), until=lambda r: not r.ok)
    assert wrong.status.value == "fail", (wrong.message, wrong.details)
    assert wrong.message.startswith("outside role=customer -> service web:80 should be allowed: blocked")
    # The same policy, read as a deny for other namespaces: an outside deny passes, with its control.
    denied = _eventually(lambda: ns.check("connectivity", probes=[
        {"from": customer, "to": {"selector": "app=web"}, "port": 8080, "expect": "deny"}]))
    assert denied.ok, (denied.message, denied.details)
    _delete_policy(ns, "web-from-my-namespace")
    back = _eventually(lambda: ns.check("connectivity", probes=anyone))
    assert back.ok, (back.message, back.details)


def test_a_sweep_finds_a_leak_anywhere_else(ns):
    ns.apply(web_deployment())
    ns.apply(_decoy("metrics", labels={"app": "metrics"}, ports=(9100,)))  # another lab pod, on a port it declares
    ns.wait_ready("Deployment", "web")
    ns.wait_ready("Pod", "metrics", condition="Ready")
    client = {"probe": {"role": "client"}}
    probes = [{"from": client, "to": {"selector": "app=web"}, "port": 8080, "expect": "allow"},
              {"from": client, "to": {"sweep": {"except": "app=web"}}, "expect": "deny"}]
    open_everywhere = ns.check("connectivity", probes=probes)
    assert open_everywhere.status.value == "fail", (open_everywhere.message, open_everywhere.details)
    assert "probe role=client -> labrunner's open server outside the lab:80 should be blocked: it connected" in open_everywhere.message
    assert any(line.startswith("[fail] probe role=client -> pod metrics:9100") for line in open_everywhere.details)
    ns.apply(CLIENT_TO_WEB_AND_ANY_9090)  # "only web", plus port 9090 anywhere: one leak on one port
    leak = _eventually(lambda: ns.check("connectivity", probes=probes),
                       until=lambda r: not r.ok and ":80 should" not in r.message)
    assert leak.status.value == "fail", (leak.message, leak.details)
    assert leak.message == "probe role=client -> labrunner's open server outside the lab:9090 should be blocked: it connected"
    _delete_policy(ns, "client-also-9090")
    ns.apply(CLIENT_TO_WEB_ONLY)
    right = _eventually(lambda: ns.check("connectivity", probes=probes))
    assert right.ok, (right.message, right.details)
    assert any(line.startswith("[ok] probe role=client -> pod metrics:9100") for line in right.details)


def test_a_selector_means_every_matching_pod(ns):
    ns.apply(web_deployment())
    ns.apply(_decoy())
    ns.wait_ready("Deployment", "web")
    ns.wait_ready("Pod", "a-web-decoy", condition="Ready")
    other = {"probe": {"role": "other"}}
    deny = [{"from": other, "to": {"selector": "app=web"}, "port": 8080, "expect": "deny"}]
    ns.apply(_isolate("deny-decoy", {"decoy": "yes"}, "Ingress"))  # only the decoy is closed
    half = _eventually(lambda: ns.check("connectivity", probes=deny), until=lambda r: "a-web-decoy" in " ".join(r.details)
                       and r.details[0].startswith("[ok]"))
    assert half.status.value == "fail", (half.message, half.details)
    assert half.message.startswith("probe role=other -> pod web-") and half.message.endswith("should be blocked: it connected")
    ns.apply(DENY_WEB)
    every = _eventually(lambda: ns.check("connectivity", probes=deny))
    assert every.ok and len(every.details) == 2, (every.message, every.details)
    # From every matching pod too: the decoy may not send, so "every web pod reaches metrics" fails, naming it.
    ns.apply(_decoy("metrics", labels={"app": "metrics"}, ports=(9100,)))
    ns.wait_ready("Pod", "metrics", condition="Ready")
    send = [{"from": {"selector": "app=web"}, "to": {"selector": "app=metrics"}, "port": 9100, "expect": "allow"}]
    assert ns.check("connectivity", probes=send).ok
    ns.apply(_isolate("decoy-sends-nothing", {"decoy": "yes"}, "Egress"))
    decoy = _eventually(lambda: ns.check("connectivity", probes=send), until=lambda r: not r.ok)
    assert decoy.status.value == "fail", (decoy.message, decoy.details)
    assert decoy.message.startswith("pod a-web-decoy -> pod metrics:9100 should be allowed: blocked"), decoy.message


def test_dns_from_every_matching_pod(ns):
    ns.apply(web_deployment())
    ns.apply(service())
    ns.apply(_decoy())
    ns.wait_ready("Deployment", "web")
    ns.wait_ready("Pod", "a-web-decoy", condition="Ready")
    query = {"from": {"selector": "app=web"}, "name": f"WEB.{ns.name}.svc.cluster.local.", "serviceIP": "web"}
    both = ns.check("dns", **query)
    assert both.ok and "from each of the 2 pods" in both.message, (both.message, both.details)
    ns.apply(_isolate("decoy-sends-nothing", {"decoy": "yes"}, "Egress"))  # the decoy can no longer ask DNS
    one = _eventually(lambda: ns.check("dns", **query), until=lambda r: not r.ok)
    assert one.status.value == "fail", (one.message, one.details)
    assert one.message.startswith("pod a-web-decoy: ") and "does not resolve" in one.message


def _eventually(run, attempts: int = 15, until=lambda result: result.ok):  # noqa: ANN001
    """The CNI programs a new policy (kube-proxy a new Service port) a moment after it exists; there is no event for that."""
    import time

    for _ in range(attempts):
        result = run()
        if until(result):
            return result
        time.sleep(1)
    return result
