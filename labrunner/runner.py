"""Running a lab: set a step up, check it, reveal hints, solve, reset.

One headless engine for the CLI and the TUI. Every function takes the Cluster
it works on, so tests and the TUI can hand in their own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from kubernetes import watch as k8s_watch

from .checks import CheckContext, CheckResult, Evidence, Status, check_kinds, run_check
from .cluster import (
    Cluster,
    apply_manifests,
    delete_labelled,
    delete_manifests,
    delete_namespace,
    delete_object,
    ensure_namespace,
    wait_for,
)
from .cluster.namespaces import is_terminating, wait_namespace_gone, wait_namespace_usable
from .cluster.probepods import delete_outside_probes
from .errors import LabrunnerError, UsageError
from .model import Actions, CheckSpec, Lab, Step
from .progress import Progress
from .report import REPORT_SCHEMA_VERSION, StepReport
from .settings import TIMEOUTS

__all__ = ["REPORT_SCHEMA_VERSION", "StepReport"]  # and the verbs below; StepReport lives in report.py

# How long a pass seen in watch mode must hold before it is reported (settings.Timeouts; module
# names, so a test can shorten them).
CONFIRM_PASS_AFTER = TIMEOUTS.confirm_pass_after

# Seconds a finding of what a step requires may be old when a check fails: older, it is probed again,
# so a fail is never the learner's for an add-on that went down since it was last probed.
REQUIREMENTS_RECHECKED_AFTER = 15.0
# The capabilities probed again so: the add-ons, software that can go down, whose probes read a few
# objects (a canary for networkpolicy or dns takes up to a minute, too long for every failing round).
RECHECKED_ON_FAIL = frozenset({"gatekeeper", "ingress", "gateway-api"})
# How often a failing check is run again while its truth may still be settling (see CheckKind.lags).
SETTLE_INTERVAL = TIMEOUTS.settle_interval

OnProgress = Callable[[str], None]  # a line of progress for the learner ("waiting for namespace ...")

# Kinds whose changes re-run the checks in watch mode.
WATCHED_KINDS = ("Pod", "Service", "EndpointSlice", "NetworkPolicy", "Deployment", "ConfigMap", "Secret",
                 "PersistentVolumeClaim", "Ingress", "Role", "RoleBinding")


def namespace_for(lab: Lab, namespace: str | None = None) -> str:
    return namespace or lab.namespace


def render_text(lab: Lab, text: str, *, namespace: str | None = None) -> str:
    """Step texts and hints with the lab namespace filled in, as the learner should type it (Lab.render)."""
    return lab.render(text, namespace=namespace)


# -- actions -------------------------------------------------------------------

def run_actions(cluster: Cluster, lab: Lab, actions: Actions, *, namespace: str | None = None) -> None:
    """delete, then apply (server-side, ordered), then wait."""
    ns = namespace_for(lab, namespace)
    for ref in actions.delete:
        delete_object(cluster, ref, namespace=ns)
    if actions.apply:
        apply_manifests(cluster, actions.apply, namespace=ns, lab_id=lab.id)
    for spec in actions.wait:
        wait_for(cluster, spec, namespace=ns)


def start_step(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None, catch_up: bool = False,
               progress: Progress | None = None, on_progress: OnProgress | None = None) -> None:
    """Apply the step's setup; with `catch_up`, first apply the setup and
    solution of every earlier step not passed yet (per `progress`): `reach_step`.

    A lab namespace still terminating (a reset a moment ago) is waited for first, with lines for
    `on_progress`: objects applied into it would be deleted with it after "set up" was said.
    Raises WaitTimedOut (with what to do) when it is still there after NAMESPACE_GONE_TIMEOUT s.
    """
    if catch_up:
        state = progress.lab(lab.id) if progress is not None else None
        passed = {s.id for s in lab.steps if state is not None and state.step(s.id).status == "passed"}
        reach_step(cluster, lab, step, namespace=namespace, passed=passed, on_progress=on_progress)
    else:
        _usable_namespace(cluster, lab, namespace=namespace, on_progress=on_progress)
        run_actions(cluster, lab, step.setup, namespace=namespace)
    if progress is not None:
        progress.lab(lab.id).current_step = step.id


def reach_step(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
               passed: Iterable[str] = (), on_progress: OnProgress | None = None) -> None:
    """Bring `namespace` (default: the lab's) to the start of `step`, as a learner who solved every
    step before it would leave it: the setup and then the solution of each earlier step, in order
    (quizzes have neither; steps whose ids are in `passed` are skipped, their state is there
    already), then `step`'s own setup.

    The one way to reach step N: `start --catch-up`, `dev check`'s proofs, the benchmarks and the
    screenshot script all come here. Waits first for the lab's namespaces still terminating, as
    `start_step` does. Raises what applying raises (ApiRejected naming the file, WaitTimedOut).
    """
    _usable_namespace(cluster, lab, namespace=namespace, on_progress=on_progress)
    skip = set(passed)
    for earlier in lab.steps[: lab.step_index(step.id)]:
        if earlier.id in skip or earlier.is_quiz:
            continue
        run_actions(cluster, lab, earlier.setup, namespace=namespace)
        if earlier.solution:
            run_actions(cluster, lab, earlier.solution.actions, namespace=namespace)
    run_actions(cluster, lab, step.setup, namespace=namespace)


def _usable_namespace(cluster: Cluster, lab: Lab, *, namespace: str | None, on_progress: OnProgress | None) -> None:
    """Wait for the lab's namespaces still terminating to be gone, then make sure its own exists."""
    for name in lab_namespaces(lab, namespace=namespace):
        wait_namespace_usable(cluster, name, on_progress=on_progress)
    ensure_namespace(cluster, namespace_for(lab, namespace), lab_id=lab.id)  # the learner works in it


def solve_step(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
               progress: Progress | None = None) -> str:
    """Apply the step's solution; returns its explanation.

    Raises UsageError (a request the lab's state does not allow) for a quiz, and when the lab
    namespace does not exist (applying would create it with the solution but not the setup) or is
    being deleted (a reset under way: the solution would be deleted with it, or refused by the API
    server with a raw message).
    """
    if step.solution is None:
        raise UsageError(f"step {step.id} has no solution to apply (it is a quiz)")
    ns = namespace_for(lab, namespace)
    found = cluster.get("Namespace", ns)
    if found is None:  # applying would create it, with the solution but without the step's setup
        raise UsageError(f"namespace {ns} does not exist: the lab is not started (or was reset); "
                         f"`labrunner start {lab.id} {step.id}` sets the step up first")
    if is_terminating(found):
        raise UsageError(f"namespace {ns} is being deleted (a reset under way?), so there is nothing to solve "
                         f"in it; once it is gone, `labrunner start {lab.id} {step.id}` sets the step up again")
    run_actions(cluster, lab, step.solution.actions, namespace=namespace)
    if progress is not None:
        progress.lab(lab.id).step(step.id).solved = True
    return step.solution.explanation


def reset_step(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
               progress: Progress | None = None, on_progress: OnProgress | None = None) -> None:
    """Undo a step: its cleanup, then delete what its setup and solution applied, then set it up again.

    A lab namespace still terminating (a lab reset a moment ago, or interrupted) is waited for
    before the setup is applied again, as `start_step` does; `on_progress` gets a line meanwhile.
    """
    ns = namespace_for(lab, namespace)
    run_actions(cluster, lab, step.cleanup, namespace=ns)
    applied = list((step.solution.actions.apply if step.solution else ())) + list(step.setup.apply)
    delete_manifests(cluster, applied, namespace=ns, lab_id=lab.id)
    if progress is not None:
        progress.forget_step(lab.id, step.id)
    if not step.is_quiz:
        wait_for_gone(cluster, lab, applied, namespace=ns)
        _usable_namespace(cluster, lab, namespace=namespace, on_progress=on_progress)
        run_actions(cluster, lab, step.setup, namespace=ns)


def wait_for_gone(cluster: Cluster, lab: Lab, manifests: Iterable, *, namespace: str,
                  timeout: float = TIMEOUTS.object_gone) -> None:
    """Block until deleted objects are really gone, so re-applying does not meet them terminating."""
    from .cluster import wait_until
    from .cluster.applying import render

    for obj in render(manifests, namespace=namespace, lab_id=lab.id):
        if obj.kind == "Namespace":
            continue
        try:
            namespaced = cluster.is_namespaced(obj.kind, obj.body["apiVersion"])
        except LabrunnerError:
            continue
        wait_until(cluster, obj.kind, namespace=namespace if namespaced else None, name=obj.name,
                   api_version=obj.body["apiVersion"], predicate=lambda objs: not objs,
                   describe=f"{obj.kind}/{obj.name} to be deleted", timeout=timeout)


def lab_namespaces(lab: Lab, *, namespace: str | None = None) -> list[str]:
    """The lab's namespace, then every Namespace its manifests create, by name."""
    from .cluster.applying import render

    names = [namespace_for(lab, namespace)]
    for obj in render(lab.manifests(), namespace=names[0], lab_id=lab.id):
        if obj.kind == "Namespace" and obj.name not in names:
            names.append(obj.name)
    return names


def cluster_scoped_kinds(lab: Lab) -> list[tuple[str, str]]:
    """(apiVersion, kind) of every kind the lab's manifests use, for reset."""
    kinds = {(doc["apiVersion"], doc["kind"]) for m in lab.manifests() for doc in m.documents}
    return sorted(kinds)


def reset_lab(cluster: Cluster, lab: Lab, *, namespace: str | None = None, progress: Progress | None = None,
              wait: bool = True, on_progress: OnProgress | None = None, keep_namespace: bool = False) -> None:
    """Remove everything the lab created: what each step's cleanup names (objects the learner made
    outside the namespace, such as a CSR or a PV), its labelled cluster-scoped objects, its namespace.

    With `keep_namespace` (a workshop's seat, whose namespaces the instructor made and which it may
    neither delete nor create) the namespace is emptied instead (namespaces.empty_namespace) and
    nothing outside it is touched: a lab seats share has nothing there, and the seat may not.

    With `wait` (the default) it returns only when all of that is gone, so a `start` right after
    never applies into a namespace about to vanish; `on_progress` gets a line while it waits.
    Raises WaitTimedOut (with what to do) when something is still there after its timeout.
    """
    ns = namespace_for(lab, namespace)
    if keep_namespace:
        from .cluster.applying import WORKSHOP_LABEL
        from .cluster.namespaces import empty_namespace

        empty_namespace(cluster, ns, keep_label=WORKSHOP_LABEL, wait=wait)
        if progress is not None:
            progress.forget_lab(lab.id)
        return
    refs = [ref for step in reversed(lab.steps) for ref in step.cleanup.delete]
    for ref in refs:
        delete_object(cluster, ref, namespace=ns)
    kinds = cluster_scoped_kinds(lab)
    delete_labelled(cluster, lab_id=lab.id, kinds=kinds)
    delete_outside_probes(cluster, ns)  # they live in labrunner's own namespace, not the lab's
    delete_namespace(cluster, ns)
    if wait:
        for name in lab_namespaces(lab, namespace=namespace):
            if is_terminating(cluster.get("Namespace", name)):  # one the lab's manifests name may not be its own
                wait_namespace_gone(cluster, name, on_progress=on_progress)
        _wait_labelled_gone(cluster, lab, kinds)
        for ref in refs:
            _wait_ref_gone(cluster, ref, namespace=ns)
    if progress is not None:
        progress.forget_lab(lab.id)


def _wait_labelled_gone(cluster: Cluster, lab: Lab, kinds: Iterable[tuple[str, str]],
                        timeout: float = TIMEOUTS.object_gone) -> None:
    from .cluster import LAB_LABEL, wait_until

    for api_version, kind in kinds:
        if kind == "Namespace":
            continue  # waited for above
        try:
            if cluster.is_namespaced(kind, api_version):
                continue  # went with the namespace
        except LabrunnerError:
            continue  # the kind is not served here: nothing of it to wait for
        wait_until(cluster, kind, namespace=None, selector=f"{LAB_LABEL}={lab.id}", api_version=api_version,
                   predicate=lambda objs: not objs, describe=f"the lab's {kind} objects to be deleted", timeout=timeout)


def _wait_ref_gone(cluster: Cluster, ref, *, namespace: str, timeout: float = TIMEOUTS.object_gone) -> None:  # noqa: ANN001
    from .cluster import wait_until

    try:
        namespaced = cluster.is_namespaced(ref.kind, ref.api_version)
    except LabrunnerError:
        return
    wait_until(cluster, ref.kind, namespace=(ref.namespace or namespace) if namespaced else None, name=ref.name,
               api_version=ref.api_version, predicate=lambda objs: not objs,
               describe=f"{ref.kind}/{ref.name} to be deleted", timeout=timeout)


# -- checks --------------------------------------------------------------------

def run_checks_at_once(ctx: CheckContext, specs: list[CheckSpec]) -> list[CheckResult]:
    """Run `specs` in parallel, one daemon thread each; results in their order.

    Daemon threads, not a ThreadPoolExecutor: the interpreter joins an executor's workers when it
    exits, so a Ctrl-C would wait for a slow check (a probe pod starting takes up to 90 s) to end.
    """
    results: list[CheckResult | None] = [None] * len(specs)

    def work(index: int, spec: CheckSpec) -> None:
        results[index] = run_check(ctx, spec)

    threads = [threading.Thread(target=work, args=(i, spec), daemon=True, name=f"labrunner-check-{spec.id}")
               for i, spec in enumerate(specs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [result or CheckResult.errored(f"check {spec.id} ended without a result",
                                          evidence=Evidence("a verdict", "the check's thread ended without one"))
            for spec, result in zip(specs, results)]


def _step_specs(step: Step) -> list[CheckSpec]:
    if step.is_quiz:
        return [CheckSpec(id="answer", kind="quiz", params={}, title="quiz answer")]
    return list(step.checks)


def lag_of(spec: CheckSpec) -> tuple[str, float]:
    """(what may lag, seconds it may take) for the spec's kind; ("", 0.0) when its truth is the API's."""
    kind = check_kinds().get(spec.kind)
    if kind is None or not kind.lags:
        return "", 0.0
    return kind.lags, kind.settles_within


def settling_window(spec: CheckSpec) -> float:
    """Seconds a failing check is re-run after a change: its kind's settles_within, 0 when nothing lags."""
    return lag_of(spec)[1]


def _unmet_requirements(cluster: Cluster | None, step: Step, *, max_age: float | None = None,
                        only: frozenset[str] | None = None) -> list:
    """What the step `requires` that this cluster lacks (labrunner.capabilities; probed once per
    cluster and cached, or again when known for longer than `max_age` seconds), of the capabilities
    in `only` if given; [] for a quiz, a step that requires nothing, or what cannot be told."""
    if cluster is None or not step.requires:
        return []
    from .capabilities import capability_of, unmet

    requires = [r for r in step.requires if only is None or capability_of(r) in only]
    return unmet(cluster, requires, max_age=max_age) if requires else []


def _cannot_pass(unmet: list) -> CheckResult:
    """The result of a check this cluster cannot make true: an error with the fix, never the learner's fail."""
    return CheckResult.errored("this cluster cannot make this check pass, whatever the answer: "
                               + "; ".join(f"{u.requirement}: {u.why}" for u in unmet),
                               [f"fix: {u.fix}" for u in unmet if u.fix])


def run_step_checks(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
                    answers: dict[str, str] | None = None, node_address: str | None = None) -> StepReport:
    """Run all checks of a step once, in parallel; never raises for a cluster fault (those are `error` results)."""
    return settle_step_checks(cluster, lab, step, window=lambda spec: 0.0, namespace=namespace, answers=answers,
                              node_address=node_address)


def settle_step_checks(cluster: Cluster, lab: Lab, step: Step, *, window: Callable[[CheckSpec], float],
                       namespace: str | None = None, answers: dict[str, str] | None = None,
                       node_address: str | None = None, on_report: Callable[[StepReport], None] | None = None,
                       stop: threading.Event | None = None, interrupt: threading.Event | None = None,
                       confirm: bool = False) -> StepReport:
    """Run the step's checks, then re-run each failing one every SETTLE_INTERVAL s while fewer than
    `window(spec)` seconds have passed, until none fails, or one errors (an error stays an error:
    it is never re-run into a fail or a pass), or `stop` or `interrupt` is set.

    Between attempts `on_report` gets a report with `settling` set: a failing check of a lagging
    kind, within its kind's settles_within, says what may lag ("kube-proxy may still be
    programming this Service; checking again") instead of blaming the learner. With `confirm`, a
    pass is one moment's truth: when some check lags (a deny must hold over consecutive probes) or
    some were re-run alone, every check runs once more CONFIRM_PASS_AFTER s later and all must
    pass then, so a check that passed early and broke while another settled is not counted as
    passed. Returns the verdict: each check with its attempts and seconds to
    pass; a lagging check that still fails after a window shorter than its kind's settles_within
    says so in its details.
    """
    started = time.monotonic()
    ctx = CheckContext(cluster=cluster, namespace=namespace_for(lab, namespace), lab=lab, step=step,
                       answers=answers or {}, node_address=node_address)
    specs = _step_specs(step)
    attempts = dict.fromkeys((s.id for s in specs), 0)
    results: dict[str, CheckResult] = {}
    passed_after: dict[str, float] = {}  # the pass each check holds now: seconds from the start
    rounds = 0

    unmet = _unmet_requirements(cluster, step)

    def run(batch: list[CheckSpec]) -> None:
        nonlocal rounds
        rounds += 1
        done = [_cannot_pass(unmet) for _ in batch] if unmet else run_checks_at_once(ctx, batch)
        for spec, result in zip(batch, done):
            attempts[spec.id] += 1
            results[spec.id] = result
            if result.ok:
                passed_after.setdefault(spec.id, time.monotonic() - started)
            else:
                passed_after.pop(spec.id, None)

    def report(*, settling: bool) -> StepReport:
        elapsed = time.monotonic() - started
        shown = []
        for spec in specs:
            result = replace(results[spec.id], attempts=attempts[spec.id], seconds_to_pass=passed_after.get(spec.id))
            lag, lag_seconds = lag_of(spec)
            if lag and result.status is Status.FAIL and not result.final:
                if settling and elapsed < lag_seconds:
                    result = result.while_settling(lag)
                elif not settling and 0 < window(spec) < lag_seconds:
                    result = replace(result, details=(*result.details, f"checked for {elapsed:.0f} s, but {lag}: "
                                                      f"waiting {lag_seconds:.0f} s tells for sure"))
            shown.append(result)
        done = StepReport(lab.id, step.id, tuple(shown), elapsed, attempts=rounds)
        if done.passed:
            done = replace(done, seconds_to_pass=max((passed_after.values()), default=elapsed))
        return done

    def halted() -> bool:
        return bool((stop and stop.is_set()) or (interrupt and interrupt.is_set()))

    def pause(seconds: float) -> bool:
        """Sleep, waking early on stop or interrupt; True when woken early."""
        deadline = time.monotonic() + seconds
        while not halted() and time.monotonic() < deadline:
            (stop or interrupt or threading.Event()).wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return halted()

    run(specs)
    confirmed = not confirm or not any(lag_of(spec)[0] for spec in specs)
    while True:
        if any(r.status is Status.ERROR for r in results.values()):
            break
        elapsed = time.monotonic() - started
        retry = [s for s in specs if results[s.id].status is Status.FAIL and not results[s.id].final
                 and elapsed < window(s)]
        if not retry:
            if confirmed or any(r.status is Status.FAIL for r in results.values()):
                break
            if pause(CONFIRM_PASS_AFTER):
                break
            run(specs)
            confirmed = all(r.ok for r in results.values())  # a pass lost on confirming is confirmed anew
            continue
        if on_report is not None:
            on_report(report(settling=True))
        if pause(SETTLE_INTERVAL):
            break
        run(retry)
        if confirm and len(retry) < len(specs):
            confirmed = False  # the others' passes are older than this round
    if not unmet and any(r.status is Status.FAIL for r in results.values()):
        # A fail is the learner's only if the cluster could make the check pass. A finding is kept for
        # minutes: an add-on that went down since (Gatekeeper's webhook fails open, so a down Gatekeeper
        # admits every pod) would otherwise make the learner's answer look wrong.
        again = _unmet_requirements(cluster, step, max_age=REQUIREMENTS_RECHECKED_AFTER, only=RECHECKED_ON_FAIL)
        if again:
            for spec in specs:
                if results[spec.id].status is not Status.ERROR:
                    results[spec.id] = _cannot_pass(again)
                    passed_after.pop(spec.id, None)
    return report(settling=False)


# -- watching --------------------------------------------------------------------

@dataclass
class _Changes:
    event: threading.Event = field(default_factory=threading.Event)  # something in the namespace changed
    wake: threading.Event = field(default_factory=threading.Event)  # a change, or the stop: ends the idle wait
    watchers: list = field(default_factory=list)
    over: threading.Event = field(default_factory=threading.Event)  # the watch has ended

    def changed(self) -> None:
        self.event.set()
        self.wake.set()


def _relay_stop(stop: threading.Event, changes: _Changes) -> None:
    """Set `changes.wake` as soon as `stop` is set, so the idle wait of watch_step ends on a stop
    at once (a quitting TUI waits for no timeout). Ends by itself within a second of the watch."""
    while not stop.wait(1.0):
        if changes.over.is_set():
            return
    changes.wake.set()


def watch_step(cluster: Cluster, lab: Lab, step: Step, *, on_report: Callable[[StepReport], None],
               stop: threading.Event, namespace: str | None = None, answers: dict[str, str] | None = None,
               settle: float = TIMEOUTS.watch_settle, refresh: float = TIMEOUTS.watch_refresh,
               settle_first: bool = False) -> None:
    """Check now, then again whenever something in the lab namespace changes.

    Blocks until `stop` is set. Right after the start and after each change, a failing check of a
    lagging kind (CheckKind.lags: kube-proxy, NetworkPolicy programming, DNS caches, the RBAC
    authorizer) is re-run every SETTLE_INTERVAL s for its kind's settles_within, and the reports
    in between say it is settling (`StepReport.settling`), not that the learner is wrong. Also
    re-checks every `refresh` seconds, since some outcomes (a NodePort answering, a policy
    programmed) have no event. The first check settles too only with `settle_first`, for a
    caller that changed the namespace just before (a solution applied); a learner who opens the
    watch gets the first verdict at once.
    """
    ns = namespace_for(lab, namespace)
    changes = _Changes()
    threading.Thread(target=_relay_stop, args=(stop, changes), daemon=True, name="labrunner-watch-stop").start()
    started = threading.Semaphore(0)
    threads = [threading.Thread(target=_watch_kind, args=(cluster, kind, ns, changes, stop, started), daemon=True,
                                name=f"labrunner-watch-{kind}") for kind in WATCHED_KINDS]
    for thread in threads:
        thread.start()
    for _ in threads:  # check only once every watch is listening, so no change slips between
        started.acquire(timeout=TIMEOUTS.watch_listening)
    after_change = settle_first
    try:
        while not stop.is_set():
            window = settling_window if after_change else (lambda spec: 0.0)
            report = settle_step_checks(cluster, lab, step, window=window, namespace=ns, answers=answers,
                                        on_report=on_report, stop=stop, interrupt=changes.event)
            cut_short = changes.event.is_set() and not report.passed
            if report.passed and not step.is_quiz:
                # Right after a change the cluster can be half-way (a policy stored but not yet
                # enforced everywhere): a pass counts only when it holds a moment later, also when
                # `stop` comes meanwhile (a deadline): an unconfirmed pass is never reported.
                stop.wait(CONFIRM_PASS_AFTER)
                report = run_step_checks(cluster, lab, step, namespace=ns, answers=answers)
            if not cut_short:  # a change came while settling: check it at once, don't blame the old state
                on_report(report)
            deadline = time.monotonic() + refresh
            # Wake on a change, on stop (both set changes.wake) or on the refresh.
            while not stop.is_set() and not changes.event.is_set() and time.monotonic() < deadline:
                changes.wake.wait(timeout=max(0.0, deadline - time.monotonic()))
            if stop.is_set():
                break
            after_change = changes.event.is_set()
            if after_change:
                stop.wait(settle)  # let a burst of events (a rollout) finish
                changes.event.clear()
                changes.wake.clear()
    finally:
        changes.over.set()
        for watcher in list(changes.watchers):
            watcher.stop()


def _watch_kind(cluster: Cluster, kind: str, namespace: str, changes: _Changes, stop: threading.Event,
                started: threading.Semaphore) -> None:
    first = True
    while not stop.is_set():
        watcher = k8s_watch.Watch()
        changes.watchers.append(watcher)
        try:
            _, version = cluster.list_with_version(kind, namespace=namespace)
            if first:
                started.release()
                first = False
            for _event in cluster.watch(kind, namespace=namespace, resource_version=version,
                                        timeout=int(TIMEOUTS.watch_request), watcher=watcher):
                changes.changed()
                if stop.is_set():
                    break
        except LabrunnerError:
            if first:
                started.release()
                first = False
            stop.wait(TIMEOUTS.watch_retry)  # the kind may not exist here or the cluster blinked; the refresh still runs
        finally:
            changes.watchers.remove(watcher)


def run_until_passed(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
                     timeout: float = TIMEOUTS.pass_after_solution, answers: dict[str, str] | None = None) -> StepReport:
    """Re-run the checks on every namespace change until they pass or `timeout` passes.

    Returns the last verdict (a report made while settling only when no verdict came in time)."""
    deadline = time.monotonic() + timeout
    stop = threading.Event()
    last: list[StepReport] = []

    def seen(report: StepReport) -> None:
        last.append(report)
        if report.passed or time.monotonic() >= deadline:
            stop.set()

    timer = threading.Timer(timeout, stop.set)
    timer.start()
    try:
        watch_step(cluster, lab, step, on_report=seen, stop=stop, namespace=namespace, answers=answers, refresh=2.0,
                   settle_first=True)  # called right after a solution or an answer was applied
    finally:
        timer.cancel()
    verdicts = [report for report in last if not report.settling]
    return (verdicts or last)[-1]
