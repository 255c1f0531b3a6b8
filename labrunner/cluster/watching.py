"""Notice changes in a namespace: list, then watch from that list's resourceVersion, again and again.

One list-and-watch loop for every face: the TUI's resource panel calls it for the kinds it shows.
Built from `Cluster.list_with_version` and `Cluster.watch` (a list's resourceVersion is where
the watch starts, so no change between the two is missed; a stream that ends or breaks starts over
with a new list, as client-go's reflector does).
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable

from ..errors import LabrunnerError
from .client import Cluster


def list_namespace(cluster: Cluster, namespace: str, *, kinds: Iterable[str]) -> dict[str, list[dict]]:
    """The objects of each kind in `namespace`, by kind. Raises LabrunnerError as Cluster.list does."""
    return {kind: cluster.list(kind, namespace=namespace) for kind in kinds}


def watch_namespace(cluster: Cluster, namespace: str, *, kinds: Iterable[str], on_change: Callable[[], None],
                    stop: threading.Event) -> None:
    """Call `on_change` (from watch threads) on every event of `kinds` in `namespace` until `stop` is set.

    Returns at once: the watches run in daemon threads, so a quitting app never
    waits for a stream to time out.
    """
    for kind in kinds:
        threading.Thread(target=_watch_kind, args=(cluster, kind, namespace, on_change, stop), daemon=True,
                         name=f"labrunner-watch-{kind}").start()


def watch_selector(cluster: Cluster, kind: str, *, selector: str, on_change: Callable[[], None],
                   stop: threading.Event, namespace: str | None = None) -> None:
    """Call `on_change` (from a watch thread) on every event of `kind` objects matching label `selector`
    (in every namespace when `namespace` is None) until `stop` is set. Returns at once, as watch_namespace."""
    threading.Thread(target=_watch_kind, args=(cluster, kind, namespace, on_change, stop), kwargs={"selector": selector},
                     daemon=True, name=f"labrunner-watch-{kind}").start()


def _watch_kind(cluster: Cluster, kind: str, namespace: str | None, on_change: Callable[[], None],
                stop: threading.Event, selector: str | None = None) -> None:
    while not stop.is_set():
        try:
            _, version = cluster.list_with_version(kind, namespace=namespace, selector=selector)
            for _event in cluster.watch(kind, namespace=namespace, selector=selector, resource_version=version,
                                        timeout=20):
                if stop.is_set():
                    break
                on_change()
        except LabrunnerError:
            stop.wait(3)  # the cluster blinked or the kind is missing; try again later
