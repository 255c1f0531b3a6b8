"""service and http (from this machine to a NodePort): each can fail and can pass."""

import pytest

from live_manifests import service, web_deployment

pytestmark = pytest.mark.live


def test_service_exposure(ns):
    assert ns.check("service", name="web").status.value == "fail"
    ns.apply(service(selector={"app": "web"}))
    result = ns.check("service", name="web", type="ClusterIP", clusterIP="present", endpoints=1)
    assert result.status.value == "fail" and "0 ready endpoints" in result.message
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    from labrunner.cluster import wait_until

    wait_until(ns.cluster, "EndpointSlice", namespace=ns.name, selector="kubernetes.io/service-name=web",
               predicate=lambda s: any(e.get("conditions", {}).get("ready") for x in s for e in x.get("endpoints") or []),
               describe="an endpoint", timeout=60)
    assert ns.check("service", name="web", type="ClusterIP", clusterIP="present", endpoints=1).ok
    assert ns.check("service", name="web", nodePort=True).status.value == "fail"
    ns.apply(service(name="headless", selector={"app": "web"}, clusterIP="None"))
    assert ns.check("service", name="headless", clusterIP="None").ok


def test_http_to_a_node_port_from_this_machine(ns):
    ns.apply(web_deployment())
    ns.apply(service(name="web-np", selector={"app": "web"}, type="NodePort"))
    ns.wait_ready("Deployment", "web")
    assert ns.check("http", to={"nodePort": "missing"}).status.value == "fail"
    passed = _eventually(lambda: ns.check("http", to={"nodePort": "web-np"}, path="/hostname", bodyContains="web-"))
    assert passed.ok, passed.message
    wrong_body = ns.check("http", to={"nodePort": "web-np"}, path="/hostname", bodyContains="no-such-pod")
    assert wrong_body.status.value == "fail" and "does not contain" in wrong_body.message
    wrong_status = ns.check("http", to={"nodePort": "web-np"}, path="/hostname", status=201)
    assert wrong_status.status.value == "fail" and "answered 200, expected 201" in wrong_status.message


def _eventually(run, attempts: int = 10):
    """kube-proxy programs a new node port a moment after the Service exists; nothing to watch for that."""
    import time

    for _ in range(attempts):
        result = run()
        if result.ok:
            return result
        time.sleep(1)
    return result
