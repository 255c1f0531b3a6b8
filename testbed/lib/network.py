"""Host networking for the testbed: the node's address, routes that keep cluster traffic on this
machine, and the kernel settings a node needs."""
from __future__ import annotations

import subprocess
from pathlib import Path

from config import Config


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def link_exists(name: str) -> bool:
    return ip("link", "show", name, check=False).returncode == 0


def setup_network(cfg: Config) -> None:
    net = cfg.net
    for key, value in {"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1",
                       "net/bridge/bridge-nf-call-ip6tables": "1",
                       "net/ipv4/conf/all/route_localnet": "1"}.items():
        path = Path("/proc/sys") / key
        if path.exists() and path.read_text().strip() != value:
            path.write_text(value)
    dev = net["node_iface"]
    if not link_exists(dev):
        ip("link", "add", dev, "type", "bridge")  # a bridge with no ports: this kernel has no dummy driver
    ip("link", "set", dev, "up")
    if net["node_ip"] not in ip("-4", "addr", "show", dev).stdout:
        ip("addr", "add", f"{net['node_ip']}/24", "dev", dev)
    # Service and load-balancer addresses are rewritten by kube-proxy; until a rule exists, their
    # packets must die here rather than follow the default route off this machine.
    for cidr in (net["service_cidr"], net["loadbalancer_cidr"]):
        ip("route", "replace", cidr, "dev", dev)
    # Pods live on the bridge's /24; the rest of the pod range goes nowhere.
    ip("route", "replace", "blackhole", net["pod_cidr"])


def teardown_network(cfg: Config) -> list[str]:
    net, done = cfg.net, []
    for cidr in (net["service_cidr"], net["loadbalancer_cidr"]):
        if ip("route", "del", cidr, "dev", net["node_iface"], check=False).returncode == 0:
            done.append(f"route {cidr}")
    if ip("route", "del", "blackhole", net["pod_cidr"], check=False).returncode == 0:
        done.append(f"route blackhole {net['pod_cidr']}")
    for dev in (net["bridge"], net["node_iface"]):
        if link_exists(dev):
            ip("link", "del", dev)
            done.append(f"link {dev}")
    return done
