"""`labrunner bundle FILE`: the labs and every image they and their add-ons run, in one archive.

Written whole or not at all: everything goes to a temporary file beside FILE, renamed to FILE only at
the end (a rename within one folder is atomic on POSIX), and removed on any error or Ctrl-C, so an
interrupted or failed run never leaves a half archive where a finished one is expected.
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

from .contents import IMAGES_NAME, MANIFEST_NAME, BundledImage, BundleError, BundleManifest, images_needed
from .pulling import disk_error, pull_image
from .references import parse_ref

# The machine names Python reports (platform.machine) -> the OCI `architecture` of image-spec's
# `config.md` (Go's GOARCH names), for the default platform: the nodes of a kind cluster run on this host.
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm/v7",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def host_platform_name() -> str:
    """`linux/<arch>` of this machine (kind's nodes are Linux containers of the host's architecture)."""
    machine = host_platform.machine().lower()
    return f"linux/{_ARCH.get(machine, machine)}"


def labrunner_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labrunner")
    except PackageNotFoundError:
        return "unknown"


def write_bundle(target: Path, labs: list, addons: list, *, labs_root: Path, platform: str,
                 mirror: str | None = None, extra: Iterable[str] = (),
                 say: Callable[[str], None] = print) -> BundleManifest:
    """Write the bundle of `labs` (model.Lab), the add-ons they need (`addons`: addons.Addon) and `extra`
    image names to `target`; return its manifest. `labs_root`: the folder holding the lab folders (its
    curriculum.yaml goes along). BundleError on a registry or disk fault; UsageError on a bad name.
    Nothing is left at `target` (nor beside it) unless the whole bundle was written."""
    wanted = images_needed(labs, addons, extra)
    target = target.resolve()
    if target.is_dir():
        raise BundleError(f"{target} is a folder: name the bundle file to write, e.g. {target}/workshop.tar")
    if not target.parent.is_dir():
        raise BundleError(f"{target.parent} does not exist: make the folder first")
    fd, partial_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    partial = Path(partial_name)
    try:
        with tempfile.TemporaryDirectory(prefix="labrunner-bundle-") as scratch:
            layout = Path(scratch) / "oci"
            images = _pull_all(wanted, layout, platform=platform, mirror=mirror, say=say)
            oci_tar = Path(scratch) / "oci.tar"
            _write_layout_tar(layout, oci_tar)
            manifest = BundleManifest(labrunner=labrunner_version(), platform=platform, source=mirror or "upstream",
                                      labs=tuple(lab.id for lab in labs), addons=tuple(a.name for a in addons),
                                      images=tuple(images), created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                      archive_size=oci_tar.stat().st_size)
            say(f"writing {target.name}")
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, MANIFEST_NAME, manifest.to_json().encode())
                for lab in labs:
                    tar.add(lab.path, arcname=f"labs/{lab.path.name}", filter=_plain)
                curriculum = labs_root / "curriculum.yaml"
                if curriculum.is_file():
                    _add_bytes(tar, "labs/curriculum.yaml", curriculum_for(curriculum.read_text(encoding="utf-8"),
                                                                           [lab.id for lab in labs]).encode())
                tar.add(oci_tar, arcname=IMAGES_NAME, filter=_plain)
            os.chmod(partial, 0o644)  # mkstemp makes it 0600; a bundle is meant to be handed round
            os.replace(partial, target)
    except OSError as exc:
        raise disk_error(exc, target.parent) from None
    finally:
        partial.unlink(missing_ok=True)
    return manifest


def curriculum_for(text: str, lab_ids: list[str]) -> str:
    """The curriculum file `text` with its learning `order:` cut to `lab_ids` (a bundle of some labs must
    validate on its own: the loader refuses an order naming a lab the folder lacks). The flow-style line
    is rewritten in place, so the file's comments stay; a block-style list is re-dumped."""
    import re

    import yaml

    data = yaml.safe_load(text) or {}
    order = data.get("order") if isinstance(data, dict) else None
    if not isinstance(order, list):
        return text
    kept = [lab for lab in order if lab in lab_ids]
    line = re.compile(r"^order:[ \t]*\[[^\]\n]*\][ \t]*$", re.MULTILINE)
    if line.search(text):
        return line.sub(lambda _: f"order: [{', '.join(kept)}]", text, count=1)
    return yaml.safe_dump({**data, "order": kept}, sort_keys=False, allow_unicode=True)


def _pull_all(wanted: dict, layout: Path, *, platform: str, mirror: str | None,
              say: Callable[[str], None]) -> list[BundledImage]:
    images, index = [], []
    for i, (name, (written, used_by)) in enumerate(wanted.items(), 1):
        say(f"image {i}/{len(wanted)}: {name} ({platform})")
        ref = parse_ref(name)
        pulled = pull_image(ref, platform, layout, mirror=mirror)
        images.append(BundledImage(name=name, written=written, digest=pulled.digest, size=pulled.total, used_by=used_by))
        os_name, _, arch = platform.partition("/")
        arch, _, variant = arch.partition("/")
        desc = {"mediaType": pulled.media_type, "digest": pulled.digest, "size": pulled.size,
                "platform": {"os": os_name, "architecture": arch, **({"variant": variant} if variant else {})}}
        # containerd's import names each image by `io.containerd.image.name` (images/annotations.go; the OCI
        # ref.name alone is a bare tag, which would need a base name). Two names per image, as the CRI plugin
        # makes on a pull: `repo:tag` and `repo@digest`; kubelet reports an image's digest (its RepoDigests)
        # only from the second, and `doctor --bundle` proves presence by it.
        for full in dict.fromkeys([name, ref.with_digest(pulled.digest)]):
            index.append({**desc, "annotations": {"io.containerd.image.name": full,
                                                  "org.opencontainers.image.ref.name": ref.tag or pulled.digest}})
    try:
        layout.mkdir(parents=True, exist_ok=True)
        (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                                       "manifests": index}, indent=1))
    except OSError as exc:
        raise disk_error(exc, layout) from None
    return images


def _write_layout_tar(layout: Path, out: Path) -> None:
    """The layout as a tar with `oci-layout` and `index.json` at its top, as `ctr images import` reads it."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("oci-layout", "index.json"):
            tar.add(layout / name, arcname=name, filter=_plain)
        blobs = layout / "blobs" / "sha256"
        if blobs.is_dir():
            for blob in sorted(blobs.iterdir()):
                tar.add(blob, arcname=f"blobs/sha256/{blob.name}", filter=_plain)


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """No owner names, ids or caches of this machine in the archive."""
    if "__pycache__" in info.name.split("/"):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))
