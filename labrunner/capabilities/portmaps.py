"""Ports of a kind node that this machine reaches on 127.0.0.1: kind's `extraPortMappings`.

On Docker Desktop (macOS, Windows) the node's own address lives in a VM and is not routable from
the host; the only way in is a port Docker publishes on the host (kind's `extraPortMappings`,
https://kind.sigs.k8s.io/docs/user/configuration/#extra-port-mappings). Two sources, best first:
`docker port <cluster>-control-plane` (what Docker really publishes) and the kind config file
(`LABRUNNER_KIND_CONFIG`, else `kind-config.yaml` in this folder or above, or the one labrunner ships)
for a kind cluster whose node docker cannot show.

Load-balancer addresses on Docker Desktop: cloud-provider-kind run with `--enable-lb-port-mapping`
gives each LoadBalancer Service an Envoy container that publishes the Service's ports on the host
(v0.11.1, pkg/loadbalancer/server.go: `--publish=0.0.0.0:<port>:<port>/TCP` for an IPv4-only Service,
an ephemeral host port otherwise), labelled `io.x-k8s.cloud-provider-kind.loadbalancer.name=
<cluster>/<namespace>/<service>`; `lb_published_ports` reads them with `docker port`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

KIND_CONFIG = "kind-config.yaml"
_LOOPBACK = "127.0.0.1"
# `docker port` lines: "30080/tcp -> 0.0.0.0:30080", "80/tcp -> [::]:80"
_DOCKER_LINE = re.compile(r"^(\d+)/tcp -> (\[?[0-9a-fA-F.:]+\]?):(\d+)$")


# cloud-provider-kind v0.11.1, pkg/constants: LoadBalancerNameLabelKey, "clustername/serviceNamespace/serviceName".
LB_NAME_LABEL = "io.x-k8s.cloud-provider-kind.loadbalancer.name"


def kind_cluster_name(context: str | None) -> str | None:
    """The kind cluster a kubeconfig context is for (`kind-<name>`, as kind names it), else None."""
    return context[len("kind-"):] if context and context.startswith("kind-") else None


def _docker(*args: str) -> str | None:
    """`docker ARGS` output; None when docker is missing, fails or takes over 10 s."""
    if not shutil.which("docker"):
        return None
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def lb_published_ports(context: str | None, namespace: str, service: str) -> dict[int, tuple[str, int]]:
    """{Service port: (host address, host port)} that cloud-provider-kind publishes on this machine for
    the LoadBalancer Service `namespace/service` of the kind cluster of `context` (run with
    --enable-lb-port-mapping: the way in on Docker Desktop). {} when it publishes none, when the
    context is not kind's, or when docker cannot tell."""
    cluster = kind_cluster_name(context)
    if cluster is None:
        return {}
    ids = _docker("ps", "-q", "--filter", f"label={LB_NAME_LABEL}={cluster}/{namespace}/{service}")
    found: dict[int, tuple[str, int]] = {}
    for container in (ids or "").split()[:1]:
        found = mappings_from_docker(_docker("port", container) or "")
    return found


# Docker's words when a host port is taken (moby's portallocator: "Bind for 0.0.0.0:80 failed: port is already
# allocated"), in the event the Kubernetes service controller records as SyncLoadBalancerFailed.
_PORT_TAKEN = "port is already allocated"
PORT_TAKEN_FIX = ("cloud-provider-kind with --enable-lb-port-mapping publishes each LoadBalancer port on the same port "
                  "of this machine (an IPv4 Service), and a port can be published once: kind-config.yaml publishes "
                  "80 and 443 for the Ingress controller, and another LoadBalancer Service may hold it. Delete the "
                  "other LoadBalancer Service, or create the cluster from a kind config without extraPortMappings "
                  "for 80 and 443 (the ingress lab then needs them back)")


def lb_port_taken(cluster, namespace: str, service: str) -> str | None:  # noqa: ANN001 - a labrunner Cluster
    """The message of the newest SyncLoadBalancerFailed event of Service `namespace/service` that says
    a host port was taken (cloud-provider-kind could not publish a load balancer's port: Docker
    Desktop, see PORT_TAKEN_FIX); None when there is none or events cannot be read."""
    from ..errors import LabrunnerError

    try:
        events = cluster.list("Event", namespace=namespace, api_version="v1",
                              field_selector=f"involvedObject.kind=Service,involvedObject.name={service}")
    except LabrunnerError:
        return None
    taken = [e for e in events if e.get("reason") == "SyncLoadBalancerFailed" and _PORT_TAKEN in (e.get("message") or "")
             and (e.get("involvedObject") or {}).get("name") == service]
    if not taken:
        return None
    newest = max(taken, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    return str(newest.get("message")).strip()


def kind_config_path() -> Path | None:
    """LABRUNNER_KIND_CONFIG, else the first kind-config.yaml in the working folder or its parents,
    else the one labrunner ships (in the package, or at the top of its checkout); None when there
    is none."""
    from ..labfolders import SHIPPED_KIND_CONFIG, shipped_path

    override = os.environ.get("LABRUNNER_KIND_CONFIG")
    if override:
        return Path(override)
    here = Path.cwd()
    for folder in [here, *here.parents]:
        if (folder / KIND_CONFIG).is_file():
            return folder / KIND_CONFIG
    shipped = shipped_path(SHIPPED_KIND_CONFIG)
    return shipped if shipped.is_file() else None


def mappings_from_config(text: str) -> dict[int, tuple[str, int]]:
    """{containerPort: (host address, hostPort)} for the TCP extraPortMappings of a kind config's
    control-plane node (the node NodePorts are reached on). `listenAddress` defaults to 0.0.0.0,
    which this machine reaches as 127.0.0.1. A file that is not a kind config gives {}."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return {}
    found: dict[int, tuple[str, int]] = {}
    for node in data["nodes"]:
        if not isinstance(node, dict) or node.get("role", "control-plane") != "control-plane":
            continue
        for mapping in node.get("extraPortMappings") or []:
            if not isinstance(mapping, dict) or str(mapping.get("protocol", "TCP")).upper() != "TCP":
                continue
            container, host = mapping.get("containerPort"), mapping.get("hostPort")
            if isinstance(container, int) and isinstance(host, int):
                found[container] = (_reachable(str(mapping.get("listenAddress") or "0.0.0.0")), host)
    return found


def mappings_from_docker(output: str) -> dict[int, tuple[str, int]]:
    """{containerPort: (host address, hostPort)} from `docker port <node>` output; IPv4 first."""
    found: dict[int, tuple[str, int]] = {}
    for line in output.splitlines():
        match = _DOCKER_LINE.match(line.strip())
        if match and int(match[1]) not in found:
            found[int(match[1])] = (_reachable(match[2].strip("[]")), int(match[3]))
    return found


def _reachable(listen: str) -> str:
    """The address this machine uses for a port bound on `listen` (any address: loopback)."""
    return _LOOPBACK if listen in ("0.0.0.0", "::", "") else listen


def kind_port_mappings(context: str | None) -> tuple[dict[int, tuple[str, int]], str]:
    """The node ports this machine reaches through a published port, and where that was read.

    For a kind context (`kind-<name>`) docker is asked first; a kind config is read when
    LABRUNNER_KIND_CONFIG names one, or for a kind context. ({}, "") when neither applies.
    """
    name = kind_cluster_name(context)
    if name:
        found = mappings_from_docker(_docker("port", f"{name}-control-plane") or "")
        if found:
            return found, f"`docker port {name}-control-plane`"
    if name or os.environ.get("LABRUNNER_KIND_CONFIG"):
        path = kind_config_path()
        if path is not None:
            try:
                return mappings_from_config(path.read_text(encoding="utf-8")), f"{path.name} (extraPortMappings)"
            except OSError:
                return {}, ""
    return {}, ""
