"""Config files for the host components, written under the testbed's state folder."""
from __future__ import annotations

import json
from pathlib import Path

from config import Config


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


# The kube-apiserver's structured authentication configuration (--authentication-config), trusting no
# JWT issuer: `testbed/addon oidc` writes the issuer in (addons.py), and the API server reloads the file.
AUTHN_CONFIG = "authentication-config.yaml"
NO_ISSUERS = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration", "jwt": []}


def write_configs(cfg: Config) -> None:
    p, net = cfg.paths, cfg.net
    state, run = p.state, p.run

    if not (state / AUTHN_CONFIG).exists():  # kept across `up`: an installed issuer stays trusted
        _write(state / AUTHN_CONFIG, json.dumps(NO_ISSUERS, indent=2) + "\n")

    _write(state / "registry.yml", f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {p.cache}/registry-data
  delete:
    enabled: true
http:
  addr: {net['registry_addr']}
""")

    certs_d = state / "containerd" / "certs.d"
    for upstream in net["mirrors"]:
        server = "https://registry-1.docker.io" if upstream == "docker.io" else f"https://{upstream}"
        # override_path keeps each upstream under its own prefix in the one local registry.
        _write(certs_d / upstream / "hosts.toml", f"""server = "{server}"

[host."http://{net['registry_addr']}/v2/{upstream}"]
  capabilities = ["pull", "resolve"]
  override_path = true
""")

    _write(state / "containerd" / "config.toml", f"""version = 2
root = "{state}/containerd/root"
state = "{run}/containerd/state"

[grpc]
  address = "{run}/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{cfg.image('pause')}"
  # This machine withholds CAP_SYS_RESOURCE: a negative oom_score_adj (the kubelet asks -998 for
  # every sandbox) is refused, so clamp it to containerd's own, as rootless setups do.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{run}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{state}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{certs_d}"
""")

    _write(state / "cni" / "net.d" / "10-testbed.conflist", json.dumps({
        "cniVersion": "0.4.0",
        "name": "testbed",
        "plugins": [
            {"type": "bridge", "bridge": net["bridge"], "isGateway": True, "ipMasq": True,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": f"{state}/cni/ipam",
                      "ranges": [[{"subnet": net["node_pod_cidr"]}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=2))

    _write(state / "kubelet" / "config.yaml", json.dumps({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": f"{p.pki}/ca.crt"}},
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        # This machine's kernel mounts cgroup v1; Kubernetes 1.34 still runs there when told so.
        "failCgroupV1": False,
        "containerRuntimeEndpoint": f"unix://{run}/containerd/containerd.sock",
        "clusterDNS": [net["dns_service_ip"]],
        "clusterDomain": net["cluster_domain"],
        "failSwapOn": False,
        "resolvConf": str(state / "resolv.conf"),
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "readOnlyPort": 0,
        "rotateCertificates": False,
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "maxPods": 110,
        "podLogsDir": f"{state}/pod-logs",
    }, indent=2))
    # Pods get no upstream resolver: nothing outside this machine answers, and none is asked.
    _write(state / "resolv.conf", "nameserver 127.0.0.1\n")

    _write(state / "kube-proxy.yaml", json.dumps({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": f"{state}/kube-proxy.kubeconfig"},
        "hostnameOverride": net["node_name"],
        "clusterCIDR": net["pod_cidr"],
        "bindAddress": "0.0.0.0",
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "nodePortAddresses": ["primary"],
        # Leave the kernel's conntrack sysctls alone: a VM may not let us change them.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s"},
    }, indent=2))
