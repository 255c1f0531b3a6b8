"""OpenID Connect, pure logic: reading an ID token as the API server would (checks/idtokens.py), the
add-on's serving certificate (addons/tlssecret.py), the AuthenticationConfiguration it makes
(addons/authn.py) and the `idtoken` check's parameters. No cluster: tokens are signed here with keys
made here, and the issuer's key set is built from them. The live proof is tests/live/test_oidc.py."""

from __future__ import annotations

import ipaddress
import json

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from labrunner.addons import load_addons
from labrunner.addons.authn import authentication_config, jwt_authenticator
from labrunner.addons.tlssecret import make_ca_and_serving
from labrunner.checks.idtokens import AUDIENCE, EXPIRED, ISSUER, MALFORMED, SIGNATURE, judge
from labrunner.checks.registry import builtin_kinds

ISSUER_URL = "https://10.96.0.20:5556/dex"
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def keys():
    return {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in ("issuer", "other")}


def _jwks(key, kid="k1") -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}


def _token(key, kid="k1", **claims) -> str:
    body = {"iss": ISSUER_URL, "aud": "kubernetes", "exp": NOW + 3600, "iat": NOW, "email": "alice@shop.example",
            "groups": ["shop-devs"], **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256", headers={"kid": kid})


def _judge(token, keys):
    return judge(token, _jwks(keys["issuer"]), issuer=ISSUER_URL, audiences=["kubernetes"], now=NOW)


def test_a_good_token_has_no_problem_and_its_claims_are_read(keys):
    facts = _judge(_token(keys["issuer"]), keys)
    assert facts.problems == {} and facts.first == "" and facts.claims["groups"] == ["shop-devs"]


@pytest.mark.parametrize("text, said", [
    ("alice-password", "not a JWT: a JWT is three base64url parts"),
    ("a.b", "this has 2"),
    ("not.base64!.json", "not a JWT that can be read"),
])
def test_a_malformed_token_says_it_is_malformed(keys, text, said):
    facts = _judge(text, keys)
    assert set(facts.problems) == {MALFORMED} and said in facts.first


def test_a_token_signed_by_another_key_says_so_and_names_the_key_id(keys):
    facts = _judge(_token(keys["other"], kid="made-elsewhere"), keys)
    assert set(facts.problems) == {SIGNATURE}
    assert "signed by a key the issuer does not publish (key id 'made-elsewhere'" in facts.first


def test_a_token_with_the_issuers_key_id_but_another_signature_says_the_signature_does_not_match(keys):
    facts = _judge(_token(keys["other"], kid="k1"), keys)
    assert set(facts.problems) == {SIGNATURE} and "signature does not match the issuer's key 'k1'" in facts.first


def test_an_expired_token_says_when_it_expired(keys):
    facts = _judge(_token(keys["issuer"], exp=NOW - 60), keys)
    assert set(facts.problems) == {EXPIRED}
    assert "it expired at 2027-01-15 07:59:00 UTC" in facts.first


def test_a_token_without_exp_is_refused_as_the_api_server_does(keys):
    assert set(_judge(_token(keys["issuer"], exp=None), keys).problems) == {EXPIRED}


def test_the_audience_and_the_issuer_are_each_named(keys):
    facts = _judge(_token(keys["issuer"], aud=["dashboard", "other"]), keys)
    assert set(facts.problems) == {AUDIENCE} and "its audience (aud) is dashboard, other" in facts.first
    facts = _judge(_token(keys["issuer"], iss="https://elsewhere.example"), keys)
    assert set(facts.problems) == {ISSUER}


def test_every_problem_is_said_in_order_with_the_worst_first(keys):
    facts = _judge(_token(keys["other"], kid="x", exp=NOW - 1, aud="dashboard"), keys)
    assert set(facts.problems) == {SIGNATURE, EXPIRED, AUDIENCE}
    said = facts.said()
    assert said.index("signed by a key") < said.index("expired") < said.index("audience")


def test_the_serving_certificate_is_signed_by_its_ca_for_every_name_and_address():
    files = make_ca_and_serving("dex.oidc.svc", ["dex.oidc.svc", "localhost"], ["10.96.0.20", "127.0.0.1"])
    ca, cert = x509.load_pem_x509_certificate(files["ca.crt"]), x509.load_pem_x509_certificate(files["tls.crt"])
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["dex.oidc.svc", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.96.0.20"),
                                                       ipaddress.ip_address("127.0.0.1")]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert b"PRIVATE KEY" in files["tls.key"] and set(files) == {"ca.crt", "tls.crt", "tls.key"}


def test_the_authentication_configuration_trusts_the_addons_issuer_with_its_prefixes():
    addon = load_addons()["oidc"]
    entry = jwt_authenticator(addon, "PEM")
    assert entry == {"issuer": {"url": ISSUER_URL, "audiences": ["kubernetes"], "certificateAuthority": "PEM"},
                     "claimMappings": {"username": {"claim": "email", "prefix": "oidc:"},
                                       "groups": {"claim": "groups", "prefix": "oidc:"}}}
    config = authentication_config([entry])
    assert config["apiVersion"] == "apiserver.config.k8s.io/v1" and config["kind"] == "AuthenticationConfiguration"
    assert authentication_config()["jwt"] == []  # trusts no issuer: what the testbed starts with


def test_the_addons_issuer_url_is_what_its_dex_config_and_service_say():
    import yaml

    addon = load_addons()["oidc"]
    docs = {(b["kind"], b["metadata"]["name"]): b for _, b in addon.documents()}
    config = yaml.safe_load(docs[("ConfigMap", "dex")]["data"]["config.yaml"])
    assert config["issuer"] == addon.spec.issuer.url
    assert docs[("Service", "dex")]["spec"]["clusterIP"] in addon.spec.tls.ipAddresses
    assert addon.spec.issuer.url.startswith(f"https://{docs[('Service', 'dex')]['spec']['clusterIP']}:{addon.spec.issuer.port}/")
    clients = {c["id"] for c in config["staticClients"]}
    assert set(addon.spec.issuer.audiences) <= clients and addon.spec.issuer.probe.client in clients


@pytest.mark.parametrize("params, problem", [
    ({"secret": "t", "user": "oidc:a"}, None),
    ({"secret": "t", "expect": "refused", "because": "audience"}, None),
    ({"secret": "t"}, "required for expect: accepted"),
    ({"secret": "t", "expect": "refused"}, "needs `because`"),
    ({"secret": "t", "expect": "refused", "because": "audience", "user": "x"}, "only for expect: accepted"),
    ({"secret": "t", "user": "x", "because": "expired"}, "only for expect: refused"),
])
def test_the_idtoken_check_says_which_parameters_belong_together(params, problem):
    found = " ".join(what for _, what in builtin_kinds()["idtoken"].problems(params))
    assert (problem in found) if problem else found == ""


def test_a_deployment_is_annotated_with_the_hash_of_the_configmaps_it_mounts():
    from labrunner.addons.installing import CONFIG_HASH, with_config_hash

    addon = load_addons()["oidc"]
    docs = addon.documents()

    def annotation(documents):
        dex = next(b for _, b in documents if b["kind"] == "Deployment")
        return dex["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH]

    first = annotation(with_config_hash(docs))
    assert first == annotation(with_config_hash(addon.documents()))  # the same config: no restart
    changed = [(f, {**b, "data": {"config.yaml": b["data"]["config.yaml"] + "\n# changed\n"}})
               if b["kind"] == "ConfigMap" else (f, b) for f, b in docs]
    assert annotation(with_config_hash(changed)) != first
    others = [b for a in load_addons().values() if a.name != "oidc" for _, b in with_config_hash(a.documents())]
    assert not any(CONFIG_HASH in str(b) for b in others)  # only where a ConfigMap of the add-on is mounted
