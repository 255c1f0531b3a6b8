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
    return _until(run, lambda result: result.ok, timeout=attempts)


def _until(run, wanted, timeout: float = 20.0):
    """Run a check until `wanted(result)` or `timeout` seconds pass; the last result.

    For truths that lag the API (kube-proxy rules, EndpointSlices, load-balancer
    addresses): the test awaits the settled verdict instead of racing it.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = run()
        if wanted(result) or time.monotonic() > deadline:
            return result
        time.sleep(1)


def _fails_with(text: str):
    return lambda result: result.status.value == "fail" and text in " ".join((result.message, *result.details))


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
        pytest.fail("openssl is needed to make a test certificate (Debian package openssl)", pytrace=False)
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
        plain = ns.check("http", to=to, port=443, path="/hostname")  # plain HTTP to a TLS server
        assert plain.status.value == "fail" and "answered 400" in plain.message, (to, plain.message)


# -- issue 8: the port asked, the backend asked, a Service that selects its pods ---------------

def test_http_asks_a_load_balancer_on_the_port_the_step_names(ns):
    """A LoadBalancer on 8080 (not 80) must not pass a check of port 80 by being its first port."""
    ns.apply(web_deployment())
    ns.apply(service(port=8080, type="LoadBalancer"))
    address = _wait_for_lb_address(ns, "web")
    ns.wait_ready("Deployment", "web")
    wrong_port = ns.check("http", to={"loadBalancer": "web"}, path="/hostname")
    assert wrong_port.status.value == "fail", wrong_port.message
    assert "Service web has no port 80 (its ports: 8080)" in wrong_port.message
    asked = _eventually(lambda: ns.check("http", to={"loadBalancer": "web"}, port=8080, path="/hostname", backend="app=web"))
    assert asked.ok, asked.message
    assert asked.message.startswith(f"http://{address}:8080/hostname answered 200")
    ns.apply(service(port=80, type="LoadBalancer"))
    right = _eventually(lambda: ns.check("http", to={"loadBalancer": "web"}, path="/hostname", backend="app=web"))
    assert right.ok and f"{address}:80/" in right.message, right.message


def test_http_node_port_leads_to_the_asked_backend(ns):
    """The node port answers, but from another pod: `backend` must tell."""
    import yaml

    from live_manifests import AGNHOST

    ns.apply(web_deployment())
    ns.apply(web_deployment(name="web-lookalike", labels={"app": "lookalike"}))
    # Answers like a web pod would, with a hostname that is no pod's name.
    ns.apply(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "odd", "labels": {"app": "odd"}},
                             "spec": {"hostname": "web-impostor", "terminationGracePeriodSeconds": 0,
                                      "containers": [{"name": "web", "image": AGNHOST, "imagePullPolicy": "IfNotPresent",
                                                      "args": ["netexec", "--http-port=8080"],
                                                      "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}))
    ns.apply(service(name="np", selector={"app": "lookalike"}, type="NodePort"))
    for name in ("web", "web-lookalike"):
        ns.wait_ready("Deployment", name)
    ns.wait_ready("Pod", "odd", condition="Ready")
    node_port = ns.cluster.get("Service", "np", namespace=ns.name)["spec"]["ports"][0]["nodePort"]
    # Without `backend`, "an answer that starts with web-" passes: the old, weak check.
    weak = _eventually(lambda: ns.check("http", to={"nodePort": "np"}, path="/hostname", bodyContains="web-"))
    assert weak.ok, weak.message
    other = _until(lambda: ns.check("http", to={"nodePort": "np"}, nodePort=node_port, path="/hostname", backend="app=web"),
                   _fails_with("Service np also sends to web-lookalike-"))
    assert other.status.value == "fail" and "which is not one of the pods app=web" in other.message, other.message
    wrong_port = ns.check("http", to={"nodePort": "np"}, nodePort=node_port + 1 if node_port < 32767 else node_port - 1)
    assert wrong_port.status.value == "fail" and f"Service np has node port {node_port}, not" in wrong_port.message
    # Every endpoint is a pod of the backend, but the answer names no pod of it.
    ns.apply(service(name="np", selector={"app": "odd"}, type="NodePort"))
    impostor = _until(lambda: ns.check("http", to={"nodePort": "np"}, path="/hostname", backend="app=odd"),
                      _fails_with("was answered by 'web-impostor'"))
    assert impostor.status.value == "fail" and "not by one of the pods app=odd (odd)" in impostor.message, impostor.message
    ns.apply(service(name="np", selector={"app": "web"}, type="NodePort"))
    right = _until(lambda: ns.check("http", to={"nodePort": "np"}, nodePort=node_port, path="/hostname", backend="app=web"),
                   lambda result: result.ok)
    assert right.ok, right.message
    assert f":{node_port}/hostname answered 200" in right.message and "each from a pod app=web" in right.message


def _hand_written_slice(name: str, service_name: str, addresses: list[str], port: int = 8080, port_name: str = "") -> str:
    import yaml

    return yaml.safe_dump({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                           "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service_name}},
                           "addressType": "IPv4", "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
                           "endpoints": [{"addresses": [a]} for a in addresses]})


def test_service_selects_its_pods_not_a_hand_written_slice(ns):
    import yaml

    ns.apply(web_deployment(replicas=2))
    ns.wait_ready("Deployment", "web")
    ips = sorted(p["status"]["podIP"] for p in ns.cluster.list("Pod", namespace=ns.name, selector="app=web"))
    ns.apply(yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
                             "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}))
    ns.apply(_hand_written_slice("api-by-hand", "api", ips))
    # The count and even the traffic are right today; only `selects` tells.
    assert ns.check("service", name="api", endpoints=2).ok
    by_hand = ns.check("service", name="api", selects="app=web", endpoints=2)
    assert by_hand.status.value == "fail" and "it has no selector" in by_hand.message, by_hand.message
    ns.apply(service(name="api", selector={"app": "web"}))
    # The controller now keeps a slice of its own; the hand-written one still sends traffic.
    extra = _until(lambda: ns.check("service", name="api", selects="app=web", endpoints=2),
                   _fails_with("EndpointSlice api-by-hand (written by hand) is not the EndpointSlice controller's"))
    assert extra.status.value == "fail", extra.message
    from labrunner.cluster import delete_object
    from labrunner.model import ObjectRef

    delete_object(ns.cluster, ObjectRef("EndpointSlice", "api-by-hand", "discovery.k8s.io/v1"), namespace=ns.name)
    right = _until(lambda: ns.check("service", name="api", selects="app=web", endpoints=2), lambda result: result.ok)
    assert right.ok and "the EndpointSlice controller keeps its endpoints" in right.message, right.message
    too_narrow = ns.check("service", name="api", selects="app=nothing")
    assert too_narrow.status.value == "fail" and "no pod matches app=nothing" in too_narrow.message


def test_endpoints_count_by_meaning(ns):
    """A pod being deleted is no endpoint, though still `serving`; a slice without the port's name is not used."""
    import yaml

    from labrunner.cluster import wait_until

    deployment = yaml.safe_load(web_deployment(replicas=2))
    spec = deployment["spec"]["template"]["spec"]
    spec["terminationGracePeriodSeconds"] = 30
    spec["containers"][0]["lifecycle"] = {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 25"]}}}
    ns.apply(yaml.safe_dump(deployment))
    ns.apply(service(selector={"app": "web"}))
    ns.wait_ready("Deployment", "web")
    assert _until(lambda: ns.check("service", name="web", endpoints=2), lambda r: r.ok).ok
    ns.apply(yaml.safe_dump({**deployment, "spec": {**deployment["spec"], "replicas": 1}}))

    def one_terminating(slices: list[dict]) -> bool:
        return any((e.get("conditions") or {}).get("terminating") for s in slices for e in s.get("endpoints") or [])

    wait_until(ns.cluster, "EndpointSlice", namespace=ns.name, selector="kubernetes.io/service-name=web",
               predicate=one_terminating, describe="a terminating endpoint", timeout=30)
    leaving = ns.check("service", name="web", endpoints=2)
    assert leaving.status.value == "fail" and "1 ready endpoints, should be 2" in leaving.message, leaving.message
    assert ns.check("service", name="web", endpoints=1).ok
    # A Service port named http, and a hand-written slice whose port has no name: kube-proxy skips it.
    vm = ns.cluster.list("Pod", namespace=ns.name, selector="app=web")[0]["status"]["podIP"]
    ns.apply(yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "inv"},
                             "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
    ns.apply(_hand_written_slice("inv-1", "inv", [vm]))
    unnamed = ns.check("service", name="inv", port=80, endpoints=1)
    assert unnamed.status.value == "fail" and "EndpointSlice inv-1 has no port named http" in unnamed.message, unnamed.message
    ns.apply(_hand_written_slice("inv-1", "inv", [vm], port_name="http"))
    assert ns.check("service", name="inv", port=80, endpoints=1).ok


def _pause_pod(name: str, *, env: list | None = None, env_from: list | None = None, links: bool = True) -> str:
    import yaml

    from live_manifests import AGNHOST

    container = {"name": "app", "image": AGNHOST, "imagePullPolicy": "IfNotPresent", "args": ["pause"]}
    if env:
        container["env"] = env
    if env_from:
        container["envFrom"] = env_from
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"role": name}},
                           "spec": {"terminationGracePeriodSeconds": 0, "enableServiceLinks": links,
                                    "containers": [container]}})


def test_env_service_link_comes_from_the_kubelet_and_points_at_the_service(ns):
    import yaml

    from labrunner.cluster import delete_object
    from labrunner.model import ObjectRef

    ns.apply(_pause_pod("early"))  # started before the Service: no variables
    ns.wait_ready("Pod", "early", condition="Ready")
    ns.apply(service(name="api", selector={"app": "api"}))
    ip = ns.cluster.get("Service", "api", namespace=ns.name)["spec"]["clusterIP"]
    ns.apply(_pause_pod("linked"))
    ns.apply(_pause_pod("by-hand", links=False, env=[{"name": "API_SERVICE_HOST", "value": ip}]))
    ns.apply(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "links"},
                             "data": {"SERVICE_PORT": "80"}}))
    ns.apply(_pause_pod("from-map", env_from=[{"configMapRef": {"name": "links"}, "prefix": "API_"}]))
    for name in ("linked", "by-hand", "from-map"):
        ns.wait_ready("Pod", name, condition="Ready")
    linked = ns.check("env", pod="linked", name="API_SERVICE_HOST", serviceLink="api")
    assert linked.ok and ip in linked.message, linked.message
    assert ns.check("env", pod="linked", name="API_SERVICE_PORT", serviceLink="api").ok
    early = ns.check("env", pod="early", name="API_SERVICE_HOST", serviceLink="api")
    assert early.status.value == "fail" and "has no environment variable API_SERVICE_HOST" in early.message
    # Set by hand to the very same value: `equals` alone would pass it.
    assert ns.check("env", pod="by-hand", name="API_SERVICE_HOST", equals=ip).ok
    by_hand = ns.check("env", pod="by-hand", name="API_SERVICE_HOST", serviceLink="api")
    assert by_hand.status.value == "fail" and "is set by hand (env of container app)" in by_hand.message, by_hand.message
    from_map = ns.check("env", pod="from-map", name="API_SERVICE_PORT", serviceLink="api")
    assert from_map.status.value == "fail" and "set by hand (envFrom ConfigMap links" in from_map.message, from_map.message
    # The Service made anew (here on port 81): the pod's variables still describe the old one.
    delete_object(ns.cluster, ObjectRef("Service", "api", "v1"), namespace=ns.name)
    from labrunner.cluster import wait_until

    wait_until(ns.cluster, "Service", namespace=ns.name, name="api", predicate=lambda found: not found,
               describe="Service api gone", timeout=30)
    ns.apply(service(name="api", port=81, selector={"app": "api"}))
    stale = ns.check("env", pod="linked", name="API_SERVICE_PORT", serviceLink="api")
    assert stale.status.value == "fail" and "is '80', but Service api gives '81'" in stale.message, stale.message
