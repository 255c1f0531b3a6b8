"""How each capability is found out: one function per capability, `probe(cluster) -> Capability`.

Probes try the real thing where a read cannot tell (a policy that must block, a NodePort this machine
must reach, an address a load-balancer implementation must assign, a certificate a signer must issue)
and read the API where it can (version, classes, handlers). What they create lives in labrunner's
own namespace (LABRUNNER_NAMESPACE), which `labrunner reset --all` deletes; a test CSR and a
load-balancer Service are deleted at once.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import LabrunnerError, NotFound
from . import Capability
from .portmaps import PORT_TAKEN_FIX, kind_port_mappings, lb_port_taken, lb_published_ports

if TYPE_CHECKING:
    from ..cluster import Cluster

NODEPORT_SERVICE = "lr-capability-nodeport"
LOADBALANCER_SERVICE = "lr-capability-lb"
LOADBALANCER_WAIT = 20.0  # s: cloud-provider-kind starts a proxy container first; kube-router/MetalLB take < 1 s
CONNECT_TIMEOUT = 2.0  # s per TCP connect from this machine
NODE_CONNECT_WAIT = 2.0  # s: a node address that answers opens a connection in well under a second
NODE_PORT_RANGE = (30000, 32767)  # the API server's default --service-node-port-range
KUBELET_PORT = 10250  # the kubelet's default --port, where every node listens
CSR_WAIT = 15.0  # s for the signer to issue or refuse
NO_LOADBALANCER_FIX = ("run a load-balancer implementation: on kind, `labrunner up` starts cloud-provider-kind "
                       "(https://github.com/kubernetes-sigs/cloud-provider-kind), or run `cloud-provider-kind` "
                       "in another terminal; elsewhere MetalLB or the cloud's")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
_canary_lock = threading.Lock()


def _kubernetes(cluster: Cluster) -> Capability:
    from ..cluster import ping

    version = ping(cluster)
    match = re.match(r"^v?(\d+)\.(\d+)", version)
    if not match:
        return Capability("kubernetes", None, f"the API server reports version {version!r}, which labrunner cannot read")
    major, minor = int(match[1]), int(match[2])
    return Capability("kubernetes", True, f"Kubernetes {version}", data={"major": major, "minor": minor,
                                                                         "version": version})


def _canary(cluster: Cluster):  # noqa: ANN202 - CanaryResult
    from ..checks.canary import CANARY_NAMESPACE, check_policy_enforced, from_workshop_record, workshop_record_name

    seat = getattr(cluster, "seat", None)
    if seat is not None:  # a workshop seat goes by the canary the instructor ran (checks.canary)
        return from_workshop_record(cluster.get("ConfigMap", workshop_record_name(seat.workshop),
                                                namespace=CANARY_NAMESPACE), seat.workshop)
    with _canary_lock:  # ingress and egress come from one run
        return check_policy_enforced(cluster)


def _networkpolicy(cluster: Cluster) -> Capability:
    found = _canary(cluster)
    return Capability("networkpolicy", found.enforced, found.message,
                      "" if found.enforced is not False else "use a CNI that enforces NetworkPolicy (kind's kindnet "
                                                             "since kind v0.24, Calico, Cilium, kube-router)")


def _networkpolicy_egress(cluster: Cluster) -> Capability:
    from ..checks.canary import EGRESS_FIX

    found = _canary(cluster)
    if found.enforced is False:
        return Capability("networkpolicy-egress", False, "NetworkPolicy is not enforced at all",
                          "use a CNI that enforces NetworkPolicy for ingress and egress")
    return Capability("networkpolicy-egress", found.egress, found.egress_message or found.message,
                      EGRESS_FIX if found.egress is False else "")


def node_addresses(cluster: Cluster) -> list[str]:
    """Where this machine would reach node ports: LABRUNNER_NODE_ADDRESS, else each node's
    ExternalIP, else its InternalIP (the order `kubectl get nodes -o wide` shows)."""
    if os.environ.get("LABRUNNER_NODE_ADDRESS"):
        return [os.environ["LABRUNNER_NODE_ADDRESS"]]
    found: list[str] = []
    for node in cluster.list("Node"):
        addresses = {a.get("type"): a.get("address") for a in (node.get("status") or {}).get("addresses") or []}
        address = addresses.get("ExternalIP") or addresses.get("InternalIP")
        if address and address not in found:
            found.append(address)
    return found


def tcp_answers(address: str, port: int, *, within: float = CONNECT_TIMEOUT) -> bool:
    """Whether a TCP connection from this machine to address:port opens within `within` seconds
    (retried while refused: kube-proxy may still be programming a port it just learnt)."""
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection((address, port), timeout=max(0.2, min(CONNECT_TIMEOUT, deadline - time.monotonic()))):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.3)


def _open_server_service(name: str, service_type: str, *, lb_class: str | None = None) -> dict:
    from ..cluster.applying import LAB_LABEL, MANAGED_BY
    from ..cluster.probepods import OPEN_SERVER_LABEL

    spec: dict = {"type": service_type, "selector": {OPEN_SERVER_LABEL: "true"},
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    if lb_class:
        spec["loadBalancerClass"] = lb_class
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": {MANAGED_BY: "labrunner", LAB_LABEL: "labrunner"}}, "spec": spec}


def node_reached(cluster: Cluster, addresses: list[str] | None = None) -> str | None:
    """The first node address this machine opens a TCP connection to, on a port known to listen there:
    the node's kubelet (status.daemonEndpoints.kubeletEndpoint, 10250 unless the node says otherwise;
    every node runs one, whatever its Services). None when none answers within NODE_CONNECT_WAIT s each,
    as on Docker Desktop (macOS, Windows), where kind's nodes live in a VM whose addresses the host does
    not route. A fact measured from this machine, not guessed from its OS."""
    wanted = addresses if addresses is not None else node_addresses(cluster)
    ports: dict[str, int] = {}
    for node in cluster.list("Node"):
        status = node.get("status") or {}
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or KUBELET_PORT
        for item in status.get("addresses") or []:
            ports.setdefault(item.get("address"), int(port))
    for address in wanted:
        if tcp_answers(address, ports.get(address, KUBELET_PORT), within=NODE_CONNECT_WAIT):
            return address
    return None


def _nodeport(cluster: Cluster) -> Capability:
    """How this machine reaches node ports (data["path"]): "node-address" (the node's own address answers,
    data["address"]) or "published" (it does not, and kind publishes node ports on this machine,
    data["mappings"]: {node port: [host, port]}, as on Docker Desktop)."""
    from ..cluster.applying import Rendered, apply_object
    from ..cluster.probepods import LABRUNNER_NAMESPACE, ensure_open_server

    addresses = node_addresses(cluster)
    mappings, source = kind_port_mappings(cluster.context_name)
    shown = {str(port): list(where) for port, where in sorted(mappings.items())}
    reached = node_reached(cluster, addresses)
    where = ", ".join(addresses) or "none known"
    unreached = (f"the node addresses ({where}) do not answer this machine (no TCP connection to a node's kubelet "
                 f"port in {NODE_CONNECT_WAIT:.0f} s; on Docker Desktop, macOS and Windows, nodes live in a VM)")
    in_range = {port: at for port, at in mappings.items() if NODE_PORT_RANGE[0] <= port <= NODE_PORT_RANGE[1]}
    # With no published port to fall back on (not kind), a firewall may close the kubelet's port and open
    # node ports (a cloud's nodes), so the node port itself is tried at the node address, as before.
    target = reached or (addresses[0] if addresses and not in_range else None)
    why = unreached
    if target:
        ensure_open_server(cluster)
        svc = apply_object(cluster, Rendered(_open_server_service(NODEPORT_SERVICE, "NodePort"), "labrunner"),
                           namespace=LABRUNNER_NAMESPACE)
        node_port = svc["spec"]["ports"][0]["nodePort"]
        if tcp_answers(target, node_port, within=8.0):
            return Capability("nodeport", True, f"path: the node address; node ports answer this machine at {target}",
                              data={"direct": True, "path": "node-address", "address": target, "mappings": shown,
                                    "asked": addresses})
        why = (f"node port {node_port} does not answer this machine at the node address {target}" if reached
               else f"{unreached}, nor does node port {node_port} there")
    if in_range:
        ports = ", ".join(f"{port} at {host}:{hport}" for port, (host, hport) in sorted(in_range.items()))
        return Capability("nodeport", True, f"path: ports published on this machine; {why}; node ports {ports} are "
                                            f"reached there, as {source} publishes them",
                          data={"direct": False, "path": "published", "mappings": shown, "source": source,
                                "asked": addresses})
    return Capability("nodeport", False, f"{why}, and no node port is published on this machine",
                      "create the cluster with kind's extraPortMappings for the labs' node ports (kind-config.yaml maps "
                      "30080 to 127.0.0.1:30080; `labrunner up` uses it), or set LABRUNNER_NODE_ADDRESS to an address "
                      "of a node that this machine reaches",
                      data={"direct": False, "path": None, "mappings": {}, "asked": addresses})


def _loadbalancer(cluster: Cluster, lb_class: str | None = None) -> Capability:
    """A Service of type LoadBalancer (of `lb_class`, else the default implementation) gets an address
    within LOADBALANCER_WAIT s; then whether this machine reaches it. The Service is deleted after."""
    from ..cluster import wait_until
    from ..cluster.applying import Rendered, apply_object, delete_object
    from ..cluster.probepods import LABRUNNER_NAMESPACE, ensure_labrunner_namespace, ensure_open_server
    from ..errors import WaitTimedOut
    from ..model import ObjectRef

    name = f"loadbalancer:{lb_class}" if lb_class else "loadbalancer"
    what = f"class {lb_class}" if lb_class else "the default class"
    service = LOADBALANCER_SERVICE + (f"-{secrets.token_hex(3)}" if lb_class else "")
    ensure_labrunner_namespace(cluster)
    ensure_open_server(cluster)
    apply_object(cluster, Rendered(_open_server_service(service, "LoadBalancer", lb_class=lb_class), "labrunner"),
                 namespace=LABRUNNER_NAMESPACE)
    try:
        def addressed(items: list[dict]) -> bool:
            return any(((i.get("status") or {}).get("loadBalancer") or {}).get("ingress") for i in items)

        try:
            svc = wait_until(cluster, "Service", namespace=LABRUNNER_NAMESPACE, name=service, predicate=addressed,
                             describe="a load-balancer address", timeout=LOADBALANCER_WAIT)[0]
        except WaitTimedOut:
            taken = lb_port_taken(cluster, LABRUNNER_NAMESPACE, service)
            if taken:
                return Capability(name, False, f"the load-balancer implementation could not publish port 80 of a "
                                               f"LoadBalancer Service on this machine: {taken}", PORT_TAKEN_FIX)
            return Capability(name, False, f"no load-balancer implementation serves {what}: a Service of type "
                                           f"LoadBalancer got no address in {LOADBALANCER_WAIT:.0f} s",
                              NO_LOADBALANCER_FIX if not lb_class else
                              f"run the implementation of load-balancer class {lb_class}, or leave "
                              "loadBalancerClass out to use the cluster's default")
        ingress = svc["status"]["loadBalancer"]["ingress"][0]
        address = ingress.get("ip") or ingress.get("hostname")
        if tcp_answers(address, 80, within=8.0):
            return Capability(name, True, f"a load-balancer implementation serves {what}; path: the load-balancer "
                                          f"address ({address} answers this machine)",
                              data={"address": address, "reachable": True, "path": "address"})
        # Docker Desktop: the address lives in Docker's VM; cloud-provider-kind --enable-lb-port-mapping
        # publishes the Service's ports on this machine instead.
        published = lb_published_ports(cluster.context_name, LABRUNNER_NAMESPACE, service).get(80)
        if published and tcp_answers(*published, within=8.0):
            return Capability(name, True, f"a load-balancer implementation serves {what}; path: ports published on "
                                          f"this machine (address {address} does not answer it; port 80 does at "
                                          f"{published[0]}:{published[1]}, published by cloud-provider-kind)",
                              data={"address": address, "reachable": True, "path": "published"})
        return Capability(name, True, f"a load-balancer implementation serves {what} (address {address}, not "
                                      "reachable from this machine, and no port of it is published here)",
                          data={"address": address, "reachable": False, "path": None})
    finally:
        delete_object(cluster, ObjectRef("Service", service, "v1"), namespace=LABRUNNER_NAMESPACE)


def _ingress(cluster: Cluster) -> Capability:
    """An IngressClass exists. Where labrunner's add-on providing `ingress` is installed, it must also
    be ready and reached from this machine (data["entry"]: where checks send requests)."""
    from ..addons import addon_providing, install_fix

    classes = [c["metadata"]["name"] for c in cluster.list("IngressClass")]
    addon = addon_providing("ingress")
    judged = _addon_capability(cluster, "ingress", addon, others_present=bool(classes))
    if judged is not None:
        return _with_classes(judged, classes)
    if classes:
        return Capability("ingress", True, f"IngressClass {', '.join(classes)} (not labrunner's add-on)",
                          data={"classes": classes})
    return Capability("ingress", False, "no IngressClass: no Ingress controller is installed",
                      install_fix(addon) if addon else "install an Ingress controller")


def _gateway_api(cluster: Cluster) -> Capability:
    """The Gateway API is served and a GatewayClass is Accepted by its controller (where labrunner's
    add-on provides it: that add-on is ready and reached from this machine, data["entry"])."""
    from ..addons import addon_providing, install_fix
    from ..cluster.waiting import condition_status

    addon = addon_providing("gateway-api")
    fix = install_fix(addon) if addon else "install a Gateway API implementation"
    try:
        classes = cluster.list("GatewayClass")
    except NotFound:
        return Capability("gateway-api", False, "the Gateway API is not served (its CRDs are not installed)", fix)
    accepted = [c["metadata"]["name"] for c in classes if condition_status(c, "Accepted") == "True"]
    judged = _addon_capability(cluster, "gateway-api", addon, others_present=bool(accepted))
    if judged is not None:
        return _with_classes(judged, accepted)
    if accepted:
        return Capability("gateway-api", True, f"GatewayClass {', '.join(accepted)} accepted (not labrunner's add-on)",
                          data={"classes": accepted})
    return Capability("gateway-api", False, "no GatewayClass is Accepted: no Gateway API controller runs", fix)


def _with_classes(judged: Capability, classes: list[str]) -> Capability:
    """The add-on's verdict; when it holds, with the controller's classes in its data (data["classes"])."""
    if not judged.state:
        return judged
    return Capability(judged.name, True, judged.detail, data={**judged.data, "classes": classes})


def _addon_capability(cluster: Cluster, name: str, addon, *, others_present: bool = False) -> Capability | None:  # noqa: ANN001
    """Capability `name` as labrunner's `addon` gives it: present when the add-on is ready (and, with an
    `entry`, reached from this machine); missing with the add-on's fix when it is installed but not
    ready, or not installed while `others_present` is False. None when the add-on is not installed but
    something else provides `name` (`others_present`), or its state cannot be told: the caller decides."""
    from ..addons import state

    if addon is None:
        return None
    found = state(cluster, addon)
    if found.ok is None:
        return None
    if found.ok is False:
        if found.detail.startswith("not installed") and others_present:
            return None
        return Capability(name, False, f"add-on {addon.name}: {found.detail}", found.fix)
    if addon.spec.entry is None:
        return Capability(name, True, f"add-on {addon.name}: {found.detail}", data={"addon": addon.spec.version})
    entry = addon_entry(cluster, addon)
    if isinstance(entry, str):
        return Capability(name, False, f"add-on {addon.name} is ready, but {entry}",
                          "on kind, create the cluster from labrunner's kind-config.yaml (`labrunner up`), which "
                          "publishes ports 80 and 443 on 127.0.0.1; elsewhere run a load-balancer implementation, "
                          "or set LABRUNNER_INGRESS_ADDRESS to an address of the controller this machine reaches")
    shown = ", ".join(f"{scheme} at {address}:{port}" for scheme, (address, port) in sorted(entry.items()))
    return Capability(name, True, f"add-on {addon.name}: {found.detail}; this machine reaches it ({shown})",
                      data={"addon": addon.spec.version, "entry": {k: list(v) for k, v in entry.items()}})


def addon_probe(name: str) -> Callable[[Cluster], Capability]:
    """The probe of a capability only an add-on gives (no probe of its own): the add-on providing
    `name` is installed and ready."""
    def probe(cluster: Cluster) -> Capability:
        from ..addons import addon_providing

        addon = addon_providing(name)
        if addon is None:
            return Capability(name, None, "no add-on of labrunner's provides it")
        found = _addon_capability(cluster, name, addon)
        return found if found is not None else Capability(name, None, f"add-on {addon.name}: could not be told")

    return probe


def addon_entry(cluster: Cluster, addon) -> dict[str, tuple[str, int]] | str:  # noqa: ANN001
    """{"http": (address, port), "https": (...)}: where this machine reaches `addon`'s `entry`, first of
    LABRUNNER_INGRESS_ADDRESS, the Service's load-balancer address, the ports kind publishes on this
    machine (kind-config.yaml: 80 and 443), the node's address (the pod binds host ports). A string
    saying what was tried when none answers a TCP connection."""
    from ..settings import settings

    entry = addon.spec.entry
    ports = dict(entry.ports)
    candidates: list[tuple[str, dict[str, tuple[str, int]]]] = []
    if settings().ingress_address:
        candidates.append(("LABRUNNER_INGRESS_ADDRESS", {k: (settings().ingress_address, p) for k, p in ports.items()}))
    svc = cluster.get("Service", entry.service.name, namespace=entry.service.namespace)
    for item in ((svc or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []:
        address = item.get("ip") or item.get("hostname")
        if address:
            candidates.append((f"load-balancer address {address}", {k: (address, p) for k, p in ports.items()}))
    mappings, source = kind_port_mappings(cluster.context_name)
    mapped = {k: (mappings[p][0], mappings[p][1]) for k, p in ports.items() if p in mappings}
    if mapped:
        candidates.append((source, mapped))
    for address in node_addresses(cluster):
        candidates.append((f"node address {address}", {k: (address, p) for k, p in ports.items()}))
    for _, where in candidates:
        if all(tcp_answers(address, port, within=3.0) for address, port in where.values()):
            return where
    tried = "; ".join(what for what, _ in candidates) or "no address known"
    return f"this machine reaches it at none of the addresses tried ({tried})"


GATEKEEPER_NAMESPACE = "gatekeeper-system"
# The names Gatekeeper's manifest and its Helm chart give the webhook server, the audit and the webhook.
GATEKEEPER_DEPLOYMENTS = ("gatekeeper-controller-manager", "gatekeeper-audit")
GATEKEEPER_WEBHOOK = "gatekeeper-validating-webhook-configuration"


def _gatekeeper(cluster: Cluster) -> Capability:
    """OPA Gatekeeper works, however it was installed: its ConstraintTemplate kind is served, its webhook
    is registered, and its webhook server and audit each have a ready pod (a webhook without a server
    fails open: every pod would be admitted). Where labrunner's `gatekeeper` add-on is installed, it
    must be ready too."""
    from ..addons import addon_providing, install_fix

    addon = addon_providing("gatekeeper")
    fix = install_fix(addon) if addon else "install OPA Gatekeeper"
    found = _gatekeeper_works(cluster, fix)
    judged = _addon_capability(cluster, "gatekeeper", addon, others_present=bool(found.state))
    return judged if judged is not None else found


def _gatekeeper_works(cluster: Cluster, fix: str) -> Capability:
    try:
        cluster.resource("ConstraintTemplate", "templates.gatekeeper.sh/v1")
    except NotFound:
        return Capability("gatekeeper", False, "the cluster serves no ConstraintTemplate kind: Gatekeeper is not installed",
                          fix)
    if cluster.get("ValidatingWebhookConfiguration", GATEKEEPER_WEBHOOK,
                   api_version="admissionregistration.k8s.io/v1") is None:
        return Capability("gatekeeper", False, f"Gatekeeper's CRDs are there, but not its webhook {GATEKEEPER_WEBHOOK}",
                          fix)
    ready = {}
    for name in GATEKEEPER_DEPLOYMENTS:
        found = cluster.get("Deployment", name, namespace=GATEKEEPER_NAMESPACE, api_version="apps/v1")
        ready[name] = ((found or {}).get("status") or {}).get("readyReplicas") or 0
    not_ready = [name for name, count in ready.items() if not count]
    if not_ready:
        return Capability("gatekeeper", False, f"Gatekeeper is installed, but {', '.join(not_ready)} has no ready pod",
                          f"kubectl -n {GATEKEEPER_NAMESPACE} get pods; wait until they are ready, or look at "
                          f"`kubectl -n {GATEKEEPER_NAMESPACE} describe pods`", data={"ready": ready})
    return Capability("gatekeeper", True, "OPA Gatekeeper: "
                      + ", ".join(f"{name} {count} ready" for name, count in ready.items()), data={"ready": ready})


def _oidc(cluster: Cluster) -> Capability:
    """An OpenID Connect issuer the API server trusts: labrunner's `oidc` add-on is ready, and the API
    server accepts an ID token from it (the add-on's own probe login, by the password grant) as the
    user its claims name. Ready pods are not enough: the API server must have been started with
    --authentication-config and have read the issuer into it (it rereads the file within a minute)."""
    from ..addons import addon_providing, install_fix
    from ..addons.issuer import IssuerError, password_grant, review_with_token

    addon = addon_providing("oidc")
    if addon is None or addon.spec.issuer is None or addon.spec.issuer.probe is None:
        return Capability("oidc", None, "no add-on of labrunner's provides it")
    judged = _addon_capability(cluster, "oidc", addon)
    if judged is None or not judged.state:
        return judged or Capability("oidc", None, f"add-on {addon.name}: could not be told", install_fix(addon))
    issuer, login = addon.spec.issuer, addon.spec.issuer.probe
    try:
        token = password_grant(cluster, addon, username=login.username, password=login.password,
                               client_id=login.client, client_secret=login.clientSecret)
        seen = review_with_token(cluster, token)
    except IssuerError as exc:
        return Capability("oidc", False, f"add-on {addon.name} is ready, but {exc}",
                          f"kubectl -n {issuer.service.namespace if issuer.service else 'oidc'} logs deploy/dex; "
                          f"or install it again: `labrunner addons install {addon.name}`")
    if seen.status == 401:
        return Capability("oidc", False, f"the issuer {issuer.url} works, but the API server refuses its ID tokens "
                          "(401): it does not trust the issuer yet",
                          "the API server must run with --authentication-config naming a file that holds this "
                          "issuer (`labrunner addons authn-config` prints it): on the testbed `testbed/addon oidc` "
                          "writes it and an API server started with the flag rereads it within a minute (one started "
                          "before the flag needs testbed/down and testbed/up); on kind, `labrunner up` creates the "
                          "cluster with it")
    if seen.status not in (200, 201):
        return Capability("oidc", None, f"the API server answered a SelfSubjectReview with HTTP {seen.status}: "
                          f"{seen.message}")
    return Capability("oidc", True, f"add-on {addon.name}: the API server trusts {issuer.url} (its test login is "
                      f"seen as {seen.user})", data={"addon": addon.spec.version, "issuer": issuer.url})


def _storage(cluster: Cluster) -> Capability:
    classes = cluster.list("StorageClass")
    default = [c["metadata"]["name"] for c in classes
               if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]
    if default:
        return Capability("storage", True, f"default StorageClass {default[0]}"
                          + (f" (also marked default: {', '.join(default[1:])})" if default[1:] else ""),
                          data={"default": default[0], "classes": [c["metadata"]["name"] for c in classes]})
    names = ", ".join(c["metadata"]["name"] for c in classes) or "none"
    return Capability("storage", False, f"no default StorageClass (classes: {names})",
                      "install a dynamic provisioner and mark its class default (kind ships local-path as `standard`; "
                      f"`kubectl annotate storageclass NAME {DEFAULT_CLASS_ANNOTATION}=true`)")


def _runtimeclass(cluster: Cluster) -> Capability:
    try:
        classes = {c["metadata"]["name"]: c.get("handler") for c in cluster.list("RuntimeClass")}
    except NotFound:
        return Capability("runtimeclass", False, "the cluster serves no RuntimeClass kind",
                          "use Kubernetes 1.20 or later (node.k8s.io/v1)")
    # Node.status.runtimeHandlers (Kubernetes 1.30+): the handlers the node's runtime offers.
    handlers = sorted({h.get("name") or "(default)" for node in cluster.list("Node")
                       for h in (node.get("status") or {}).get("runtimeHandlers") or []})
    shown = ", ".join(f"{n} -> {h}" for n, h in sorted(classes.items())) or "none"
    offered = ", ".join(handlers) if handlers else "not reported by the nodes (Kubernetes 1.30+ with a runtime that lists them, e.g. containerd 2)"
    return Capability("runtimeclass", True, f"RuntimeClasses: {shown}; runtime handlers: {offered}",
                      data={"classes": classes, "handlers": handlers})


def _csr(cluster: Cluster) -> Capability:
    """A CSR for the kube-apiserver-client signer, approved: does a certificate come back?"""
    from ..cluster import wait_until
    from ..errors import WaitTimedOut
    from ..model import ObjectRef

    try:
        cluster.resource("CertificateSigningRequest", "certificates.k8s.io/v1")
    except NotFound:
        return Capability("csr", False, "the cluster serves no certificates.k8s.io/v1 CertificateSigningRequest",
                          "use Kubernetes 1.19 or later")
    request = _csr_pem()
    if request is None:
        return Capability("csr", None, "openssl is needed to make a test request (it is not on PATH)")
    import base64

    name = f"labrunner-capability-{secrets.token_hex(4)}"
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "labrunner"}},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"],
                     "expirationSeconds": 600, "request": base64.b64encode(request).decode()}}
    cluster.create(body)
    try:
        created = cluster.get("CertificateSigningRequest", name, api_version="certificates.k8s.io/v1") or body
        created.setdefault("status", {})["conditions"] = [{"type": "Approved", "status": "True", "reason": "LabrunnerCheck",
                                                            "message": "labrunner checks that the signer works"}]
        cluster.request("approving a test CSR", "PUT",
                        f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval", body=created)

        def settled(items: list[dict]) -> bool:
            status = (items[0].get("status") or {}) if items else {}
            return bool(status.get("certificate")) or any(c.get("type") == "Failed" for c in status.get("conditions") or [])

        try:
            found = wait_until(cluster, "CertificateSigningRequest", namespace=None, name=name, predicate=settled,
                               describe="the signer's answer", api_version="certificates.k8s.io/v1", timeout=CSR_WAIT)[0]
        except WaitTimedOut:
            return Capability("csr", False, f"no signer issued an approved CSR for kubernetes.io/kube-apiserver-client "
                                            f"in {CSR_WAIT:.0f} s",
                              "the kube-controller-manager signs these when given the cluster CA "
                              "(--cluster-signing-cert-file, --cluster-signing-key-file); kind and kubeadm set them")
        failed = next((c for c in found["status"].get("conditions") or [] if c.get("type") == "Failed"), None)
        if failed:
            return Capability("csr", False, f"the signer refused a plain client certificate: {failed.get('message')}",
                              "look at the kube-controller-manager's signer settings")
        return Capability("csr", True, "the kubernetes.io/kube-apiserver-client signer issues approved certificates")
    finally:
        try:
            from ..cluster import delete_object

            delete_object(cluster, ObjectRef("CertificateSigningRequest", name, "certificates.k8s.io/v1"), namespace="")
        except LabrunnerError:
            pass


def _csr_pem() -> bytes | None:
    """A PEM certificate request for CN=labrunner-capability-check, by openssl (the key is thrown away)."""
    if shutil.which("openssl") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="labrunner-csr-") as folder:
        key = Path(folder) / "key.pem"
        done = subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                               "-nodes", "-keyout", str(key), "-subj", "/CN=labrunner-capability-check"],
                              capture_output=True, timeout=30, check=False)
    return done.stdout if done.returncode == 0 and b"CERTIFICATE REQUEST" in done.stdout else None


def _dns(cluster: Cluster) -> Capability:
    """Where pods send DNS (the resolv.conf the kubelet writes) and whether a name resolves there."""
    from ..checks.canary import CANARY_NAMESPACE
    from ..checks.kinds.network import parse_nslookup
    from ..cluster import exec_in_pod
    from ..cluster.probepods import ensure_labrunner_namespace, ensure_probe_pods

    services = cluster.list("Service", namespace="kube-system", selector="k8s-app=kube-dns")
    service_ips = {ip for s in services for ip in (s.get("spec") or {}).get("clusterIPs") or [s["spec"].get("clusterIP")] if ip}
    ensure_labrunner_namespace(cluster)
    pods = ensure_probe_pods(cluster, [{"labrunner.dev/canary": "client"}], namespace=CANARY_NAMESPACE, lab_id="canary")
    pod = next(iter(pods))
    conf = exec_in_pod(cluster, pod, ["cat", "/etc/resolv.conf"], namespace=CANARY_NAMESPACE).output
    servers = [line.split()[1] for line in conf.splitlines() if line.startswith("nameserver") and len(line.split()) > 1]
    result = exec_in_pod(cluster, pod, ["nslookup", "kubernetes.default.svc.cluster.local"], namespace=CANARY_NAMESPACE)
    addresses, _, _ = parse_nslookup(result.output)
    via = ", ".join(servers) or "no nameserver"
    if servers and not set(servers) & service_ips:
        where = (f"pods send DNS to {via}, not to the kube-dns Service ({', '.join(sorted(service_ips)) or 'none'}): "
                 "a node-local cache (NodeLocal DNSCache) answers; an egress policy that allows DNS must allow it too")
    else:
        where = f"pods send DNS to {via}, the kube-dns Service"
    data = {"nameservers": servers, "service": sorted(service_ips), "node_local": bool(servers) and not set(servers) & service_ips}
    if addresses:
        return Capability("dns", True, f"{where}; kubernetes.default resolves to {', '.join(addresses)}", data=data)
    return Capability("dns", False, f"{where}; kubernetes.default does not resolve",
                      "check CoreDNS: kubectl -n kube-system get pods -l k8s-app=kube-dns", data=data)


PROBES: dict[str, Callable[[Cluster], Capability]] = {
    "kubernetes": _kubernetes,
    "networkpolicy": _networkpolicy,
    "networkpolicy-egress": _networkpolicy_egress,
    "nodeport": _nodeport,
    "loadbalancer": _loadbalancer,
    "ingress": _ingress,
    "gateway-api": _gateway_api,
    "gatekeeper": _gatekeeper,
    "oidc": _oidc,
    "storage": _storage,
    "runtimeclass": _runtimeclass,
    "csr": _csr,
    "dns": _dns,
}


def probe_for(name: str) -> Callable[[Cluster], Capability]:
    """The probe of `name`; `loadbalancer:<class>` asks one load-balancer class. KeyError otherwise."""
    if name.startswith("loadbalancer:"):
        return partial(_loadbalancer, lb_class=name.split(":", 1)[1])
    if name in PROBES:
        return PROBES[name]
    from ..addons import addon_providing

    if addon_providing(name) is not None:
        return addon_probe(name)
    raise KeyError(name)
