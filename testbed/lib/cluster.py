"""testbed up: build what is missing, start the cluster, wait until it answers like a real one."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from string import Template

from build import build_all, build_pause
from config import HERE, Config
from configs import write_configs
from images import push_images
from log import say
from network import setup_network
from pki import make_pki
from processes import running_pid, start, wait_ready

# Debian packages the testbed runs, by the command that shows each is there.
DEBIAN_PACKAGES = {
    "/usr/bin/containerd": "containerd", "/usr/sbin/runc": "runc",
    "/usr/lib/cni/bridge": "containernetworking-plugins", "/usr/bin/etcd": "etcd-server",
    "/usr/sbin/iptables": "iptables", "/usr/sbin/ipset": "ipset",
    "/usr/sbin/conntrack": "conntrack", "/bin/busybox": "busybox-static",
    "/usr/bin/openssl": "openssl", "/usr/bin/gcc": "gcc", "/sbin/ip": "iproute2",
    "/usr/bin/patch": "patch",  # applies testbed/patches/ to a module's source before its build
    "/usr/bin/chromium": "chromium",  # the live tests render the workshop's HTML report in it, headless
}


def install_packages() -> None:
    missing = sorted({pkg for path, pkg in DEBIAN_PACKAGES.items() if not os.path.exists(path)})
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise SystemExit(f"testbed: install these packages first: {' '.join(missing)}")
    say(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def kubectl(cfg: Config, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(cfg.binary("kubectl")), f"--kubeconfig={cfg.paths.admin_kubeconfig}", *args],
                          input=input, capture_output=True, text=True, check=check)


def healthy(cfg: Config) -> bool:
    """The cluster answers, its node is Ready and DNS runs: up has nothing to do."""
    if not cfg.paths.admin_kubeconfig.exists():
        return False
    if any(not running_pid(cfg, name) for name in cfg.raw["components"]):
        return False
    res = kubectl(cfg, "get", "node", cfg.net["node_name"], "-o", "json", "--request-timeout=3s", check=False)
    if res.returncode != 0:
        return False
    conds = {c["type"]: c["status"] for c in json.loads(res.stdout)["status"].get("conditions", [])}
    return conds.get("Ready") == "True"


def render_addons(cfg: Config) -> str:
    values = {**cfg.values, "coredns_image": cfg.image("coredns"), "agnhost_image": cfg.image("agnhost")}
    docs = []
    for path in sorted((HERE / "addons").glob("*.yaml")):
        docs.append(Template(path.read_text()).substitute(values))
    return "\n---\n".join(docs)


def wait_for(what: str, fn, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.5)
    raise SystemExit(f"testbed: timed out after {timeout:.0f}s waiting for {what}")


def up(cfg: Config) -> None:
    if os.geteuid() != 0:
        raise SystemExit("testbed: run as root (it starts a kubelet, containerd and iptables rules)")
    if healthy(cfg):
        say("cluster already running")
        return
    started = time.monotonic()
    if cfg.paths.state.exists() or cfg.paths.run.exists():
        # A testbed that is not healthy (a crash, a reboot, a killed session) restarts from a
        # clean slate: stale mounts, netns and runtime state are worse than a 15 s restart.
        from teardown import down
        say("found a stopped or unhealthy testbed: cleaning it up first")
        if down(cfg) != 0:
            raise SystemExit("testbed: could not clean up the previous testbed (see above)")
    install_packages()
    build_all(cfg)
    build_pause(cfg)
    for d in (cfg.paths.state, cfg.paths.run):
        d.mkdir(parents=True, exist_ok=True)
    setup_network(cfg)
    make_pki(cfg)
    write_configs(cfg)

    components = list(cfg.raw["components"])
    before_addons = [c for c in components if not cfg.raw["components"][c].get("after_addons")]
    for name in before_addons:
        if start(cfg, name):
            say(f"started {name}")
        wait_ready(cfg, name)
        if name == "registry":
            push_images(cfg)

    res = kubectl(cfg, "apply", "--server-side", "--force-conflicts", "--field-manager=testbed",
                  "-f", "-", input=render_addons(cfg), check=False)
    if res.returncode != 0:
        raise SystemExit(f"testbed: applying add-ons failed:\n{res.stderr}")
    for name in components:
        if name not in before_addons:
            if start(cfg, name):
                say(f"started {name}")
            wait_ready(cfg, name)

    say("waiting for the node to be Ready and DNS to answer")
    wait_for("node Ready", lambda: kubectl(
        cfg, "wait", "--for=condition=Ready", f"node/{cfg.net['node_name']}", "--timeout=5s",
        check=False).returncode == 0)
    wait_for("CoreDNS available", lambda: kubectl(
        cfg, "-n", "kube-system", "wait", "--for=condition=Available", "deployment/coredns",
        "--timeout=5s", check=False).returncode == 0)
    wait_for("DNS to answer", lambda: dns_answers(cfg))
    say(f"cluster up in {time.monotonic() - started:.1f}s")


def dns_answers(cfg: Config) -> bool:
    """Ask the cluster DNS Service, from the host, for the API server's Service name."""
    import socket
    import struct
    name = f"kubernetes.default.svc.{cfg.net['cluster_domain']}"
    query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    query += struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        try:
            s.sendto(query, (cfg.net["dns_service_ip"], 53))
            reply = s.recv(512)
        except OSError:
            return False
    rcode, answers = reply[3] & 0x0F, struct.unpack(">H", reply[6:8])[0]
    return rcode == 0 and answers > 0
