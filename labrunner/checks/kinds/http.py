"""The `http` check: a request from the machine running labrunner.

This is what "reachable from outside" means for a learner: their own machine
reaching a NodePort, a load-balancer address or an Ingress host.
"""

from __future__ import annotations

import base64
import http.client
import shlex
import socket
import ssl
import time
from dataclasses import replace
from typing import Any, Mapping, NamedTuple

from ...cluster.probepods import is_ready
from ...cluster.waiting import condition_status
from ...errors import NotFound
from ...format.values import BOUNDS, Expected, HttpStatus, Port, ResourceName, Selector, seconds, value_type
from ...settings import settings
from ..base import CheckContext, CheckKind, CheckResult, Param
from ..endpoints import SERVICE_NAME_LABEL, read_endpoints
from ..evidence import Evidence
from ..reachability import (RECHECK_MISSING_AFTER, load_balancer_targets, load_balancer_unreachable,
                            load_balancer_unserved, node_port_addresses)
from ..shapes import HttpTarget

UrlPath = value_type((str,), what="a path starting with /", schema={"type": "string", "pattern": "^/"},
                     check=lambda v: None if v.startswith("/") else f"expected a path starting with /, got {v!r}")

_TARGETS = ("nodePort", "loadBalancer", "ingress", "gateway", "url")
GATEWAY_API = "gateway.networking.k8s.io/v1"


def node_address(ctx: CheckContext) -> str | None:
    """Where this machine reaches node ports: LABRUNNER_NODE_ADDRESS, else a node's address."""
    if ctx.node_address:
        return ctx.node_address
    if settings().node_address:
        return settings().node_address
    for node in ctx.cluster.list("Node"):
        addresses = {a.get("type"): a.get("address") for a in (node.get("status") or {}).get("addresses") or []}
        for kind in ("ExternalIP", "InternalIP"):
            if addresses.get(kind):
                return addresses[kind]
    return None


class Target(NamedTuple):
    """Where one request goes: `host` is the Host header and SNI (an Ingress host), if any."""

    scheme: str
    address: str
    port: int
    host: str | None = None


def _resolve(ctx: CheckContext, p: Mapping[str, Any]) -> list[Target] | str | CheckResult:
    """The targets to try (any one that answers right will do), what is missing (the learner's), or an
    error when this cluster cannot make the request answer (see `reachability`).

    A load-balancer address is asked on `port`, else 80 (443 for https): what a customer's
    browser uses, never the Service's first port. A node port is `nodePort`, else the node
    port of Service port `port`, else each of the Service's node ports in turn.
    """
    to = p["to"]
    scheme = p.get("scheme", "http")
    default_port = 443 if scheme == "https" else 80
    if "url" in to:
        from urllib.parse import urlsplit

        parts = urlsplit(to["url"])
        default = 443 if parts.scheme == "https" else 80
        return [Target(parts.scheme, parts.hostname or "", parts.port or default)]
    if "ingress" in to:
        host = to["ingress"]
        ingresses = ctx.cluster.list("Ingress", namespace=ctx.namespace)
        mine = [i for i in ingresses if any(r.get("host") == host for r in (i.get("spec") or {}).get("rules") or [])]
        if not mine:
            return f"no Ingress in {ctx.namespace} has a rule for host {host}"
        if "tlsSecret" in p and not any(_tls_names(i, p["tlsSecret"], host) for i in ingresses):
            # Without it the controller still answers HTTPS, choosing by SNI among every certificate it
            # holds from any namespace's Ingresses (Traefik's store is one for the cluster), so the right
            # certificate could come from someone else's Ingress.
            return f"no Ingress in {ctx.namespace} lists host {host} under spec.tls with secretName {p['tlsSecret']}"
        entry = _controller_entry(ctx, "ingress", scheme)
        if isinstance(entry, CheckResult):
            return entry
        if entry is not None:
            return [Target(scheme, entry[0], p.get("port", entry[1]), host)]
        lb = ((mine[0].get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        address = settings().ingress_address or (lb[0].get("ip") or lb[0].get("hostname") if lb else None) or node_address(ctx)
        if not address:
            return f"Ingress for {host} has no address yet"
        return [Target(scheme, address, p.get("port", default_port), host)]
    if "gateway" in to:
        name = to["gateway"]
        try:
            gateway = ctx.cluster.get("Gateway", name, namespace=ctx.namespace, api_version=GATEWAY_API)
        except NotFound:
            return CheckResult.errored("the Gateway API is not served on this cluster (no Gateway CRD)",
                                       [f"fix: {_gateway_fix()}"])
        if gateway is None:
            return f"Gateway {name} does not exist in {ctx.namespace}"
        programmed = condition_status(gateway, "Programmed")
        if programmed != "True":
            why = next((c.get("message") for c in (gateway.get("status") or {}).get("conditions") or []
                        if c.get("type") in ("Programmed", "Accepted") and c.get("status") != "True" and c.get("message")), "")
            return f"Gateway {name} is not Programmed ({programmed or 'no status yet'}{': ' + why if why else ''})"
        host = to.get("host")
        unserved = gateway_listener_missing(gateway, scheme, host, p.get("tlsSecret"))
        if unserved:
            return unserved
        if host:
            # One controller serves Ingresses and Gateways at one address: an Ingress for the host
            # could answer instead of the Gateway, and the answer would prove nothing about it.
            also = [i["metadata"]["name"] for i in ctx.cluster.list("Ingress", namespace=ctx.namespace)
                    if any(_host_key(r.get("host")) == _host_key(host) for r in (i.get("spec") or {}).get("rules") or [])]
            if also:
                return (f"Ingress {', '.join(sorted(also))} also routes host {host}, so the answer may not come "
                        f"through Gateway {name}; delete it")
        entry = _controller_entry(ctx, "gateway-api", scheme)
        if isinstance(entry, CheckResult):
            return entry
        if entry is not None:
            return [Target(scheme, entry[0], p.get("port", entry[1]), to.get("host"))]
        addresses = [a.get("value") for a in (gateway.get("status") or {}).get("addresses") or [] if a.get("value")]
        address = settings().ingress_address or (addresses[0] if addresses else None)
        if not address:
            return f"Gateway {name} has no address yet"
        return [Target(scheme, address, p.get("port", default_port), to.get("host"))]
    key = "nodePort" if "nodePort" in to else "loadBalancer"
    name = to[key]
    svc = ctx.cluster.get("Service", name, namespace=ctx.namespace)
    if svc is None:
        return f"Service {name} does not exist"
    ports = (svc.get("spec") or {}).get("ports") or []
    have = ", ".join(str(x.get("port")) for x in ports) or "none"
    if key == "loadBalancer":
        wanted = p.get("port", default_port)
        if not any(x.get("port") == wanted for x in ports):
            return f"Service {name} has no port {wanted} (its ports: {have}); the load-balancer address serves the Service's ports"
        lb = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if not lb:
            return load_balancer_unserved(ctx, svc) or f"Service {name} has no load-balancer address yet"
        reached = load_balancer_targets(ctx, svc, lb[0].get("ip") or lb[0].get("hostname"), wanted)
        if isinstance(reached, CheckResult):
            return reached
        return [Target(scheme, address, port) for address, port in reached]
    if "port" in p:
        ports = [x for x in ports if x.get("port") == p["port"]]
        if not ports:
            return f"Service {name} has no port {p['port']} (its ports: {have})"
    node_ports = [x["nodePort"] for x in ports if x.get("nodePort")]
    if not node_ports:
        return f"Service {name} has no node port (is its type NodePort?)"
    if "nodePort" in p:
        if p["nodePort"] not in node_ports:
            return f"Service {name} has node port {', '.join(map(str, node_ports))}, not {p['nodePort']}"
        node_ports = [p["nodePort"]]
    reached = node_port_addresses(ctx, node_ports)
    if isinstance(reached, CheckResult):
        return reached
    if reached is not None:
        return [Target(scheme, address, port) for _, address, port in reached]
    address = node_address(ctx)
    if not address:
        return "cannot tell this machine's way to the nodes; set LABRUNNER_NODE_ADDRESS"
    return [Target(scheme, address, n) for n in node_ports]


def _host_key(name: str | None) -> str:
    """A DNS name as compared: case-insensitive, without a trailing dot (RFC 4343, RFC 1034 3.1)."""
    return (name or "").rstrip(".").lower()


def host_matches(pattern: str | None, host: str) -> bool:
    """Whether a listener or route hostname `pattern` covers `host`: no pattern covers every host,
    `*.example.com` every name below example.com (one label or more, as the Gateway API's
    Listener.hostname says), else the names must be equal (case-insensitive)."""
    if not pattern:
        return True
    pattern, host = _host_key(pattern), _host_key(host)
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def gateway_listener_missing(gateway: Mapping[str, Any], scheme: str, host: str | None,
                             secret: str | None = None) -> str | None:
    """Why `gateway` cannot be the one answering `scheme` requests for `host`, or None when it can.

    Every Gateway of a controller shares its address, so a request that answers right proves only that
    *some* Gateway routes the host. This asks the Gateway itself: a listener of the scheme's protocol
    (HTTP, HTTPS) whose hostname covers `host` (spec.listeners), to which the controller counts at least
    one route attached (status.listeners[].attachedRoutes, Gateway API v1), and with `secret`, whose
    tls.certificateRefs name that Secret of the Gateway's namespace."""
    protocol = "HTTPS" if scheme == "https" else "HTTP"
    name = (gateway.get("metadata") or {}).get("name")
    listeners = [x for x in (gateway.get("spec") or {}).get("listeners") or []
                 if x.get("protocol") == protocol and (host is None or host_matches(x.get("hostname"), host))]
    if not listeners:
        for_host = f" for host {host}" if host else ""
        return f"Gateway {name} has no {protocol} listener{for_host}"
    attached = {x.get("name"): x.get("attachedRoutes") or 0 for x in (gateway.get("status") or {}).get("listeners") or []}
    if not any(attached.get(x.get("name"), 0) > 0 for x in listeners):
        names = ", ".join(str(x.get("name")) for x in listeners)
        return f"no route is attached to Gateway {name}'s {protocol} listener {names} (its status says attachedRoutes: 0)"
    if secret:
        own = (gateway.get("metadata") or {}).get("namespace")
        if not any(ref.get("name") == secret and ref.get("kind", "Secret") == "Secret"
                   and ref.get("namespace", own) == own
                   for x in listeners for ref in ((x.get("tls") or {}).get("certificateRefs") or [])):
            names = ", ".join(str(x.get("name")) for x in listeners)
            return f"Gateway {name}'s {protocol} listener {names} does not name Secret {secret} in tls.certificateRefs"
    return None


def _tls_names(ingress: Mapping[str, Any], secret: str, host: str) -> bool:
    """Whether `ingress` terminates TLS for `host` with `secret`: a spec.tls entry naming the Secret whose
    hosts list the host, or lists none (then it is the controller's default for the Ingress's hosts)."""
    return any(t.get("secretName") == secret and (not t.get("hosts") or any(_host_key(h) == _host_key(host)
                                                                           for h in t["hosts"]))
               for t in (ingress.get("spec") or {}).get("tls") or [])


CLOCK_SKEW_SECONDS = 300  # a certificate made a moment ago on a machine whose clock is this far ahead still counts


def certificate_expired(der: bytes, now: float | None = None) -> str | None:
    """Why a certificate is not valid at `now` (a Unix time; default: this machine's clock), e.g.
    "expired on 2025-01-31", or None while it is (its notBefore..notAfter, RFC 5280 4.1.2.5)."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    at = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
    if at > cert.not_valid_after_utc:
        return f"expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    if at + timedelta(seconds=CLOCK_SKEW_SECONDS) < cert.not_valid_before_utc:  # made just now on a clock ahead
        return f"not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
    return None


def certificate_names(der: bytes) -> list[str]:
    """The DNS names a certificate is for: its subjectAltName dNSNames, else its subject CN (the
    fallback RFC 6125 6.4.4 allows only without SANs). Raises ValueError for a certificate that cannot be parsed."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _names_host(der: bytes, host: str) -> bool:
    """Whether the certificate `der` (as a server presented it) is one for `host`; False if unreadable."""
    try:
        return certificate_covers(certificate_names(der), host)
    except ValueError:
        return False


def certificate_covers(names: list[str], host: str) -> bool:
    """Whether one of a certificate's `names` matches `host` as a TLS client checks it (RFC 6125 6.4.3):
    case-insensitive, and `*.` standing for exactly one left-most label."""
    host = _host_key(host)
    for name in map(_host_key, names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _controller_entry(ctx: CheckContext, name: str, scheme: str) -> tuple[str, int] | CheckResult | None:
    """(address, port) where this machine reaches the controller of labrunner's add-on providing
    capability `name` for `scheme`; an errored result when that add-on is installed but not ready or
    not reachable (the cluster's fault, with the fix); None when no add-on of labrunner's serves it
    (another controller: the object's own status address is used)."""
    from ...capabilities import capability

    found = capability(ctx.cluster, name)
    if found.state is False and time.time() - found.seen_at > RECHECK_MISSING_AFTER:
        found = capability(ctx.cluster, name, fresh=True)  # just installed: do not wait for the cache
    if found.state is False:
        return CheckResult.errored(f"{name}: {found.detail}", [f"fix: {found.fix}"] if found.fix else [])
    entry = (found.data or {}).get("entry") or {}
    where = entry.get(scheme)
    return (str(where[0]), int(where[1])) if where else None


def _gateway_fix() -> str:
    from ...addons import addon_providing, install_fix

    addon = addon_providing("gateway-api")
    return install_fix(addon) if addon else "install a Gateway API implementation"


def _secret_cert_der(ctx: CheckContext, name: str) -> bytes | str:
    secret = ctx.cluster.get("Secret", name, namespace=ctx.namespace)
    if secret is None:
        return f"Secret {name} does not exist"
    pem = base64.b64decode(((secret.get("data") or {}).get("tls.crt") or "")).decode("ascii", "replace")
    if "BEGIN CERTIFICATE" not in pem:
        return f"Secret {name} has no tls.crt certificate"
    first = pem[pem.index("-----BEGIN CERTIFICATE-----"): pem.index("-----END CERTIFICATE-----") + 25]
    return ssl.PEM_cert_to_DER_cert(first)


def _secret_key_mismatch(ctx: CheckContext, name: str, der: bytes) -> str | None:
    """Why Secret `name`'s tls.key cannot serve its certificate `der` (no key, unreadable, or the key of
    another certificate), or None when its public key is the certificate's. A controller cannot load
    such a pair and presents some other certificate, which says nothing of why."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    secret = ctx.cluster.get("Secret", name, namespace=ctx.namespace) or {}
    pem = base64.b64decode(((secret.get("data") or {}).get("tls.key") or ""))
    if b"PRIVATE KEY" not in pem:
        return f"Secret {name} has no tls.key private key"
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        return f"the tls.key of Secret {name} cannot be read: {exc}"
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*public) != x509.load_der_x509_certificate(der).public_key().public_bytes(*public):
        return f"the tls.key of Secret {name} is not the key of its tls.crt (both must come from one openssl run)"
    return None


def _http(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    targets = _resolve(ctx, p)
    if isinstance(targets, CheckResult):
        return targets
    if isinstance(targets, str):
        return CheckResult.failed(targets, evidence=Evidence(expected_answer(p), targets))
    host = targets[0].host
    if "tlsSecret" in p and host:
        # The controller picks a certificate by SNI, and what it does with one that does not name the
        # host is its own choice (Traefik falls back to its default one; others may serve it anyway).
        der = _secret_cert_der(ctx, p["tlsSecret"])
        if isinstance(der, str):
            return CheckResult.failed(der, evidence=Evidence(expected_answer(p), der))
        try:
            names = certificate_names(der)
            expired = certificate_expired(der)
            unpaired = _secret_key_mismatch(ctx, p["tlsSecret"], der)
        except ValueError as exc:
            why = f"the certificate in Secret {p['tlsSecret']} cannot be read: {exc}"
            return CheckResult.failed(why, evidence=Evidence(expected_answer(p), why))
        if not certificate_covers(names, host):
            why = (f"the certificate in Secret {p['tlsSecret']} is for {', '.join(names) or 'no name'}, "
                   f"not {host}, so a client asking for {host} would reject it")
            return CheckResult.failed(why, evidence=Evidence(expected_answer(p), why))
        if unpaired:
            return CheckResult.failed(unpaired, evidence=Evidence(expected_answer(p), unpaired))
        if expired:
            why = f"the certificate in Secret {p['tlsSecret']} {expired}, so clients would reject it"
            return CheckResult.failed(why, evidence=Evidence(expected_answer(p), why))
    backend: set[str] | None = None
    if "backend" in p:
        found = _backend_pods(ctx, p)
        if isinstance(found, str):
            return CheckResult.failed(found, evidence=Evidence(expected_answer(p), found))
        backend = found
    results = [_ask(ctx, p, target, backend) for target in targets]
    chosen = next((r for r in results if r.ok), results[0])
    if not chosen.ok and "loadBalancer" in p["to"]:
        unreachable = load_balancer_unreachable(ctx)  # no address of this cluster's answers this machine
        if unreachable is not None:
            return replace(unreachable, evidence=chosen.evidence)
    if not chosen.ok and ("ingress" in p["to"] or "gateway" in p["to"]) and \
            chosen.evidence.observed.startswith(_NO_ANSWER):
        return _controller_silent(ctx, p, chosen)
    if chosen.ok or len(results) == 1:
        return chosen
    # Every node port was tried: the evidence says what each answered, and how to ask each again.
    observed = "; ".join(f"{_where(p, t)}: {r.evidence.observed}" for t, r in zip(targets, results))
    commands = tuple(c for r in results for c in r.evidence.commands)
    return replace(chosen, evidence=Evidence(chosen.evidence.expected, observed, commands=commands))


# How `_requested` says no HTTP answer came at all (its `observed`).
_NO_ANSWER = ("connection refused", "no answer within", "cannot connect")


def _controller_silent(ctx: CheckContext, p: Mapping[str, Any], result: CheckResult) -> CheckResult:
    """The error for an Ingress controller that does not answer at all. A controller that runs answers
    every request, 404 for a host or path nobody routes, so silence is never the learner's answer: it is
    the controller down, restarting or unreachable (the capability may have been cached while it was up)."""
    from ...capabilities import capability

    name = "gateway-api" if "gateway" in p["to"] else "ingress"
    found = capability(ctx.cluster, name, fresh=True)
    fix = found.fix if found.state is False and found.fix else "see `labrunner doctor`, under " + name
    why = f"{name}: {found.detail}" if found.state is False else "the Ingress controller does not answer"
    return replace(CheckResult.errored(f"{why}, whatever the answer: {result.message}", [f"fix: {fix}"]),
                   evidence=result.evidence)


def expected_answer(p: Mapping[str, Any]) -> str:
    """What an `http` check expects of the answer, as its evidence says it: "status 200, body containing 'ok'"."""
    wanted = [f"status {p.get('status', 200)}"]
    if "location" in p:
        wanted.append(f"Location starting {p['location']!r}")
    if "bodyContains" in p:
        wanted.append(f"body containing {p['bodyContains']!r}")
    if "tlsSecret" in p:
        wanted.append(f"the certificate of Secret {p['tlsSecret']}")
    if "backend" in p:
        wanted.append(f"each answer from a pod {p['backend']}")
    return ", ".join(wanted)


def curl_command(p: Mapping[str, Any], target: Target) -> str:
    """A `curl` that asks what the check asks: the same address, port, path, Host header and SNI (with
    `--resolve`), without verifying the certificate (lab certificates are self-signed)."""
    scheme, address, port, host = target
    shown = f"[{address}]" if ":" in address else address
    path = p.get("path", "/")
    timeout = float(p.get("timeout", 3))
    parts = ["curl", "-sS", "-i", "-m", f"{timeout:g}"]
    if scheme == "https":
        parts.append("-k")
    if host and scheme == "https":
        parts += ["--resolve", f"{host}:{port}:{address}", f"https://{host}:{port}{path}"]
    else:
        if host:
            parts += ["-H", f"Host: {host}"]
        parts.append(f"{scheme}://{shown}:{port}{path}")
    return " ".join(shlex.quote(part) for part in parts)


def _backend_pods(ctx: CheckContext, p: Mapping[str, Any]) -> set[str] | str:
    """Names of the ready pods `backend` matches, after checking that the Service sends only to them."""
    selector = p["backend"]
    pods = {pod["metadata"]["name"]: pod for pod in ctx.cluster.list("Pod", namespace=ctx.namespace, selector=selector)
            if is_ready(pod)}
    if not pods:
        return f"no ready pod matches {selector}"
    to = p["to"]
    service = to.get("nodePort") or to.get("loadBalancer")
    if service:
        slices = ctx.cluster.list("EndpointSlice", namespace=ctx.namespace, selector=f"{SERVICE_NAME_LABEL}={service}")
        by_ip = {ip.get("ip"): name for name, pod in pods.items() for ip in (pod.get("status") or {}).get("podIPs") or []}
        ready = [e for e in read_endpoints(slices) if e.ready]
        if not ready:
            return f"Service {service} has no ready endpoints"
        strangers = [e.pod or e.key for e in ready
                     if not (e.pod in pods or any(a in by_ip for a in e.addresses))]
        if strangers:
            return (f"Service {service} also sends to {', '.join(sorted(strangers))}, "
                    f"which is not one of the pods {selector}")
    return set(pods)


def _ask(ctx: CheckContext, p: Mapping[str, Any], target: Target, backend: set[str] | None) -> CheckResult:
    """One request; with `backend`, several, and each answer must come from one of those pods.

    Each request opens a new connection, so kube-proxy picks a backend afresh each time.
    """
    rounds = 1 if backend is None else min(10, max(3, 2 * len(backend)))
    answered_by: set[str] = set()
    for _ in range(rounds):
        result, body = _request(ctx, p, target)
        if not result.ok or backend is None:
            return result
        name = body.strip()
        if name not in backend:
            return CheckResult.failed(f"{_where(p, target)} was answered by {name[:60] or 'an empty body'!r}, "
                                      f"not by one of the pods {p['backend']} ({', '.join(sorted(backend))})",
                                      evidence=Evidence(expected_answer(p), f"answered by {name[:60] or 'an empty body'!r}",
                                                        commands=(curl_command(p, target),)))
        answered_by.add(name)
    return CheckResult.passed(f"{result.message}, {rounds} times, each from a pod {p['backend']} "
                              f"({', '.join(sorted(answered_by))})", result.details)


def _where(p: Mapping[str, Any], target: Target) -> str:
    scheme, address, port, host = target
    return f"{scheme}://{address}:{port}{p.get('path', '/')}" + (f" (Host: {host})" if host else "")


def _request(ctx: CheckContext, p: Mapping[str, Any], target: Target) -> tuple[CheckResult, str]:
    """(the verdict on one request, the body it read); a verdict that is not a pass carries the evidence:
    what was expected, what came back, and the `curl` that asks the same."""
    result, body, observed = _requested(ctx, p, target)
    if result.ok:
        return result, body
    return replace(result, evidence=Evidence(expected_answer(p), observed, commands=(curl_command(p, target),))), body


def _requested(ctx: CheckContext, p: Mapping[str, Any], target: Target) -> tuple[CheckResult, str, str]:
    """(the verdict on one request, the body it read, what it saw in a few words)."""
    scheme, address, port, host = target
    path = p.get("path", "/")
    where = _where(p, target)
    timeout = float(p.get("timeout", 3))
    try:
        if scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # lab certificates are self-signed; tlsSecret compares exactly
            conn: http.client.HTTPConnection = _SNIConnection(address, port, timeout=timeout, context=context, sni=host)
        else:
            conn = http.client.HTTPConnection(address, port, timeout=timeout)
        conn.request("GET", path, headers={"Host": host or address, "User-Agent": "labrunner"})
        response = conn.getresponse()
        body = response.read(65536).decode("utf-8", "replace")
        peer = conn.sock.getpeercert(binary_form=True) if scheme == "https" and conn.sock else None
        conn.close()
    except ConnectionRefusedError:
        return CheckResult.failed(f"nothing answers at {where} (connection refused)"), "", "connection refused"
    except (socket.timeout, TimeoutError):
        return CheckResult.failed(f"no answer from {where} within {timeout:.0f}s"), "", f"no answer within {timeout:g}s"
    except ssl.SSLError as exc:
        return CheckResult.failed(f"TLS handshake with {where} failed: {exc.reason or exc}"), "", \
            f"TLS handshake failed: {exc.reason or exc}"
    except OSError as exc:
        return CheckResult.failed(f"cannot connect to {where}: {exc.strerror or exc}"), "", \
            f"cannot connect: {exc.strerror or exc}"
    wanted = p.get("status", 200)
    if response.status != wanted:
        return CheckResult.failed(f"{where} answered {response.status}, expected {wanted}", [body[:200]]), body, \
            f"status {response.status}"
    if "location" in p:
        location = response.getheader("Location") or ""
        if not normalized_location(location).startswith(normalized_location(str(p["location"]))):
            return CheckResult.failed(f"{where} answered {response.status} with Location "
                                      f"{location[:120]!r}, expected one starting {p['location']!r}"), body, \
                f"status {response.status}, Location {location[:120] or 'none'}"
    if "bodyContains" in p and str(p["bodyContains"]) not in body:
        return CheckResult.failed(f"the answer from {where} does not contain {p['bodyContains']!r}", [body[:200]]), body, \
            f"status {response.status}, a body without {p['bodyContains']!r}: {body[:80]!r}"
    if "tlsSecret" in p:
        expected = _secret_cert_der(ctx, p["tlsSecret"])
        if isinstance(expected, str):
            return CheckResult.failed(expected), body, f"status {response.status}; {expected}"
        if peer != expected and host and peer and _names_host(peer, host):
            # The learner's Ingress names a Secret whose certificate is for the host and valid (checked
            # before asking), yet the controller presents another one for the name: Traefik keeps one
            # certificate store for the cluster, and another namespace's certificate for the same name
            # (two wildcards alike) can win. An exact name is preferred to a wildcard.
            return CheckResult.errored(
                f"{where} presents another certificate for {host} than the one in Secret {p['tlsSecret']}, "
                "one the controller holds from elsewhere (another namespace's Ingress or Gateway with a "
                "certificate for the same name)",
                [f"fix: make the certificate of Secret {p['tlsSecret']} for {host} itself, not a wildcard: the "
                 "controller prefers an exact name"]), body, "another certificate for the same name"
        if peer != expected:
            return CheckResult.failed(f"{where} presents a certificate other than the one in Secret {p['tlsSecret']}"), \
                body, "another certificate"
    return CheckResult.passed(f"{where} answered {response.status}", [body[:200]] if body else []), body, \
        f"status {response.status}"


def normalized_location(url: str) -> str:
    """`url` as a browser follows it: scheme and host in lower case, and without a port that is the
    scheme's own (https://a.example:443/x is https://a.example/x, RFC 3986 6.2.3). Some controllers
    write the port a redirect names even when it is the default one, which the Gateway API says to leave out."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if not parts.scheme or not parts.hostname:
        return url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != {"http": 80, "https": 443}.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path, parts.query, parts.fragment))


class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to an address, with the Ingress host as SNI (not the address)."""

    def __init__(self, host: str, port: int, *, timeout: float, context: ssl.SSLContext, sni: str | None):
        super().__init__(host, port, timeout=timeout, context=context)
        self._sni = sni

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni or self.host)  # type: ignore[attr-defined]


def _validate(p: Mapping[str, Any]) -> list[str]:
    to = p["to"]
    if "nodePort" in p and "nodePort" not in to:
        return ["nodePort is for to: {nodePort: <service>}"]
    if "tlsSecret" in p and p.get("scheme") != "https" and not str(to.get("url", "")).startswith("https"):
        return ["tlsSecret needs scheme: https"]
    return []


KINDS = [
    CheckKind(
        "http",
        {
            "to": Param(HttpTarget, required=True, doc="{nodePort: svc}, {loadBalancer: svc}, {ingress: host}, "
                                                       "{gateway: name, host?: name} or {url: ...}"),
            "port": Param(Port, doc="loadBalancer/ingress/gateway: the port asked (default 80, 443 for https; through "
                                   "labrunner's Ingress add-on, where this machine reaches those); "
                                   "nodePort: the Service port whose node port is used"),
            "nodePort": Param(Port, doc="nodePort: the node port to use (default: the one of `port`, else any of the Service's)"),
            "backend": Param(Selector, doc="a label selector: the Service sends only to these pods, and each of several "
                                      "answers (the body at `path`, e.g. agnhost's /hostname) names one of them"),
            "path": Param(UrlPath, doc="default /"),
            "scheme": Param(str, doc="http (default) or https", choices=("http", "https")),
            "status": Param(HttpStatus, doc="expected status (default 200)"),
            "bodyContains": Param(Expected, doc="text the body must contain"),
            "location": Param(Expected, doc="a redirect: the Location header must start with this "
                                            "(e.g. https://app.example/); pair with status: 301 or 302"),
            "tlsSecret": Param(ResourceName, doc="a kubernetes.io/tls Secret whose certificate the server must present"),
            "timeout": Param(seconds(BOUNDS.http_seconds), doc=f"seconds (default 3, at most {BOUNDS.http_seconds:g})"),
        },
        _http,
        validate=_validate,
        doc="a request from this machine gets the expected answer",
        lags="kube-proxy or the load balancer may still be programming this Service", settles_within=15,
    )
]
