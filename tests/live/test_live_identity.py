"""whoami and certificate: a client certificate the API server accepts (or not) as exactly a user and
its groups, and the lifetime it was issued for; rbac for a certificate asks with its real groups."""

import base64
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from labrunner.cluster import delete_object, wait_until
from labrunner.model import ObjectRef

pytestmark = pytest.mark.live

# Throwaway keys and requests kept with the lab's wrong answers:
# 02-jane-doe: CN=jane.doe, O=shop-devs; 02-jane-ops: CN=jane, O=shop-devs, O=ops.
MATERIAL = Path(__file__).resolve().parents[2] / "labs" / "user-access" / "wrong"
RBAC = "rbac.authorization.k8s.io/v1"


def secret(name: str, cert_b64: str, key: bytes) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/tls",
                           "data": {"tls.crt": cert_b64, "tls.key": base64.b64encode(key).decode()}})


@pytest.fixture
def issue(ns):
    """issue(request file, expirationSeconds or None) -> (CSR name, base64 PEM certificate) from the cluster's
    kube-apiserver-client signer; the CSRs are deleted afterwards."""
    made: list[str] = []

    def make(request_file: str, seconds: int | None = 3600) -> tuple[str, str]:
        name = f"lt-whoami-{uuid.uuid4().hex[:6]}"
        made.append(name)
        spec = {"signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"],
                "request": base64.b64encode((MATERIAL / request_file).read_bytes()).decode()}
        if seconds:
            spec["expirationSeconds"] = seconds
        ns.apply(yaml.safe_dump({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                                 "metadata": {"name": name}, "spec": spec}))
        k8s.CertificatesV1Api(ns.cluster.api).patch_certificate_signing_request_approval(name, {"status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "LiveTest", "message": "live test"}]}})
        found = wait_until(ns.cluster, "CertificateSigningRequest", namespace=None, name=name, describe="issued",
                           predicate=lambda o: bool(o) and bool((o[0].get("status") or {}).get("certificate")),
                           timeout=60)
        return name, found[0]["status"]["certificate"]

    yield make
    for name in made:
        delete_object(ns.cluster, ObjectRef("CertificateSigningRequest", name, "certificates.k8s.io/v1"), namespace="")


def test_whoami(ns, issue):
    _, issued = issue("02-jane-doe.csr")
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
    accepted = ns.check("whoami", secret="cert", user="jane.doe", groups=["shop-devs"], validFor="1h")
    assert accepted.ok, accepted.message
    other = ns.check("whoami", secret="cert", user="jane")
    assert other.status.value == "fail" and "as user 'jane.doe'" in other.message
    group = ns.check("whoami", secret="cert", user="jane.doe", groups=["admins"])
    assert group.status.value == "fail" and "not in admins" in group.message
    none = ns.check("whoami", secret="cert", user="jane.doe")  # no groups asked: shop-devs is one too many
    assert none.status.value == "fail" and "also in shop-devs" in none.message
    day = ns.check("whoami", secret="cert", user="jane.doe", groups=["shop-devs"], validFor="24h")
    assert day.status.value == "fail" and "not 1d" in day.message


def test_an_extra_group_in_the_certificate_is_not_the_identity_asked(ns, issue):
    _, issued = issue("02-jane-ops.csr")
    ns.apply(secret("jane-cert", issued, (MATERIAL / "02-jane-ops.key").read_bytes()))
    extra = ns.check("whoami", secret="jane-cert", user="jane", groups=["shop-devs"])
    assert extra.status.value == "fail" and "also in ops" in extra.message, extra.message
    assert ns.check("whoami", secret="jane-cert", user="jane", groups=["shop-devs", "ops", "system:authenticated"]).ok


def test_rbac_for_a_certificate_asks_with_the_groups_it_carries(ns, issue, cluster):
    """jane's certificate says O=shop-devs and O=ops; ops may edit everything: so may she."""
    _, issued = issue("02-jane-ops.csr")
    ns.apply(secret("jane-cert", issued, (MATERIAL / "02-jane-ops.key").read_bytes()))
    ns.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-pod-reader}
subjects: [{kind: User, name: jane}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
""")
    only = [{"verbs": ["get", "list", "watch"], "resources": ["pods", "pods/log"]}]
    deadline = time.monotonic() + 15
    while not ns.check("rbac", certificate="jane-cert", verb="list", resource="pods").ok:
        assert time.monotonic() < deadline, "the RoleBinding never took effect"
        time.sleep(0.25)
    assert ns.check("rbac", certificate="jane-cert", only=only).ok  # ops may do nothing yet

    binding = f"lt-ops-edit-{ns.name}"
    ns.apply(f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {binding}}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: ops}}]
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}
""")
    try:
        deadline = time.monotonic() + 15
        while True:
            delete = ns.check("rbac", certificate="jane-cert", verb="delete", resource="pods", expect="denied")
            if delete.status.value == "fail" or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert delete.status.value == "fail" and "(groups ops, shop-devs)" in delete.message, delete.message
        # The same question with the groups the lab expected would pass: that was the wrong verdict.
        assert ns.check("rbac", user="jane", groups=["shop-devs"], verb="delete", resource="pods", expect="denied").ok
        sweep = ns.check("rbac", certificate="jane-cert", only=only)
        assert sweep.status.value == "fail" and any("delete" in line and line.endswith("pods cluster-wide") for line in sweep.details), "\n".join(sweep.details)
        assert "delete" in sweep.message
    finally:
        delete_object(cluster, ObjectRef("ClusterRoleBinding", binding, RBAC), namespace="")


def test_certificate_subject_and_lifetime(ns, issue):
    day, _ = issue("02-jane-doe.csr", 86400)
    assert ns.check("certificate", csr=day, user="jane.doe", groups=["shop-devs"], validFor="24h").ok
    short = ns.check("certificate", csr=day, validFor="1h")
    assert short.status.value == "fail" and "valid for 1d" in short.message
    assert ns.check("certificate", csr=day, user="jane").status.value == "fail"
    assert ns.check("certificate", csr=day, groups=[]).status.value == "fail"

    ops, _ = issue("02-jane-ops.csr", 3600)  # short-lived: the signer adds its 5 minutes of backdating
    assert ns.check("certificate", csr=ops, validFor="1h").ok
    extra = ns.check("certificate", csr=ops, groups=["shop-devs"])
    assert extra.status.value == "fail" and "O=ops" in extra.message

    forever, _ = issue("02-jane-doe.csr", None)  # no expirationSeconds: the signer's maximum
    unasked = ns.check("certificate", csr=forever, validFor="24h")
    assert unasked.status.value == "fail" and "expirationSeconds" in unasked.message
    assert ns.check("certificate", csr="lt-no-such-csr", validFor="24h").status.value == "fail"
