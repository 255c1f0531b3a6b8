"""The TUI's one boundary to the engine: every blocking call the app makes.

Screens call these only from thread workers. `ClusterBackend` forwards to the
engine (runner, cluster, checks); tests hand the app another Backend for
deterministic snapshots, never as proof that a check works.

The engine's cluster modules are imported inside the methods: they pull in the
kubernetes client (about half a second), which a worker thread can load while
the first screen is already painted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

from ..model import Lab, Step
from .resources import NamespaceView, view_of

if TYPE_CHECKING:
    from ..capabilities import Capability
    from ..cluster import Cluster
    from ..runner import StepReport


@dataclass(frozen=True)
class ClusterInfo:
    context: str  # kubeconfig context, or "" when none could be read
    server: str  # API server URL


class Backend(Protocol):
    def info(self) -> ClusterInfo: ...

    def ping(self) -> str: ...

    def features(self, requires: Iterable[str]) -> dict[str, Capability]:
        """What the cluster offers of what the labs `requires` (labrunner.capabilities), by capability name."""

    def start_step(self, lab: Lab, step: Step, *, namespace: str,
                   on_progress: Callable[[str], None] | None = None) -> None: ...

    def solve_step(self, lab: Lab, step: Step, *, namespace: str) -> str: ...

    def reset_step(self, lab: Lab, step: Step, *, namespace: str) -> None: ...

    def reset_lab(self, lab: Lab, *, namespace: str, on_progress: Callable[[str], None] | None = None) -> None: ...

    def run_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str]) -> StepReport: ...

    def watch_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str],
                     on_report: Callable[[StepReport], None], stop: threading.Event) -> None:
        """Report now and after each change until `stop`; reports with `settling` set come while
        a lagging check is re-checked (see runner.watch_step) and are no verdict."""

    def list_resources(self, namespace: str) -> NamespaceView: ...

    def watch_resources(self, namespace: str, *, on_change: Callable[[], None], stop: threading.Event) -> None:
        """Start noticing changes (returns at once); `on_change` is called from other threads."""


class ClusterBackend:
    """The engine on a real cluster. Connects lazily, so the first screen paints
    before any kubeconfig or network work, and a retry can reconnect."""

    def __init__(self, cluster: Cluster | None = None, *, kubeconfig: str | None = None, context: str | None = None):
        self._cluster = cluster
        self._kubeconfig = kubeconfig
        self._context = context
        self._lock = threading.Lock()

    @property
    def cluster(self) -> Cluster:
        from ..cluster import connect

        with self._lock:
            if self._cluster is None:
                self._cluster = connect(kubeconfig=self._kubeconfig, context=self._context)
            return self._cluster

    def info(self) -> ClusterInfo:
        from kubernetes import config as k8s_config

        context = self._context or (self._cluster.context if self._cluster else None) or ""
        if not context:
            try:
                _, active = k8s_config.list_kube_config_contexts(config_file=self._kubeconfig)
                context = active["name"]
            except Exception:  # no kubeconfig, or in-cluster config: show the server only
                context = ""
        try:
            server = self.cluster.configuration.host
        except Exception:  # an unusable kubeconfig; ping reports why
            server = ""
        return ClusterInfo(context, server)

    def ping(self) -> str:
        from ..cluster import ping

        try:
            return ping(self.cluster)
        except Exception:
            with self._lock:  # let a retry pick up a fixed kubeconfig
                self._cluster = None
            raise

    def features(self, requires: Iterable[str]) -> dict[str, Capability]:
        from ..capabilities import capabilities, capability_of

        names = list(dict.fromkeys(capability_of(r) for r in requires))
        return {found.name: found for found in capabilities(self.cluster, names)}

    def start_step(self, lab: Lab, step: Step, *, namespace: str,
                   on_progress: Callable[[str], None] | None = None) -> None:
        from .. import runner

        runner.start_step(self.cluster, lab, step, namespace=namespace, on_progress=on_progress)

    def solve_step(self, lab: Lab, step: Step, *, namespace: str) -> str:
        from .. import runner

        return runner.solve_step(self.cluster, lab, step, namespace=namespace)

    def reset_step(self, lab: Lab, step: Step, *, namespace: str) -> None:
        from .. import runner

        runner.reset_step(self.cluster, lab, step, namespace=namespace)

    def reset_lab(self, lab: Lab, *, namespace: str, on_progress: Callable[[str], None] | None = None) -> None:
        from .. import runner

        runner.reset_lab(self.cluster, lab, namespace=namespace, wait=True, on_progress=on_progress)

    def run_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str]) -> StepReport:
        from .. import runner

        cluster = None if step.is_quiz else self.cluster  # a quiz needs no cluster
        return runner.run_step_checks(cluster, lab, step, namespace=namespace, answers=answers)  # type: ignore[arg-type]

    def watch_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str],
                     on_report: Callable[[StepReport], None], stop: threading.Event) -> None:
        from .. import runner

        runner.watch_step(self.cluster, lab, step, on_report=on_report, stop=stop, namespace=namespace, answers=answers)

    def list_resources(self, namespace: str) -> NamespaceView:
        from ..cluster.watching import RESOURCE_KINDS

        cluster = self.cluster
        return view_of({kind: cluster.list(kind, namespace=namespace) for kind in RESOURCE_KINDS})

    def watch_resources(self, namespace: str, *, on_change: Callable[[], None], stop: threading.Event) -> None:
        from ..cluster.watching import watch_namespace

        watch_namespace(self.cluster, namespace, on_change=on_change, stop=stop)
