"""Pure logic of the service, http and env checks: endpoints by meaning, ports asked, service links."""

from pathlib import Path

from labrunner.checks import CheckContext, CheckResult, Status, check_kinds, run_check
from labrunner.checks.endpoints import CONTROLLER, MANAGED_BY_LABEL, foreign_slices, read_endpoints
from labrunner.checks.kinds.http import Target, _resolve
from labrunner.checks.servicelinks import env_from_sources, env_prefix, service_link_variables, set_in_spec
from labrunner.model import CheckSpec, Difficulty, Lab, Step

NS = "lab-demo"


def _ctx(cluster) -> CheckContext:
    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
              requires=(), images=(), steps=(step,), path=Path("."))
    return CheckContext(cluster=cluster, namespace=NS, lab=lab, step=step, node_address="192.0.2.10")


def run(cluster, kind: str, **params) -> CheckResult:
    assert not check_kinds()[kind].problems(params), check_kinds()[kind].problems(params)
    return run_check(_ctx(cluster), CheckSpec(id="c", kind=kind, params=params))


def endpoint(address: str, pod: str | None = None, **conditions) -> dict:
    found = {"addresses": [address], "conditions": conditions}
    if pod:
        found["targetRef"] = {"kind": "Pod", "name": pod, "namespace": NS}
    return found


def slice_(name: str, service: str, endpoints: list[dict], *, ports=(("", 8080),), managed: str | None = CONTROLLER) -> dict:
    labels = {"kubernetes.io/service-name": service}
    if managed:
        labels[MANAGED_BY_LABEL] = managed
    return {"kind": "EndpointSlice", "metadata": {"name": name, "namespace": NS, "labels": labels},
            "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports], "endpoints": endpoints}


def pod(name: str, ip: str, ready: bool = True, deleting: bool = False, **labels) -> dict:
    meta = {"name": name, "namespace": NS, "labels": labels}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"kind": "Pod", "metadata": meta,
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def svc(name: str, **spec) -> dict:
    return {"kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": spec}


# -- endpoints by meaning ---------------------------------------------------------

def test_a_pod_counts_once_and_a_terminating_one_not_at_all():
    slices = [
        slice_("api-v4", "api", [endpoint("10.0.0.1", "api-1"), endpoint("10.0.0.2", "api-2", ready=False, serving=True, terminating=True)]),
        slice_("api-v6", "api", [endpoint("fd00::1", "api-1")]),
    ]
    found = {e.key: e for e in read_endpoints(slices)}
    assert set(found) == {"pod/api-1", "pod/api-2"}
    assert found["pod/api-1"].ready and found["pod/api-1"].addresses == ("10.0.0.1", "fd00::1")
    leaving = found["pod/api-2"]
    assert not leaving.ready and leaving.serving and leaving.terminating
    # Hand-written: ready unset means ready, but terminating still is not.
    by_hand = read_endpoints([slice_("x", "api", [endpoint("10.0.0.9"), endpoint("10.0.0.8", terminating=True)], managed=None)])
    assert [(e.key, e.ready) for e in by_hand] == [("10.0.0.8", False), ("10.0.0.9", True)]


def test_only_slices_carrying_the_service_port_name_count():
    slices = [slice_("named", "inv", [endpoint("10.0.0.5")], ports=(("http", 9000),)),
              slice_("unnamed", "inv", [endpoint("10.0.0.6")], ports=(("", 9000),))]
    assert [e.key for e in read_endpoints(slices, port_name="http")] == ["10.0.0.5"]
    assert [e.key for e in read_endpoints(slices, port_name="")] == ["10.0.0.6"]
    assert len(read_endpoints(slices)) == 2


def test_foreign_slices_name_who_wrote_them():
    slices = [slice_("a", "api", []), slice_("b", "api", [], managed=None),
              slice_("c", "api", [], managed="endpointslicemirroring-controller.k8s.io")]
    assert foreign_slices(slices) == ["b (written by hand)", "c (managed by endpointslicemirroring-controller.k8s.io)"]


def test_endpoint_count_leaves_out_terminating_pods_and_unused_slices(fake_cluster):
    cluster = fake_cluster([
        svc("api", clusterIP="10.96.0.9", selector={"app": "api"}, ports=[{"port": 80, "targetPort": 8080}]),
        slice_("api-x", "api", [endpoint("10.0.0.1", "api-1"), endpoint("10.0.0.2", "api-2", ready=False, terminating=True)]),
    ])
    result = run(cluster, "service", name="api", endpoints=2)
    assert result.status is Status.FAIL and "1 ready endpoints, should be 2" in result.message
    assert run(cluster, "service", name="api", endpoints=1).ok
    inventory = fake_cluster([svc("inventory", clusterIP="10.96.0.8", ports=[{"name": "http", "port": 80, "targetPort": 9000}]),
                              slice_("inventory-1", "inventory", [endpoint("10.0.0.7")], managed=None)])
    unnamed = run(inventory, "service", name="inventory", port=80, endpoints=1)
    assert unnamed.status is Status.FAIL
    assert "EndpointSlice inventory-1 has no port named http, so kube-proxy does not use it" in unnamed.message


# -- selects: a Service that selects its pods ------------------------------------------

def _shop(service: dict, *slices: dict, extra_pods: tuple = ()) -> list[dict]:
    return [service, pod("api-1", "10.0.0.1", app="api"), pod("api-2", "10.0.0.2", app="api"),
            pod("frontend-1", "10.0.0.3", app="frontend"), *extra_pods, *slices]


def test_selects_passes_for_a_selector_and_the_controllers_slices(fake_cluster):
    cluster = fake_cluster(_shop(svc("api", clusterIP="10.96.0.9", selector={"app": "api"}, ports=[{"port": 80}]),
                                 slice_("api-x", "api", [endpoint("10.0.0.1", "api-1"), endpoint("10.0.0.2", "api-2")])))
    result = run(cluster, "service", name="api", selects="app=api", endpoints=2)
    assert result.ok, result.message
    assert "EndpointSlice controller keeps its endpoints" in result.message


def test_selects_fails_for_a_selectorless_service_with_hand_written_slices(fake_cluster):
    cluster = fake_cluster(_shop(svc("api", clusterIP="10.96.0.9", ports=[{"port": 80}]),
                                 slice_("api-by-hand", "api", [endpoint("10.0.0.1"), endpoint("10.0.0.2")], managed=None)))
    assert run(cluster, "service", name="api", endpoints=2).ok  # the count alone cannot tell
    result = run(cluster, "service", name="api", selects="app=api", endpoints=2)
    assert result.status is Status.FAIL and "it has no selector" in result.message


def test_selects_fails_for_extra_pods_missed_pods_and_an_extra_slice(fake_cluster):
    too_wide = fake_cluster(_shop(svc("api", selector={"tier": "all"}, ports=[{"port": 80}]),
                                  extra_pods=(pod("decoy", "10.0.0.4", tier="all"),)))
    result = run(too_wide, "service", name="api", selects="app=api")
    assert "does not match pod api-1, api-2 (app=api)" in result.message
    assert "also matches pod decoy, which app=api does not" in result.message
    extra_slice = fake_cluster(_shop(svc("api", selector={"app": "api"}, ports=[{"port": 80}]),
                                     slice_("api-x", "api", [endpoint("10.0.0.1", "api-1")]),
                                     slice_("api-more", "api", [endpoint("10.0.0.3")], managed=None)))
    result = run(extra_slice, "service", name="api", selects="app=api")
    assert result.status is Status.FAIL and "EndpointSlice api-more (written by hand) is not the EndpointSlice controller's" in result.message


# -- http: the port the step asks for ------------------------------------------------

def test_a_load_balancer_is_asked_on_port_80_not_the_services_first_port(fake_cluster):
    lb = svc("shop", type="LoadBalancer", ports=[{"port": 8080, "nodePort": 31000}])
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.50"}]}}
    ctx = _ctx(fake_cluster([lb]))
    assert "Service shop has no port 80 (its ports: 8080)" in _resolve(ctx, {"to": {"loadBalancer": "shop"}})
    assert _resolve(ctx, {"to": {"loadBalancer": "shop"}, "port": 8080}) == [Target("http", "192.0.2.50", 8080)]
    assert "has no port 443" in _resolve(ctx, {"to": {"loadBalancer": "shop"}, "scheme": "https"})


def test_a_node_port_is_the_one_asked(fake_cluster):
    two = svc("shop", type="NodePort", ports=[{"port": 80, "nodePort": 31000}, {"port": 81, "nodePort": 30080}])
    ctx = _ctx(fake_cluster([two]))
    assert _resolve(ctx, {"to": {"nodePort": "shop"}, "nodePort": 30080}) == [Target("http", "192.0.2.10", 30080)]
    assert _resolve(ctx, {"to": {"nodePort": "shop"}, "port": 80}) == [Target("http", "192.0.2.10", 31000)]
    assert "has node port 31000, 30080, not 30081" in _resolve(ctx, {"to": {"nodePort": "shop"}, "nodePort": 30081})
    # Nothing asked: every node port is tried, not just the first.
    assert [t.port for t in _resolve(ctx, {"to": {"nodePort": "shop"}})] == [31000, 30080]


def test_http_param_problems():
    kind = check_kinds()["http"]
    assert kind.problems({"to": {"nodePort": "shop"}, "nodePort": 30080, "backend": "app=frontend"}) == []
    assert kind.problems({"to": {"loadBalancer": "shop"}, "nodePort": 30080})


def test_backend_rejects_a_service_that_also_sends_elsewhere(fake_cluster):
    shop = svc("shop", type="NodePort", selector={"tier": "web"}, ports=[{"port": 80, "nodePort": 30080}])
    cluster = fake_cluster([shop, pod("frontend-1", "10.0.0.3", app="frontend"), pod("decoy", "10.0.0.4", tier="web"),
                            slice_("shop-x", "shop", [endpoint("10.0.0.3", "frontend-1"), endpoint("10.0.0.4", "decoy")])])
    result = run(cluster, "http", to={"nodePort": "shop"}, nodePort=30080, path="/hostname", backend="app=frontend")
    assert result.status is Status.FAIL
    assert "Service shop also sends to decoy, which is not one of the pods app=frontend" in result.message


# -- env: service links from the kubelet -------------------------------------------------

def test_service_link_variables_follow_the_kubelet():
    service = svc("api-v2", clusterIP="10.96.0.9", ports=[{"port": 80}, {"name": "admin", "port": 9090, "protocol": "UDP"}])
    service["metadata"]["name"] = "api-v2"
    found = service_link_variables(service)
    assert env_prefix("api-v2") == "API_V2"
    assert found["API_V2_SERVICE_HOST"] == "10.96.0.9"
    assert found["API_V2_SERVICE_PORT"] == "80"
    assert found["API_V2_SERVICE_PORT_ADMIN"] == "9090"
    assert found["API_V2_PORT"] == "tcp://10.96.0.9:80"
    assert found["API_V2_PORT_9090_UDP"] == "udp://10.96.0.9:9090"
    assert found["API_V2_PORT_9090_UDP_PROTO"] == "udp"
    assert found["API_V2_PORT_80_TCP_ADDR"] == "10.96.0.9"
    assert service_link_variables(svc("h", clusterIP="None", ports=[{"port": 80}])) == {}


def test_set_in_spec_finds_env_and_env_from():
    container = {"name": "c", "env": [{"name": "API_SERVICE_HOST", "value": "10.96.0.9"}],
                 "envFrom": [{"configMapRef": {"name": "links"}, "prefix": "API_"}, {"secretRef": {"name": "s"}}]}
    assert env_from_sources(container) == [("ConfigMap", "links"), ("Secret", "s")]
    sources = {("ConfigMap", "links"): {"SERVICE_PORT": "80"}, ("Secret", "s"): None}
    assert set_in_spec(container, "API_SERVICE_HOST", sources) == "env"
    assert set_in_spec(container, "API_SERVICE_PORT", sources) == "envFrom ConfigMap links"
    assert set_in_spec(container, "API_PORT", sources) is None


def test_env_service_link_must_start_with_the_services_prefix():
    kind = check_kinds()["env"]
    assert kind.problems({"selector": "app=frontend", "name": "API_SERVICE_HOST", "serviceLink": "api"}) == []
    assert kind.problems({"selector": "app=frontend", "name": "DB_SERVICE_HOST", "serviceLink": "api"})


# -- http through labrunner's Ingress add-on ----------------------------------------------

def _ingress(host: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop", "namespace": NS},
            "spec": {"rules": [{"host": host}]}}


def test_http_target_shapes_for_gateways_and_redirects():
    kind = check_kinds()["http"]
    assert kind.problems({"to": {"gateway": "shop", "host": "a.example"}, "status": 301,
                          "location": "https://a.example/"}) == []
    assert any("host goes with gateway" in message for _, message in kind.problems({"to": {"ingress": "a.example", "host": "b.example"}}))
    assert kind.problems({"to": {"gateway": "shop", "ingress": "a.example"}})


def test_ingress_requests_go_where_the_capability_found_the_controller(fake_cluster, monkeypatch):
    from labrunner.capabilities import Capability

    found = Capability("ingress", True, "ready", data={"entry": {"http": ["127.0.0.1", 80], "https": ["127.0.0.1", 443]}})
    monkeypatch.setattr("labrunner.capabilities.capability", lambda cluster, name, fresh=False: found)
    cluster = fake_cluster([_ingress("a.example")])
    assert _resolve(_ctx(cluster), {"to": {"ingress": "a.example"}, "scheme": "https"}) == [
        Target("https", "127.0.0.1", 443, "a.example")]
    assert _resolve(_ctx(cluster), {"to": {"ingress": "b.example"}}) == f"no Ingress in {NS} has a rule for host b.example"


def test_an_addon_that_is_not_ready_is_an_error_with_its_fix_never_a_fail(fake_cluster, monkeypatch):
    import time

    from labrunner.capabilities import Capability

    missing = Capability("ingress", False, "add-on ingress: installed but not ready", "labrunner addons install ingress",
                         seen_at=time.time())
    monkeypatch.setattr("labrunner.capabilities.capability", lambda cluster, name, fresh=False: missing)
    result = run(fake_cluster([_ingress("a.example")]), "http", to={"ingress": "a.example"})
    assert result.status is Status.ERROR and "installed but not ready" in result.message
    assert "fix: labrunner addons install ingress" in result.details


# -- what the answer through a shared controller can and cannot prove -----------------------------

def _gateway(listeners: list[dict], attached: dict[str, int]) -> dict:
    return {"kind": "Gateway", "metadata": {"name": "shop", "namespace": NS}, "spec": {"listeners": listeners},
            "status": {"listeners": [{"name": n, "attachedRoutes": k} for n, k in attached.items()]}}


def test_a_gateway_answers_only_through_a_listener_for_the_host_with_a_route_attached():
    from labrunner.checks.kinds.http import gateway_listener_missing

    https = {"name": "https", "protocol": "HTTPS", "hostname": "*.shop.example",
             "tls": {"certificateRefs": [{"name": "shop-tls"}]}}
    other = {"name": "http", "protocol": "HTTP", "hostname": "nothing.example"}
    gateway = _gateway([other, https], {"http": 1, "https": 1})
    # Another Gateway at the same address may serve the host: this one must have the listener itself.
    assert gateway_listener_missing(gateway, "http", "a.shop.example") == "Gateway shop has no HTTP listener for host a.shop.example"
    assert gateway_listener_missing(gateway, "https", "A.Shop.Example.") is None
    assert gateway_listener_missing(gateway, "https", "a.shop.example", "shop-tls") is None
    assert "does not name Secret blog-tls" in gateway_listener_missing(gateway, "https", "a.shop.example", "blog-tls")
    assert "attachedRoutes: 0" in gateway_listener_missing(_gateway([https], {"https": 0}), "https", "a.shop.example")
    assert gateway_listener_missing(_gateway([{"name": "any", "protocol": "HTTP"}], {"any": 2}), "http", "x.example") is None


def test_an_ingress_still_routing_the_host_makes_a_gateway_answer_prove_nothing(fake_cluster, monkeypatch):
    from labrunner.capabilities import Capability

    found = Capability("gateway-api", True, "ready", data={"entry": {"http": ["127.0.0.1", 80]}})
    monkeypatch.setattr("labrunner.capabilities.capability", lambda cluster, name, fresh=False: found)
    gateway = _gateway([{"name": "http", "protocol": "HTTP"}], {"http": 1})
    gateway["status"]["conditions"] = [{"type": "Programmed", "status": "True"}]
    to = {"to": {"gateway": "shop", "host": "a.example"}}
    assert _resolve(_ctx(fake_cluster([gateway])), to) == [Target("http", "127.0.0.1", 80, "a.example")]
    left = _ingress("a.example") | {"metadata": {"name": "storefront", "namespace": NS}}
    assert "Ingress storefront also routes host a.example" in _resolve(_ctx(fake_cluster([gateway, left])), to)


def test_https_through_an_ingress_needs_the_host_under_spec_tls_with_the_secret(fake_cluster, monkeypatch):
    from labrunner.capabilities import Capability

    found = Capability("ingress", True, "ready", data={"entry": {"https": ["127.0.0.1", 443]}})
    monkeypatch.setattr("labrunner.capabilities.capability", lambda cluster, name, fresh=False: found)
    p = {"to": {"ingress": "a.example"}, "scheme": "https", "tlsSecret": "shop-tls"}
    # Without spec.tls the controller still answers HTTPS, with any namespace's certificate for the name.
    assert "under spec.tls with secretName shop-tls" in _resolve(_ctx(fake_cluster([_ingress("a.example")])), p)
    for tls in ([{"hosts": ["a.example"], "secretName": "shop-tls"}], [{"secretName": "shop-tls"}]):
        ingress = _ingress("a.example")
        ingress["spec"]["tls"] = tls
        assert _resolve(_ctx(fake_cluster([ingress])), p) == [Target("https", "127.0.0.1", 443, "a.example")]
    ingress = _ingress("a.example")
    ingress["spec"]["tls"] = [{"hosts": ["b.example"], "secretName": "shop-tls"}]
    assert isinstance(_resolve(_ctx(fake_cluster([ingress])), p), str)


def _lab_certificate(path: str) -> bytes:
    import ssl

    import yaml

    text = (Path(__file__).parents[2] / "labs" / "ingress" / path).read_text()
    return ssl.PEM_cert_to_DER_cert(yaml.safe_load(text)["stringData"]["tls.crt"])


def test_a_certificate_covers_a_host_as_a_tls_client_checks_it():
    from labrunner.checks.kinds.http import certificate_covers, certificate_names

    shop = certificate_names(_lab_certificate("solution/shop-tls-secret.yaml"))
    assert shop == ["*.shop.example"]
    assert certificate_covers(shop, "lab-ingress.shop.example")
    assert certificate_covers(shop, "Lab-Ingress.Shop.Example.")
    assert not certificate_covers(shop, "shop.example")           # a wildcard stands for exactly one label
    assert not certificate_covers(shop, "a.b.shop.example")
    assert not certificate_covers(certificate_names(_lab_certificate("wrong/05-secret-for-blog.yaml")), "lab-ingress.shop.example")


def test_a_redirect_location_with_the_schemes_own_port_is_the_same_url():
    from labrunner.checks.kinds.http import normalized_location

    assert normalized_location("https://a.example:443/api/orders") == "https://a.example/api/orders"
    assert normalized_location("HTTPS://A.example/api") == "https://a.example/api"
    assert normalized_location("https://a.example:8443/api") == "https://a.example:8443/api"
    assert normalized_location("http://[2001:db8::1]:80/x") == "http://[2001:db8::1]/x"
    assert normalized_location("/relative") == "/relative"
    assert not normalized_location("https://a.example.com/api").startswith(normalized_location("https://a.example/api"))


def test_a_controller_that_does_not_answer_is_an_error_never_the_learners_fail(fake_cluster, monkeypatch):
    import socket

    from labrunner.capabilities import Capability

    with socket.socket() as closed:  # a port nothing listens on: connection refused, as from a controller that is down
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    cached = Capability("ingress", True, "ready", data={"entry": {"http": ["127.0.0.1", port]}})
    now = Capability("ingress", False, "add-on ingress: installed but not ready", "labrunner addons install ingress")
    monkeypatch.setattr("labrunner.capabilities.capability",
                        lambda cluster, name, fresh=False: now if fresh else cached)
    result = run(fake_cluster([_ingress("a.example")]), "http", to={"ingress": "a.example"})
    assert result.status is Status.ERROR and "installed but not ready" in result.message
    assert "fix: labrunner addons install ingress" in result.details
    assert "connection refused" in result.evidence.observed
    monkeypatch.setattr("labrunner.capabilities.capability", lambda cluster, name, fresh=False: cached)
    result = run(fake_cluster([_ingress("a.example")]), "http", to={"ingress": "a.example"})
    assert result.status is Status.ERROR and "does not answer" in result.message and "labrunner doctor" in result.details[0]


def test_a_certificate_outside_its_validity_is_named_so():
    from datetime import datetime, timezone

    from labrunner.checks.kinds.http import certificate_expired

    der = _lab_certificate("solution/shop-tls-secret.yaml")  # valid 2026-11-29 .. 2126-11-05
    assert certificate_expired(der) is None
    assert certificate_expired(der, datetime(2127, 1, 1, tzinfo=timezone.utc).timestamp()) == "expired on 2126-11-05"
    assert "not valid before 2026-11-29" in certificate_expired(der, datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())


def _lab_secret(path: str, name: str = "shop-tls") -> dict:
    import base64

    import yaml

    data = yaml.safe_load((Path(__file__).parents[2] / "labs" / "ingress" / path).read_text())["stringData"]
    return {"kind": "Secret", "metadata": {"name": name, "namespace": NS},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_a_tls_secret_whose_key_is_another_certificates_fails_before_any_request(fake_cluster, monkeypatch):
    from labrunner.capabilities import Capability

    found = Capability("ingress", True, "ready", data={"entry": {"https": ["192.0.2.1", 443]}})
    monkeypatch.setattr("labrunner.capabilities.capability", lambda cluster, name, fresh=False: found)
    ingress = _ingress("lab.shop.example")
    ingress["spec"]["tls"] = [{"hosts": ["lab.shop.example"], "secretName": "shop-tls"}]
    mixed = _lab_secret("solution/shop-tls-secret.yaml")
    mixed["data"]["tls.key"] = _lab_secret("wrong/05-secret-for-blog.yaml")["data"]["tls.key"]
    p = {"to": {"ingress": "lab.shop.example"}, "scheme": "https", "tlsSecret": "shop-tls"}
    result = run(fake_cluster([ingress, mixed]), "http", **p)
    assert result.status is Status.FAIL and "is not the key of its tls.crt" in result.message
    result = run(fake_cluster([ingress, _lab_secret("wrong/05-secret-for-blog.yaml")]), "http", **p)
    assert result.status is Status.FAIL and "is for *.blog.example, not lab.shop.example" in result.message
