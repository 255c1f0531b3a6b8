"""The `whoami` and `certificate` checks: who the API server says a client certificate is.

The learner keeps a certificate and its key in a `kubernetes.io/tls` Secret
(`kubectl create secret tls NAME --cert=... --key=...`). The check opens a
TLS connection to the API server with exactly that pair, and nothing of the
labrunner's own credentials, and asks a SelfSubjectReview who it is. So it
passes only when the API server itself accepts the certificate (signed by the
cluster's client CA, not expired, the key matching) and maps it to the user
and groups expected, exactly, as `kubectl auth whoami` would show.

The `certificate` check reads the certificate a CertificateSigningRequest was
issued (its status, not its spec): the subject it carries and how long it is
valid, allowing for how the kube-controller-manager's signer rounds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import ssl
import tempfile
import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any, Mapping

import urllib3

from ...format.values import Duration, ResourceName, Text, parse_duration
from ..accessreview import Subject
from ..base import CheckContext, CheckKind, CheckResult, Param
from ..certificates import Certificate, parse_pem_certificate
from ..evidence import Evidence

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


def _pair(ctx: CheckContext, name: str, ns: str) -> tuple[bytes, bytes] | CheckResult:
    """tls.crt and tls.key of a Secret, or a fail saying what is missing."""
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
    return cert, key


def authenticate(ctx: CheckContext, name: str, namespace: str | None = None) -> Subject | CheckResult:
    """Who the API server authenticates the certificate in Secret `name` as: user, every group, uid, extra.

    Asked with a SelfSubjectReview sent with only that certificate and key.
    A fail when the Secret is missing or the server refuses the certificate;
    an error when the server cannot be reached that way.
    """
    pair = _pair(ctx, name, namespace or ctx.namespace)
    if isinstance(pair, CheckResult):
        return pair
    return _authenticate_pair(ctx, name, pair)


# A step asks as one certificate in several checks at once: one TLS
# handshake and SelfSubjectReview serves them all for a few seconds. Keyed by
# the certificate, key and server, so a replaced Secret is asked afresh.
_AUTH_TTL = 5.0
_auth_cache: dict[bytes, tuple[float, Subject]] = {}
_auth_lock = threading.Lock()


def _authenticate_pair(ctx: CheckContext, name: str, pair: tuple[bytes, bytes]) -> Subject | CheckResult:
    key = hashlib.sha256(b"\0".join([*pair, str(ctx.cluster.configuration.host).encode()])).digest()
    with _auth_lock:
        hit = _auth_cache.get(key)
        if hit and time.monotonic() - hit[0] < _AUTH_TTL:
            return hit[1]
        found = _authenticate_now(ctx, name, pair)
        if isinstance(found, Subject):
            _auth_cache[key] = (time.monotonic(), found)
        return found


def _authenticate_now(ctx: CheckContext, name: str, pair: tuple[bytes, bytes]) -> Subject | CheckResult:
    status, body, problem = _ask_as(ctx, *pair)
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
    return Subject(info.get("username", ""), tuple(info.get("groups") or ()), info.get("uid", ""),
                   info.get("extra") or None)


def group_difference(seen: list[str] | tuple[str, ...], asked: list[str]) -> tuple[list[str], list[str]]:
    """(missing, extra) groups; `system:authenticated` is implied on both sides."""
    implied = {"system:authenticated"}
    have, want = set(seen) - implied, set(asked) - implied
    return sorted(want - have), sorted(have - want)


# kube-controller-manager's signer (pkg/controller/certificates/authority,
# PermissiveSigningPolicy; signer.go sets Backdate 5m, Short 8h): NotBefore is
# backdated 5 minutes; a certificate of 8 h or more keeps exactly the asked
# lifetime, a shorter one gets the 5 minutes on top. The lifetime asked is
# capped by --cluster-signing-duration (default 1 year) and the CA's own expiry.
BACKDATE = timedelta(minutes=5)
SLACK = timedelta(seconds=2)  # certificate times are whole seconds


def _human(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def lifetime_problem(cert: Certificate, asked: timedelta) -> str:
    """Why the certificate's validity (notAfter - notBefore) is not the lifetime asked; "" when it is.

    Accepted: from `asked` up to `asked` + 5 minutes (the signer's backdating).
    """
    lifetime = cert.lifetime
    if asked - SLACK <= lifetime <= asked + BACKDATE + SLACK:
        return ""
    return (f"the certificate is valid for {_human(lifetime)} ({cert.not_before:%Y-%m-%d %H:%M} to "
            f"{cert.not_after:%Y-%m-%d %H:%M} UTC), not {_human(asked)}: the lifetime comes from the "
            "CertificateSigningRequest's spec.expirationSeconds (without it the signer issues its maximum, "
            "often a year)")


def _whoami(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    ns = p.get("namespace") or ctx.namespace
    result, seen = _whoami_judged(ctx, p)
    if result.ok:
        return result
    groups = ", ".join(g for g in p.get("groups", []) if g != "system:authenticated")
    wanted = f"user {p['user']!r}" + (f" in groups {groups}" if groups else " in no groups")
    # What the certificate in the Secret says, as the learner can read it without labrunner.
    show = (f"kubectl -n {ns} get secret {p['secret']} -o jsonpath='{{.data.tls\\.crt}}' | base64 -d | "
            "openssl x509 -noout -subject -issuer -dates")
    return replace(result, evidence=Evidence(wanted, seen or result.message, commands=(show,)))


def _whoami_judged(ctx: CheckContext, p: Mapping[str, Any]) -> tuple[CheckResult, str]:
    """(the verdict, who the API server saw the certificate as; "" when it did not accept it)."""
    name = p["secret"]
    pair = _pair(ctx, name, p.get("namespace") or ctx.namespace)
    if isinstance(pair, CheckResult):
        return pair, ""
    found = _authenticate_pair(ctx, name, pair)
    if isinstance(found, CheckResult):
        return found, ""
    user, groups = found.user, [g for g in found.groups if g != "system:authenticated"]
    seen = f"user {user!r}" + (f" in groups {', '.join(groups)}" if groups else " in no groups")
    details = [f"the API server sees this certificate as {seen}"]
    if user != p["user"]:
        return CheckResult.failed(f"the API server sees the certificate in Secret {name} as {seen}, not as user "
                                  f"{p['user']!r}: the user name is the certificate's CN (common name)", details), seen
    missing, extra = group_difference(groups, p.get("groups", []))
    if missing or extra:
        wanted = ", ".join(g for g in p.get("groups", []) if g != "system:authenticated") or "no groups"
        parts = ([f"not in {', '.join(missing)}"] if missing else []) + \
                ([f"also in {', '.join(extra)}"] if extra else [])
        return CheckResult.failed(f"the API server sees {seen}: {' and '.join(parts)} (asked: {wanted}); groups "
                                  "come from the certificate's O (organization) fields, one group per O, and every "
                                  "one of them counts", details), seen
    if "validFor" in p:
        cert = parse_pem_certificate(pair[0])
        problem = lifetime_problem(cert, parse_duration(p["validFor"]))
        if problem:
            return CheckResult.failed(problem, details), f"{seen}, valid for {_human(cert.lifetime)}"
    return CheckResult.passed(f"the API server accepts the certificate in Secret {name} as {seen}", details), seen


def _issued(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    result = _issued_judged(ctx, p)
    if result.ok or result.evidence:
        return result
    return replace(result, evidence=Evidence(_wanted_certificate(p), result.details[0] if result.details else
                                             result.message, commands=(f"kubectl describe csr {p['csr']}",)))


def _issued_judged(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    name = p["csr"]
    csr = ctx.cluster.get("CertificateSigningRequest", name)
    if csr is None:
        return CheckResult.failed(f"CertificateSigningRequest {name} does not exist yet")
    encoded = (csr.get("status") or {}).get("certificate")
    if not encoded:
        return _not_issued(csr, name, _wanted_certificate(p))
    try:
        cert = parse_pem_certificate(base64.b64decode(encoded))
    except (binascii.Error, ValueError) as exc:
        return CheckResult.errored(f"the certificate issued for CSR {name} cannot be read: {exc}")
    subject = f"CN={cert.common_name}" + "".join(f", O={o}" for o in cert.organizations)
    details = [f"issued certificate: subject {subject}, valid {cert.not_before:%Y-%m-%d %H:%M} to "
               f"{cert.not_after:%Y-%m-%d %H:%M} UTC"]
    if "user" in p and cert.common_name != p["user"]:
        return CheckResult.failed(f"the certificate issued for CSR {name} is for {subject}: its CN (the user name) "
                                  f"should be {p['user']!r}; make a new request with the right -subj", details)
    if "groups" in p:
        missing, extra = group_difference(cert.organizations, p["groups"])
        if missing or extra:
            wanted = ", ".join(f"O={g}" for g in p["groups"]) or "no O"
            return CheckResult.failed(f"the certificate issued for CSR {name} is for {subject}, but should carry "
                                      f"exactly {wanted}: each O is a group the API server puts the user in", details)
    if "validFor" in p:
        asked = parse_duration(p["validFor"])
        problem = lifetime_problem(cert, asked)
        requested = (csr.get("spec") or {}).get("expirationSeconds")
        if problem and requested == int(asked.total_seconds()) and cert.lifetime < asked:
            return CheckResult.errored(f"CSR {name} asks for {_human(asked)}, but the cluster's signer issued "
                                       f"{_human(cert.lifetime)}: the kube-controller-manager caps lifetimes at "
                                       "--cluster-signing-duration and at its CA's own expiry", details)
        if problem:
            return CheckResult.failed(problem, details)
    return CheckResult.passed(f"the certificate issued for CSR {name} is for {subject}, valid for "
                              f"{_human(cert.lifetime)}", details)


def csr_condition(csr: dict, kind: str) -> dict | None:
    """The CSR's condition of type `kind` (Approved, Denied, Failed) whose status is "True", or None.

    Shape: {type, status, reason?, message?, lastUpdateTime?, lastTransitionTime?} (certificates.k8s.io/v1).
    """
    for condition in (csr.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and str(condition.get("status", "True")) == "True":
            return condition
    return None


def _said(condition: dict) -> str:
    """A condition's reason and message as the CSR carries them: `SignerValidationFailure: "invalid usage ..."`."""
    reason, message = str(condition.get("reason") or ""), str(condition.get("message") or "").strip()
    return ": ".join(filter(None, (reason, f'"{message}"' if message else "")))


def _not_issued(csr: dict, name: str, wanted: str) -> CheckResult:
    """The fail for a CSR without a certificate, saying why from its conditions: denied, refused by the
    signer (the kube-controller-manager's signers set Failed, reason SignerValidationFailure, when the
    request asks for what the signer does not issue, e.g. `server auth` from kube-apiserver-client),
    not approved yet, or approved and not signed yet."""
    signer = (csr.get("spec") or {}).get("signerName") or "its signer"
    usages = ", ".join((csr.get("spec") or {}).get("usages") or []) or "none"
    denied, failed = csr_condition(csr, "Denied"), csr_condition(csr, "Failed")
    approved = csr_condition(csr, "Approved")
    states = [f"{c['type']}" + (f" ({_said(c)})" if _said(c) else "") for c in (approved, denied, failed) if c]
    evidence = Evidence(wanted, "no certificate; conditions: " + (", ".join(states) or "none") + f"; usages: {usages}",
                        commands=(f"kubectl describe csr {name}",))
    if denied:
        message = f"CertificateSigningRequest {name} was denied" + (f": {_said(denied)}" if _said(denied) else "")
    elif failed:
        message = (f"the signer {signer} refused CertificateSigningRequest {name}"
                   + (f": {_said(failed)}" if _said(failed) else "")
                   + f" (it asks for the usages {usages}); a refused request is never signed: delete it and "
                     "make a new one the signer accepts")
    elif approved:
        message = (f"CertificateSigningRequest {name} is approved, but {signer} has not issued its certificate "
                   "(status.certificate) yet")
    else:
        message = (f"CertificateSigningRequest {name} has no certificate yet (status.certificate): it is not approved "
                   f"(`kubectl certificate approve {name}`)")
    return CheckResult.failed(message, evidence=evidence)


def _wanted_certificate(p: Mapping[str, Any]) -> str:
    """What the `certificate` check expects, as its evidence says it: "a certificate for CN=jane, O=devs, valid 24h"."""
    subject = ", ".join(filter(None, ([f"CN={p['user']}"] if "user" in p else [])
                               + [f"O={g}" for g in p.get("groups", [])]))
    if "groups" in p and not p["groups"]:
        subject = ", ".join(filter(None, (subject, "no O")))
    lifetime = f"valid for {_human(parse_duration(p['validFor']))}" if "validFor" in p else ""
    return "a certificate" + (f" for {subject}" if subject else "") + (
        (", " if subject else " ") + lifetime if lifetime else "")


def _something_to_check(params: Mapping[str, Any]) -> list[str]:
    return [] if {"user", "groups", "validFor"} & set(params) else ["give user, groups or validFor"]


KINDS = [
    CheckKind(
        "whoami",
        {
            "secret": Param(ResourceName, required=True, doc="a kubernetes.io/tls Secret with tls.crt and tls.key"),
            "user": Param(Text, required=True, doc="the user name the API server must see (the certificate's CN)"),
            "groups": Param(list[Text], doc="exactly the groups the API server must see (the certificate's O fields); "
                                      "default none; system:authenticated is implied"),
            "validFor": Param(Duration, doc="the certificate's lifetime (seconds, or 24h, 1d, ...)"),
            "namespace": Param(Text, doc="the Secret's namespace; default: the lab's"),
        },
        _whoami,
        doc="the API server accepts a client certificate and sees it as exactly that user and those groups",
    ),
    CheckKind(
        "certificate",
        {
            "csr": Param(ResourceName, required=True, doc="a CertificateSigningRequest's name"),
            "user": Param(Text, doc="the certificate's CN"),
            "groups": Param(list[Text], doc="exactly the certificate's O values"),
            "validFor": Param(Duration, doc="its lifetime (seconds, or 24h, 1d, ...), within the signer's "
                                              "5-minute backdating"),
        },
        _issued,
        validate=_something_to_check,
        doc="the certificate issued for a CSR carries that subject and lifetime",
    ),
]
