"""Which processes `testbed/down` counts as the testbed's, and may kill (testbed/lib/processes.py): pure logic."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTBED = Path(__file__).resolve().parents[2] / "testbed"
OURS, DOCKERS = "mnt:[4026531841]", "mnt:[4026532577]"
STATE, RUN = "/var/lib/labrunner-testbed", "/run/labrunner-testbed"
BUILT = "/home/learner/.cache/labrunner-testbed/kubernetes-v1.34.4/kubelet"  # a build under the testbed cache


@pytest.fixture
def processes(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTBED / "lib"))
    for name in ("config", "log", "processes"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import processes
    yield processes
    for name in ("config", "log", "processes"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("exe, cmd, mount_ns, ours", [
    # the testbed's own: its containerd and etcd (the system's binaries) by their folders, its builds by path
    ("/usr/bin/containerd", f"/usr/bin/containerd --config {STATE}/containerd/config.toml", OURS, True),
    ("/usr/bin/etcd", f"/usr/bin/etcd --data-dir={STATE}/etcd", OURS, True),
    ("/usr/bin/containerd-shim-runc-v2", f"shim -id x -address {RUN}/containerd/containerd.sock", OURS, True),
    (BUILT + " (deleted)", f"{BUILT} --config={STATE}/kubelet/config.yaml", OURS, True),
    # Docker's containerd in its own namespaces, and a kind node's, whose names and paths are the same
    ("/usr/bin/containerd", "containerd --config /run/docker/containerd/containerd.toml", DOCKERS, False),
    ("/usr/bin/containerd", "/usr/bin/containerd", DOCKERS, False),
    # the same system binary run by someone else beside the testbed, in its namespace
    ("/usr/bin/containerd", "/usr/bin/containerd", OURS, False),
    ("/usr/bin/containerd-shim-runc-v2", "shim -id x -address /run/containerd/containerd.sock", OURS, False),
    # a process naming the testbed's folder from another mount namespace (a kind node) is not ours either
    (BUILT, f"{BUILT} --root-dir={STATE}/kubelet", DOCKERS, False),
    ("/usr/bin/containerd", f"containerd --config {STATE}/containerd/config.toml", None, False),  # gone meanwhile
])
def test_only_the_testbeds_own_processes_match(processes, exe, cmd, mount_ns, ours):
    assert processes.is_testbed_process(exe, cmd, mount_ns, own_mount_ns=OURS, own_bins={BUILT},
                                        folders=(STATE, RUN)) is ours


def test_this_process_mount_namespace_is_read(processes):
    assert processes.mount_namespace().startswith("mnt:[") and processes.mount_namespace() == processes.mount_namespace("self")
    assert processes.mount_namespace(2 ** 22 + 7) is None  # no such process
