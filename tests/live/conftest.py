"""Live tests: a real cluster from KUBECONFIG; skipped cleanly without one, except in CI.

When the environment variable CI is set (as every CI service sets it), a missing or unreachable
cluster fails the live tests instead: a CI run whose cluster broke must not pass by skipping.
Each test gets its own namespace (like kr8s's `ns` fixture), deleted after.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path

import pytest
import yaml

from labrunner.checks import CheckContext, CheckResult, check_kinds, run_check
from labrunner.cluster import apply_manifests, connect, delete_namespace, ensure_namespace, ping, wait_for_condition
from labrunner.errors import LabrunnerError
from labrunner.model import CheckSpec, Difficulty, Lab, Manifest, Step

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.56"


def no_cluster(reason: str) -> None:
    """Skip the live test for `reason`; in CI (the variable CI set and not "false" or "0"), fail it."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set, so live tests must run, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def kubectl() -> str:
    """The kubectl on PATH, which evidence's reproduce commands call; without one, `no_cluster` skips or,
    in CI, fails the test."""
    found = shutil.which("kubectl")
    if found is None:
        no_cluster("kubectl is not on PATH: the reproduce commands are kubectl commands")
    return found


def reachable_cluster():
    """The cluster of KUBECONFIG (or ~/.kube/config), answering; else `no_cluster` skips or fails."""
    if not os.environ.get("KUBECONFIG") and not Path("~/.kube/config").expanduser().exists():
        no_cluster("no KUBECONFIG: live tests need a cluster")
    try:
        # KUBECONFIG as it is now: the client library reads its default only once, at import.
        found = connect(kubeconfig=os.environ.get("KUBECONFIG") or None)
        ping(found, timeout=5)
    except LabrunnerError as exc:
        no_cluster(f"no reachable cluster: {exc}")
    return found


@pytest.fixture(scope="session")
def cluster():
    return reachable_cluster()


def make_lab(lab_id: str = "live") -> Lab:
    step = Step(id="s", title="S", text="", text_path=None)
    return Lab(id=lab_id, title="Live", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(),
               requires=(), images=(AGNHOST,), steps=(step,), path=Path("."))


class LiveNamespace:
    """A throwaway namespace with helpers to apply YAML and run one check."""

    def __init__(self, cluster, name: str):
        self.cluster = cluster
        self.name = name
        self.lab = make_lab(name[:40].rstrip("-"))

    def apply(self, text: str) -> list[dict]:
        docs = tuple(d for d in yaml.safe_load_all(text) if d)
        return apply_manifests(self.cluster, [Manifest(Path("test.yaml"), docs)], namespace=self.name, lab_id=self.lab.id)

    def check(self, kind: str, **params) -> CheckResult:
        problems = check_kinds()[kind].problems(params)
        assert not problems, problems
        ctx = CheckContext(cluster=self.cluster, namespace=self.name, lab=self.lab, step=self.lab.steps[0])
        return run_check(ctx, CheckSpec(id="live", kind=kind, params=params))

    def check_settled(self, kind: str, **params) -> CheckResult:
        """`check`, run again while it fails and the kind's lagging truth may explain it (its
        `settles_within` seconds), as `check --wait` does: for a check right after a change."""
        deadline = time.monotonic() + check_kinds()[kind].settles_within
        while True:
            result = self.check(kind, **params)
            if result.ok or not check_kinds()[kind].lags or time.monotonic() > deadline:
                return result
            time.sleep(0.5)

    def wait_ready(self, kind: str, name: str, condition: str = "Available", timeout: float = 120) -> None:
        wait_for_condition(self.cluster, kind, name, condition=condition, namespace=self.name, timeout=timeout)


@pytest.fixture
def ns(cluster, request):
    # A DNS label: a parametrized test's id brings brackets and other characters.
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:30].strip("-")
    name = f"lt-{stem}-{uuid.uuid4().hex[:5]}"
    ensure_namespace(cluster, name, lab_id="live-tests")
    yield LiveNamespace(cluster, name)
    delete_namespace(cluster, name)
