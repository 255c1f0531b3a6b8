"""What a bundle holds, said in its manifest (`labrunner-bundle.json`, the archive's first member),
and which images a set of labs needs.

The archive is a plain, uncompressed tar (image layers are compressed already):

    labrunner-bundle.json   this manifest
    labs/<id>/...           the lab folders, as in the repository, and labs/curriculum.yaml
    images/oci.tar          one OCI image layout (image-spec v1.1 `image-layout.md`) holding every image,
                            one single-platform manifest each, named with containerd's
                            `io.containerd.image.name` annotation: what `kind load image-archive` and
                            `ctr images import` load
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import LabrunnerError, UsageError
from .references import parse_ref

FORMAT = 1
MANIFEST_NAME = "labrunner-bundle.json"
IMAGES_NAME = "images/oci.tar"


class BundleError(LabrunnerError):
    """Making or loading a bundle failed for a reason of the environment (registry, disk, tool): exit 3."""


@dataclass(frozen=True)
class BundledImage:
    """One image in the bundle. `name`: the full reference (docker.io/library/traefik:v3.7.13);
    `written`: as the lab or add-on file writes it; `digest`: its single-platform manifest's digest, as the
    registry serves it and the node lists it; `size`: bytes of manifest, config and layers (compressed);
    `used_by`: `lab <id>` / `add-on <name>` / `asked for`."""

    name: str
    written: str
    digest: str
    size: int
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class BundleManifest:
    """The manifest. `platform`: `os/arch` every image is for; `labrunner`: the version that wrote it;
    `source`: the registry the images came from (`upstream` or a mirror's URL)."""

    labrunner: str
    platform: str
    source: str
    labs: tuple[str, ...]
    addons: tuple[str, ...]
    images: tuple[BundledImage, ...]
    format: int = FORMAT
    created: str = ""
    archive_size: int = field(default=0, compare=False)

    def to_json(self) -> str:
        data = asdict(self)
        data["images"] = [asdict(i) for i in self.images]
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> "BundleManifest":
        """Parse a manifest; UsageError naming `where` and the field for anything not as written here."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{where}: {MANIFEST_NAME} is not JSON ({exc}): not a labrunner bundle, or a damaged one") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UsageError(f"{where}: {MANIFEST_NAME} field format: expected {FORMAT}, found "
                             f"{data.get('format') if isinstance(data, dict) else data!r}; this labrunner reads "
                             f"bundle format {FORMAT}: make the bundle again with this labrunner")
        try:
            images = tuple(BundledImage(name=i["name"], written=i["written"], digest=i["digest"], size=int(i["size"]),
                                        used_by=tuple(i["used_by"])) for i in data["images"])
            return cls(labrunner=str(data["labrunner"]), platform=str(data["platform"]), source=str(data["source"]),
                       labs=tuple(data["labs"]), addons=tuple(data["addons"]), images=images,
                       created=str(data.get("created", "")), archive_size=int(data.get("archive_size", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{where}: {MANIFEST_NAME}: missing or wrong field {exc}; make the bundle again") from None

    def summary(self) -> str:
        """Lines for a person: what the bundle holds."""
        total = sum(i.size for i in self.images)
        lines = [f"labrunner bundle (labrunner {self.labrunner}, {self.platform}, images from {self.source}"
                 + (f", made {self.created}" if self.created else "") + ")",
                 f"labs: {', '.join(self.labs) or '(none)'}",
                 f"add-ons: {', '.join(self.addons) or '(none)'}",
                 f"images: {len(self.images)}, {total / 1e6:.1f} MB"]
        lines += [f"  {i.name}@{i.digest}  {i.size / 1e6:.1f} MB  ({', '.join(i.used_by)})" for i in self.images]
        return "\n".join(lines)


def images_needed(labs: Iterable, addons: Iterable, extra: Iterable[str] = ()) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Full image name -> (the name as first written, who uses it), for `labs` (model.Lab: `images`), the
    `addons` (addons.Addon: `spec.images`) and `extra` names, sorted by full name. UsageError for a bad name."""
    found: dict[str, tuple[str, list[str]]] = {}

    def add(written: str, user: str) -> None:
        name = parse_ref(written).name
        found.setdefault(name, (written, []))[1].append(user)

    for lab in labs:
        for image in lab.images:
            add(image, f"lab {lab.id}")
    for addon in addons:
        for image in addon.spec.images:
            add(image, f"add-on {addon.name}")
    for image in extra:
        add(image, "asked for")
    return {name: (written, tuple(users)) for name, (written, users) in sorted(found.items())}


def read_manifest(path: Path) -> BundleManifest:
    """The manifest of the bundle at `path`. UsageError when the file is missing or is no bundle."""
    where = str(path)
    try:
        with tarfile.open(path, "r:") as tar:
            member = tar.next()
            if member is None or member.name != MANIFEST_NAME:
                raise UsageError(f"{where}: not a labrunner bundle (its first member is "
                                 f"{member.name if member else 'missing'}, not {MANIFEST_NAME})")
            handle = tar.extractfile(member)
            text = handle.read().decode("utf-8") if handle else ""
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file; make one with `labrunner bundle {where}`") from None
    except (OSError, tarfile.TarError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: cannot read it as a labrunner bundle: {exc}") from None
    return BundleManifest.from_json(text, where)
