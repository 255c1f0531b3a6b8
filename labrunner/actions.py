"""The cluster half of a learner's verbs (`StepActions`), and `ClusterActions`, which does it on a
real cluster connected on first use. `session.LabSession` adds the step rule and the progress.

Kept apart from session.py, and importing the engine's cluster modules only inside its methods, so
the TUI can build its backend on it before the first paint without loading the kubernetes client.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

from .model import Lab, Step

if TYPE_CHECKING:
    from .capabilities import Capability
    from .cluster import Cluster
    from .report import StepReport

OnProgress = Callable[[str], None]  # a line of progress for the learner ("waiting for namespace ...")
OnReport = Callable[["StepReport"], None]


def connect_cluster(*, kubeconfig: str | None = None, context: str | None = None, ping: bool = True) -> Cluster:
    """The cluster of `kubeconfig` and `context` (defaults: KUBECONFIG or ~/.kube/config, its
    current context); with `ping`, asked for its version first so an unreachable one fails here.
    Raises ClusterUnreachable or a LabrunnerError saying what is wrong with the kubeconfig."""
    from .cluster import connect
    from .cluster import ping as ping_cluster

    cluster = connect(kubeconfig=kubeconfig, context=context)
    if ping:
        ping_cluster(cluster)
    return cluster


def ping_cluster(cluster: Cluster) -> str:
    """The Kubernetes version the API server reports ("v1.34.4"); raises ClusterUnreachable."""
    from .cluster import ping

    return ping(cluster)


class StepActions(Protocol):
    """The cluster half of a session's verbs, for one lab at a time in a given namespace."""

    def start_step(self, lab: Lab, step: Step, *, namespace: str, on_progress: OnProgress | None = None) -> None: ...

    def solve_step(self, lab: Lab, step: Step, *, namespace: str) -> str: ...

    def reset_step(self, lab: Lab, step: Step, *, namespace: str, on_progress: OnProgress | None = None) -> None: ...

    def reset_lab(self, lab: Lab, *, namespace: str, on_progress: OnProgress | None = None) -> None: ...

    def run_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str]) -> StepReport: ...

    def watch_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str],
                     on_report: OnReport, stop: threading.Event) -> None:
        """Report now and after each change until `stop`; reports with `settling` set come while
        a lagging check is re-checked (see runner.watch_step) and are no verdict."""


class ClusterActions:
    """`StepActions` on a real cluster, connected on first use (by `connect`), so a command that
    needs no cluster (a quiz, a bad argument) never waits for one, and `forget` lets a retry
    reconnect after the kubeconfig was fixed."""

    def __init__(self, cluster: Cluster | None = None, *, connect: Callable[[], Cluster] | None = None,
                 keep_namespaces: bool = False):
        self._cluster = cluster
        # A workshop's seat: its namespaces were made by the instructor, a reset empties them (runner.reset_lab).
        self.keep_namespaces = keep_namespaces
        self._connect = connect or (lambda: connect_cluster(ping=False))
        self._lock = threading.Lock()

    @property
    def cluster(self) -> Cluster:
        with self._lock:
            if self._cluster is None:
                self._cluster = self._connect()
            return self._cluster

    @property
    def connected(self) -> Cluster | None:
        """The cluster when connected already, else None (never connects)."""
        return self._cluster

    def forget(self) -> None:
        """Drop the connection: the next use connects again."""
        with self._lock:
            self._cluster = None

    def start_step(self, lab: Lab, step: Step, *, namespace: str, on_progress: OnProgress | None = None) -> None:
        from . import runner

        runner.start_step(self.cluster, lab, step, namespace=namespace, on_progress=on_progress)

    def reach_step(self, lab: Lab, step: Step, *, namespace: str, passed: frozenset[str] = frozenset(),
                   on_progress: OnProgress | None = None) -> None:
        from . import runner

        runner.reach_step(self.cluster, lab, step, namespace=namespace, passed=passed, on_progress=on_progress)

    def solve_step(self, lab: Lab, step: Step, *, namespace: str) -> str:
        from . import runner

        return runner.solve_step(self.cluster, lab, step, namespace=namespace)

    def reset_step(self, lab: Lab, step: Step, *, namespace: str, on_progress: OnProgress | None = None) -> None:
        from . import runner

        runner.reset_step(self.cluster, lab, step, namespace=namespace, on_progress=on_progress)

    def reset_lab(self, lab: Lab, *, namespace: str, on_progress: OnProgress | None = None) -> None:
        from . import runner

        runner.reset_lab(self.cluster, lab, namespace=namespace, wait=True, on_progress=on_progress,
                         keep_namespace=self.keep_namespaces)

    def run_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str]) -> StepReport:
        from . import runner

        cluster = None if step.is_quiz else self.cluster  # a quiz needs no cluster
        return runner.run_step_checks(cluster, lab, step, namespace=namespace, answers=answers)  # type: ignore[arg-type]

    def settle_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str], seconds: float,
                      on_report: OnReport | None = None) -> StepReport:
        from . import runner

        return runner.settle_step_checks(self.cluster, lab, step, window=lambda spec: seconds, confirm=True,
                                         namespace=namespace, answers=answers, on_report=on_report)

    def watch_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str],
                     on_report: OnReport, stop: threading.Event) -> None:
        from . import runner

        runner.watch_step(self.cluster, lab, step, on_report=on_report, stop=stop, namespace=namespace, answers=answers)

    def namespace_note(self, lab: Lab, step: Step, *, namespace: str) -> str | None:
        """Why every check of `step` will fail whatever the learner did: the namespace is absent or
        being deleted (no wait changes that); None when it is there."""
        from .cluster.namespaces import is_terminating

        found = self.cluster.get("Namespace", namespace)
        if found is None:
            return (f"namespace {namespace} does not exist: the lab is not started (or was reset); "
                    f"`labrunner start {lab.id} {step.id}` sets this step up")
        if is_terminating(found):
            return (f"namespace {namespace} is being deleted (a reset under way?); once it is gone, "
                    f"`labrunner start {lab.id} {step.id}` sets this step up again")
        return None

    def may_use_namespace(self, namespace: str) -> bool:
        """True when `namespace` exists and this identity may read it: on a workshop seat, the labs of
        its workshop (a seat may `get` only its own namespaces)."""
        from .errors import Forbidden

        try:
            return self.cluster.get("Namespace", namespace) is not None
        except Forbidden:
            return False

    def capabilities(self, requires: Iterable[str]) -> dict[str, Capability]:
        """What the cluster offers of `requires` (lab requirements or capability names), by capability
        name (labrunner.capabilities: probed once per cluster, then kept)."""
        from .capabilities import capabilities, capability_of

        names = list(dict.fromkeys(capability_of(r) for r in requires))
        return {found.name: found for found in capabilities(self.cluster, names)}

    def list_namespace(self, namespace: str, *, kinds: Iterable[str]) -> dict[str, list[dict]]:
        """The objects of each of `kinds` in `namespace`, by kind."""
        from .cluster.watching import list_namespace

        return list_namespace(self.cluster, namespace, kinds=kinds)

    def watch_namespace(self, namespace: str, *, kinds: Iterable[str], on_change: Callable[[], None],
                        stop: threading.Event) -> None:
        """Call `on_change` (from other threads) on each change of `kinds` in `namespace` until `stop`; returns at once."""
        from .cluster.watching import watch_namespace

        watch_namespace(self.cluster, namespace, kinds=kinds, on_change=on_change, stop=stop)

    def delete_own_namespace(self, *, on_progress: OnProgress | None = None) -> None:
        """Delete labrunner's own namespace (the canary, the node and outside probes), waiting until it is gone."""
        from .checks.canary import CANARY_NAMESPACE
        from .cluster import delete_namespace

        delete_namespace(self.cluster, CANARY_NAMESPACE, wait=True, on_progress=on_progress)
