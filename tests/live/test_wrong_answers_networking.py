"""Plausible wrong answers to the networking, services and sidecar labs.

Each case brings a fresh namespace to the state a learner has at the start of
a step (earlier steps solved, this step's setup applied), applies a wrong
answer kept in the lab's `wrong/` folder, runs the step's checks through the
engine and asserts that they fail, never pass, with a message that tells the
learner what is wrong.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from labrunner import runner
from labrunner.checks import Status
from labrunner.cluster import apply_manifests, delete_labelled, delete_object, delete_namespace, ensure_namespace, wait_until
from labrunner.cluster.probepods import is_ready
from labrunner.loader import load_labs
from labrunner.model import Lab, Manifest, ObjectRef

pytestmark = pytest.mark.live

LABS_DIR = Path(__file__).resolve().parents[2] / "labs"
LABS = {lab.id: lab for lab in load_labs(LABS_DIR)}


@dataclass
class StepUnderTest:
    cluster: object
    lab: Lab
    step_id: str
    namespace: str

    @property
    def step(self):
        return self.lab.step(self.step_id)

    def apply_wrong(self, relpath: str, *, namespace: str | None = None, replace: dict[str, str] | None = None) -> None:
        text = (self.lab.path / relpath).read_text()
        for old, new in (replace or {}).items():
            text = text.replace(old, new)
        docs = tuple(d for d in yaml.safe_load_all(text) if d)
        apply_manifests(self.cluster, [Manifest(Path(relpath), docs)], namespace=namespace or self.namespace,
                        lab_id=self.lab.id)

    def fails_with(self, expected: dict[str, str], *, timeout: float = 60.0) -> runner.StepReport:
        """Re-check on every change until each check id in `expected` fails with its text.

        Asserts that the step never passes meanwhile; returns the last report.
        """
        stop = threading.Event()
        reports: list[runner.StepReport] = []

        def matched(report: runner.StepReport) -> bool:
            by_id = {r.check_id: r for r in report.results}
            return all(
                check_id in by_id and by_id[check_id].status is Status.FAIL
                and text in " ".join((by_id[check_id].message, *by_id[check_id].details))
                for check_id, text in expected.items()
            )

        def seen(report: runner.StepReport) -> None:
            reports.append(report)
            if report.passed or matched(report):
                stop.set()

        timer = threading.Timer(timeout, stop.set)
        timer.start()
        try:
            runner.watch_step(self.cluster, self.lab, self.step, on_report=seen, stop=stop, namespace=self.namespace,
                              refresh=2.0)
        finally:
            timer.cancel()
        last = reports[-1]
        shown = "\n".join(f"  {r.check_id}: {r.status.value}: {r.message} {list(r.details)}" for r in last.results)
        print(f"\n{self.lab.id}/{self.step_id} with a wrong answer: {last.status.value}\n{shown}")
        assert not any(r.passed for r in reports), f"a wrong answer passed {self.lab.id}/{self.step_id}:\n{shown}"
        assert last.status is Status.FAIL, f"expected fail, got {last.status.value}:\n{shown}"
        assert matched(last), f"the failure does not say what is wrong; expected {expected}:\n{shown}"
        return last


@pytest.fixture
def at_step(cluster):
    """at_step(lab_id, step_id) -> the step set up in a namespace of its own."""
    made: list[tuple[Lab, str]] = []

    def make(lab_id: str, step_id: str) -> StepUnderTest:
        lab = LABS[lab_id]
        ns = f"lw-{lab_id}-{step_id}"[:50].rstrip("-") + "-" + uuid.uuid4().hex[:5]
        ensure_namespace(cluster, ns, lab_id=lab.id)
        made.append((lab, ns))
        index = lab.step_index(step_id)
        for earlier in lab.steps[:index]:
            if not earlier.is_quiz:
                runner.run_actions(cluster, lab, earlier.setup, namespace=ns)
                runner.run_actions(cluster, lab, earlier.solution.actions, namespace=ns)
        runner.run_actions(cluster, lab, lab.steps[index].setup, namespace=ns)
        wait_settled(cluster, ns)
        return StepUnderTest(cluster, lab, step_id, ns)

    yield make
    for lab, ns in made:
        delete_labelled(cluster, lab_id=lab.id, kinds=runner.cluster_scoped_kinds(lab))
        delete_namespace(cluster, ns)


@pytest.fixture
def other_namespace(cluster):
    name = f"lw-other-{uuid.uuid4().hex[:5]}"
    ensure_namespace(cluster, name, lab_id="live-tests")
    yield name
    delete_namespace(cluster, name)


def wait_settled(cluster, namespace: str) -> None:
    """The learner's starting point is steady: every pod outside a Job runs and is ready."""

    def settled(pods: list[dict]) -> bool:
        return all(is_ready(p) for p in pods
                   if "job-name" not in (p["metadata"].get("labels") or {}) and not p["metadata"].get("deletionTimestamp"))

    wait_until(cluster, "Pod", namespace=namespace, predicate=settled, describe="the lab's pods to be ready", timeout=90)


def wait_rolled_out(t: StepUnderTest, selector: str, annotation: str, value: str) -> None:
    """Every pod matching `selector` is a new one (pod template annotation) and ready."""

    def done(pods: list[dict]) -> bool:
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        return bool(live) and all(
            (p["metadata"].get("annotations") or {}).get(annotation) == value and is_ready(p) for p in live)

    wait_until(t.cluster, "Pod", namespace=t.namespace, selector=selector, predicate=done,
               describe=f"pods {selector} to be replaced", timeout=90)


# -- services ---------------------------------------------------------------------

def test_services_selector_matching_nothing(at_step):
    t = at_step("services", "clusterip")
    t.apply_wrong("wrong/01-selector-matches-nothing.yaml")
    t.fails_with({"api-service": "does the selector match the pods' labels?",
                  "frontend-reaches-api": "should be allowed"})


def test_services_restart_without_service_links(at_step):
    t = at_step("services", "discovery")
    t.apply_wrong("wrong/02-no-service-links.yaml")
    wait_rolled_out(t, "app=frontend", "kubectl.kubernetes.io/restartedAt", "wrong-answer")
    t.fails_with({"api-env": "has no environment variable API_SERVICE_HOST",
                  "api-by-env": "API_SERVICE_HOST is not set in this pod"})


def test_services_headless_with_cluster_ip(at_step):
    t = at_step("services", "headless")
    t.apply_wrong("wrong/03-headless-with-ip.yaml")
    t.fails_with({"headless-service": "a headless Service has clusterIP: None",
                  "pods-by-dns": "should be"})


# -- exposing -----------------------------------------------------------------------

def test_exposing_nodeport_to_the_wrong_pod_port(at_step):
    t = at_step("exposing", "nodeport")
    t.apply_wrong("wrong/02-nodeport-wrong-targetport.yaml")
    t.fails_with({"from-this-machine": ":30080/hostname"})


def test_exposing_loadbalancer_selecting_nothing(at_step):
    t = at_step("exposing", "loadbalancer")
    t.apply_wrong("wrong/01-loadbalancer-selects-nothing.yaml")
    t.fails_with({"lb-service": "does the selector match the pods' labels?"})


# -- outside ----------------------------------------------------------------------------

def test_outside_payments_as_clusterip(at_step):
    t = at_step("outside", "externalname")
    t.apply_wrong("wrong/01-payments-clusterip.yaml")
    t.fails_with({"payments-service": "should be ExternalName",
                  "payments-cname": "should be a CNAME for api.payments.example"})


def test_outside_inventory_with_a_selector(at_step):
    t = at_step("outside", "selectorless")
    t.apply_wrong("wrong/02-inventory-with-selector.yaml")
    t.fails_with({"no-selector": "should not be set",
                  "inventory-endpoints": "0 ready endpoints, should be 1"})


def test_outside_endpointslice_port_without_the_service_port_name(at_step):
    t = at_step("outside", "selectorless")
    vm = t.cluster.get("Pod", "inventory-vm", namespace=t.namespace)
    t.apply_wrong("wrong/03-slice-port-unnamed.yaml", replace={"VM_ADDRESS": vm["status"]["podIP"]})
    # The slice lists the VM, but kube-proxy uses it for no Service port: the
    # endpoint count for port 80 (http) leaves it out, as the traffic shows.
    t.fails_with({"api-reaches-inventory": "no answer from http://inventory/hostname",
                  "inventory-endpoints": "EndpointSlice inventory-1 has no port named http"})


# -- netpol --------------------------------------------------------------------------------

def test_netpol_shell_in_another_namespace(at_step, other_namespace):
    t = at_step("netpol", "wide-open")
    t.apply_wrong("wrong/01-shell-in-default-namespace.yaml", namespace=other_namespace)
    t.fails_with({"anyone-reaches-anything": "there is no pod shell in namespace"})


def test_netpol_default_deny_for_egress(at_step):
    t = at_step("netpol", "deny-all")
    t.apply_wrong("wrong/02-deny-egress-only.yaml")
    t.fails_with({"policy-isolates-ingress": "should match ^Ingress$, it is Egress",
                  "nobody-gets-in": "kube-dns"})


def test_netpol_policy_on_the_wrong_pods(at_step):
    t = at_step("netpol", "allow-paths")
    t.apply_wrong("wrong/03-policy-on-wrong-pods.yaml")
    # the api stays closed to the frontend, and the db is open to every pod
    t.fails_with({"shop-paths": "pod -l app=frontend -> service api:80 should be allowed"})
    t.fails_with({"shop-paths": "pod shell -> selector app=db:5432 should be blocked"})


def test_netpol_egress_without_dns(at_step):
    t = at_step("netpol", "frontend-egress")
    t.apply_wrong("wrong/04-egress-without-dns.yaml")
    t.fails_with({"frontend-still-resolves": "does not resolve"})


# -- sidecars ------------------------------------------------------------------------------

def test_sidecars_proxy_in_its_own_pod(at_step):
    t = at_step("sidecars", "proxy-sidecar")
    t.apply_wrong("wrong/01-proxy-in-its-own-pod.yaml")
    t.fails_with({"proxy-is-native-sidecar": "should be Always, it is nothing",
                  "frontend-through-proxy": "the proxy must run in the same pod as the frontend"})


def test_sidecars_job_with_proxy_as_plain_container(at_step):
    t = at_step("sidecars", "job-sidecar")  # the setup is this wrong answer
    # The report container has done its work...
    wait_until(t.cluster, "Pod", namespace=t.namespace, selector="job-name=report",
               predicate=lambda pods: any(
                   (s.get("state") or {}).get("terminated", {}).get("exitCode") == 0
                   for p in pods for s in (p.get("status") or {}).get("containerStatuses") or []
                   if s["name"] == "report"),
               describe="the report container to finish", timeout=90)
    # ...and yet the Job does not complete, because the proxy runs on.
    t.fails_with({"job-proxy-native": "should be Always, it is nothing",
                  "job-complete": "should have Complete=True"}, timeout=20)


def test_sidecars_job_with_proxy_as_plain_init_container(at_step):
    t = at_step("sidecars", "job-sidecar")
    delete_object(t.cluster, ObjectRef("Job", "report", "batch/v1"), namespace=t.namespace)
    t.apply_wrong("wrong/02-proxy-plain-init-container.yaml")
    t.fails_with({"job-proxy-native": "should be Always, it is nothing",
                  "job-complete": "should have Complete=True"}, timeout=30)
