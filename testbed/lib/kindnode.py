"""The kind node image, assembled here with no image pulled: `kind build node-image` pulls its base
image and the control plane's images, and this machine reaches no image registry.

What goes in (versions from testbed.toml):
- a Debian rootfs (mmdebstrap, the host's apt sources) with containerd, runc and the CNI plugins
  from Debian, and kind's node files from the kind module (images/base/files: entrypoint, systemd
  units, kubelet drop-ins), set up as kind's images/base/Dockerfile does;
- kubelet, kubeadm and kubectl from the testbed's Kubernetes build;
- image archives, imported into the node's containerd as `kind build node-image` does
  (pkg/build/nodeimage/buildcontext.go): every image `kubeadm config images list` names (the
  control plane, etcd, CoreDNS, pause), the CNI's (kube-router), local-path's, the labs'
  agnhost and the add-ons' (Traefik for `ingress`); each built from our binaries under the upstream name, so manifests stay unchanged.

The result is a Docker image tagged `labrunner/kind-node:<kubernetes>-<key>` (`key` hashes every
input), saved as a tarball in the testbed's cache so a later run only `docker load`s it.
Docker must answer (testbed/kind/dockerd-ns runs it on this machine).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from build import build_one, build_pause, module_dir
from config import HERE, Config
from images import PATH_ENV, layer_for
from log import say

KIND_DIR = HERE / "kind"
IMAGE_REPO = "labrunner/kind-node"
# What testbed/kind/ puts into the image (its other files run the test around it).
IMAGE_FILES = ("runc-without-sys-resource", "kube-router.yaml")
# kind's base image installs these (images/base/Dockerfile); containerd, runc and the CNI plugins
# come from Debian here instead of kind's own builds, ipset for kube-router.
NODE_PACKAGES = [
    "systemd", "conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount",
    "kmod", "libseccomp2", "pigz", "bash", "ca-certificates", "curl", "jq", "procps", "e2fsprogs",
    "containerd", "runc", "containernetworking-plugins", "ipset",
]
# The userland kube-proxy and kube-router call (iptables-save/restore, ipset, ip, conntrack).
TOOLS_PACKAGES = ["iptables", "ipset", "iproute2", "conntrack", "kmod"]
NO_DOCS = ["--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright"]
SUITE = "bookworm"


def docker(*args: str, capture: bool = True, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """`docker` of DOCKER_HOST when set, else of testbed/kind/dockerd-ns (whose namespaces share this
    machine's files, so paths here are paths there). Raises CalledProcessError with `check`."""
    prefix = ["docker"] if os.environ.get("DOCKER_HOST") else [str(KIND_DIR / "dockerd-ns"), "exec", "docker"]
    try:
        return subprocess.run([*prefix, *args], capture_output=capture, text=True, check=check, **kw)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"kind node image: docker {args[0]} failed ({exc.returncode}): {exc.stderr}") from None


def kind_module(cfg: Config) -> Path:
    return Path(module_dir("sigs.k8s.io/kind", cfg.versions["kind"], HERE / "go" / "kubernetes"))


# --- image archives (docker save format, which `ctr images import` reads) -------------------------

def binary_layer(files: dict[str, bytes]) -> bytes:
    """One deterministic layer holding `files` (path in the image -> content), mode 0755."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = sorted({str(Path(p).parent) for p in files} - {"."})
        for d in sorted({"/".join(d.split("/")[:i + 1]) for d in dirs for i in range(d.count("/") + 1)}):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_archive(path: Path, tag: str, layers: list[bytes], entrypoint: list[str] | None = None,
                  cmd: list[str] | None = None) -> None:
    """A docker-save archive of one image: `layers` bottom first, amd64/linux, PATH set."""
    diff_ids = [hashlib.sha256(layer).hexdigest() for layer in layers]
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": [PATH_ENV], **({"Entrypoint": entrypoint} if entrypoint else {}),
                         **({"Cmd": cmd} if cmd else {})},
              "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]}}
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": [f"{d}/layer.tar" for d in diff_ids]}]
    with tarfile.open(path, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for d, layer in zip(diff_ids, layers):
            add(f"{d}/layer.tar", layer)
        add(config_name, config_bytes)
        add("manifest.json", json.dumps(manifest).encode())


def debootstrap(cfg: Config, packages: list[str], variant: str) -> Path:
    """A Debian rootfs tarball of `packages` from the host's apt sources, cached by suite, variant
    and package list (a later security update is taken when the list changes or the cache is cleared)."""
    key = hashlib.sha256(f"{SUITE};{variant};{' '.join(packages)};{' '.join(NO_DOCS)}".encode()).hexdigest()[:12]
    out = cfg.paths.cache / f"kind-debian-{SUITE}-{variant}-{key}.tar"
    if out.exists():
        return out
    say(f"building a Debian {SUITE} rootfs ({variant}: {', '.join(packages)})")
    tmp = out.parent / f".part-{out.name}"  # mmdebstrap picks the format by the name's ending: .tar
    # In a mount namespace of its own: mmdebstrap's /proc, /sys and /dev mounts stay out of this machine's.
    subprocess.run(["unshare", "--mount", "--propagation", "private", "mmdebstrap", "--quiet",
                    f"--variant={variant}", "--include=" + ",".join(packages), *NO_DOCS, SUITE, str(tmp)],
                   check=True)
    tmp.rename(out)
    return out


# --- the images the node preloads -------------------------------------------------------------------

def kubeadm_images(cfg: Config) -> list[str]:
    out = subprocess.run([str(cfg.binary("kubeadm")), "config", "images", "list",
                          "--kubernetes-version", cfg.versions["kubernetes"]],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def storage_manifest(cfg: Config) -> tuple[str, list[str]]:
    """kind's own default storage manifest (pkg/build/nodeimage/const_storage.go), and its two images."""
    src = (kind_module(cfg) / "pkg/build/nodeimage/const_storage.go").read_text()
    consts = dict(re.findall(r'const (storage\w+Image) = "([^"]+)"', src))
    body = re.search(r"const defaultStorageManifest = `(.*?)`\n", src, re.S)
    if not body or len(consts) != 2:
        raise SystemExit("kind node image: kind's const_storage.go changed shape; update testbed/lib/kindnode.py")
    text = re.sub(r"` \+ (storage\w+Image) \+ `", lambda m: consts[m.group(1)], src[body.start(1):])
    text = text[:text.index("`\n")]
    return text, [consts["storageProvisionerImage"], consts["storageHelperImage"]]


def cni_manifest(cfg: Config) -> tuple[str, str]:
    """kube-router as the node's CNI (kindnetd cannot enforce NetworkPolicy on this kernel, which
    lacks nft `queue`): testbed/kind/kube-router.yaml, and the image it names."""
    text = (KIND_DIR / "kube-router.yaml").read_text()
    image = re.search(r"image: (\S+)", text).group(1)
    return text, image


def build_image_archives(cfg: Config, into: Path) -> list[str]:
    """Writes one archive per preloaded image into `into`; returns their names."""
    k8s = cfg.build_dir("kubernetes")
    tools_layer = debootstrap(cfg, TOOLS_PACKAGES, "essential").read_bytes()
    names: list[str] = []

    def add(name: str, layers: list[bytes], **kw) -> None:
        write_archive(into / f"{len(names):02d}.tar", name, layers, **kw)
        names.append(name)

    def usr_local(*bins: tuple[str, Path]) -> bytes:
        return binary_layer({f"usr/local/bin/{n}": p.read_bytes() for n, p in bins})

    for name in kubeadm_images(cfg):
        repo = name.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        if repo in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            add(name, [usr_local((repo, k8s / repo))])
        elif repo == "kube-proxy":
            add(name, [tools_layer, usr_local((repo, k8s / repo))])
        elif repo == "etcd":
            etcd = cfg.binary("server")  # go.etcd.io/etcd/server/v3's main
            add(name, [usr_local(("etcd", etcd))])
        elif repo == "coredns":
            # kubeadm asks for its own CoreDNS version; the testbed's CoreDNS serves under that tag.
            add(name, [layer_for(cfg, "coredns")], entrypoint=["/coredns"])
        elif repo == "pause":
            add(name, [binary_layer({"pause": build_pause(cfg).read_bytes()})], entrypoint=["/pause"])
        else:
            raise SystemExit(f"kind node image: kubeadm asks for {name}, which has no recipe in testbed/lib/kindnode.py")
    _, router_image = cni_manifest(cfg)
    add(router_image, [tools_layer, usr_local(("kube-router", cfg.binary("kube-router")))])
    _, (provisioner, helper) = storage_manifest(cfg)
    add(provisioner, [usr_local(("local-path-provisioner", cfg.binary("local-path-provisioner")))])
    # The helper pod runs `sh /script/setup`: the agnhost layer carries busybox.
    add(helper, [layer_for(cfg, "agnhost")])
    for img in cfg.images():
        # The labs' image, and the add-ons' (labrunner up installs those the labs need).
        if img["kind"] == "agnhost" or img.get("addon"):
            if img.get("build"):
                build_one(cfg, img["build"])
            add(normalized(img["name"]), [layer_for(cfg, img["kind"])], entrypoint=img.get("entrypoint"),
                cmd=img.get("cmd"))
    return names


def normalized(name: str) -> str:
    """An image name as containerd lists it: traefik:v3 -> docker.io/library/traefik:v3."""
    if "/" not in name:
        return f"docker.io/library/{name}"
    first = name.split("/")[0]  # a registry host has a dot or a port, or is localhost
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    return name


# --- the node --------------------------------------------------------------------------------------

CONTAINERD_CONFIG = """\
# kind's /etc/containerd/config.toml (images/base/files), for Debian's containerd 1.6.
version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  discard_unpacked_layers = true
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "/etc/containerd/cri-base.json"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
    # runc less CAP_SYS_RESOURCE, which this machine withholds (privileged pods ask for it).
    BinaryName = "/usr/local/sbin/runc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  tolerate_missing_hugepages_controller = true
  # kind's `false` fails every sandbox here ("can't get final child's PID from pipe"): the kubelet
  # asks a negative oom_score_adj, which needs CAP_SYS_RESOURCE.
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/opt/cni/bin"
  conf_dir = "/etc/cni/net.d"
"""


SETUP = """set -e
R=; F=/kind-build
for d in usr/local/bin kind kind/bin LICENSES etc/containerd etc/default etc/sysctl.d etc/systemd/system etc/systemd/system/kubelet.service.d opt/cni etc/kubernetes/manifests kind/manifests; do mkdir -p "$R/$d"; done
install -m 0755 "$F"/usr/local/bin/* "$R/usr/local/bin/"
cp -r "$F"/kind/. "$R/kind/"; chmod 0755 "$R"/kind/bin/*
install -m 0644 "$F"/etc/crictl.yaml "$R/etc/"
install -m 0644 "$F"/etc/default/* "$R/etc/default/"
install -m 0644 "$F"/etc/sysctl.d/* "$R/etc/sysctl.d/"
find "$F"/etc/systemd/system -maxdepth 1 -type f -exec install -m 0644 {} "$R/etc/systemd/system/" \\;
install -m 0644 "$F"/etc/systemd/system/kubelet.service.d/* "$R/etc/systemd/system/kubelet.service.d/"
find "$R/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "$R"/lib/systemd/system/multi-user.target.wants/* "$R"/etc/systemd/system/*.wants/* \
  "$R"/lib/systemd/system/local-fs.target.wants/* "$R"/lib/systemd/system/sockets.target.wants/*udev* \
  "$R"/lib/systemd/system/sockets.target.wants/*initctl* "$R"/lib/systemd/system/basic.target.wants/*
echo ReadKMsg=no >> "$R/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$R/sbin/init"
ln -sf /usr/bin/containerd "$R/usr/local/bin/containerd"
ln -sf /usr/lib/cni "$R/opt/cni/bin"
install -m 0755 "$F/runc-without-sys-resource" "$R/usr/local/sbin/runc"
install -m 0755 "$F/kubelet" "$F/kubectl" "$F/kubeadm" "$R/usr/bin/"
systemctl enable kubelet.service containerd.service undo-mount-hacks.service
systemctl mask systemd-binfmt.service
ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' | jq 'del(.process.rlimits)' > "$R/etc/containerd/cri-base.json"
cp "$F/containerd.toml" "$R/etc/containerd/config.toml"
cp "$F/default-cni.yaml" "$R/kind/manifests/default-cni.yaml"
cp "$F/default-storage.yaml" "$R/kind/manifests/default-storage.yaml"
cp "$F/version" "$R/kind/version"
rm -rf "$R/var/cache/apt/archives"/*.deb "$R/var/lib/apt/lists"/*
"""


def inputs_key(cfg: Config) -> str:
    """A hash of everything the node image is made of: versions, our files in it, the package
    lists, and this module's own text (the recipe)."""
    h = hashlib.sha256()
    for k in ("kubernetes", "kind", "etcd", "coredns", "kube_router", "local_path_provisioner"):
        h.update(f"{k}={cfg.versions[k]};".encode())
    h.update(cfg.build_dir("kube-router").name.encode())
    for img in cfg.images():  # every image the node preloads (build_image_archives), an add-on's among them
        if img["kind"] == "agnhost" or img.get("addon"):
            h.update(f"image={img['name']};".encode() + (cfg.build_dir(img["build"]).name.encode() if img.get("build") else b""))
    for f in IMAGE_FILES:
        h.update(f.encode() + (KIND_DIR / f).read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update(" ".join(NODE_PACKAGES + TOOLS_PACKAGES).encode())
    return h.hexdigest()[:12]


def node_image_tag(cfg: Config) -> str:
    return f"{IMAGE_REPO}:{cfg.versions['kubernetes']}-{inputs_key(cfg)}"


def cached_archive(cfg: Config) -> Path:
    return cfg.paths.cache / f"kind-node-{cfg.versions['kubernetes']}-{inputs_key(cfg)}.tar"


def ensure_node_image(cfg: Config) -> str:
    """The node image's tag, present in Docker: loaded from the cache, else built (and cached)."""
    tag = node_image_tag(cfg)
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    archive = cached_archive(cfg)
    if archive.exists():
        started = time.monotonic()
        docker("load", "-i", str(archive))
        say(f"loaded {tag} from {archive} in {time.monotonic() - started:.0f}s")
        return tag
    build_node_image(cfg, tag)
    started = time.monotonic()
    tmp = archive.with_suffix(".tmp")
    docker("save", "-o", str(tmp), tag)
    tmp.rename(archive)
    for old in cfg.paths.cache.glob(f"kind-node-*.tar"):  # earlier recipes' images: never used again
        if old != archive:
            old.unlink()
    say(f"cached {tag} in {archive} ({archive.stat().st_size >> 20} MiB, {time.monotonic() - started:.0f}s)")
    return tag


def build_node_image(cfg: Config, tag: str) -> None:
    """Builds the node image into Docker as `tag`, as kind's nodeimage builder does: a container of
    the Debian rootfs gets kind's files and ours (the base Dockerfile's steps, SETUP), its containerd
    imports every image archive, and `docker commit` keeps the result."""
    started = time.monotonic()
    for b in ("kubernetes", "kubeadm", "etcd", "kube-router", "local-path-provisioner", "coredns"):
        build_one(cfg, b)
    if not shutil.which("mmdebstrap"):
        raise SystemExit("kind node image: mmdebstrap is needed (apt-get install mmdebstrap)")
    cfg.paths.cache.mkdir(parents=True, exist_ok=True)
    rootfs = debootstrap(cfg, NODE_PACKAGES, "minbase")
    with tempfile.TemporaryDirectory(prefix="kind-node-", dir=cfg.paths.cache) as tmpdir:
        tmp = Path(tmpdir)
        files = tmp / "kind-build"
        shutil.copytree(kind_module(cfg) / "images/base/files", files)
        for d in (files, *(p for p in files.rglob("*") if p.is_dir())):
            d.chmod(0o755)  # the module cache is read-only
        pause = next(n for n in kubeadm_images(cfg) if "/pause:" in n)
        (files / "containerd.toml").write_text(CONTAINERD_CONFIG.replace("{pause}", pause))
        (files / "default-cni.yaml").write_text(cni_manifest(cfg)[0])
        (files / "default-storage.yaml").write_text(storage_manifest(cfg)[0])
        (files / "version").write_text(cfg.versions["kubernetes"])
        (files / "setup.sh").write_text(SETUP)
        shutil.copy(KIND_DIR / "runc-without-sys-resource", files)
        k8s = cfg.build_dir("kubernetes")
        for src in (k8s / "kubelet", k8s / "kubectl", cfg.binary("kubeadm")):
            shutil.copy(src, files)
        images = files / "images"
        images.mkdir()
        names = build_image_archives(cfg, images)
        say(f"built {len(names)} image archives: {', '.join(names)}")
        base = f"{tag}-base"
        docker("import", str(rootfs), base)
        cid = docker("run", "-d", "--privileged", "--entrypoint", "sleep", base, "infinity").stdout.strip()
        try:
            docker("cp", str(files), f"{cid}:/kind-build")
            docker("exec", cid, "sh", "/kind-build/setup.sh")
            say("importing the images into the node's containerd")
            script = """set -e
nohup containerd >/tmp/containerd.log 2>&1 &
for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && break; sleep 1; done
for f in /kind-build/images/*.tar; do
  ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests "$f" >/dev/null
done
ctr --namespace=k8s.io images list -q
pkill containerd; for i in $(seq 1 30); do pgrep containerd >/dev/null || break; sleep 1; done
rm -rf /kind-build /tmp/containerd.log"""
            listed = docker("exec", cid, "bash", "-c", script).stdout.split()
            missing = [n for n in names if normalized(n) not in listed]
            if missing:
                raise SystemExit(f"kind node image: containerd did not import {missing}")
            # (commit cannot set STOPSIGNAL; kind deletes nodes with `docker rm -f`, so none is needed.)
            docker("commit", "--change", "ENV container=docker",
                   "--change", 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]', "--change", 'CMD []',
                   cid, tag)
        finally:
            docker("rm", "-f", "-v", cid, check=False)
            docker("rmi", base, check=False)
    say(f"built node image {tag} in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    import sys

    from config import load_config
    if os.geteuid() != 0:
        raise SystemExit("kind node image: needs root (mmdebstrap, docker)")
    print(ensure_node_image(load_config()))
    sys.exit(0)
