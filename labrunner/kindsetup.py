"""What `labrunner up` does around `kind create cluster`, and what `labrunner down` undoes.

- The node image: `--image`, else the kind config's own `image:` of its nodes, else kind's
  default for the installed kind version (kind itself pulls a node image only when docker lacks it).
- The labs' images, preloaded into the node so steps do not wait for pulls: an image docker
  already has is loaded as it is (`docker image inspect` first; a machine without a registry still
  works), a missing one is pulled first, and one that cannot be got is left to the node to pull.
- The load-balancer implementation learners use on kind, cloud-provider-kind
  (https://github.com/kubernetes-sigs/cloud-provider-kind): run for them as a container, as its
  README shows (`docker run --network kind -v /var/run/docker.sock:/var/run/docker.sock`), or, when
  its image cannot be had, the exact commands to run it themselves. It serves every kind cluster of
  this docker; each Service of type LoadBalancer gets an Envoy container labelled with its cluster.
  Where this machine does not reach the node's own address (Docker Desktop on macOS and Windows:
  measured, `node_reached`), it runs with `--enable-lb-port-mapping`, so each load balancer's ports
  are published on this machine (cloud-provider-kind's README, "Enabling Load Balancer Port Mapping").

Every step runs the real `docker` and `kind` executables (argv printed first, `$ ...`), so a learner
sees what ran and can run it again.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

# cloud-provider-kind's image (its README, "Running via Docker Image"; v0.11.1 is its newest tag).
CLOUD_PROVIDER_KIND_IMAGE = "registry.k8s.io/cloud-provider-kind/cloud-controller-manager:v0.11.1"
CLOUD_PROVIDER_KIND_MODULE = "sigs.k8s.io/cloud-provider-kind@v0.11.1"
LB_CONTAINER = "labrunner-cloud-provider-kind"  # the one container `up` runs, `down` removes
LB_PORT_MAPPING = "--enable-lb-port-mapping"  # cloud-provider-kind v0.11.1, cmd/app.go
API_SERVER_PORT = 6443  # where kind's control-plane node listens on its own address (kubeadm's default)
NODE_CONNECT_WAIT = 2.0  # s: a node this machine reaches answers in well under a second
# cloud-provider-kind labels each load-balancer container with its cluster (pkg/constants:
# NodeCCMLabelKey); `down` removes those of the deleted cluster that are left.
LB_CLUSTER_LABEL = "io.x-k8s.cloud-provider-kind.cluster"
MADE_BY_LABEL = "dev.labrunner.made-by=labrunner-up"

Runner = Callable[..., subprocess.CompletedProcess]


def run(command: Sequence[str], *, quiet: bool = False) -> subprocess.CompletedProcess:
    """Run `command`; shown as `$ ...` unless `quiet` (then its output is captured, not shown).
    A missing executable is a completed process with return code 127, as a shell gives."""
    if not quiet:
        print("$ " + " ".join(command), flush=True)
    try:
        return subprocess.run(list(command), text=True, capture_output=quiet, check=False)
    except OSError as exc:
        return subprocess.CompletedProcess(list(command), 127, "", str(exc))


class StepCounter:
    """`[2/4] what` lines for the long steps of `up`, each closed with the seconds it took."""

    def __init__(self, total: int) -> None:
        self.total, self.number, self.started = total, 0, 0.0

    def step(self, what: str) -> None:
        self.close()
        self.number += 1
        self.started = time.monotonic()
        print(f"\n[{self.number}/{self.total}] {what}", flush=True)

    def close(self) -> None:
        if self.number and self.started:
            print(f"      ({time.monotonic() - self.started:.0f} s)", flush=True)
            self.started = 0.0


# -- the node image -------------------------------------------------------------------------

def config_node_images(config_text: str) -> list[str]:
    """The `image:` of each node of a kind config (kind's v1alpha4 `nodes[].image`), in order, once each."""
    import yaml

    try:
        data = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return []  # kind itself says what is wrong with the file
    nodes = data.get("nodes") if isinstance(data, dict) else None
    images = [n["image"] for n in nodes or [] if isinstance(n, dict) and isinstance(n.get("image"), str)]
    return list(dict.fromkeys(images))


def node_image_said(image: str | None, config: Path) -> str:
    """Which node image a new cluster gets, in words: `--image` wins over the config's (kind's rule)."""
    if image:
        return f"node image {image} (--image)"
    try:
        images = config_node_images(config.read_text(encoding="utf-8"))
    except OSError:
        images = []
    if images:
        return f"node image {', '.join(images)} (from {config.name})"
    return "kind's default node image for this kind version (`labrunner up --image IMAGE` chooses another)"


def create_command(name: str, config: Path, image: str | None) -> list[str]:
    command = ["kind", "create", "cluster", "--name", name, "--config", str(config)]
    return command + (["--image", image] if image else [])


# -- the labs' images -------------------------------------------------------------------------

@dataclass(frozen=True)
class Preloaded:
    """What preloading gave: images loaded into the node, and those left for the node to pull."""

    loaded: tuple[str, ...]
    missing: tuple[str, ...]


def preload_images(cluster: str, images: Sequence[str], *, runner: Runner = run) -> Preloaded:
    """Load each image into the kind cluster's nodes: from docker when it has it (no pull), else pulled
    once on this machine first. An image neither there nor pullable is left to the node, which pulls
    it on first use (`missing`); that is no error of `up`."""
    loaded, missing = [], []
    for i, image in enumerate(images, 1):
        print(f"      image {i}/{len(images)}: {image}", flush=True)
        present = runner(["docker", "image", "inspect", "--format", "{{.Id}}", image], quiet=True).returncode == 0
        if not present and runner(["docker", "pull", image]).returncode != 0:
            missing.append(image)
            continue
        if runner(["kind", "load", "docker-image", "--name", cluster, image]).returncode == 0:
            loaded.append(image)
        else:
            missing.append(image)
    return Preloaded(tuple(loaded), tuple(missing))


# -- the load balancer --------------------------------------------------------------------------

def docker_socket() -> str:
    """The docker socket a container must mount to drive this docker: DOCKER_HOST's unix path (rootless
    docker, colima), else the default /var/run/docker.sock (Docker Desktop serves that one to containers)."""
    host = os.environ.get("DOCKER_HOST", "")
    return host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"


def node_reached(cluster: str, *, runner: Runner = run) -> bool | None:
    """Whether this machine opens a TCP connection to the kind node `<cluster>-control-plane` at its own
    address, on its API server's port (API_SERVER_PORT, known to listen there). False on Docker Desktop
    (macOS, Windows), where nodes live in a VM whose addresses the host does not route; None when
    docker cannot show the node's address. Measured, not guessed from the OS."""
    from .capabilities.probes import tcp_answers

    done = runner(["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                   f"{cluster}-control-plane"], quiet=True)
    addresses = [a for a in done.stdout.split() if a[:1].isdigit()] if done.returncode == 0 else []
    if not addresses:
        return None
    return any(tcp_answers(address, API_SERVER_PORT, within=NODE_CONNECT_WAIT) for address in addresses)


def lb_run_command(image: str = CLOUD_PROVIDER_KIND_IMAGE, *, port_mapping: bool = False) -> list[str]:
    """`docker run` of cloud-provider-kind on kind's network, as its README runs it, named and labelled
    so that `down` finds it; restarted with docker, as kind's nodes are. kind's network is `kind`
    unless KIND_EXPERIMENTAL_DOCKER_NETWORK names another (kind's own variable). `port_mapping`:
    with --enable-lb-port-mapping (this machine does not reach the node's address)."""
    network = os.environ.get("KIND_EXPERIMENTAL_DOCKER_NETWORK") or "kind"
    return ["docker", "run", "-d", "--name", LB_CONTAINER, "--label", MADE_BY_LABEL, "--restart", "unless-stopped",
            "--network", network, "-v", f"{docker_socket()}:/var/run/docker.sock", image,
            *([LB_PORT_MAPPING] if port_mapping else [])]


def lb_by_hand(*, port_mapping: bool = False) -> str:
    """What a learner runs when `up` could not start cloud-provider-kind: either of two ways."""
    flag = f" {LB_PORT_MAPPING}" if port_mapping else ""
    return ("Labs with LoadBalancer Services need a load-balancer implementation. Run cloud-provider-kind, "
            "either as a container:\n"
            f"    {' '.join(lb_run_command(port_mapping=port_mapping))}\n"
            "or as a program, in a terminal you keep open (on macOS and WSL2 with sudo):\n"
            f"    go install {CLOUD_PROVIDER_KIND_MODULE} && cloud-provider-kind{flag}\n"
            "Then `labrunner doctor` shows loadbalancer ok.")


def lb_container_state(*, runner: Runner = run) -> str | None:
    """'running', another docker state ('exited', ...), or None when there is no such container."""
    done = runner(["docker", "inspect", "--format", "{{.State.Status}}", LB_CONTAINER], quiet=True)
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _lb_container_maps_ports(*, runner: Runner = run) -> bool:
    """Whether our cloud-provider-kind container was started with --enable-lb-port-mapping."""
    done = runner(["docker", "inspect", "--format", "{{json .Args}}", LB_CONTAINER], quiet=True)
    return done.returncode == 0 and LB_PORT_MAPPING in done.stdout


def start_load_balancer(*, runner: Runner = run, port_mapping: bool = False) -> bool:
    """cloud-provider-kind running as LB_CONTAINER: left as it is when it runs with the `port_mapping`
    wanted, started again when stopped, else run from its image (pulled only when docker lacks it);
    one running without the port mapping wanted is replaced. False, with the commands to run by hand
    printed, when it could not be started."""
    state = lb_container_state(runner=runner)
    if state is not None and _lb_container_maps_ports(runner=runner) != port_mapping:
        print(f"      cloud-provider-kind runs {'without' if port_mapping else 'with'} {LB_PORT_MAPPING}: replacing it")
        runner(["docker", "stop", LB_CONTAINER])  # on SIGTERM it removes the load balancers it made
        runner(["docker", "rm", "-f", LB_CONTAINER], quiet=True)
        state = None
    if state == "running":
        print(f"      cloud-provider-kind already runs (container {LB_CONTAINER})")
        return True
    if state is not None:
        if runner(["docker", "start", LB_CONTAINER]).returncode == 0:
            return True
        runner(["docker", "rm", "-f", LB_CONTAINER], quiet=True)
    have = runner(["docker", "image", "inspect", "--format", "{{.Id}}", CLOUD_PROVIDER_KIND_IMAGE], quiet=True)
    if have.returncode != 0 and runner(["docker", "pull", CLOUD_PROVIDER_KIND_IMAGE]).returncode != 0:
        print(lb_by_hand(port_mapping=port_mapping))
        return False
    if runner(lb_run_command(port_mapping=port_mapping)).returncode != 0:
        print(lb_by_hand(port_mapping=port_mapping))
        return False
    return True


def remove_load_balancer(cluster: str, remaining_clusters: Sequence[str], *, runner: Runner = run) -> list[str]:
    """After the kind cluster `cluster` is deleted: remove the load-balancer containers cloud-provider-kind
    left for it, and the cloud-provider-kind container `up` ran once no kind cluster is left for it to
    serve. Returns what is left on purpose, one line each (empty when nothing)."""
    left = runner(["docker", "ps", "-aq", "--filter", f"label={LB_CLUSTER_LABEL}={cluster}"], quiet=True)
    ids = left.stdout.split() if left.returncode == 0 else []
    if ids:
        runner(["docker", "rm", "-f", *ids])
    if lb_container_state(runner=runner) is None:
        return []
    if remaining_clusters:
        return [f"cloud-provider-kind (container {LB_CONTAINER}) stays: it serves the kind clusters "
                f"{', '.join(remaining_clusters)}; `docker rm -f {LB_CONTAINER}` removes it"]
    # stop first: on SIGTERM cloud-provider-kind removes the containers it made, as it does on exit
    runner(["docker", "stop", LB_CONTAINER])
    runner(["docker", "rm", "-f", LB_CONTAINER])
    return []
