"""Images built here from the testbed's own binaries and pushed to the local mirror under upstream names.

Each image is one deterministic layer. The layer's digest is stored as a label, so an image is
rebuilt only when what goes into it changes.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from build import build_one, build_pause
from config import Config
from log import say

BUSYBOX = Path("/bin/busybox")
# Applets the labs use in the agnhost image: shells, probes and the tools a learner reaches for.
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LABEL = "dev.labrunner.testbed.layer"
# Debian's busybox 1.35 crashes on `wget -T N` (the upstream image's 1.36 does not): keep the
# option working by running the timeout outside wget.
WGET_SHIM = """#!/bin/busybox sh
t=
n=$#
while [ "$n" -gt 0 ]; do
  a=$1; shift; n=$((n - 1))
  case $a in
    -T) t=$1; shift; n=$((n - 1)) ;;
    -T*) t=${a#-T} ;;
    --timeout=*) t=${a#--timeout=} ;;
    *) set -- "$@" "$a" ;;
  esac
done
[ -n "$t" ] && exec /bin/busybox timeout "$t" /bin/busybox wget "$@"
exec /bin/busybox wget "$@"
"""


def mirror_ref(cfg: Config, name: str) -> str:
    """registry.k8s.io/pause:3.10.1 -> 127.0.0.1:5000/registry.k8s.io/pause:3.10.1 (containerd's mirror path);
    a Docker Hub name as Docker normalizes it: traefik:v3.7.13 -> .../docker.io/library/traefik:v3.7.13. The
    first part names a registry only when more parts follow and it has a dot or a port, or is localhost."""
    first, more, _ = name.partition("/")
    if not more or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name if more else 'library/' + name}"
    return f"{cfg.net['registry_addr']}/{name}"


def _add_file(tar: tarfile.TarFile, arcname: str, data: bytes, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(arcname)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, arcname: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(arcname)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, 0
    tar.addfile(info)


def _add_link(tar: tarfile.TarFile, arcname: str, target: str) -> None:
    info = tarfile.TarInfo(arcname)
    info.type, info.linkname, info.mtime, info.mode = tarfile.SYMTYPE, target, 0, 0o777
    tar.addfile(info)


def layer_for(cfg: Config, kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        if kind == "pause":
            _add_file(tar, "pause", build_pause(cfg).read_bytes())
        elif kind == "coredns":
            _add_file(tar, "coredns", cfg.binary("coredns").read_bytes())
        elif kind == "gatekeeper":
            # As upstream's image (Dockerfile: distroless static, the binary as /manager); its manifest
            # mounts /certs and /tmp/audit and runs it as user 1000 with a read-only root.
            _add_file(tar, "manager", cfg.binary("gatekeeper").read_bytes())
            for d in ("certs", "tmp"):
                _add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
        elif kind == "traefik":
            # The binary alone, as upstream's image has it at /usr/local/bin/traefik; /tmp for its
            # plugin and certificate scratch files.
            _add_file(tar, "traefik", cfg.binary("traefik").read_bytes())
            _add_dir(tar, "tmp", 0o1777)
            _add_dir(tar, "etc", 0o755)
            _add_file(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", 0o644)
        elif kind == "dex":
            # As upstream's image has it: the binary at /usr/local/bin/dex (its web templates are
            # embedded); the add-on's manifest runs `dex serve` as user 1001 with a read-only root.
            for d in ("usr", "usr/local", "usr/local/bin", "etc"):
                _add_dir(tar, d)
            _add_file(tar, "usr/local/bin/dex", cfg.binary("dex").read_bytes())
            _add_dir(tar, "tmp", 0o1777)
            _add_file(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\ndex:x:1001:1001:dex:/:/bin/false\n", 0o644)
        elif kind == "agnhost":
            _add_file(tar, "agnhost", cfg.binary("agnhost").read_bytes())
            for d in ("bin", "etc", "tmp", "usr", "usr/bin", "var", "root"):
                _add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
            _add_file(tar, "bin/busybox", BUSYBOX.read_bytes())
            applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                                     check=True).stdout.split()
            for applet in sorted(set(applets) - {"busybox", "wget"}):
                _add_link(tar, f"bin/{applet}", "busybox")
            _add_file(tar, "bin/wget", WGET_SHIM.encode())
            _add_file(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", 0o644)
            _add_file(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)
        else:
            raise SystemExit(f"testbed.toml: unknown image kind {kind!r} (known: pause, agnhost, coredns, gatekeeper, traefik, dex)")
    return buf.getvalue()


def crane(cfg: Config, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(cfg.binary("crane")), "--insecure", *args], capture_output=True,
                          text=True, check=check)


def push_images(cfg: Config, addons: tuple[str, ...] = (), *, base: bool = True) -> None:
    """Build and push the images `up` needs (unless not `base`), and those of `addons` (add-on names):
    an add-on's image (`addon = "<name>"` in testbed.toml) is built only when its add-on is asked for."""
    for img in cfg.images():
        if (img["addon"] not in addons) if img.get("addon") else not base:
            continue
        if img.get("build"):
            build_one(cfg, img["build"])
        layer = layer_for(cfg, img["kind"])
        digest = hashlib.sha256(layer).hexdigest()
        ref = mirror_ref(cfg, img["name"])
        have = crane(cfg, "config", ref, check=False)
        if have.returncode == 0:
            labels = (json.loads(have.stdout).get("config") or {}).get("Labels") or {}
            if labels.get(LABEL) == digest:
                continue
        say(f"building image {img['name']}")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "layer.tar"
            path.write_bytes(layer)
            crane(cfg, "append", "--oci-empty-base", "-f", str(path), "-t", ref)
        mutate = ["mutate", ref, "--set-platform", "linux/amd64", "--label", f"{LABEL}={digest}",
                  "--env", PATH_ENV]
        if img.get("entrypoint"):
            mutate += ["--entrypoint", ",".join(img["entrypoint"])]
        if img.get("cmd"):
            mutate += ["--cmd", ",".join(img["cmd"])]
        crane(cfg, *mutate)
