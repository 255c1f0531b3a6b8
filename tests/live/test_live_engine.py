"""The engine against a real API server: apply, rejection messages, waits, reset."""

import threading
import time
from pathlib import Path

import pytest
import yaml

from labrunner import runner
from labrunner.checks import Status, check_kinds
from labrunner.cluster import wait_for, wait_until
from labrunner.cluster.applying import LAB_LABEL
from labrunner.errors import ApiRejected, NotFound, WaitTimedOut
from labrunner.model import Actions, CheckSpec, Difficulty, Lab, Manifest, Solution, Step, WaitSpec

pytestmark = pytest.mark.live


def manifest(text: str, name: str = "m.yaml") -> Manifest:
    return Manifest(Path(name), tuple(d for d in yaml.safe_load_all(text) if d))


def test_apply_is_rerunnable_and_labels_objects(ns):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"
    ns.apply(text)
    ns.apply(text)  # server-side apply: the same again is fine
    cm = ns.cluster.get("ConfigMap", "a", namespace=ns.name)
    assert cm["metadata"]["labels"][LAB_LABEL] == ns.lab.id
    assert any(f["manager"] == "labrunner" for f in cm["metadata"]["managedFields"])


def test_the_api_servers_message_names_the_file_and_object(ns):
    bad = "apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec: {ports: [{port: 99999}]}\n"
    with pytest.raises(ApiRejected) as err:
        ns.apply(bad)
    message = str(err.value)
    assert message.startswith("test.yaml: Service/broken: ")
    assert "99999" in message and "between 1 and 65535" in message


def test_an_unknown_kind_is_not_found(ns):
    with pytest.raises(NotFound, match="serves no kind Gizmo"):
        ns.apply("apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g}\n")


def test_waits_use_watches_and_time_out_with_the_state(ns):
    ns.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flag}\ndata: {ready: 'no'}\n")

    def flip():
        ns.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flag}\ndata: {ready: 'yes'}\n")

    timer = threading.Timer(1.0, flip)
    timer.start()
    wait_for(ns.cluster, WaitSpec(kind="ConfigMap", name="flag", jsonpath="{.data.ready}", value="yes", timeout=20),
             namespace=ns.name)
    with pytest.raises(WaitTimedOut, match="timed out after 2s waiting for Deployment/none condition=Available"):
        wait_for(ns.cluster, WaitSpec(kind="Deployment", name="none", condition="Available", timeout=2), namespace=ns.name)


def test_reset_removes_cluster_scoped_objects(cluster):
    role = manifest("""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: lr-live-reset-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
""")
    step = Step(id="s", title="S", text="", text_path=None, setup=Actions(apply=(role,)),
                checks=(CheckSpec("c", "exists", {"object": "ClusterRole/lr-live-reset-reader"}),),
                solution=Solution(Actions(apply=(role,))))
    lab = Lab(id="live-reset", title="R", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(step,), path=Path("."))
    runner.start_step(cluster, lab, step)
    assert runner.run_step_checks(cluster, lab, step).passed
    assert cluster.get("ClusterRole", "lr-live-reset-reader")["metadata"]["labels"][LAB_LABEL] == "live-reset"
    runner.reset_lab(cluster, lab, wait=True)
    assert cluster.get("ClusterRole", "lr-live-reset-reader") is None
    assert cluster.get("Namespace", lab.namespace) is None
    assert not runner.run_step_checks(cluster, lab, step).passed


def test_watch_mode_rechecks_when_the_namespace_changes(ns):
    step = Step(id="s", title="S", text="", text_path=None,
                checks=(CheckSpec("c", "exists", {"object": "ConfigMap/late"}),))
    lab = ns.lab
    reports = []
    stop = threading.Event()

    def seen(report):
        reports.append(report)
        if len(reports) == 1:
            ns.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late}\n")
        if report.passed:
            stop.set()

    guard = threading.Timer(30, stop.set)
    guard.start()
    runner.watch_step(ns.cluster, lab, step, on_report=seen, stop=stop, namespace=ns.name, refresh=60)
    guard.cancel()
    assert not reports[0].passed and reports[-1].passed
    assert len(reports) <= 3  # woken by the watch, not by the 60 s refresh


FRONTEND = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  replicas: 1
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: frontend
          image: registry.k8s.io/e2e-test-images/agnhost:2.56
          args: ["netexec", "--http-port=8080"]
          readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
"""
SHOP = """
apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  type: LoadBalancer
  selector: {app: frontend}
  ports: [{port: 80, targetPort: 8080}]
"""


def test_watch_mode_says_a_new_loadbalancer_is_settling_until_it_answers(ns):
    """After a change, a lagging check is re-checked every second, and until it passes its
    message names what lags; it never says "nothing answers" as if the Service were wrong."""
    ns.apply(FRONTEND)
    ns.wait_ready("Deployment", "frontend")
    step = Step(id="s", title="S", text="", text_path=None, checks=(
        CheckSpec("lb", "http", {"to": {"loadBalancer": "shop"}, "path": "/hostname", "bodyContains": "frontend-"}),))
    seen: list[tuple[float, runner.StepReport]] = []
    applied: list[float] = []
    stop = threading.Event()

    def on_report(report):
        seen.append((time.monotonic(), report))
        if not applied:
            applied.append(time.monotonic())
            ns.apply(SHOP)
        if report.passed:
            stop.set()

    guard = threading.Timer(60, stop.set)
    guard.start()
    runner.watch_step(ns.cluster, ns.lab, step, on_report=on_report, stop=stop, namespace=ns.name, refresh=60,
                      settle_first=False)
    guard.cancel()
    assert not seen[0][1].passed and seen[-1][1].passed, [r.results[0].message for _, r in seen]
    lag = check_kinds()["http"].lags
    window_end = applied[0] + check_kinds()["http"].settles_within
    between = [report for at, report in seen[1:-1]]
    for at, report in seen[1:-1]:
        result = report.results[0]
        if at < window_end:  # within the window every fail says what may lag, with the evidence below
            assert report.settling and result.message == f"{lag}; checking again", result
            assert result.details[0].startswith("so far: ")
    last = seen[-1][1]
    assert last.results[0].attempts >= 1 and last.results[0].seconds_to_pass is not None
    assert len(between) <= 20  # about one report a second, not a busy loop


def test_wait_confirms_a_lagging_pass_once_more(ns):
    """`check --wait` runs a passing lagging check once more before it reports the pass."""
    ns.apply(FRONTEND)
    ns.wait_ready("Deployment", "frontend")
    ns.apply(SHOP.replace("LoadBalancer", "ClusterIP"))
    step = Step(id="s", title="S", text="", text_path=None, checks=(
        CheckSpec("svc", "service", {"name": "shop", "endpoints": 1}),))
    report = runner.settle_step_checks(ns.cluster, ns.lab, step, window=lambda spec: 30, namespace=ns.name,
                                       confirm=True)
    assert report.passed and report.results[0].attempts >= 2  # the pass, then the pass confirmed


def test_dns_negative_caching_is_settled_not_blamed(ns):
    """CoreDNS caches "no such name" (up to 30 s on the testbed): a Service created right after a
    lookup of its name does not resolve at once. Watch mode and --wait say so and wait it out."""
    step = Step(id="s", title="S", text="", text_path=None, checks=(
        CheckSpec("late", "dns", {"from": {"probe": {"role": "dns-settle"}}, "name": f"late.{ns.name}.svc.cluster.local",
                                   "serviceIP": "late"}),))
    # Look the name up while no Service has it (`resolves: false` really asks CoreDNS; the check
    # above gives up before asking while the Service is missing): the NXDOMAIN is now cached.
    missing = Step(id="m", title="M", text="", text_path=None, checks=(
        CheckSpec("gone", "dns", {"from": {"probe": {"role": "dns-settle"}}, "name": f"late.{ns.name}.svc.cluster.local",
                                   "resolves": False}),))
    assert runner.run_step_checks(ns.cluster, ns.lab, missing, namespace=ns.name).passed
    ns.apply("apiVersion: v1\nkind: Service\nmetadata: {name: late}\nspec: {ports: [{port: 80}]}\n")
    at_once = runner.run_step_checks(ns.cluster, ns.lab, step, namespace=ns.name)
    assert at_once.status is Status.FAIL and "NXDOMAIN" in at_once.results[0].message  # the lag is real
    between: list[runner.StepReport] = []
    report = runner.settle_step_checks(ns.cluster, ns.lab, step, window=runner.settling_window, namespace=ns.name,
                                       on_report=between.append)
    assert report.passed, report.results[0]
    assert between, "the cached answer should have held for a second at least"
    lag = check_kinds()["dns"].lags
    assert all(r.settling and r.results[0].message == f"{lag}; checking again" for r in between)
    assert report.results[0].attempts == len(between) + 1 and report.seconds_to_pass <= check_kinds()["dns"].settles_within


def test_a_new_rolebinding_is_settled_not_raced(ns):
    """The RBAC authorizer learns of a RoleBinding from a watch: a check right after creating one
    may still be denied. Settling re-checks it, saying that, until the authorizer has it."""
    step = Step(id="s", title="S", text="", text_path=None, checks=(
        CheckSpec("jane-lists", "rbac", {"user": "jane", "verb": "list", "resource": "pods"}),))
    assert not runner.run_step_checks(ns.cluster, ns.lab, step, namespace=ns.name).passed
    ns.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}]
""")
    between: list[runner.StepReport] = []
    report = runner.settle_step_checks(ns.cluster, ns.lab, step, window=runner.settling_window, namespace=ns.name,
                                       on_report=between.append, confirm=True)
    assert report.passed, report.results[0]
    lag = check_kinds()["rbac"].lags
    assert all(r.results[0].message == f"{lag}; checking again" for r in between)
    assert report.results[0].attempts == len(between) + 2  # the settling attempts, the pass, the pass confirmed
