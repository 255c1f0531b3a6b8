"""The `whoami` check: who the API server says a client certificate is.

The learner keeps a certificate and its key in a `kubernetes.io/tls` Secret
(`kubectl create secret tls NAME --cert=... --key=...`). The check opens a
TLS connection to the API server with exactly that pair, and nothing of the
labrunner's own credentials, and asks a SelfSubjectReview who it is. So it
passes only when the API server itself accepts the certificate (signed by the
cluster's client CA, not expired, the key matching) and maps it to the user
and groups expected, as `kubectl auth whoami` would show.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import ssl
import tempfile
from typing import Any, Mapping

import urllib3

from .base import CheckContext, CheckKind, CheckResult, Param

_REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def _decode(secret: dict, key: str) -> bytes | None:
    text = (secret.get("data") or {}).get(key)
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _ask_as(ctx: CheckContext, cert: bytes, key: bytes) -> tuple[int | None, dict, str]:
    """(HTTP status, body, problem) of a SelfSubjectReview sent with only this cert and key."""
    conf = ctx.cluster.configuration
    files = []
    try:
        for data in (cert, key):
            handle, path = tempfile.mkstemp(prefix="labrunner-whoami-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            files.append(path)
        try:
            context = ssl.create_default_context(cafile=conf.ssl_ca_cert or None)
            if not conf.verify_ssl:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            context.load_cert_chain(files[0], files[1])
        except ssl.SSLError as exc:
            return None, {}, f"tls.key does not belong to tls.crt, or one of them is not PEM ({exc.reason or exc})"
        pool = urllib3.PoolManager(ssl_context=context, server_hostname=getattr(conf, "tls_server_name", None) or None,
                                   timeout=urllib3.Timeout(connect=5, read=10), retries=False)
        try:
            response = pool.request("POST", f"{conf.host}/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                    body=json.dumps(_REVIEW).encode(), headers={"Content-Type": "application/json"})
        except urllib3.exceptions.SSLError as exc:
            return None, {}, f"the TLS handshake with the API server failed: {exc}"
        try:
            body = json.loads(response.data or b"{}")
        except ValueError:
            body = {}
        return response.status, body, ""
    finally:
        for path in files:
            try:
                os.unlink(path)
            except OSError:
                pass


def _whoami(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    ns = p.get("namespace") or ctx.namespace
    name = p["secret"]
    secret = ctx.cluster.get("Secret", name, namespace=ns)
    make = f"kubectl -n {ns} create secret tls {name} --cert=<the certificate file> --key=<the key file>"
    if secret is None:
        return CheckResult.failed(f"Secret {name} does not exist yet; store the certificate and its key: `{make}`")
    cert, key = _decode(secret, "tls.crt"), _decode(secret, "tls.key")
    if not cert or not key:
        return CheckResult.failed(f"Secret {name} needs both tls.crt and tls.key; create it with `{make}`")
    if b"BEGIN CERTIFICATE REQUEST" in cert:
        return CheckResult.failed(f"Secret {name} holds the certificate *request* (CSR) as tls.crt; store the issued "
                                  "certificate from the CSR's status.certificate instead")
    status, body, problem = _ask_as(ctx, cert, key)
    if problem:
        if problem.startswith("the TLS handshake"):
            return CheckResult.errored(problem)
        return CheckResult.failed(f"Secret {name}: {problem}")
    if status == 401:
        return CheckResult.failed(
            f"the API server does not accept the certificate in Secret {name} (401 Unauthorized): it must be the "
            "certificate the cluster issued for your CSR (signed by the cluster's client CA, not self-signed) "
            "and still valid")
    if status != 201 and status != 200:
        return CheckResult.errored(f"the SelfSubjectReview as the certificate's user answered {status}: "
                                   f"{body.get('message', '')}".strip())
    info = (body.get("status") or {}).get("userInfo") or {}
    user, groups = info.get("username", ""), [g for g in info.get("groups") or [] if g != "system:authenticated"]
    seen = f"user {user!r}" + (f" in groups {', '.join(groups)}" if groups else " in no groups")
    details = [f"the API server sees this certificate as {seen}"]
    if user != p["user"]:
        return CheckResult.failed(f"the API server sees the certificate in Secret {name} as {seen}, not as user "
                                  f"{p['user']!r}: the user name is the certificate's CN (common name)", details)
    missing = [g for g in p.get("groups", []) if g not in groups]
    if missing:
        return CheckResult.failed(f"the API server sees {seen}, but not in group(s) {', '.join(missing)}: groups "
                                  "come from the certificate's O (organization) fields", details)
    return CheckResult.passed(f"the API server accepts the certificate in Secret {name} as {seen}", details)


KINDS = [
    CheckKind(
        "whoami",
        {
            "secret": Param(str, required=True, doc="a kubernetes.io/tls Secret with tls.crt and tls.key"),
            "user": Param(str, required=True, doc="the user name the API server must see (the certificate's CN)"),
            "groups": Param(list, doc="groups the API server must see too (the certificate's O fields)"),
            "namespace": Param(str, doc="the Secret's namespace; default: the lab's"),
        },
        _whoami,
        doc="the API server accepts a client certificate and sees it as that user",
    )
]
