"""whoami: a client certificate the API server accepts (or not) as a user."""

import base64
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from labrunner.cluster import delete_object, wait_until
from labrunner.model import ObjectRef

pytestmark = pytest.mark.live

# A throwaway key and request for CN=jane.doe, O=shop-devs (kept with the lab's wrong answers).
MATERIAL = Path(__file__).resolve().parents[2] / "labs" / "user-access" / "wrong"


def secret(name: str, cert_b64: str, key: bytes) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/tls",
                           "data": {"tls.crt": cert_b64, "tls.key": base64.b64encode(key).decode()}})


@pytest.fixture
def issued(ns):
    """A certificate for jane.doe, issued by the cluster's kube-apiserver-client signer."""
    name = f"lt-whoami-{uuid.uuid4().hex[:6]}"
    request = base64.b64encode((MATERIAL / "02-jane-doe.csr").read_bytes()).decode()
    ns.apply(yaml.safe_dump({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                             "metadata": {"name": name},
                             "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"],
                                      "expirationSeconds": 3600, "request": request}}))
    try:
        k8s.CertificatesV1Api(ns.cluster.api).patch_certificate_signing_request_approval(name, {"status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "LiveTest", "message": "live test"}]}})
        found = wait_until(ns.cluster, "CertificateSigningRequest", namespace=None, name=name, describe="issued",
                           predicate=lambda o: bool(o) and bool((o[0].get("status") or {}).get("certificate")), timeout=60)
        yield found[0]["status"]["certificate"]
    finally:
        delete_object(ns.cluster, ObjectRef("CertificateSigningRequest", name, "certificates.k8s.io/v1"), namespace="")


def test_whoami(ns, issued):
    missing = ns.check("whoami", secret="cert", user="jane.doe")
    assert missing.status.value == "fail" and "does not exist yet" in missing.message

    self_signed = base64.b64encode((MATERIAL / "02-self-signed.crt").read_bytes()).decode()
    ns.apply(secret("self", self_signed, (MATERIAL / "02-self-signed.key").read_bytes()))
    rejected = ns.check("whoami", secret="self", user="jane")
    assert rejected.status.value == "fail" and "401" in rejected.message

    ns.apply(secret("mismatch", issued, (MATERIAL / "02-self-signed.key").read_bytes()))
    mismatch = ns.check("whoami", secret="mismatch", user="jane.doe")
    assert mismatch.status.value == "fail" and "does not belong" in mismatch.message

    ns.apply(secret("cert", issued, (MATERIAL / "02-jane-doe.key").read_bytes()))
    accepted = ns.check("whoami", secret="cert", user="jane.doe", groups=["shop-devs"])
    assert accepted.ok, accepted.message
    other = ns.check("whoami", secret="cert", user="jane")
    assert other.status.value == "fail" and "as user 'jane.doe'" in other.message
    group = ns.check("whoami", secret="cert", user="jane.doe", groups=["admins"])
    assert group.status.value == "fail" and "admins" in group.message
