"""The TUI's one boundary to the engine: every blocking call the app makes.

Screens call these only from thread workers. A lab's verbs go through a
`session.LabSession` whose cluster half is the backend (`actions.StepActions`);
the rest is what only the TUI shows (the cluster's name, its features, the
namespace's objects). `ClusterBackend` is the engine on a real cluster; tests
hand the app another Backend for deterministic snapshots, never as proof that a
check works.

The engine's cluster modules are imported inside the methods: they pull in the
kubernetes client (about half a second), which a worker thread can load while
the first screen is already painted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Protocol

from ..actions import ClusterActions, StepActions, connect_cluster, ping_cluster
from .resources import RESOURCE_KINDS, NamespaceView, view_of

if TYPE_CHECKING:
    from ..capabilities import Capability


@dataclass(frozen=True)
class ClusterInfo:
    context: str  # kubeconfig context, or "" when none could be read
    server: str  # API server URL


class Backend(StepActions, Protocol):
    def info(self) -> ClusterInfo: ...

    def ping(self) -> str: ...

    def features(self, requires: Iterable[str]) -> dict[str, Capability]:
        """What the cluster offers of what the labs `requires` (labrunner.capabilities), by capability name."""

    def list_resources(self, namespace: str) -> NamespaceView: ...

    def watch_resources(self, namespace: str, *, on_change: Callable[[], None], stop: threading.Event) -> None:
        """Start noticing changes (returns at once); `on_change` is called from other threads."""


class ClusterBackend(ClusterActions):
    """The engine on a real cluster. Connects lazily, so the first screen paints
    before any kubeconfig or network work, and a retry can reconnect."""

    def __init__(self, cluster=None, *, kubeconfig: str | None = None, context: str | None = None,  # noqa: ANN001
                 keep_namespaces: bool = False):
        super().__init__(cluster, connect=lambda: connect_cluster(kubeconfig=kubeconfig, context=context, ping=False),
                         keep_namespaces=keep_namespaces)
        self._kubeconfig = kubeconfig
        self._context = context

    def info(self) -> ClusterInfo:
        from kubernetes import config as k8s_config

        context = self._context or (self.connected.context if self.connected else None) or ""
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
        try:
            return ping_cluster(self.cluster)
        except Exception:
            self.forget()  # let a retry pick up a fixed kubeconfig
            raise

    def features(self, requires: Iterable[str]) -> dict[str, Capability]:
        return self.capabilities(requires)

    def list_resources(self, namespace: str) -> NamespaceView:
        return view_of(self.list_namespace(namespace, kinds=RESOURCE_KINDS))

    def watch_resources(self, namespace: str, *, on_change: Callable[[], None], stop: threading.Event) -> None:
        self.watch_namespace(namespace, kinds=RESOURCE_KINDS, on_change=on_change, stop=stop)
