"""OpenID Connect: the `idtoken` kind and `rbac` with a token can fail and can pass, against the `oidc`
add-on's real issuer (Dex) and an API server that trusts it.

Needs the `oidc` capability (the add-on ready and the API server started with --authentication-config
holding its issuer); without it the tests skip, or fail in CI. Tokens are got from the issuer through
the API server's service proxy, as the checks reach it; forged ones are signed here.
"""

import base64
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from labrunner.addons import load_addons
from labrunner.addons.issuer import IssuerError, password_grant, review_with_token, signing_keys
from labrunner.capabilities import capability

from conftest import no_cluster

pytestmark = pytest.mark.live

ALICE = ("alice@shop.example", "alice-password")
BOB = ("bob@shop.example", "bob-password")
CLIENTS = {"kubernetes": "kubernetes-client-secret", "dashboard": "dashboard-client-secret"}


@pytest.fixture
def oidc(cluster):
    found = capability(cluster, "oidc", fresh=True)
    if not found.state:
        no_cluster(f"no trusted OpenID Connect issuer: {found.detail} ({found.fix})")
    return load_addons()["oidc"]


def _token(cluster, addon, who=ALICE, client="kubernetes", scope="openid email groups") -> str:
    return password_grant(cluster, addon, username=who[0], password=who[1], client_id=client,
                          client_secret=CLIENTS[client], scope=scope)


def _store(ns, name: str, token: str) -> None:
    data = base64.b64encode(token.encode()).decode()
    ns.apply(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ndata: {{token: {data}}}\n")


def _forged(addon, **claims) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = {"iss": addon.spec.issuer.url, "aud": "kubernetes", "exp": int(time.time()) + 3600,
            "email": ALICE[0], "email_verified": True, "groups": ["shop-devs"], **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "made-here"})


def test_idtoken_passes_for_the_right_user_and_says_what_is_wrong_otherwise(oidc, cluster, ns):
    want = {"user": "oidc:alice@shop.example", "groups": ["oidc:shop-devs"]}
    missing = ns.check("idtoken", secret="alice-token", **want)
    assert missing.status.value == "fail" and "does not exist yet" in missing.message
    cases = [
        (_token(cluster, oidc, BOB), "as user 'oidc:bob@shop.example'"),
        (_token(cluster, oidc, client="dashboard"), "its audience (aud) is dashboard"),
        (_token(cluster, oidc, scope="openid email"), "not in oidc:shop-devs"),
        ("alice-password", "it is not a JWT"),
        (_forged(oidc), "signed by a key the issuer does not publish"),
        (_forged(oidc, exp=1577836800), "it expired at 2020-01-01 00:00:00 UTC"),
    ]
    for token, said in cases:
        ns.cluster.request("delete", "DELETE", f"/api/v1/namespaces/{ns.name}/secrets/alice-token") \
            if ns.cluster.get("Secret", "alice-token", namespace=ns.name) else None
        _store(ns, "alice-token", token)
        found = ns.check("idtoken", secret="alice-token", **want)
        assert found.status.value == "fail" and said in found.message, (said, found.status, found.message)
    ns.cluster.request("delete", "DELETE", f"/api/v1/namespaces/{ns.name}/secrets/alice-token")
    _store(ns, "alice-token", _token(cluster, oidc))
    good = ns.check("idtoken", secret="alice-token", **want)
    assert good.ok, good.message
    assert "as user 'oidc:alice@shop.example' in groups oidc:shop-devs" in good.message


def test_idtoken_refused_passes_only_for_a_genuine_token_with_that_one_problem(oidc, cluster, ns):
    _store(ns, "accepted", _token(cluster, oidc))
    _store(ns, "other-aud", _token(cluster, oidc, client="dashboard"))
    _store(ns, "forged-aud", _forged(oidc, aud="dashboard"))
    accepted = ns.check("idtoken", secret="accepted", expect="refused", because="audience")
    assert accepted.status.value == "fail" and "a token the API server should accept" in accepted.message
    forged = ns.check("idtoken", secret="forged-aud", expect="refused", because="audience")
    assert forged.status.value == "fail" and "has more wrong than its audience" in forged.message
    refused = ns.check("idtoken", secret="other-aud", expect="refused", because="audience")
    assert refused.ok, refused.message


def test_rbac_with_a_token_binds_the_group_from_its_claims(oidc, cluster, ns):
    _store(ns, "alice-token", _token(cluster, oidc))
    before = ns.check("rbac", token="alice-token", verb="list", resource="pods")
    assert before.status.value == "fail" and "is denied, but should be allowed" in before.message
    ns.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: to-user}
subjects: [{kind: User, name: "oidc:alice@shop.example", apiGroup: rbac.authorization.k8s.io}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
""")
    alice = ns.check_settled("rbac", token="alice-token", verb="list", resource="pods")
    assert alice.ok, alice.message
    team = ns.check("rbac", token="alice-token", anotherMember=True, verb="list", resource="pods")
    assert team.status.value == "fail", team.message  # bound to her alone: the group cannot
    ns.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: to-group}
subjects: [{kind: Group, name: "oidc:shop-devs", apiGroup: rbac.authorization.k8s.io}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
""")
    team = ns.check_settled("rbac", token="alice-token", anotherMember=True, verb="list", resource="pods")
    assert team.ok, team.message


def test_the_issuer_keeps_its_signing_keys_across_a_restart(oidc, cluster):
    """The API server caches the issuer's keys for hours: keys made anew at a restart would lock every
    token out. Dex keeps them in Kubernetes storage."""
    from labrunner.cluster import wait_until

    before = {k["kid"] for k in signing_keys(cluster, oidc)["keys"]}
    old = {p["metadata"]["name"] for p in cluster.list("Pod", namespace="oidc", selector="app=dex")}
    for name in old:
        cluster.request("restart dex", "DELETE", f"/api/v1/namespaces/oidc/pods/{name}")

    def new_pod_ready(items):
        return any(p["metadata"]["name"] not in old and any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in (p.get("status") or {}).get("conditions") or [])
            for p in items)

    wait_until(cluster, "Pod", namespace="oidc", selector="app=dex", predicate=new_pod_ready,
               describe="a new Dex pod ready", timeout=120)
    deadline = time.monotonic() + 30
    while True:  # the Service's endpoints follow the new pod a moment later
        try:
            after = {k["kid"] for k in signing_keys(cluster, oidc)["keys"]}
            break
        except IssuerError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert before & after, (before, after)
    assert review_with_token(cluster, _token(cluster, oidc)).status == 201
