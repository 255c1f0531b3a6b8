"""Running a lab: set a step up, check it, reveal hints, solve, reset.

One headless engine for the CLI and the TUI. Every function takes the Cluster
it works on, so tests and the TUI can hand in their own.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

from kubernetes import watch as k8s_watch

from .checks import CheckContext, CheckResult, Status, run_check
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
from .errors import LabrunnerError
from .model import NAMESPACE_PLACEHOLDER, Actions, CheckSpec, Lab, Step
from .progress import Progress

# How long a pass seen in watch mode must hold before it is reported.
CONFIRM_PASS_AFTER = 1.5

# Kinds whose changes re-run the checks in watch mode.
WATCHED_KINDS = ("Pod", "Service", "EndpointSlice", "NetworkPolicy", "Deployment", "ConfigMap", "Secret",
                 "PersistentVolumeClaim", "Ingress", "Role", "RoleBinding")


@dataclass(frozen=True)
class StepReport:
    lab_id: str
    step_id: str
    results: tuple[CheckResult, ...]
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        """error if any check errored, else fail if any failed, else pass."""
        statuses = {r.status for r in self.results}
        if Status.ERROR in statuses:
            return Status.ERROR
        if Status.FAIL in statuses or not self.results:
            return Status.FAIL
        return Status.PASS

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    def as_dict(self) -> dict:
        return {
            "lab": self.lab_id,
            "step": self.step_id,
            "status": self.status.value,
            "seconds": round(self.seconds, 3),
            "checks": [r.as_dict() for r in self.results],
        }


def namespace_for(lab: Lab, namespace: str | None = None) -> str:
    return namespace or lab.namespace


def render_text(lab: Lab, text: str, *, namespace: str | None = None) -> str:
    """Step texts and hints with the lab namespace filled in, as the learner should type it."""
    return text.replace(NAMESPACE_PLACEHOLDER, namespace_for(lab, namespace))


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
               progress: Progress | None = None) -> None:
    """Apply the step's setup; with `catch_up`, first apply the setup and
    solution of every earlier step not passed yet (per `progress`)."""
    ensure_namespace(cluster, namespace_for(lab, namespace), lab_id=lab.id)  # the learner works in it
    if catch_up:
        for earlier in lab.steps[: lab.step_index(step.id)]:
            done = progress is not None and progress.lab(lab.id).step(earlier.id).status == "passed"
            if not done and not earlier.is_quiz:
                run_actions(cluster, lab, earlier.setup, namespace=namespace)
                if earlier.solution:
                    run_actions(cluster, lab, earlier.solution.actions, namespace=namespace)
    run_actions(cluster, lab, step.setup, namespace=namespace)
    if progress is not None:
        progress.lab(lab.id).current_step = step.id


def solve_step(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
               progress: Progress | None = None) -> str:
    """Apply the step's solution; returns its explanation."""
    if step.solution is None:
        raise LabrunnerError(f"step {step.id} has no solution to apply (it is a quiz)")
    run_actions(cluster, lab, step.solution.actions, namespace=namespace)
    if progress is not None:
        progress.lab(lab.id).step(step.id).solved = True
    return step.solution.explanation


def reset_step(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
               progress: Progress | None = None) -> None:
    """Undo a step: its cleanup, then delete what its setup and solution applied, then set it up again."""
    ns = namespace_for(lab, namespace)
    run_actions(cluster, lab, step.cleanup, namespace=ns)
    applied = list((step.solution.actions.apply if step.solution else ())) + list(step.setup.apply)
    delete_manifests(cluster, applied, namespace=ns, lab_id=lab.id)
    if progress is not None:
        progress.forget_step(lab.id, step.id)
    if not step.is_quiz:
        wait_for_gone(cluster, lab, applied, namespace=ns)
        run_actions(cluster, lab, step.setup, namespace=ns)


def wait_for_gone(cluster: Cluster, lab: Lab, manifests: Iterable, *, namespace: str, timeout: float = 60) -> None:
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


def cluster_scoped_kinds(lab: Lab) -> list[tuple[str, str]]:
    """(apiVersion, kind) of every kind the lab's manifests use, for reset."""
    kinds = {(doc["apiVersion"], doc["kind"]) for m in lab.manifests() for doc in m.documents}
    return sorted(kinds)


def reset_lab(cluster: Cluster, lab: Lab, *, namespace: str | None = None, progress: Progress | None = None,
              wait: bool = False) -> None:
    """Remove everything the lab created: what each step's cleanup names (objects the learner made
    outside the namespace, such as a CSR or a PV), its labelled cluster-scoped objects, its namespace."""
    ns = namespace_for(lab, namespace)
    for step in reversed(lab.steps):
        for ref in step.cleanup.delete:
            delete_object(cluster, ref, namespace=ns)
    delete_labelled(cluster, lab_id=lab.id, kinds=cluster_scoped_kinds(lab))
    delete_namespace(cluster, ns, wait=wait)
    if progress is not None:
        progress.forget_lab(lab.id)


# -- checks --------------------------------------------------------------------

_CHECK_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="labrunner-check")


def run_step_checks(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
                    answers: dict[str, str] | None = None, node_address: str | None = None) -> StepReport:
    """Run all checks of a step, in parallel; never raises for a cluster fault (those are `error` results)."""
    started = time.monotonic()
    ctx = CheckContext(cluster=cluster, namespace=namespace_for(lab, namespace), lab=lab, step=step,
                       answers=answers or {}, node_address=node_address)
    specs = list(step.checks) if not step.is_quiz else [CheckSpec(id="answer", kind="quiz", params={}, title="quiz answer")]
    results = list(_CHECK_POOL.map(lambda spec: run_check(ctx, spec), specs))
    return StepReport(lab.id, step.id, tuple(results), time.monotonic() - started)


def record_report(progress: Progress, report: StepReport) -> None:
    step = progress.lab(report.lab_id).step(report.step_id)
    step.attempts += 1
    if report.passed:
        if step.status != "passed":
            step.passed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        step.status = "passed"
    elif step.status != "passed":
        step.status = report.status.value + ("ed" if report.status is Status.FAIL else "")


def answer_quiz(progress: Progress, lab: Lab, step: Step, choice: str) -> CheckResult:
    """Record a quiz answer and judge it."""
    if step.quiz is None:
        raise LabrunnerError(f"step {step.id} is not a quiz")
    if choice not in {c.id for c in step.quiz.choices}:
        raise LabrunnerError(f"{choice!r} is not a choice; pick one of {', '.join(c.id for c in step.quiz.choices)}")
    progress.lab(lab.id).step(step.id).answer = choice
    ctx = CheckContext(cluster=None, namespace=lab.namespace, lab=lab, step=step,  # type: ignore[arg-type]
                       answers=progress.answers(lab.id))
    result = run_check(ctx, CheckSpec(id="answer", kind="quiz", params={}, title="quiz answer"))
    record_report(progress, StepReport(lab.id, step.id, (result,)))
    return result


def reveal_hint(progress: Progress, lab: Lab, step: Step) -> tuple[int, str] | None:
    """The next hint (1-based number, text), counted; None when all are shown."""
    state = progress.lab(lab.id).step(step.id)
    if state.hints_shown >= len(step.hints):
        return None
    state.hints_shown += 1
    return state.hints_shown, step.hints[state.hints_shown - 1]


def shown_hints(progress: Progress, lab: Lab, step: Step) -> list[str]:
    return list(step.hints[: progress.lab(lab.id).step(step.id).hints_shown])


# -- watching --------------------------------------------------------------------

@dataclass
class _Changes:
    event: threading.Event = field(default_factory=threading.Event)
    watchers: list = field(default_factory=list)


def watch_step(cluster: Cluster, lab: Lab, step: Step, *, on_report: Callable[[StepReport], None],
               stop: threading.Event, namespace: str | None = None, answers: dict[str, str] | None = None,
               settle: float = 0.5, refresh: float = 15.0) -> None:
    """Check now, then again whenever something in the lab namespace changes.

    Blocks until `stop` is set. Also re-checks every `refresh` seconds, since
    some outcomes (a NodePort answering, a policy programmed) have no event.
    """
    ns = namespace_for(lab, namespace)
    changes = _Changes()
    started = threading.Semaphore(0)
    threads = [threading.Thread(target=_watch_kind, args=(cluster, kind, ns, changes, stop, started), daemon=True,
                                name=f"labrunner-watch-{kind}") for kind in WATCHED_KINDS]
    for thread in threads:
        thread.start()
    for _ in threads:  # check only once every watch is listening, so no change slips between
        started.acquire(timeout=10)
    try:
        while not stop.is_set():
            report = run_step_checks(cluster, lab, step, namespace=ns, answers=answers)
            if report.passed and not step.is_quiz and not stop.wait(CONFIRM_PASS_AFTER):
                # Right after a change the cluster can be half-way (a policy stored but not yet
                # enforced everywhere): a pass counts only when it holds a moment later.
                report = run_step_checks(cluster, lab, step, namespace=ns, answers=answers)
            on_report(report)
            deadline = time.monotonic() + refresh
            # Wake on a change, on the refresh, or (within a second) on stop.
            while not stop.is_set() and not changes.event.is_set() and time.monotonic() < deadline:
                changes.event.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            if stop.is_set():
                break
            if changes.event.is_set():
                stop.wait(settle)  # let a burst of events (a rollout) finish
                changes.event.clear()
    finally:
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
            for _event in cluster.watch(kind, namespace=namespace, resource_version=version, timeout=30, watcher=watcher):
                changes.event.set()
                if stop.is_set():
                    break
        except LabrunnerError:
            if first:
                started.release()
                first = False
            stop.wait(5)  # the kind may not exist here or the cluster blinked; the refresh still runs
        finally:
            changes.watchers.remove(watcher)


def run_until_passed(cluster: Cluster, lab: Lab, step: Step, *, namespace: str | None = None,
                     timeout: float = 60.0, answers: dict[str, str] | None = None) -> StepReport:
    """Re-run the checks on every namespace change until they pass or `timeout` passes."""
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
        watch_step(cluster, lab, step, on_report=seen, stop=stop, namespace=namespace, answers=answers, refresh=2.0)
    finally:
        timer.cancel()
    return last[-1]
