"""The API server's trust in an add-on's OpenID Connect issuer: its structured authentication config.

Kubernetes 1.30+ reads JWT authenticators from the file its `--authentication-config` flag names
(AuthenticationConfiguration, apiserver.config.k8s.io/v1 since 1.34, v1beta1 before), and reloads
that file when it changes (the kube-apiserver watches it, and polls it once a minute:
pkg/kubeapiserver/options/authentication.go). So a cluster can start with a file that trusts no
issuer, and installing the add-on writes its issuer in. This module builds that file's content; who
writes it depends on where the API server runs (`testbed/addon` on the testbed; on kind, the node's
mounted file: docs/lab-format.md, "Add-ons").
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Iterable

from .spec import Addon

if TYPE_CHECKING:
    from ..cluster import Cluster

API_VERSION = "apiserver.config.k8s.io/v1"


def jwt_authenticator(addon: Addon, ca_pem: str) -> dict:
    """One `jwt` entry for `addon`'s issuer, trusting `ca_pem` (its TLS Secret's ca.crt) for it alone.
    Shape: AuthenticationConfiguration.jwt[] (k8s.io/apiserver/pkg/apis/apiserver/v1 JWTAuthenticator)."""
    issuer = addon.spec.issuer
    assert issuer is not None
    return {
        "issuer": {"url": issuer.url, "audiences": list(issuer.audiences), "certificateAuthority": ca_pem},
        "claimMappings": {
            "username": {"claim": issuer.username.claim, "prefix": issuer.username.prefix},
            "groups": {"claim": issuer.groups.claim, "prefix": issuer.groups.prefix},
        },
    }


def authentication_config(jwt: Iterable[dict] = ()) -> dict:
    """An AuthenticationConfiguration with these `jwt` authenticators (none: it trusts no issuer, which
    the kube-apiserver accepts, and every other authenticator works as without the flag)."""
    return {"apiVersion": API_VERSION, "kind": "AuthenticationConfiguration", "jwt": list(jwt)}


def installed_config(cluster: Cluster, addons: Iterable[Addon]) -> dict:
    """The AuthenticationConfiguration trusting every add-on of `addons` that has an `issuer` and whose
    TLS Secret exists on `cluster` (one not installed is left out). Raises LabrunnerError when the
    cluster cannot be read, ValueError when a Secret has no ca.crt."""
    entries = []
    for addon in addons:
        if addon.spec.issuer is None or addon.spec.tls is None:
            continue
        where = addon.spec.tls.secret
        secret = cluster.get("Secret", where.name, namespace=where.namespace)
        if secret is None:
            continue
        encoded = (secret.get("data") or {}).get("ca.crt")
        if not encoded:
            raise ValueError(f"Secret {where.namespace}/{where.name} of add-on {addon.name} has no ca.crt: "
                             f"delete it and install the add-on again")
        entries.append(jwt_authenticator(addon, base64.b64decode(encoded).decode()))
    return authentication_config(entries)
