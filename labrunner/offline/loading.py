"""A bundle's images into a cluster's nodes with no network, and the proof that every node has them.

- kind: `kind load image-archive --name CLUSTER ARCHIVE` streams the archive into each node's
  `ctr --namespace=k8s.io images import --all-platforms --digests` (kind's `nodeutils.LoadImageArchive`).
  The archive's manifests are single-platform, so `--all-platforms` never looks for blobs the archive
  lacks (the failure of a `docker save` of a multi-platform index).
- any containerd (a node you reach, the testbed's): `ctr --address SOCKET --namespace k8s.io images
  import ARCHIVE`, the same import (without kind's `--digests`, which adds an `import-<date>@digest` name
  per image); k8s.io is the namespace the CRI plugin serves to kubelet.
- the proof reads each Node's `status.images` (kubelet reports the runtime's images there: names and
  `repo@digest`), which works on any cluster without reaching into nodes. kubelet lists at most
  `--node-status-max-images` images (50 by default, the largest first): an image not listed on a node
  with that many is "cannot tell", never "missing".
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .contents import IMAGES_NAME, BundleError, BundleManifest, read_manifest
from .references import parse_ref
from ..kindsetup import run

NODE_STATUS_MAX_IMAGES = 50  # kubelet's default --node-status-max-images

Runner = Callable[..., subprocess.CompletedProcess]
_run_shown: Runner = run  # kindsetup.run: shown as `$ ...`, a missing program is exit 127


@contextmanager
def images_archive(bundle: Path) -> Iterator[tuple[BundleManifest, Path]]:
    """(manifest, path of the bundle's OCI archive taken out into a temporary folder, removed after)."""
    manifest = read_manifest(bundle)
    with tempfile.TemporaryDirectory(prefix="labrunner-bundle-") as scratch:
        out = Path(scratch) / "oci.tar"
        try:
            with tarfile.open(bundle, "r:") as tar:
                member = tar.getmember(IMAGES_NAME)
                handle = tar.extractfile(member)
                if handle is None:
                    raise KeyError(IMAGES_NAME)
                with handle, open(out, "wb") as dest:
                    shutil.copyfileobj(handle, dest, 1 << 20)
        except KeyError:
            raise BundleError(f"{bundle}: holds no {IMAGES_NAME}: a damaged bundle; make it again") from None
        except (OSError, tarfile.TarError) as exc:
            from .pulling import disk_error

            if isinstance(exc, OSError) and exc.errno is not None:
                raise disk_error(exc, Path(scratch).parent) from None
            raise BundleError(f"{bundle}: cannot read its images: {exc}; make the bundle again") from None
        yield manifest, out


def load_into_kind(bundle: Path, cluster: str, *, runner: Runner = _run_shown) -> BundleManifest:
    """Every image of `bundle` into every node of the kind cluster `cluster`. BundleError when kind fails."""
    with images_archive(bundle) as (manifest, archive):
        done = runner(["kind", "load", "image-archive", "--name", cluster, str(archive)])
        if done.returncode:
            raise BundleError(f"`kind load image-archive` failed (exit {done.returncode}); its message is above")
    return manifest


def load_into_containerd(bundle: Path, address: str, *, runner: Runner = _run_shown) -> BundleManifest:
    """Every image of `bundle` into the containerd at `address` (its socket), namespace k8s.io.
    BundleError when `ctr` is missing or the import fails."""
    if shutil.which("ctr") is None:
        raise BundleError("ctr (containerd's client) is not installed here; it comes with containerd")
    with images_archive(bundle) as (manifest, archive):
        done = runner(["ctr", "--address", address, "--namespace", "k8s.io", "images", "import", str(archive)])
        if done.returncode:
            raise BundleError(f"`ctr images import` failed (exit {done.returncode}); its message is above")
    return manifest


@dataclass(frozen=True)
class Presence:
    """One image on one node: `ok` True (listed by digest), False (not there, or under another digest),
    None (cannot tell: the node lists only kubelet's maximum of images)."""

    ok: bool | None
    node: str
    image: str
    detail: str


def presence(nodes: list[dict], manifest: BundleManifest) -> list[Presence]:
    """Each image of `manifest` on each of `nodes` (Node objects as dicts), by `status.images[].names`.
    An image counts as present when the node lists `repo@digest` with the bundle's digest: the same
    name under another digest is another image."""
    found = []
    for node in nodes:
        node_name = (node.get("metadata") or {}).get("name", "?")
        listed = (node.get("status") or {}).get("images") or []
        names = {name for image in listed for name in image.get("names") or []}
        for image in manifest.images:
            ref = parse_ref(image.name)
            if ref.with_digest(image.digest) in names:
                found.append(Presence(True, node_name, image.name, f"present ({image.digest[:19]})"))
            elif image.name in names:
                other = sorted(n.partition("@")[2][:19] for n in names if n.startswith(ref.repo + "@"))
                found.append(Presence(False, node_name, image.name, (
                    f"present under another digest ({', '.join(other)}), not the bundle's {image.digest[:19]}" if other
                    else f"listed by its tag only, with no digest, so not proven to be the bundle's {image.digest[:19]}")))
            elif len(listed) >= NODE_STATUS_MAX_IMAGES:
                found.append(Presence(None, node_name, image.name, f"cannot tell: the node lists only {len(listed)} "
                                      "images (kubelet's --node-status-max-images)"))
            else:
                found.append(Presence(False, node_name, image.name, "not on the node"))
    return found
