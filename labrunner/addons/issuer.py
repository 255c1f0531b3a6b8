"""Talking to an add-on's OpenID Connect issuer, and to the API server with one of its ID tokens.

The issuer is reached through the API server's service proxy
(`/api/v1/namespaces/NS/services/https:NAME:PORT/proxy/...`) with labrunner's own credentials, so it
works from any machine that has a kubeconfig, whether or not the Service's address is routed there.
The API server is then asked who a token is with a SelfSubjectReview sent with that token alone
(`Authorization: Bearer`), none of labrunner's credentials: exactly what `kubectl --token=... auth
whoami` shows.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import urllib3

from .spec import Addon

if TYPE_CHECKING:
    from ..cluster import Cluster

_REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


class IssuerError(Exception):
    """The issuer could not be reached through the service proxy, or gave no token or keys: the
    environment's fault (an `error`), never the learner's."""


@dataclass(frozen=True)
class Review:
    """What the API server answered a SelfSubjectReview sent with only a token: `status` (201 when it
    accepted the token, 401 when it refused it), and for 201 the user, groups (as the API server lists
    them, system:authenticated included) and uid."""

    status: int
    user: str = ""
    groups: tuple[str, ...] = ()
    uid: str = ""
    message: str = ""


def _proxy_path(addon: Addon, path: str) -> str:
    issuer = addon.spec.issuer
    assert issuer is not None and issuer.service is not None
    base = urlsplit(issuer.url).path.rstrip("/")
    svc = issuer.service
    return f"/api/v1/namespaces/{svc.namespace}/services/https:{svc.name}:{issuer.port}/proxy{base}{path}"


def _call(cluster: Cluster, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict]:
    """(HTTP status, JSON body) of a request through the API server with labrunner's credentials."""
    from kubernetes.client.exceptions import ApiException

    headers = {"Accept": "application/json"}
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    api = cluster.api
    try:
        request = api.param_serialize(method, path, header_params=headers, post_params=list((form or {}).items()),
                                      auth_settings=["BearerToken"])
        response = api.call_api(*request, _request_timeout=15)
        raw, status = response.read(), response.status
    except ApiException as exc:
        raw, status = (exc.body or b""), exc.status
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise IssuerError(f"the API server did not answer {path}: {exc}") from None
    if isinstance(raw, str):
        raw = raw.encode()
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        text = raw.decode(errors="replace")[:200] if isinstance(raw, bytes) else str(raw)[:200]
        return status, {"error": "not-json", "error_description": text}


def password_grant(cluster: Cluster, addon: Addon, *, username: str, password: str, client_id: str,
                   client_secret: str, scope: str = "openid email groups") -> str:
    """An ID token from `addon`'s issuer for `username`, by the OAuth 2.0 password grant (RFC 6749
    section 4.3; Dex with `oauth2.passwordConnector`), for client `client_id` (the token's audience).
    Raises IssuerError when the issuer cannot be reached or refuses (its OAuth error named)."""
    status, body = _call(cluster, "POST", _proxy_path(addon, "/token"), {
        "grant_type": "password", "username": username, "password": password, "scope": scope,
        "client_id": client_id, "client_secret": client_secret})
    if status != 200 or not isinstance(body.get("id_token"), str):
        said = body.get("error_description") or body.get("error") or body.get("message") or ""
        raise IssuerError(f"the issuer {addon.spec.issuer.url} gave no ID token for {username} "
                                f"(HTTP {status}{': ' + said if said else ''})")
    return body["id_token"]


def signing_keys(cluster: Cluster, addon: Addon) -> dict:
    """The issuer's JSON Web Key Set ({"keys": [...]}, RFC 7517), from its jwks_uri (Dex: /keys).
    Raises IssuerError."""
    status, body = _call(cluster, "GET", _proxy_path(addon, "/keys"))
    if status != 200 or not isinstance(body.get("keys"), list):
        raise IssuerError(f"the issuer {addon.spec.issuer.url} did not give its signing keys (HTTP {status})")
    return body


def review_with_token(cluster: Cluster, token: str) -> Review:
    """Who the API server takes `token` for: a SelfSubjectReview sent with only `Authorization: Bearer
    <token>`, verifying the API server as labrunner's kubeconfig does. Raises IssuerError when the
    API server cannot be reached that way (a TLS or network fault)."""
    conf = cluster.configuration
    context = ssl.create_default_context(cafile=conf.ssl_ca_cert or None)
    if not conf.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    pool = urllib3.PoolManager(ssl_context=context, server_hostname=getattr(conf, "tls_server_name", None) or None,
                               timeout=urllib3.Timeout(connect=5, read=15), retries=False)
    try:
        response = pool.request("POST", f"{conf.host}/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                body=json.dumps(_REVIEW).encode(),
                                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise IssuerError(f"the API server could not be asked with the token: {exc}") from None
    try:
        body = json.loads(response.data or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = body.get("status") if isinstance(body, dict) else None  # a Status object's is a string
    info = (status.get("userInfo") or {}) if isinstance(status, dict) else {}
    return Review(response.status, info.get("username", ""), tuple(info.get("groups") or ()), info.get("uid", ""),
                  str(body.get("message") or ""))
