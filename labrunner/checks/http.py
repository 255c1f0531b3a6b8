"""The `http` check: a request from the machine running labrunner.

This is what "reachable from outside" means for a learner: their own machine
reaching a NodePort, a load-balancer address or an Ingress host.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
from typing import Any, Mapping

from .base import CheckContext, CheckKind, CheckResult, Param

_TARGETS = ("nodePort", "loadBalancer", "ingress", "url")


def node_address(ctx: CheckContext) -> str | None:
    """Where this machine reaches node ports: LABRUNNER_NODE_ADDRESS, else a node's address."""
    if ctx.node_address:
        return ctx.node_address
    if os.environ.get("LABRUNNER_NODE_ADDRESS"):
        return os.environ["LABRUNNER_NODE_ADDRESS"]
    for node in ctx.cluster.list("Node"):
        addresses = {a.get("type"): a.get("address") for a in (node.get("status") or {}).get("addresses") or []}
        for kind in ("ExternalIP", "InternalIP"):
            if addresses.get(kind):
                return addresses[kind]
    return None


def _resolve(ctx: CheckContext, p: Mapping[str, Any]) -> tuple[str, str, int, str | None] | str:
    """(scheme, address, port, host header) or what is missing."""
    to = p["to"]
    scheme = p.get("scheme", "http")
    if "url" in to:
        from urllib.parse import urlsplit

        parts = urlsplit(to["url"])
        default = 443 if parts.scheme == "https" else 80
        return parts.scheme, parts.hostname or "", parts.port or default, None
    if "ingress" in to:
        host = to["ingress"]
        ingresses = ctx.cluster.list("Ingress", namespace=ctx.namespace)
        mine = [i for i in ingresses if any(r.get("host") == host for r in (i.get("spec") or {}).get("rules") or [])]
        if not mine:
            return f"no Ingress in {ctx.namespace} has a rule for host {host}"
        lb = ((mine[0].get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        address = os.environ.get("LABRUNNER_INGRESS_ADDRESS") or (lb[0].get("ip") or lb[0].get("hostname") if lb else None) or node_address(ctx)
        if not address:
            return f"Ingress for {host} has no address yet"
        return scheme, address, p.get("port", 443 if scheme == "https" else 80), host
    key = "nodePort" if "nodePort" in to else "loadBalancer"
    svc = ctx.cluster.get("Service", to[key], namespace=ctx.namespace)
    if svc is None:
        return f"Service {to[key]} does not exist"
    ports = (svc.get("spec") or {}).get("ports") or []
    if "port" in p:
        ports = [x for x in ports if x.get("port") == p["port"]]
    if not ports:
        return f"Service {to[key]} has no port {p.get('port', '')}".rstrip()
    if key == "nodePort":
        node_port = ports[0].get("nodePort")
        if not node_port:
            return f"Service {to[key]} has no node port (is its type NodePort?)"
        address = node_address(ctx)
        if not address:
            return "cannot tell this machine's way to the nodes; set LABRUNNER_NODE_ADDRESS"
        return scheme, address, node_port, None
    lb = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if not lb:
        return f"Service {to[key]} has no load-balancer address yet"
    return scheme, lb[0].get("ip") or lb[0].get("hostname"), ports[0]["port"], None


def _secret_cert_der(ctx: CheckContext, name: str) -> bytes | str:
    secret = ctx.cluster.get("Secret", name, namespace=ctx.namespace)
    if secret is None:
        return f"Secret {name} does not exist"
    pem = base64.b64decode(((secret.get("data") or {}).get("tls.crt") or "")).decode("ascii", "replace")
    if "BEGIN CERTIFICATE" not in pem:
        return f"Secret {name} has no tls.crt certificate"
    first = pem[pem.index("-----BEGIN CERTIFICATE-----"): pem.index("-----END CERTIFICATE-----") + 25]
    return ssl.PEM_cert_to_DER_cert(first)


def _http(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    target = _resolve(ctx, p)
    if isinstance(target, str):
        return CheckResult.failed(target)
    scheme, address, port, host = target
    path = p.get("path", "/")
    where = f"{scheme}://{address}:{port}{path}" + (f" (Host: {host})" if host else "")
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
        return CheckResult.failed(f"nothing answers at {where} (connection refused)")
    except (socket.timeout, TimeoutError):
        return CheckResult.failed(f"no answer from {where} within {timeout:.0f}s")
    except ssl.SSLError as exc:
        return CheckResult.failed(f"TLS handshake with {where} failed: {exc.reason or exc}")
    except OSError as exc:
        return CheckResult.failed(f"cannot connect to {where}: {exc.strerror or exc}")
    wanted = p.get("status", 200)
    if response.status != wanted:
        return CheckResult.failed(f"{where} answered {response.status}, expected {wanted}", [body[:200]])
    if "bodyContains" in p and str(p["bodyContains"]) not in body:
        return CheckResult.failed(f"the answer from {where} does not contain {p['bodyContains']!r}", [body[:200]])
    if "tlsSecret" in p:
        expected = _secret_cert_der(ctx, p["tlsSecret"])
        if isinstance(expected, str):
            return CheckResult.failed(expected)
        if peer != expected:
            return CheckResult.failed(f"{where} presents a certificate other than the one in Secret {p['tlsSecret']}")
    return CheckResult.passed(f"{where} answered {response.status}", [body[:200]] if body else [])


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
    if len([k for k in _TARGETS if k in to]) != 1 or len(to) != 1 or not isinstance(next(iter(to.values())), str):
        return ["to: expected exactly one of nodePort: <service>, loadBalancer: <service>, ingress: <host>, url: <url>"]
    if "tlsSecret" in p and p.get("scheme") != "https" and not str(to.get("url", "")).startswith("https"):
        return ["tlsSecret needs scheme: https"]
    return []


KINDS = [
    CheckKind(
        "http",
        {
            "to": Param(dict, required=True, doc="{nodePort: svc}, {loadBalancer: svc}, {ingress: host} or {url: ...}"),
            "port": Param(int, doc="the Service port (default: its first), or the Ingress port"),
            "path": Param(str, doc="default /"),
            "scheme": Param(str, doc="http (default) or https", choices=("http", "https")),
            "status": Param(int, doc="expected status (default 200)"),
            "bodyContains": Param((str, int), doc="text the body must contain"),
            "tlsSecret": Param(str, doc="a kubernetes.io/tls Secret whose certificate the server must present"),
            "timeout": Param((int, float), doc="seconds (default 3)"),
        },
        _http,
        validate=_validate,
        doc="a request from this machine gets the expected answer",
        lags="kube-proxy or the load balancer may still be programming this Service", settles_within=15,
    )
]
