"""service and http (from this machine to a NodePort or a load-balancer address, over HTTP and HTTPS): each can fail and can pass."""

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


def _wait_for_lb_address(ns, name: str) -> str:
    from labrunner.cluster import wait_until

    def assigned(services: list[dict]) -> bool:
        return bool(services and ((services[0].get("status") or {}).get("loadBalancer") or {}).get("ingress"))

    svc = wait_until(ns.cluster, "Service", namespace=ns.name, name=name, predicate=assigned,
                     describe=f"a load-balancer address for {name}", timeout=60)[0]
    return svc["status"]["loadBalancer"]["ingress"][0]["ip"]


def test_service_load_balancer(ns):
    ns.apply(service(selector={"app": "web"}))
    unassigned = ns.check("service", name="web", loadBalancer=True)
    assert unassigned.status.value == "fail" and "no load-balancer address is assigned yet" in unassigned.message
    wrong_type = ns.check("service", name="web", type="LoadBalancer")
    assert wrong_type.status.value == "fail" and "type is ClusterIP, should be LoadBalancer" in wrong_type.message
    ns.apply(service(selector={"app": "web"}, type="LoadBalancer"))
    address = _wait_for_lb_address(ns, "web")
    result = ns.check("service", name="web", type="LoadBalancer", loadBalancer=True, nodePort=True)
    assert result.ok, result.message
    assert f"load balancer address {address}" in result.message


def test_http_to_a_load_balancer_address_from_this_machine(ns):
    ns.apply(service(selector={"app": "web"}, type="LoadBalancer"))
    address = _wait_for_lb_address(ns, "web")
    assert ns.check("http", to={"loadBalancer": "missing"}).status.value == "fail"
    # An address, but no pod behind it yet: kube-proxy rejects the connection.
    nobody = ns.check("http", to={"loadBalancer": "web"}, path="/hostname")
    assert nobody.status.value == "fail" and address in nobody.message, nobody.message
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    passed = _eventually(lambda: ns.check("http", to={"loadBalancer": "web"}, path="/hostname", bodyContains="web-"))
    assert passed.ok, passed.message
    assert passed.message.startswith(f"http://{address}:80/hostname answered 200")
    wrong_body = ns.check("http", to={"loadBalancer": "web"}, path="/hostname", bodyContains="no-such-pod")
    assert wrong_body.status.value == "fail" and "does not contain" in wrong_body.message
    no_port = ns.check("http", to={"loadBalancer": "web"}, port=8081)
    assert no_port.status.value == "fail" and "has no port 8081" in no_port.message


def _self_signed(directory, name: str) -> tuple[str, str]:
    """(certificate PEM, key PEM) for CN=name, made with openssl."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert.read_text(), key.read_text()


def _tls_secret(name: str, cert: str, key: str) -> str:
    import base64

    import yaml

    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": name},
                           "data": {"tls.crt": b64(cert), "tls.key": b64(key)}})


def _tls_web(secret: str) -> str:
    """agnhost netexec serving HTTPS itself on 8443, with the Secret's certificate."""
    import yaml

    from live_manifests import AGNHOST

    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tls-web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "tls-web"}},
                 "template": {"metadata": {"labels": {"app": "tls-web"}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "volumes": [{"name": "tls", "secret": {"secretName": secret}}],
                     "containers": [{"name": "web", "image": AGNHOST, "imagePullPolicy": "IfNotPresent",
                                     "args": ["netexec", "--http-port=8443", "--tls-cert-file=/tls/tls.crt",
                                              "--tls-private-key-file=/tls/tls.key"],
                                     "volumeMounts": [{"name": "tls", "mountPath": "/tls", "readOnly": True}],
                                     "readinessProbe": {"tcpSocket": {"port": 8443}, "periodSeconds": 1}}]}}},
    })


def test_https_presents_the_secrets_certificate(ns, tmp_path):
    """No ingress controller here: the pod serves TLS itself, behind a LoadBalancer (which has a node port too)."""
    ns.apply(_tls_secret("web-tls", *_self_signed(tmp_path, "web.test")))
    ns.apply(_tls_secret("other-tls", *_self_signed(tmp_path, "other.test")))
    ns.apply(_tls_web("web-tls"))
    ns.apply(service(name="tls-web", port=443, target=8443, type="LoadBalancer"))
    address = _wait_for_lb_address(ns, "tls-web")
    ns.wait_ready("Deployment", "tls-web")
    node_port = ns.cluster.get("Service", "tls-web", namespace=ns.name)["spec"]["ports"][0]["nodePort"]
    for to, where in (({"loadBalancer": "tls-web"}, f"https://{address}:443/hostname"), ({"nodePort": "tls-web"}, f":{node_port}/hostname")):
        passed = _eventually(lambda: ns.check("http", to=to, scheme="https", path="/hostname", bodyContains="tls-web-",
                                              tlsSecret="web-tls"))
        assert passed.ok, (to, passed.message)
        assert where in passed.message, passed.message
        other = ns.check("http", to=to, scheme="https", path="/hostname", tlsSecret="other-tls")
        assert other.status.value == "fail", (to, other.message)
        assert "presents a certificate other than the one in Secret other-tls" in other.message
        missing = ns.check("http", to=to, scheme="https", tlsSecret="no-such-secret")
        assert missing.status.value == "fail" and "Secret no-such-secret does not exist" in missing.message
        plain = ns.check("http", to=to, path="/hostname")  # plain HTTP to a TLS server
        assert plain.status.value == "fail" and "answered 400" in plain.message, (to, plain.message)
