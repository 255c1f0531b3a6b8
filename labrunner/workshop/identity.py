"""A seat's identity: a private key made here, a certificate the cluster's CA signs through the CSR
API (signer kubernetes.io/kube-apiserver-client), approved by the instructor: the mechanism the
user-access lab teaches (kubernetes.io docs, "Certificates and Certificate Signing Requests", "Normal
user"). The API server then knows the seat as the certificate's common name, in the groups of its
organizations.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from ..errors import LabrunnerError, WaitTimedOut
from .seats import Seat

if TYPE_CHECKING:
    from ..cluster import Cluster

CSR_API = "certificates.k8s.io/v1"
SIGNER = "kubernetes.io/kube-apiserver-client"
# Seconds the certificate is valid for (asked; the signer caps it at its --cluster-signing-duration,
# a year by default): a workshop is a day or two.
CERT_SECONDS = 7 * 24 * 3600
SIGNED_WITHIN = 60.0  # s: kube-controller-manager signs an approved request within a second or two


@dataclass(frozen=True)
class SeatKey:
    """A seat's private key and certificate, both PEM."""

    key_pem: bytes
    cert_pem: bytes


def csr_name(seat: Seat) -> str:
    return f"labrunner-workshop-{seat.id}"


def make_request(seat: Seat) -> tuple[bytes, bytes]:
    """(private key PEM, certificate request PEM) for CN=<seat user>, O=<workshop group>; an EC P-256 key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, seat.group),
        x509.NameAttribute(NameOID.COMMON_NAME, seat.user),
    ])).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, request.public_bytes(serialization.Encoding.PEM)


def request_certificates(cluster: Cluster, seats: Iterable[Seat], *, labels_of) -> dict[Seat, SeatKey]:  # noqa: ANN001
    """A certificate for each seat: create every CSR, approve each, then wait (one watch) until every
    one is signed. `labels_of(seat)` gives the CSR's labels. Raises WaitTimedOut naming the seats not
    signed, or LabrunnerError for a request the signer refused."""
    from ..cluster import wait_until

    seats = list(seats)
    keys: dict[Seat, bytes] = {}
    for seat in seats:
        key_pem, request_pem = make_request(seat)
        keys[seat] = key_pem
        cluster.create({"apiVersion": CSR_API, "kind": "CertificateSigningRequest",
                        "metadata": {"name": csr_name(seat), "labels": labels_of(seat)},
                        "spec": {"signerName": SIGNER, "usages": ["client auth"], "expirationSeconds": CERT_SECONDS,
                                 "request": base64.b64encode(request_pem).decode()}})
    for seat in seats:
        created = cluster.get("CertificateSigningRequest", csr_name(seat), api_version=CSR_API) or {}
        created.setdefault("status", {})["conditions"] = [{
            "type": "Approved", "status": "True", "reason": "LabrunnerWorkshop",
            "message": f"labrunner workshop {seat.workshop}: the instructor's seat {seat.name}"}]
        cluster.request(f"approving the CSR of {seat.id}", "PUT",
                        f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{csr_name(seat)}/approval",
                        body=created)
    wanted = {csr_name(seat) for seat in seats}
    workshop = seats[0].workshop if seats else ""

    def signed(items: list[dict]) -> bool:
        done = {i["metadata"]["name"]: i for i in items if (i.get("status") or {}).get("certificate")}
        for item in items:
            failed = [c for c in (item.get("status") or {}).get("conditions") or [] if c.get("type") in ("Failed", "Denied")]
            if failed and item["metadata"]["name"] in wanted:
                raise LabrunnerError(f"the signer refused {item['metadata']['name']}: {failed[0].get('message')}")
        return wanted <= set(done)

    from ..cluster.applying import WORKSHOP_LABEL

    try:
        items = wait_until(cluster, "CertificateSigningRequest", namespace=None, predicate=signed,
                           selector=f"{WORKSHOP_LABEL}={workshop}", api_version=CSR_API,
                           describe="every seat's certificate to be signed", timeout=SIGNED_WITHIN)
    except WaitTimedOut:
        raise WaitTimedOut(f"the cluster did not sign every seat's certificate within {SIGNED_WITHIN:.0f} s; "
                           f"the kube-controller-manager signs {SIGNER} requests when it is given the cluster CA "
                           "(--cluster-signing-cert-file, --cluster-signing-key-file)") from None
    certs = {i["metadata"]["name"]: base64.b64decode(i["status"]["certificate"]) for i in items
             if (i.get("status") or {}).get("certificate")}
    return {seat: SeatKey(keys[seat], certs[csr_name(seat)]) for seat in seats}
