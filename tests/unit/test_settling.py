"""Settled verdicts: re-checking lagging truths, errors kept, attempts recorded; the CI gate of live tests.

The check kinds here are fakes registered at our own boundary (the kind registry) so the
engine's re-run logic can be tested without a cluster; live tests prove the real kinds.
"""

import importlib.util
import threading
import time
from pathlib import Path

import pytest

from labrunner import runner
from labrunner.checks import CheckKind, CheckResult, Status, check_kinds
from labrunner.cluster.namespaces import _remaining, is_terminating, wait_namespace_usable
from labrunner.model import CheckSpec, Difficulty, Lab, Step
from labrunner.progress import Progress
from labrunner.session import record_report

REPO = Path(__file__).resolve().parents[2]
LAG = "kube-proxy may still be programming this Service"


class Scripted:
    """A check whose verdicts come from a list, one per run (the last repeats)."""

    def __init__(self, *verdicts: CheckResult):
        self.verdicts = list(verdicts)
        self.runs = 0

    def __call__(self, ctx, params) -> CheckResult:  # noqa: ANN001
        self.runs += 1
        return self.verdicts[min(self.runs, len(self.verdicts)) - 1]


@pytest.fixture
def kinds(monkeypatch):
    """Register scripted kinds: kinds(name, script, lags=...) -> the step check spec using it."""
    registry = check_kinds()

    def add(name: str, script: Scripted, *, lags: str = "", settles_within: float = 10.0) -> CheckSpec:
        monkeypatch.setitem(registry, name, CheckKind(name, {}, script, lags=lags, settles_within=settles_within))
        return CheckSpec(id=name, kind=name, params={}, title=name)

    return add


def lab_with(*specs: CheckSpec) -> tuple[Lab, Step]:
    step = Step(id="s", title="S", text="", text_path=None, checks=specs)
    lab = Lab(id="t", title="T", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(step,), path=Path("."))
    return lab, step


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(runner, "SETTLE_INTERVAL", 0.01)
    monkeypatch.setattr(runner, "CONFIRM_PASS_AFTER", 0.01)


def test_a_lagging_fail_is_rechecked_and_said_to_settle_until_it_passes(kinds):
    script = Scripted(CheckResult.failed("nothing answers on 10.0.0.1:80"), CheckResult.failed("nothing answers"),
                      CheckResult.passed("answered"))
    lab, step = lab_with(kinds("lb", script, lags=LAG))
    between = []
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 30, on_report=between.append)
    assert report.passed and not report.settling
    assert len(between) == 2 and all(r.settling for r in between)
    shown = between[0].results[0]
    assert shown.status is Status.FAIL and shown.message == f"{LAG}; checking again"
    assert "nothing answers" not in shown.message and shown.details[0] == "so far: nothing answers on 10.0.0.1:80"
    check = report.results[0]
    assert check.attempts == 3 and check.seconds_to_pass is not None and check.seconds_to_pass >= 0
    assert report.attempts == 3 and report.seconds_to_pass == check.seconds_to_pass
    data = report.as_dict()
    assert data["attempts"] == 3 and data["secondsToPass"] is not None
    assert data["checks"][0]["attempts"] == 3 and data["checks"][0]["settling"] is False


def test_only_failing_checks_are_run_again(kinds):
    steady, late = Scripted(CheckResult.passed("here")), Scripted(CheckResult.failed("no"), CheckResult.passed("ok"))
    lab, step = lab_with(kinds("steady", steady), kinds("late", late, lags=LAG))
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 30)
    assert report.passed and steady.runs == 1 and late.runs == 2
    assert [r.attempts for r in report.results] == [1, 2]


def test_an_error_stays_an_error_and_is_not_run_again(kinds):
    broken = Scripted(CheckResult.errored("the probe pod could not start"), CheckResult.failed("no"))
    waiting = Scripted(CheckResult.failed("no"), CheckResult.passed("yes"))
    lab, step = lab_with(kinds("broken", broken, lags=LAG), kinds("waiting", waiting, lags=LAG))
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 30)
    assert report.status is Status.ERROR and broken.runs == 1
    assert report.results[0].status is Status.ERROR and report.results[0].message == "the probe pod could not start"
    assert report.seconds_to_pass is None


def test_an_error_on_a_later_attempt_is_reported_as_error(kinds):
    flaky = Scripted(CheckResult.failed("no"), CheckResult.errored("cluster down"), CheckResult.passed("ok"))
    lab, step = lab_with(kinds("flaky", flaky, lags=LAG))
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 30)
    assert report.status is Status.ERROR and flaky.runs == 2


def test_when_time_is_up_the_fail_is_the_learners_with_its_own_words(kinds):
    never = Scripted(CheckResult.failed("nothing answers"))
    lab, step = lab_with(kinds("never", never, lags=LAG, settles_within=0.05))
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 0.2)
    assert report.status is Status.FAIL and not report.settling
    assert report.results[0].message == "nothing answers" and never.runs > 2
    assert report.seconds_to_pass is None and report.as_dict()["secondsToPass"] is None


def test_a_wait_shorter_than_the_lag_says_so(kinds):
    never = Scripted(CheckResult.failed("does not resolve"))
    lab, step = lab_with(kinds("dns-ish", never, lags="CoreDNS may still cache the missing name", settles_within=35))
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 0.05)
    assert report.results[0].message == "does not resolve"
    assert any("CoreDNS may still cache" in line and "35 s" in line for line in report.results[0].details)


def test_one_shot_checks_run_once(kinds):
    never = Scripted(CheckResult.failed("no"))
    lab, step = lab_with(kinds("once", never, lags=LAG))
    report = runner.run_step_checks(None, lab, step)
    assert never.runs == 1 and report.attempts == 1 and report.results[0].attempts == 1
    assert report.results[0].details == ()  # no "waited too little" note without a wait


def test_a_pass_of_a_lagging_check_must_hold_when_confirming(kinds):
    wobbly = Scripted(CheckResult.passed("denied"), CheckResult.failed("reached it"), CheckResult.passed("denied"),
                      CheckResult.passed("denied"))
    lab, step = lab_with(kinds("deny", wobbly, lags=LAG))
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 30, confirm=True)
    assert report.passed and wobbly.runs == 4  # pass, fail on confirming, pass, confirmed


def test_stop_ends_the_rechecking(kinds):
    never = Scripted(CheckResult.failed("no"))
    lab, step = lab_with(kinds("never", never, lags=LAG))
    stop = threading.Event()
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 60, stop=stop,
                                       on_report=lambda r: stop.set())
    assert report.status is Status.FAIL and never.runs == 1


def test_reports_made_while_settling_are_not_counted_as_attempts():
    progress = Progress()
    settling = runner.StepReport("l", "s", (CheckResult.failed("no").while_settling(LAG),))
    assert settling.settling
    record_report(progress, settling)
    assert progress.lab("l").step("s").attempts == 0
    record_report(progress, runner.StepReport("l", "s", (CheckResult.failed("no"),)))
    assert progress.lab("l").step("s").attempts == 1 and progress.lab("l").step("s").status == "failed"


def test_while_settling_leaves_passes_and_errors_alone():
    assert CheckResult.passed("ok").while_settling(LAG).message == "ok"
    assert CheckResult.errored("broke").while_settling(LAG).settling == ""


def test_the_lagging_kinds_name_what_lags():
    registry = check_kinds()
    for name in ("connectivity", "dns", "http", "service", "rbac"):
        assert registry[name].lags and registry[name].settles_within > 0, name
    assert "CoreDNS" in registry["dns"].lags and registry["dns"].settles_within >= 30
    assert "RBAC authorizer" in registry["rbac"].lags
    for name in ("exists", "field", "quiz"):
        assert not registry[name].lags, name


# -- namespaces ------------------------------------------------------------------------

def test_terminating_namespaces_are_told_apart():
    assert not is_terminating(None)
    assert not is_terminating({"metadata": {"name": "a"}, "status": {"phase": "Active"}})
    assert is_terminating({"metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}})
    assert is_terminating({"metadata": {"name": "a"}, "status": {"phase": "Terminating"}})


def test_an_active_or_absent_namespace_needs_no_wait(fake_cluster):
    lines = []
    cluster = fake_cluster([{"kind": "Namespace", "metadata": {"name": "lab-a"}, "status": {"phase": "Active"}}])
    wait_namespace_usable(cluster, "lab-a", on_progress=lines.append)
    wait_namespace_usable(cluster, "lab-b", on_progress=lines.append)
    assert lines == []


def test_what_holds_a_namespace_comes_from_its_conditions():
    ns = {"status": {"phase": "Terminating", "conditions": [
        {"type": "NamespaceContentRemaining", "status": "True", "message": "Some resources are remaining: pods. has 2"},
        {"type": "NamespaceDeletionDiscoveryFailure", "status": "False", "message": "All resources successfully discovered"},
    ]}}
    assert _remaining(ns) == "Some resources are remaining: pods. has 2"
    assert _remaining(None) == ""


# -- the live tests' gate ----------------------------------------------------------------

def _live_conftest():
    spec = importlib.util.spec_from_file_location("live_conftest_gate", REPO / "tests" / "live" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def unreachable(tmp_path, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("""apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
""")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))


def test_live_tests_skip_without_a_cluster_outside_ci(unreachable, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no reachable cluster"):
        _live_conftest().reachable_cluster()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        _live_conftest().reachable_cluster()


def test_in_ci_an_unreachable_cluster_fails_the_live_tests(unreachable, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set, so live tests must run, but no reachable cluster"):
        _live_conftest().reachable_cluster()


def test_in_ci_a_missing_kubeconfig_fails_the_live_tests(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="no KUBECONFIG"):
        _live_conftest().reachable_cluster()


# -- watch mode --------------------------------------------------------------------------

class QuietCluster:
    """A cluster on which nothing changes: lists are empty and watches stay silent until stopped."""

    def list_with_version(self, kind, **_):  # noqa: ANN001, ANN003, ANN201
        return [], "1"

    def watch(self, kind, *, timeout, watcher, **_):  # noqa: ANN001, ANN003, ANN201
        end = time.monotonic() + timeout
        while time.monotonic() < end and not getattr(watcher, "_stop", False):
            time.sleep(0.02)
        yield from ()


def watch(step, lab, *, until, settle_first: bool, refresh: float = 60):  # noqa: ANN001, ANN201
    reports, stop = [], threading.Event()

    def seen(report):  # noqa: ANN001
        reports.append(report)
        if until(reports):
            stop.set()

    guard = threading.Timer(10, stop.set)
    guard.start()
    runner.watch_step(QuietCluster(), lab, step, on_report=seen, stop=stop, settle_first=settle_first, refresh=refresh)
    guard.cancel()
    return reports


def test_watch_mode_says_settling_until_a_lagging_check_passes(kinds):
    script = Scripted(CheckResult.failed("no answer"), CheckResult.failed("no answer"), CheckResult.passed("answered"))
    lab, step = lab_with(kinds("lb", script, lags=LAG))
    reports = watch(step, lab, until=lambda reports: reports[-1].passed, settle_first=True)
    assert [r.settling for r in reports] == [True, True, False] and reports[-1].passed
    assert all(r.results[0].message == f"{LAG}; checking again" for r in reports[:-1])
    assert script.runs == 4  # three attempts, and the pass confirmed a moment later


def test_watch_mode_shows_the_fail_once_the_lag_is_over(kinds):
    script = Scripted(CheckResult.failed("nothing answers"))
    lab, step = lab_with(kinds("lb", script, lags=LAG, settles_within=0.1))
    reports = watch(step, lab, until=lambda reports: not reports[-1].settling, settle_first=True)
    assert reports[-1].results[0].message == "nothing answers" and reports[-1].status is Status.FAIL
    assert all(r.settling for r in reports[:-1]) and len(reports) >= 2


def test_watch_mode_right_after_setup_does_not_settle(kinds):
    script = Scripted(CheckResult.failed("no Service shop"))
    lab, step = lab_with(kinds("lb", script, lags=LAG))
    reports = watch(step, lab, until=lambda reports: True, settle_first=False)
    assert len(reports) == 1 and not reports[0].settling and script.runs == 1
    assert reports[0].results[0].message == "no Service shop"


def test_a_namespace_that_stays_is_an_error_with_a_fix(fake_cluster, monkeypatch):
    from labrunner.cluster import namespaces
    from labrunner.errors import WaitTimedOut

    stuck = {"kind": "Namespace", "metadata": {"name": "lab-a", "deletionTimestamp": "2026-01-01T00:00:00Z"},
             "status": {"phase": "Terminating", "conditions": [
                 {"type": "NamespaceFinalizersRemaining", "status": "True",
                  "message": "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"}]}}

    def never(*args, timeout, **kwargs):  # noqa: ANN002, ANN003, ANN202
        time.sleep(timeout)
        raise WaitTimedOut("timed out")

    monkeypatch.setattr(namespaces, "wait_until", never)
    monkeypatch.setattr(namespaces, "PROGRESS_EVERY", 0.05)
    lines = []
    with pytest.raises(WaitTimedOut) as err:
        wait_namespace_usable(fake_cluster([stuck]), "lab-a", timeout=0.2, on_progress=lines.append)
    message = str(err.value)
    assert "namespace lab-a is still being deleted after 0 s" in message
    assert "finalizers remaining: example.com/hold" in message and "kubectl get namespace lab-a -o yaml" in message
    assert lines[0].startswith("namespace lab-a is still being deleted (a reset a moment ago?)")
    assert any(line.startswith("still waiting for namespace lab-a to be deleted") for line in lines[1:])


def test_check_wait_passes_only_on_one_moments_truth_not_passes_collected_over_the_wait(kinds):
    """`check --wait` (confirm): a check that passed at the start and broke while another one was
    still settling (the learner kept editing) must not count as passed at the end."""
    edited = Scripted(CheckResult.passed("policyTypes is Ingress"), CheckResult.failed("policyTypes is Egress"))
    late = Scripted(CheckResult.failed("nothing answers"), CheckResult.failed("nothing answers"),
                    CheckResult.passed("answered"))
    lab, step = lab_with(kinds("edited", edited), kinds("late", late, lags=LAG))
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 0.5, confirm=True)
    assert not report.passed and edited.runs >= 2
    assert report.results[0].message == "policyTypes is Egress"


def test_check_wait_of_checks_that_do_not_lag_also_ends_on_a_full_round(kinds):
    first = Scripted(CheckResult.passed("here"), CheckResult.failed("deleted meanwhile"))
    second = Scripted(CheckResult.failed("not yet"), CheckResult.passed("here"))
    lab, step = lab_with(kinds("first", first), kinds("second", second))
    report = runner.settle_step_checks(None, lab, step, window=lambda spec: 0.5, confirm=True)
    assert not report.passed and report.results[0].message == "deleted meanwhile"


def test_a_pass_is_not_given_unconfirmed_when_time_runs_out_while_confirming(kinds, monkeypatch):
    """dev check's run_until_passed (and a wrong answer's watch) stop at their deadline: a pass seen
    just before it must still hold a moment later, or an answer that flaps passes (or a wrong one
    is said to pass) by luck of timing."""
    monkeypatch.setattr(runner, "CONFIRM_PASS_AFTER", 0.5)
    flapping = Scripted(CheckResult.passed("blocked"), CheckResult.failed("it connected"))
    lab, step = lab_with(kinds("deny", flapping, lags=LAG, settles_within=0.0))
    report = runner.run_until_passed(QuietCluster(), lab, step, timeout=0.2)
    assert not report.passed and report.results[0].message == "it connected"


# -- a watch ends when told to, and leaves no thread of its own behind ------------------

def test_a_stopped_watch_returns_and_its_stop_relay_ends(kinds):
    lab, step = lab_with(kinds("exists", Scripted(CheckResult.failed("no Service shop"))))
    stop, reports = threading.Event(), []

    def seen(report):  # noqa: ANN001
        reports.append(report)
        stop.set()  # as the TUI does on quitting: no change will come, and the refresh is an hour away

    guard = threading.Timer(30, stop.set)
    guard.start()
    watching = threading.Thread(target=runner.watch_step, args=(QuietCluster(), lab, step),
                                kwargs={"on_report": seen, "stop": stop, "refresh": 3600})
    watching.start()
    watching.join(timeout=20)
    guard.cancel()
    assert not watching.is_alive() and len(reports) == 1
    relays = [t for t in threading.enumerate() if t.name == "labrunner-watch-stop"]
    for relay in relays:
        relay.join(timeout=5)
    assert not any(relay.is_alive() for relay in relays)


def test_the_stop_relay_of_a_watch_that_ended_otherwise_ends_too():
    stop, changes = threading.Event(), runner._Changes()
    relay = threading.Thread(target=runner._relay_stop, args=(stop, changes))
    relay.start()
    changes.over.set()  # the watch ended (an error) without its stop being set
    relay.join(timeout=5)
    assert not relay.is_alive() and not changes.wake.is_set()
