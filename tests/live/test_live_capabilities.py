"""The environment is never the learner's fault: each case with the capability really changed.

- NodePorts from a machine that cannot reach the node (Docker Desktop): the node address is made one
  nothing answers (LABRUNNER_NODE_ADDRESS=192.0.2.1, TEST-NET-1), and a real TCP forwarder on
  127.0.0.1 plays Docker's published port, named in a kind config's extraPortMappings. The check
  passes through the mapping, and is an error naming the environment without one.
- No load-balancer implementation: a Service of a loadBalancerClass nothing implements stays pending
  for real; the check is an error with the fix, where the default class (kube-router here) passes.
- A CNI enforcing ingress but not egress: the canary's egress client and the lab's frontend run on
  the host network, where the enforcer does not apply NetworkPolicy; the canary sees egress not
  enforced, and a correct egress policy's check is an error, not "should be blocked".
- Kubernetes too old: the real server version against a minimum one minor above it (this cluster
  cannot be made older; that the judgement is the version's, not the lab's, is what this proves).
- A CSR the signer refuses (also `server auth`): approved, then Failed; the fail quotes the signer.
- `doctor` reports every capability with its state; the lab list marks a lab the cluster lacks
  something for.

Namespaces are named cap-*; each test deletes what it made. Findings are kept in a state folder of
the test's own, so nothing here changes what the developer's labrunner remembers.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import threading
import time
import uuid

import pytest
import yaml

from labrunner import capabilities as caps
from labrunner.capabilities import Capability
from labrunner.checks import CheckContext, CheckResult, Status, check_kinds, run_check
from labrunner.checks.canary import EGRESS_FIX, run_canary
from labrunner.cluster import apply_manifests, delete_namespace, delete_object, ensure_namespace
from labrunner.model import CheckSpec, Difficulty, Lab, Manifest, ObjectRef, Step

from live_manifests import AGNHOST, service, web_deployment

pytestmark = pytest.mark.live
UNREACHABLE = "192.0.2.1"  # TEST-NET-1 (RFC 5737): no host answers there, as a Docker Desktop node address from the host


@pytest.fixture(autouse=True)
def _own_state(tmp_path, monkeypatch):
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "state"))
    caps.forget(on_disk=True)
    yield
    caps.forget(on_disk=True)


class CapNamespace:
    def __init__(self, cluster, name: str) -> None:
        self.cluster, self.name = cluster, name
        step = Step(id="s", title="S", text="", text_path=None)
        self.lab = Lab(id=name, title="T", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
                       requires=(), images=(AGNHOST,), steps=(step,), path=__import__("pathlib").Path("."))

    def apply(self, text: str) -> None:
        docs = tuple(d for d in yaml.safe_load_all(text) if d)
        apply_manifests(self.cluster, [Manifest(__import__("pathlib").Path("t.yaml"), docs)], namespace=self.name,
                        lab_id=self.lab.id)

    def check(self, kind: str, **params) -> CheckResult:
        assert not check_kinds()[kind].problems(params), check_kinds()[kind].problems(params)
        ctx = CheckContext(cluster=self.cluster, namespace=self.name, lab=self.lab, step=self.lab.steps[0])
        return run_check(ctx, CheckSpec(id="cap", kind=kind, params=params))

    def wait_available(self, name: str) -> None:
        from labrunner.cluster import wait_for_condition

        wait_for_condition(self.cluster, "Deployment", name, condition="Available", namespace=self.name, timeout=120)


@pytest.fixture
def cap(cluster, request):
    name = f"cap-{request.node.name[5:25].replace('_', '-').strip('-')}-{uuid.uuid4().hex[:4]}"
    ensure_namespace(cluster, name, lab_id="cap-tests")
    yield CapNamespace(cluster, name)
    delete_namespace(cluster, name)


def _until(run, wanted, timeout: float = 30.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while True:
        result = run()
        if wanted(result) or time.monotonic() > deadline:
            return result
        time.sleep(1)


# -- NodePort from a machine that cannot reach the node -------------------------------------

class Forwarder:
    """A TCP port on 127.0.0.1 that forwards to address:port: what Docker does for a published port."""

    def __init__(self, address: str, port: int) -> None:
        self.target = (address, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.server.close()


def _node_address(cluster) -> str:  # noqa: ANN001
    from labrunner.capabilities.probes import node_addresses

    return node_addresses(cluster)[0]


def test_a_node_port_is_reached_through_a_port_published_on_loopback(cap, tmp_path, monkeypatch):
    cap.apply(web_deployment())
    cap.apply(service(name="web-np", selector={"app": "web"}, type="NodePort"))
    cap.wait_available("web")
    node_port = cap.cluster.get("Service", "web-np", namespace=cap.name)["spec"]["ports"][0]["nodePort"]
    node = _node_address(cap.cluster)
    direct = _until(lambda: cap.check("http", to={"nodePort": "web-np"}, path="/hostname"), lambda r: r.ok)
    assert direct.ok and f"{node}:{node_port}" in direct.message, direct.message  # the node answers here

    monkeypatch.setenv("LABRUNNER_NODE_ADDRESS", UNREACHABLE)  # the node as Docker Desktop's host sees it
    forwarder = Forwarder(node, node_port)
    try:
        config = tmp_path / "kind-config.yaml"
        config.write_text(yaml.safe_dump({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": [
            {"role": "control-plane", "extraPortMappings": [{"containerPort": node_port, "hostPort": forwarder.port}]}]}))
        monkeypatch.setenv("LABRUNNER_KIND_CONFIG", str(config))
        mapped = cap.check("http", to={"nodePort": "web-np"}, path="/hostname")
        assert mapped.ok, (mapped.message, mapped.details)
        assert f"127.0.0.1:{forwarder.port}" in mapped.message
        found = caps.capability(cap.cluster, "nodeport")
        assert found.state is True and found.data["direct"] is False, found

        # The same cluster, the mapping publishing another port: nothing answers, whatever the Service.
        config.write_text(yaml.safe_dump({"kind": "Cluster", "nodes": [
            {"role": "control-plane", "extraPortMappings": [{"containerPort": 30999 if node_port != 30999 else 30998,
                                                             "hostPort": forwarder.port}]}]}))
        caps.forget(on_disk=True)
        stranded = cap.check("http", to={"nodePort": "web-np"}, path="/hostname")
        assert stranded.status is Status.ERROR, stranded.message
        assert f"cannot reach node port {node_port}, whatever the Service" in stranded.message
        assert UNREACHABLE in stranded.message and "use a node port this machine reaches" in stranded.details[0]

        monkeypatch.delenv("LABRUNNER_KIND_CONFIG")
        caps.forget(on_disk=True)
        nothing = cap.check("http", to={"nodePort": "web-np"}, path="/hostname")
        assert nothing.status is Status.ERROR and "Docker Desktop" in nothing.message, nothing.message
        assert "extraPortMappings" in nothing.details[0]
    finally:
        forwarder.close()


def test_the_node_address_is_measured_as_reached_here_and_the_path_is_said(cluster, monkeypatch):
    """The testbed's node answers this machine: measured at its kubelet port, so node ports go to the
    node address (the Docker Desktop side is `KIND_SIMULATE_DESKTOP=1 testbed/kind/test exposing`)."""
    from labrunner.capabilities.probes import node_addresses, node_reached

    monkeypatch.delenv("LABRUNNER_NODE_ADDRESS", raising=False)
    assert node_reached(cluster) == node_addresses(cluster)[0]
    found = caps.capability(cluster, "nodeport", fresh=True)
    assert found.state is True and found.data["path"] == "node-address", found
    assert found.detail.startswith("path: the node address"), found.detail
    monkeypatch.setenv("LABRUNNER_NODE_ADDRESS", UNREACHABLE)
    started = time.monotonic()
    assert node_reached(cluster) is None
    assert time.monotonic() - started < 5  # bounded: one short connect, not a check's whole timeout


# -- no load-balancer implementation ---------------------------------------------------------

def test_a_load_balancer_address_no_implementation_will_give_is_an_error(cap):
    cap.apply(web_deployment())
    cap.apply(service(name="orphan", selector={"app": "web"}, type="LoadBalancer",
                      loadBalancerClass="cap.labrunner.dev/nobody-implements-this"))
    cap.apply(service(name="served", selector={"app": "web"}, type="LoadBalancer"))
    cap.wait_available("web")
    orphan = cap.check("http", to={"loadBalancer": "orphan"}, path="/hostname")
    assert orphan.status is Status.ERROR, orphan.message
    assert "Service orphan has no load-balancer address, and none will come on this cluster" in orphan.message
    assert "class cap.labrunner.dev/nobody-implements-this" in orphan.message
    spec_check = cap.check("service", name="orphan", loadBalancer=True)
    assert spec_check.status is Status.ERROR and "none will come" in spec_check.message
    assert not cap.cluster.get("Service", "orphan", namespace=cap.name)["status"]["loadBalancer"].get("ingress")  # pending
    served = _until(lambda: cap.check("http", to={"loadBalancer": "served"}, path="/hostname"), lambda r: r.ok)
    assert served.ok, served.message  # the default class has an implementation here
    assert caps.capability(cap.cluster, "loadbalancer").state is True


def test_without_an_implementation_the_fix_is_cloud_provider_kind(cluster):
    # The default class cannot be left unserved here (kube-router serves it); the probe of a class
    # nothing serves shows the same Service staying pending, and the default-class fix is this text.
    from labrunner.capabilities.probes import NO_LOADBALANCER_FIX

    found = caps.capability(cluster, "loadbalancer:cap.labrunner.dev/nobody")
    assert found.state is False and "got no address in 20 s" in found.detail
    assert "cloud-provider-kind" in NO_LOADBALANCER_FIX
    assert not [s for s in cluster.list("Service", namespace="labrunner-canary")
                if s["metadata"]["name"].startswith("lr-capability-lb-")]  # the probe's Service is gone


# -- a CNI that enforces ingress but not egress ----------------------------------------------

FRONTEND_ON_HOST = """
apiVersion: v1
kind: Pod
metadata: {name: frontend, labels: {app: frontend}}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: %s, args: [pause]}]
""" % AGNHOST
EGRESS_ONLY_API = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-egress}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: api}}}]
      ports: [{port: 8080}]
"""
EGRESS_PROBES = [
    {"from": {"selector": "app=frontend"}, "to": {"selector": "app=api"}, "port": 8080, "expect": "allow"},
    {"from": {"selector": "app=frontend"}, "to": {"selector": "k8s-app=kube-dns", "namespace": "kube-system"},
     "port": 8181, "expect": "deny", "deniedBy": "egress"},
]


def test_an_egress_deny_on_a_cluster_that_enforces_only_ingress_is_an_error(cap):
    from labrunner.cluster import wait_until
    from labrunner.cluster.probepods import is_ready

    # The canary, in this test's namespace, with its egress client where the enforcer does not look.
    seen = run_canary(cap.cluster, settle=15, namespace=cap.name, egress_client_host_network=True)
    assert seen.enforced is True, seen.message
    assert seen.egress is False, seen.egress_message
    now = time.time()
    caps.remember(cap.cluster, Capability("networkpolicy", True, seen.message, seen_at=now))
    caps.remember(cap.cluster, Capability("networkpolicy-egress", False, seen.egress_message, EGRESS_FIX, seen_at=now))

    # The lab's world: a frontend the enforcer does not filter either, and a correct egress policy.
    cap.apply(web_deployment(name="api"))
    cap.apply(FRONTEND_ON_HOST)
    cap.apply(EGRESS_ONLY_API)
    cap.wait_available("api")
    wait_until(cap.cluster, "Pod", namespace=cap.name, name="frontend", predicate=lambda p: bool(p) and is_ready(p[0]),
               describe="the frontend", timeout=90)
    result = cap.check("connectivity", probes=EGRESS_PROBES)
    assert result.status is Status.ERROR, (result.message, result.details)
    assert "1 probe(s) expect egress to be blocked" in result.message and "not egress" in result.message
    assert any("fix:" in line and "egress" in line for line in result.details)

    # Judged as if egress were enforced, the same sight is what the learner used to get: a fail.
    caps.remember(cap.cluster, Capability("networkpolicy-egress", True, "pretend enforced", seen_at=time.time()))
    blamed = cap.check("connectivity", probes=EGRESS_PROBES)
    assert blamed.status is Status.FAIL and "should be blocked" in blamed.message, blamed.message


def test_the_real_canary_sees_both_directions_enforced_here(cluster):
    ingress = caps.capability(cluster, "networkpolicy", fresh=True)
    egress = caps.capability(cluster, "networkpolicy-egress")
    assert ingress.state is True and egress.state is True, (ingress, egress)


# -- Kubernetes too old for the step --------------------------------------------------------

def test_a_step_needing_a_newer_kubernetes_errors_and_one_within_reach_runs(cap):
    from labrunner.runner import run_step_checks

    version = caps.capability(cap.cluster, "kubernetes")
    minor = version.data["minor"]
    spec = CheckSpec(id="ns", kind="exists", params={"object": f"Namespace/{cap.name}"})
    for needed, wanted in ((f"kubernetes>=1.{minor + 1}", Status.ERROR), (f"kubernetes>=1.{minor}", Status.PASS)):
        step = Step(id="s", title="S", text="", text_path=None, checks=(spec,), requires=(needed,))
        report = run_step_checks(cap.cluster, cap.lab, step, namespace=cap.name)
        assert report.results[0].status is wanted, (needed, report.results[0].message)
    assert f"this cluster runs Kubernetes 1.{minor}" in run_step_checks(
        cap.cluster, cap.lab, Step(id="s", title="S", text="", text_path=None, checks=(spec,),
                                   requires=(f"kubernetes>=1.{minor + 1}",)), namespace=cap.name).results[0].message


# -- a CSR the signer refuses -----------------------------------------------------------------

def test_an_approved_csr_the_signer_refuses_quotes_the_signer(cap):
    from labrunner.capabilities.probes import _csr_pem

    request = _csr_pem()
    assert request is not None, "openssl is needed to make the request"
    name = f"cap-csr-{secrets.token_hex(3)}"  # a name without the word the test waits for
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth", "server auth"],
                     "request": base64.b64encode(request).decode()}}
    cap.cluster.create(body)
    try:
        created = cap.cluster.get("CertificateSigningRequest", name, api_version="certificates.k8s.io/v1")
        created["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "CapTest", "message": "ok"}]}
        cap.cluster.request("approving", "PUT", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval",
                            body=created)
        issued = _until(lambda: cap.check("field", object=f"CertificateSigningRequest/{name}",
                                          path="{.status.certificate}", present=True),
                        lambda r: any("condition Failed" in line for line in r.details), timeout=20)
        assert issued.status is Status.FAIL
        refusal = f'CertificateSigningRequest/{name} has condition Failed: SignerValidationFailure: "'
        assert any(line.startswith(refusal) and "server auth" in line for line in issued.details), issued.details
        cert = cap.check("certificate", csr=name, user="cap")
        assert cert.status is Status.FAIL, cert.message
        assert (f"the signer kubernetes.io/kube-apiserver-client refused CertificateSigningRequest {name}: "
                "SignerValidationFailure") in cert.message and "server auth" in cert.message, cert.message
    finally:
        delete_object(cap.cluster, ObjectRef("CertificateSigningRequest", name, "certificates.k8s.io/v1"), namespace="")


# -- doctor and the lab list ------------------------------------------------------------------

def test_doctor_reports_every_capability(cluster, capsys):
    from labrunner import cli

    code = cli.main(["--kubeconfig", os.environ["KUBECONFIG"], "doctor"])
    out = capsys.readouterr().out
    print(out)
    for name in caps.NAMES:
        assert f"] {name}: " in out, name
    assert "[ ok ] networkpolicy-egress: NetworkPolicy is enforced for egress" in out
    assert "[ ok ] storage: default StorageClass standard" in out
    assert "[ ok ] csr: the kubernetes.io/kube-apiserver-client signer issues approved certificates" in out
    assert "[ ok ] dns: pods send DNS to 10.96.0.10, the kube-dns Service" in out
    assert code == 0, out


def test_the_lab_list_marks_a_lab_this_machine_cannot_reach(cluster, capsys, monkeypatch):
    from labrunner import cli

    monkeypatch.setenv("LABRUNNER_NODE_ADDRESS", UNREACHABLE)
    monkeypatch.delenv("LABRUNNER_KIND_CONFIG", raising=False)
    assert caps.capability(cluster, "nodeport", fresh=True).state is False  # kept on disk for the list
    assert cli.main(["--kubeconfig", os.environ["KUBECONFIG"], "list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "[CANNOT RUN HERE: nodeport missing]" in lines["exposing"]
    assert "CANNOT RUN HERE" not in lines["netpol"]


# -- the cluster's default StorageClass, whatever its name ------------------------------------

def test_a_claim_on_the_default_class_is_told_from_one_on_another_class(cap):
    cap.apply("""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: plain}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: other}
spec: {storageClassName: cap-no-such-class, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
""")
    default = caps.capability(cap.cluster, "storage").data["default"]
    plain = cap.check("pvc", name="plain", phase="Pending", defaultClass=True)
    assert plain.ok, plain.message  # no storageClassName: the API server filled in the default
    other = cap.check("pvc", name="other", phase="Pending", defaultClass=True)
    assert other.status is Status.FAIL
    assert f"storage class is cap-no-such-class, should be the cluster's default, {default}" in other.message
