"""One image, one platform, by digest, from an OCI registry (the Distribution API) into an OCI image layout.

Why this way: the registry client is oras-py (`oras`, the ORAS project's Python SDK, CNCF): it speaks
the Distribution API with Docker's token auth (anonymous tokens for public images, ~/.docker/config.json
credentials) and retries. No well-kept Python library pulls a whole image for one platform into an
archive (Google's `containerregistry` is archived; `docker-registry-client` was last released in 2017;
`aioregistry` is a one-person async project), so the little that is labrunner's own is here: choose the
platform's manifest from an index, fetch its blobs and check each digest. The alternative, `docker pull
--platform` then `docker save`, needs Docker and a network on the instructor's machine, and Docker saves
an archive that kind cannot always load (a multi-platform index whose other platforms' blobs are not in
it); reading the registry ourselves works where only the registry is reachable (CI's local mirror) and
keeps the registry's manifest bytes, so the node lists the image under the same digest the registry has.

A mirror laid out as containerd's `hosts.toml` mirrors with path prefixes are (the testbed's
127.0.0.1:5000 holds docker.io/library/traefik as the repository `docker.io/library/traefik`) is asked
with `mirror=URL`; otherwise each image's own registry is asked over HTTPS.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .contents import BundleError
from .references import DOCKER_HUB, DOCKER_HUB_API, ImageRef

# Media types (image-spec v1.1 `media-types.md`; Docker's image manifest v2, schema 2).
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
CHUNK = 1 << 20


@dataclass(frozen=True)
class Pulled:
    """An image in the layout: its manifest's descriptor (`media_type`, `digest`, `size` of the manifest
    itself) and `total`, the bytes of manifest, config and layers."""

    media_type: str
    digest: str
    size: int
    total: int


# Seconds to connect, and to wait for the next bytes of an answer: requests waits forever by default,
# and a registry behind a firewall that drops packets must be an error, not a hang.
TIMEOUT = (10, 60)
# Tries of one request when the connection fails, and the pause before each next try (seconds).
TRIES, PAUSE = 3, 2.0


def _client(registry: str, mirror: str | None):
    """(oras Registry, host to ask, path prefix): the mirror's when given, else the image's registry."""
    import functools

    import oras.provider

    if mirror:
        url = urlparse(mirror if "://" in mirror else f"http://{mirror}")
        client, host, prefix = oras.provider.Registry(hostname=url.netloc, insecure=url.scheme == "http"), url.netloc, f"{registry}/"
    else:
        host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
        client, prefix = oras.provider.Registry(hostname=host, insecure=False), ""
    client.session.request = functools.partial(client.session.request, timeout=TIMEOUT)
    return client, host, prefix


def _get(client, url: str, *, accept: str | None = None, stream: bool = False, what: str):  # noqa: ANN001
    """GET `url` through oras's request (its token auth), tried TRIES times when the connection fails.
    oras's own `do_request` retries every failure five times over about two minutes (its `retry`
    decorator), silent, even a refused connection: its undecorated function (`__wrapped__`, set by
    functools.wraps) is called instead, with these shorter tries."""
    import time

    import requests

    request = getattr(type(client).do_request, "__wrapped__", None)
    for attempt in range(TRIES):
        try:
            headers = {"Accept": accept} if accept else {}
            response = (request(client, url, "GET", headers=headers, stream=stream) if request
                        else client.do_request(url, "GET", headers=headers, stream=stream))
            break
        except (requests.ConnectionError, requests.Timeout) as exc:
            if attempt + 1 == TRIES:
                raise BundleError(f"{what}: cannot reach the registry ({url}) after {TRIES} tries: {exc}; "
                                  "check the network, or bundle from a mirror you reach (--mirror URL)") from None
            time.sleep(PAUSE * (attempt + 1))
        except (requests.RequestException, ValueError) as exc:
            raise BundleError(f"{what}: the registry's answer could not be read ({url}): {exc}") from None
    if response.status_code == 404:
        raise BundleError(f"{what}: not in the registry ({url} answered 404 Not Found); check the name and tag, "
                          "or push the image there")
    if response.status_code in (401, 403):
        raise BundleError(f"{what}: the registry refused access ({response.status_code}); for a private image "
                          "log in with `docker login REGISTRY` (labrunner reads ~/.docker/config.json)")
    if response.status_code != 200:
        raise BundleError(f"{what}: the registry answered {response.status_code} for {url}: {response.text[:200]}")
    return response


def choose_platform(index: dict, platform: str, what: str) -> dict:
    """The descriptor in `index` (an OCI index or Docker manifest list, parsed) for `platform` (`os/arch`
    or `os/arch/variant`). BundleError naming the platforms it has when none matches."""
    os_name, _, rest = platform.partition("/")
    arch, _, variant = rest.partition("/")
    have = []
    for desc in index.get("manifests") or []:
        p = desc.get("platform") or {}
        have.append("/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x))
        if p.get("os") == os_name and p.get("architecture") == arch and (not variant or p.get("variant") == variant):
            return desc
    raise BundleError(f"{what}: the registry has no {platform} image of it (it has: {', '.join(have) or 'none'})")


def pull_image(ref: ImageRef, platform: str, layout: Path, *, mirror: str | None = None) -> Pulled:
    """Fetch `ref` for `platform` into the OCI image layout folder `layout` (blobs/sha256/<hex>), each blob's
    digest and size checked. A multi-platform index is resolved to the one platform's manifest, so the
    layout never names blobs it lacks. BundleError when the image, the platform or a blob is missing, a
    digest is wrong, or the disk is full."""
    client, host, prefix = _client(ref.registry, mirror)
    scheme = client.prefix
    base = f"{scheme}://{host}/v2/{prefix}{ref.repository}"
    what = f"image {ref.name}" + (f" (from the mirror {mirror})" if mirror else "")
    accept = ", ".join(MANIFESTS + INDEXES)
    response = _get(client, f"{base}/manifests/{ref.digest or ref.tag}", accept=accept, what=what)
    body = response.content
    media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    manifest = _json(body, what)
    media_type = manifest.get("mediaType") or media_type
    if ref.digest and _sha256(body) != ref.digest:
        raise BundleError(f"{what}: the registry's manifest does not match the digest asked for")
    if media_type in INDEXES:
        desc = choose_platform(manifest, platform, what)
        response = _get(client, f"{base}/manifests/{desc['digest']}", accept=", ".join(MANIFESTS), what=what)
        body = response.content
        if _sha256(body) != desc["digest"]:
            raise BundleError(f"{what}: the registry's {platform} manifest does not match its index's digest")
        manifest = _json(body, what)
        media_type = manifest.get("mediaType") or desc.get("mediaType") or media_type
    if media_type not in MANIFESTS:
        raise BundleError(f"{what}: the registry serves a manifest of type {media_type or 'unknown'}, which "
                          "labrunner cannot bundle (it reads OCI and Docker schema 2 images)")
    digest = _sha256(body)
    _write_blob(layout, digest, body, what)
    total = len(body)
    for desc in [manifest.get("config") or {}, *(manifest.get("layers") or [])]:
        total += _fetch_blob(client, base, desc, layout, what)
    return Pulled(media_type, digest, len(body), total)


def _fetch_blob(client, base: str, desc: dict, layout: Path, what: str) -> int:  # noqa: ANN001
    digest, size = desc.get("digest", ""), desc.get("size")
    if not str(digest).startswith("sha256:"):
        raise BundleError(f"{what}: its manifest names a blob without a sha256 digest ({digest!r})")
    target = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    if target.exists():  # shared with an image fetched before; checked when it was written
        return target.stat().st_size
    response = _get(client, f"{base}/blobs/{digest}", stream=True, what=what)
    partial = target.with_name(target.name + ".partial")
    hasher, written = hashlib.sha256(), 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with response, open(partial, "wb") as out:
            for chunk in response.iter_content(CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                written += len(chunk)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise disk_error(exc, layout) from None
    if f"sha256:{hasher.hexdigest()}" != digest or (size is not None and written != size):
        partial.unlink(missing_ok=True)
        raise BundleError(f"{what}: blob {digest} arrived damaged ({written} bytes, digest sha256:{hasher.hexdigest()}); "
                          "run `labrunner bundle` again")
    os.replace(partial, target)
    return written


def _write_blob(layout: Path, digest: str, data: bytes, what: str) -> None:
    target = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise disk_error(exc, layout) from None


def disk_error(exc: OSError, where: Path) -> BundleError:
    """An OSError while writing under `where`, said with the fix (ENOSPC: the disk is full)."""
    import errno

    if exc.errno == errno.ENOSPC:
        return BundleError(f"the disk holding {where} is full; free space there (or set TMPDIR to a folder on a "
                           "disk with room) and run the command again; nothing half-written is left")
    return BundleError(f"cannot write under {where}: {exc.strerror or exc}")


def _json(body: bytes, what: str) -> dict:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BundleError(f"{what}: the registry's answer is not a JSON manifest")
    return data


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"
