"""Offline workshops: one archive with the labs and every image they run (`labrunner bundle FILE`),
loaded into a cluster's nodes with no network (`labrunner up --from FILE`, `labrunner bundle-load`),
and proven present on every node (`labrunner doctor --bundle FILE`).

- `references.py`: image names as Docker and containerd spell them in full.
- `contents.py`: what a bundle holds (its manifest) and which images labs and add-ons need.
- `pulling.py`: one image, one platform, by digest, from an OCI registry into an OCI image layout.
- `writing.py`: the archive, written whole or not at all.
- `loading.py`: into kind's nodes or a containerd, and the check that every node has every image.
"""

from .contents import BundleError, BundleManifest, BundledImage, images_needed, read_manifest
from .references import ImageRef, parse_ref

__all__ = ["BundleError", "BundleManifest", "BundledImage", "ImageRef", "images_needed", "parse_ref", "read_manifest"]
