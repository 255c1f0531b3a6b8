"""A new namespace's `default` ServiceAccount, which every pod without a serviceAccountName runs as.

The kube-controller-manager's ServiceAccount controller makes it a moment after the namespace, and on
a brand-new cluster only once that controller has started. Until then the API server's
ServiceAccount admission refuses every pod in the namespace ("serviceaccount default not found"),
so whatever creates pods right after creating a namespace waits for it first.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ..errors import Forbidden, WaitTimedOut

if TYPE_CHECKING:
    from .client import Cluster

DEFAULT_SERVICE_ACCOUNT_WAIT = 60.0  # s: the controller answers in milliseconds once it runs
_seen: set[tuple[int, str]] = set()  # (cluster, namespace) already confirmed in this process
_seen_lock = threading.Lock()


def wait_for_default_service_account(cluster: Cluster, namespace: str, *,
                                     timeout: float = DEFAULT_SERVICE_ACCOUNT_WAIT) -> bool:
    """Wait until ServiceAccount `default` exists in `namespace`, at most `timeout` s. True when it
    does; False after the timeout (the pods' own error then says what is wrong). Confirmed once per
    cluster and namespace in this process."""
    from .waiting import wait_until

    key = (id(cluster), namespace)
    with _seen_lock:
        if key in _seen:
            return True
    try:
        wait_until(cluster, "ServiceAccount", namespace=namespace, name="default", predicate=bool,
                   describe=f"serviceaccount {namespace}/default", timeout=timeout)
    except WaitTimedOut:
        return False
    except Forbidden:
        return True  # this identity may not read ServiceAccounts (a workshop seat): nothing to wait on here
    with _seen_lock:
        _seen.add(key)
    return True
