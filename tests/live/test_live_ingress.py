"""http through labrunner's Ingress add-on (Traefik): by host and path, TLS by SNI with the Secret's
certificate, the Gateway API, and a redirect's Location. Each can fail and can pass.

Needs the add-on on the cluster (`labrunner addons install ingress`; on the testbed, `testbed/addon
ingress`); without it these tests are skipped, or fail in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import no_cluster

LAB = Path(__file__).resolve().parents[2] / "labs" / "ingress"


@pytest.fixture
def shop(ns):
    """The lab's two backends in a fresh namespace, and its host there."""
    from labrunner.addons import addon_providing, state

    found = state(ns.cluster, addon_providing("ingress"))
    if not found.ok:
        no_cluster(f"the ingress add-on is not ready: {found.detail}")
    ns.apply((LAB / "manifests" / "shop.yaml").read_text())
    ns.wait_ready("Deployment", "shop")
    ns.wait_ready("Deployment", "api")
    return f"{ns.name}.shop.example"


def _lab_file(name: str, namespace: str) -> str:
    return (LAB / name).read_text().replace("${LAB_NAMESPACE}", namespace)


def test_ingress_routes_by_host_and_path_and_presents_the_secrets_certificate(ns, shop):
    host = shop
    assert ns.check("http", to={"ingress": host}).status.value == "fail"  # no Ingress yet: says so
    ns.apply(_lab_file("wrong/01-service-port-8080.yaml", ns.name))
    wrong_port = ns.check_settled("http", to={"ingress": host}, backend="app=shop")
    assert wrong_port.status.value == "fail" and "answered 404" in wrong_port.message, wrong_port.message
    ns.apply(_lab_file("solution/01-ingress.yaml", ns.name))
    to_shop = ns.check_settled("http", to={"ingress": host}, backend="app=shop")
    assert to_shop.ok, to_shop.message
    to_api = ns.check_settled("http", to={"ingress": host}, path="/api/orders", backend="app=api")
    assert to_api.ok, to_api.message
    not_api = ns.check("http", to={"ingress": host}, path="/api/orders", backend="app=shop")
    assert not_api.status.value == "fail" and "not by one of the pods app=shop" in not_api.message

    ns.apply(_lab_file("wrong/05-secret-for-blog.yaml", ns.name))
    ns.apply(_lab_file("solution/02-tls.yaml", ns.name))
    other_host = ns.check_settled("http", to={"ingress": host}, scheme="https", tlsSecret="shop-tls")
    # The Secret's certificate must name the host as a TLS client checks it, before what is served is compared.
    assert other_host.status.value == "fail" and "is for *.blog.example, not" in other_host.message, other_host.message
    ns.apply(_lab_file("solution/shop-tls-secret.yaml", ns.name))
    tls = ns.check_settled("http", to={"ingress": host}, scheme="https", tlsSecret="shop-tls", backend="app=shop")
    assert tls.ok, tls.message


def test_ingress_gateway_routes_and_redirects_plain_http(ns, shop):
    host = shop
    to = {"gateway": "shop", "host": host}
    assert "Gateway shop does not exist" in ns.check("http", to=to).message
    ns.apply(_lab_file("solution/shop-tls-secret.yaml", ns.name))
    ns.apply(_lab_file("solution/03-gateway.yaml", ns.name))
    ns.wait_ready("Gateway", "shop", condition="Programmed", timeout=60)
    served = ns.check_settled("http", to=to, path="/api/orders", backend="app=api")
    assert served.ok, served.message
    tls = ns.check_settled("http", to=to, scheme="https", tlsSecret="shop-tls", backend="app=shop")
    assert tls.ok, tls.message
    no_redirect = ns.check("http", to=to, status=301, location=f"https://{host}/")
    assert no_redirect.status.value == "fail" and "answered 200, expected 301" in no_redirect.message

    ns.apply(_lab_file("solution/04-redirect.yaml", ns.name))
    redirect = ns.check_settled("http", to=to, path="/api/orders", status=301, location=f"https://{host}/api/orders")
    assert redirect.ok, redirect.message
    elsewhere = ns.check("http", to=to, path="/api/orders", status=301, location="https://elsewhere.example/")
    assert elsewhere.status.value == "fail" and "expected one starting 'https://elsewhere.example/'" in elsewhere.message
