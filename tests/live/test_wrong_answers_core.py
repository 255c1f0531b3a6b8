"""Plausible wrong answers to the orchestration, runtime, storage and
user-access labs: each must leave its step failing (never passing, never
erroring) with a message that tells the learner what is wrong.

Every test sets its step up as `dev check` does (the earlier steps' setup and
solutions, then the step's setup) in its own namespace, applies the wrong
answer, and re-runs the step's checks until the expected check fails with the
expected text.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from labrunner import runner
from labrunner.checks import Status
from labrunner.cluster import apply_manifests, delete_labelled, delete_object, wait_until
from labrunner.loader import discover_labs
from labrunner.model import Manifest, ObjectRef

pytestmark = pytest.mark.live

LABS_DIR = Path(__file__).resolve().parents[2] / "labs"
LABS = {lab.id: lab for lab in discover_labs(LABS_DIR).labs}


def lab_file(lab_id: str, relative: str) -> Manifest:
    path = LABS_DIR / lab_id / relative
    return Manifest(path, tuple(d for d in yaml.safe_load_all(path.read_text()) if d))


class StepUnderTest:
    """One lab step set up in a throwaway namespace, as `dev check` does."""

    def __init__(self, cluster, ns, lab_id: str, step_id: str):
        self.cluster = cluster
        self.namespace = ns.name
        self.lab = LABS[lab_id]
        self.step = self.lab.step(step_id)
        for earlier in self.lab.steps[: self.lab.step_index(step_id)]:
            if not earlier.is_quiz:
                runner.run_actions(cluster, self.lab, earlier.setup, namespace=self.namespace)
                runner.run_actions(cluster, self.lab, earlier.solution.actions, namespace=self.namespace)
        runner.run_actions(cluster, self.lab, self.step.setup, namespace=self.namespace)

    def apply(self, *manifests: Manifest | str) -> None:
        files = [lab_file(self.lab.id, m) if isinstance(m, str) else m for m in manifests]
        apply_manifests(self.cluster, files, namespace=self.namespace, lab_id=self.lab.id)

    def check(self):
        return runner.run_step_checks(self.cluster, self.lab, self.step, namespace=self.namespace)

    def fails_with(self, check_id: str, text: str, *, timeout: float = 60) -> str:
        """Re-check until `check_id` fails with `text`; the step must never pass or error meanwhile."""
        deadline = time.monotonic() + timeout
        seen = ""
        while True:
            report = self.check()
            assert report.status is not Status.PASS, f"the wrong answer passes step {self.step.id}"
            result = next(r for r in report.results if r.check_id == check_id)
            seen = " | ".join([result.message, *result.details])
            if result.status is Status.FAIL and text in seen:
                assert report.status is Status.FAIL, [r.message for r in report.results if r.status is Status.ERROR]
                return seen
            if time.monotonic() > deadline:
                pytest.fail(f"{check_id} did not fail with {text!r}; last: {result.status.value}: {seen}")
            time.sleep(2)

    def cleanup(self) -> None:
        for step in self.lab.steps:
            if not step.is_quiz:
                runner.run_actions(self.cluster, self.lab, step.cleanup, namespace=self.namespace)
        delete_labelled(self.cluster, lab_id=self.lab.id, kinds=runner.cluster_scoped_kinds(self.lab))


@pytest.fixture
def step_for(cluster, ns):
    made: list[StepUnderTest] = []

    def make(lab_id: str, step_id: str) -> StepUnderTest:
        made.append(StepUnderTest(cluster, ns, lab_id, step_id))
        return made[-1]

    yield make
    for s in made:
        s.cleanup()


def merge_patch(cluster, kind: str, name: str, namespace: str, body: dict) -> None:
    resource = cluster.resource(kind)
    cluster.call(f"patching {kind}/{name}", cluster.dynamic.patch, resource, name=name, namespace=namespace, body=body,
                 content_type="application/merge-patch+json")


# -- orchestration ---------------------------------------------------------------

def test_self_heal_by_scaling_up_and_down_is_not_self_healing(cluster, step_for):
    s = step_for("orchestration", "self-heal")
    s.apply("solution/02-api-3-replicas.yaml")  # kubectl scale --replicas 3 ...
    wait_until(cluster, "Deployment", namespace=s.namespace, name="api", describe="3 ready",
               predicate=lambda objs: bool(objs) and (objs[0].get("status") or {}).get("readyReplicas") == 3)
    s.apply("manifests/api.yaml")  # ... and back to 2
    s.fails_with("not-scaled-down", "that is not self-healing")


def test_scaling_the_replicaset_does_not_scale_the_deployment(cluster, step_for):
    s = step_for("orchestration", "scale")
    rs = cluster.list("ReplicaSet", namespace=s.namespace, selector="app=api")[0]["metadata"]["name"]
    merge_patch(cluster, "ReplicaSet", rs, s.namespace, {"spec": {"replicas": 3}})
    s.fails_with("deployment-asks-3", "should be 3, it is 2")


def test_rollout_with_the_default_strategy_may_drop_capacity(cluster, step_for):
    s = step_for("orchestration", "rollout")
    v2 = lab_file("orchestration", "solution/03-api-v2.yaml")
    doc = yaml.safe_load(yaml.safe_dump(v2.documents[0]))
    del doc["spec"]["strategy"]  # v2, but with the default maxUnavailable 25%
    s.apply(Manifest(Path("wrong-default-strategy.yaml"), (doc,)))
    s.fails_with("keeps-capacity", "should be 0, it is 25%")


# -- runtime -----------------------------------------------------------------------

def test_recreating_the_pod_is_not_a_container_restart(cluster, step_for):
    s = step_for("runtime", "restart")
    delete_object(cluster, ObjectRef("Pod", "web", "v1"), namespace=s.namespace)
    wait_until(cluster, "Pod", namespace=s.namespace, name="web", predicate=lambda objs: not objs, describe="web gone")
    s.apply("manifests/web.yaml")
    s.fails_with("restarted", "should match ^[1-9], it is 0")


def test_runtime_handler_the_runtime_does_not_have(cluster, step_for):
    s = step_for("runtime", "handler")
    s.apply("wrong/02-unknown-handler.yaml")
    seen = s.fails_with("sandbox-created", "the runtime refused")
    assert 'no runtime for "kata"' in seen


# -- storage -----------------------------------------------------------------------

def test_two_separate_emptydirs_share_nothing(cluster, step_for):
    s = step_for("storage", "shared-volume")
    s.apply("wrong/01-two-volumes.yaml")
    s.fails_with("shipper-ships-app-log", "did not show the line written by the check")


@pytest.mark.parametrize("wrong, says", [
    ("wrong/02-claim-rwx.yaml", "access modes are ReadWriteMany, should be ReadWriteOnce"),
    ("wrong/02-claim-too-big.yaml", "is Pending, should be Bound"),
])
def test_claim_the_static_volume_cannot_satisfy(cluster, step_for, wrong, says):
    s = step_for("storage", "static-pv")
    pv = lab_file("storage", "solution/02-orders-pv.yaml")
    only_pv = tuple(d for d in pv.documents if d["kind"] == "PersistentVolume")
    s.apply(Manifest(pv.path, only_pv), wrong)
    s.fails_with("claim-bound", says)
    s.fails_with("claim-got-the-disk", "should be orders-pv, it is nothing")


def test_read_write_many_from_the_local_path_class(cluster, step_for):
    s = step_for("storage", "keep-data")
    shop = lab_file("storage", "solution/03-shop-pvc.yaml")
    deployment = tuple(d for d in shop.documents if d["kind"] == "Deployment")
    s.apply("wrong/03-claim-rwx.yaml", Manifest(shop.path, deployment))
    seen = s.fails_with("provisioned", "could not create a volume for shop-data", timeout=90)
    assert "ReadWriteOnce" in seen  # the provisioner's own reason reaches the learner


# -- user-access -----------------------------------------------------------------------

CERTS = k8s.CertificatesV1Api


def wait_for_certificate(cluster, name: str) -> str:
    found = wait_until(cluster, "CertificateSigningRequest", namespace=None, name=name, describe=f"CSR {name} issued",
                       predicate=lambda objs: bool(objs) and bool((objs[0].get("status") or {}).get("certificate")),
                       timeout=60)
    return found[0]["status"]["certificate"]


def tls_secret(name: str, cert_pem_b64: str, key_pem: bytes) -> Manifest:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/tls",
           "data": {"tls.crt": cert_pem_b64, "tls.key": base64.b64encode(key_pem).decode()}}
    return Manifest(Path(f"{name}.yaml"), (doc,))


def test_csr_not_approved(cluster, step_for):
    s = step_for("user-access", "csr")
    csr = lab_file("user-access", "solution/01-jane-csr.yaml")
    s.apply(Manifest(csr.path, tuple(d for d in csr.documents if d["kind"] == "CertificateSigningRequest")))
    s.fails_with("approved", "should have Approved=True")


def test_self_signed_certificate_is_not_accepted(cluster, step_for):
    s = step_for("user-access", "identity")
    wrong = LABS_DIR / "user-access" / "wrong"
    cert = base64.b64encode((wrong / "02-self-signed.crt").read_bytes()).decode()
    s.apply(tls_secret("jane-cert", cert, (wrong / "02-self-signed.key").read_bytes()))
    s.fails_with("seen-as-jane", "does not accept the certificate")


def test_certificate_for_another_name(cluster, step_for):
    s = step_for("user-access", "identity")
    wrong = LABS_DIR / "user-access" / "wrong"
    name = f"lt-jane-doe-{uuid.uuid4().hex[:5]}"
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"],
                     "expirationSeconds": 3600,
                     "request": base64.b64encode((wrong / "02-jane-doe.csr").read_bytes()).decode()}}
    s.apply(Manifest(Path("jane-doe-csr.yaml"), (body,)))
    try:
        CERTS(cluster.api).patch_certificate_signing_request_approval(name, {"status": {"conditions": [
            {"type": "Approved", "status": "True", "reason": "LiveTest", "message": "wrong-answer test"}]}})
        cert = wait_for_certificate(cluster, name)
        s.apply(tls_secret("jane-cert", cert, (wrong / "02-jane-doe.key").read_bytes()))
        s.fails_with("seen-as-jane", "as user 'jane.doe'")
    finally:
        delete_object(cluster, ObjectRef("CertificateSigningRequest", name, "certificates.k8s.io/v1"), namespace="")


def test_key_that_does_not_belong_to_the_certificate(cluster, step_for):
    s = step_for("user-access", "identity")  # the CSR jane from step 1's solution is approved
    cert = wait_for_certificate(cluster, "jane")
    s.apply(tls_secret("jane-cert", cert, (LABS_DIR / "user-access" / "wrong" / "02-jane-doe.key").read_bytes()))
    s.fails_with("seen-as-jane", "tls.key does not belong to tls.crt")


@pytest.mark.parametrize("wrong, check_id, says", [
    ("wrong/03-clusterrolebinding-view.yaml", "only-here", "is allowed, but should be denied"),
    ("wrong/03-edit-role.yaml", "no-delete", "is allowed, but should be denied"),
    ("wrong/03-edit-role.yaml", "no-secrets", "is allowed, but should be denied"),
    ("wrong/03-wrong-user.yaml", "list-pods", "is denied, but should be allowed"),
])
def test_rbac_that_grants_the_wrong_thing(cluster, step_for, wrong, check_id, says):
    s = step_for("user-access", "permissions")
    try:
        s.apply(wrong)
        s.fails_with(check_id, says)
    finally:
        delete_object(cluster, ObjectRef("ClusterRoleBinding", "user-access-jane-view", "rbac.authorization.k8s.io/v1"),
                      namespace="")


def test_a_second_pod_beside_the_first_is_not_a_replacement(cluster, step_for):
    s = step_for("storage", "keep-data")
    shop = lab_file("storage", "solution/03-shop-pvc.yaml")  # the claim and the Deployment, but no pod deleted
    s.apply(shop)
    s.fails_with("survived", "found no note from an earlier pod", timeout=90)
    merge_patch(cluster, "Deployment", "shop", s.namespace, {"spec": {"replicas": 2}})  # two writers at once
    s.fails_with("one-pod", "1 pods matching app=shop should be ready, 2 are", timeout=90)
