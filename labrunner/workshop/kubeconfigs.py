"""A seat's kubeconfig file: the instructor's cluster (server and CA), the seat's certificate and key,
one context carrying the seat extension (seats.SEAT_EXTENSION) and the seat's first lab namespace."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from .seats import SEAT_EXTENSION, Seat

if TYPE_CHECKING:
    from ..cluster import Cluster
    from .identity import SeatKey


def cluster_entry(cluster: Cluster) -> dict:
    """The kubeconfig `cluster:` of the instructor's connection: the server, and its CA as data (the
    client keeps the CA in a file of its own, or skips verification when the kubeconfig says so)."""
    configuration = cluster.configuration
    entry: dict = {"server": configuration.host}
    if configuration.ssl_ca_cert:
        entry["certificate-authority-data"] = base64.b64encode(Path(configuration.ssl_ca_cert).read_bytes()).decode()
    if not configuration.verify_ssl:
        entry["insecure-skip-tls-verify"] = True
    if getattr(configuration, "tls_server_name", None):
        entry["tls-server-name"] = configuration.tls_server_name
    return entry


def seat_kubeconfig(seat: Seat, key: SeatKey, cluster: dict, *, namespace: str) -> dict:
    """The kubeconfig of `seat` as data."""
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": seat.id,
        "clusters": [{"name": seat.workshop, "cluster": cluster}],
        "users": [{"name": seat.id, "user": {"client-certificate-data": base64.b64encode(key.cert_pem).decode(),
                                              "client-key-data": base64.b64encode(key.key_pem).decode()}}],
        "contexts": [{"name": seat.id, "context": {
            "cluster": seat.workshop, "user": seat.id, "namespace": namespace,
            "extensions": [{"name": SEAT_EXTENSION, "extension": {"workshop": seat.workshop, "seat": seat.name}}]}}],
    }


def kubeconfig_path(out: Path, seat: Seat) -> Path:
    return out / f"{seat.name}.kubeconfig"


def prepare_out(out: Path, seats: list[Seat]) -> None:
    """Make the folder `out`; UsageError when it is a file or already holds one of these seats' kubeconfigs
    (an older workshop's, which a new one must not silently replace)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: that is a file; give a folder for the seats' kubeconfigs")
    taken = [str(kubeconfig_path(out, s)) for s in seats if kubeconfig_path(out, s).exists()]
    if taken:
        raise UsageError(f"--out {out} already holds {taken[0]}" + (f" and {len(taken) - 1} more" if len(taken) > 1 else "")
                         + "; remove them or choose another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None


def write_kubeconfig(path: Path, data: dict) -> None:
    """Write a kubeconfig readable by its owner only (it holds a private key)."""
    import yaml

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, sort_keys=False)
