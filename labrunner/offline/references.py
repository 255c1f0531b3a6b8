"""Image references in full, as Docker normalizes them and containerd stores them.

`traefik:v3.7.13` is `docker.io/library/traefik:v3.7.13`: the first part of a name is a registry only
when more parts follow and it holds a dot or a port, or is `localhost` (distribution/reference,
`normalize.go` `splitDockerDomain`); a Docker Hub name of one part is under `library/`; no tag means
`latest`. The node's image list (`status.images[].names`) and `ctr images ls` show these full names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

DOCKER_HUB = "docker.io"
# Docker Hub's API answers at this host, not at docker.io (Docker's own `IndexServer` mapping).
DOCKER_HUB_API = "registry-1.docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PATH = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


@dataclass(frozen=True)
class ImageRef:
    """One image reference, in full: `registry` (host[:port]), `repository` (path), `tag` and/or
    `digest` (`sha256:<64 hex>`)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repo(self) -> str:
        """`docker.io/library/traefik`: the name without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def name(self) -> str:
        """The full name with its tag (or digest when it has no tag): what the node lists."""
        return f"{self.repo}:{self.tag}" if self.tag else f"{self.repo}@{self.digest}"

    def with_digest(self, digest: str) -> str:
        """`repo@digest`: how the node lists the image by digest (a CRI RepoDigest)."""
        return f"{self.repo}@{digest}"


def parse_ref(text: str) -> ImageRef:
    """`text` (as a lab or add-on file names an image) in full. UsageError for a name Docker would refuse."""
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise UsageError(f"image {text!r}: the digest must be sha256:<64 hex digits>")
    first, slash, more = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, more
    else:
        registry, path = DOCKER_HUB, rest
    tag = None
    last = path.rpartition("/")[2]
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not _TAG.match(tag):
            raise UsageError(f"image {text!r}: {tag!r} is not a valid tag")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not _PATH.match(path):
        raise UsageError(f"image {text!r}: {path!r} is not a valid repository name (lower case, digits, . _ - /)")
    if tag is None and not digest:
        tag = "latest"
    return ImageRef(registry, path, tag, digest or None)
