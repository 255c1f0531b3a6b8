"""An add-on's serving certificate: a CA of its own and a certificate it signs, as a Secret.

An add-on that serves HTTPS to the API server (the OpenID Connect issuer) needs a certificate the
API server can verify. No certificate manager is assumed, so `install` makes one when the add-on
asks (`tls` in addon.yaml): a self-signed CA (RSA 2048, 10 years) and a serving certificate for
the add-on's DNS names and IP addresses (1 year), stored as a `kubernetes.io/tls` Secret with the
CA beside it as `ca.crt` (the layout cert-manager uses). RSA, not ECDSA: busybox's wget (the labs'
agnhost image) has no ECDSA cipher suites, and a Go server with an ECDSA certificate offers no others. The Secret is kept once it exists, so the
CA that the API server's configuration holds stays valid across re-installs.
"""

from __future__ import annotations

import base64
import ipaddress
from datetime import datetime, timedelta, timezone

CA_LIFETIME = timedelta(days=3650)
SERVING_LIFETIME = timedelta(days=365)


def make_ca_and_serving(common_name: str, dns_names: list[str], ip_addresses: list[str],
                        now: datetime | None = None) -> dict[str, bytes]:
    """{"ca.crt", "tls.crt", "tls.key"}: PEM bytes of a new CA and a serving certificate it signed for
    `dns_names` and `ip_addresses` (subjectAltName; CN `common_name`). The CA's key is not returned:
    nothing else is ever signed with it. ValueError for an address that is not an IP address."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or datetime.now(timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} CA (labrunner add-on)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + CA_LIFETIME)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + SERVING_LIFETIME)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {
        "ca.crt": ca.public_bytes(pem),
        "tls.crt": cert.public_bytes(pem),
        "tls.key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }


def secret_body(namespace: str, name: str, files: dict[str, bytes], labels: dict[str, str]) -> dict:
    """The kubernetes.io/tls Secret holding `files` (make_ca_and_serving's result)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "data": {k: base64.b64encode(v).decode() for k, v in files.items()}}
