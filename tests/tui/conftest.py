"""TUI tests: a fake at the TUI's own boundary (`Backend`) for snapshots and
pure screen logic, and the live cluster (the fixture tests/live uses) for the
pilot tests that prove the flow works."""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from labrunner.checks import CheckResult, EventNote, Evidence
from labrunner.errors import ClusterUnreachable
from labrunner.loader import load_labs
from labrunner.model import Lab, Step
from labrunner.runner import StepReport, run_step_checks
from labrunner.tui.backend import ClusterInfo
from labrunner.tui.resources import NamespaceView, view_of

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Reuse the live tests' `cluster` fixture (skips without a reachable cluster; fails instead when CI is set).
_spec = importlib.util.spec_from_file_location("live_conftest", REPO / "tests" / "live" / "conftest.py")
_live = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_live)
cluster = _live.cluster


@pytest.fixture(autouse=True)
def _state_dir(tmp_path, monkeypatch):
    # Never touch the developer's own progress.
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nor its lab cache (labcache.py)


@pytest.fixture
def demo_labs() -> list[Lab]:
    return load_labs(HERE / "labs")


NAMESPACE_OBJECTS = {
    "Pod": [
        {"metadata": {"name": "web-5d9c7b7f4-abcde"}, "spec": {"containers": [{"name": "web"}]},
         "status": {"phase": "Running", "containerStatuses": [{"ready": True, "state": {"running": {}}}]}},
        {"metadata": {"name": "lr-probe-1a2b3c4d", "labels": {"labrunner.dev/probe": "true"}},
         "spec": {"containers": [{"name": "probe"}]},
         "status": {"phase": "Pending", "containerStatuses": [{"ready": False,
                                                                "state": {"waiting": {"reason": "ContainerCreating"}}}]}},
    ],
    "Service": [
        {"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
                                               "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}},
    ],
    "NetworkPolicy": [{"metadata": {"name": "default-deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}],
    "PersistentVolumeClaim": [{"metadata": {"name": "data"}, "spec": {"storageClassName": "standard"},
                               "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}],
}


class FakeBackend:
    """Answers like the engine on a cluster where the step is unsolved until
    `solve_step` runs; records what the app asked for."""

    def __init__(self, *, reachable: bool = True, features: dict | None = None, fail_solve: Exception | None = None,
                 settling: str = ""):
        self.reachable = reachable
        self.settling = settling  # a lag: the watch first reports the unsolved step as settling on it
        self.release = threading.Event()  # set by a test: the settling ends with the real verdict
        self.features_found = features if features is not None else {"networkpolicy": True}
        self.fail_solve = fail_solve
        self.solved: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self._changed = threading.Event()

    def info(self) -> ClusterInfo:
        return ClusterInfo("test-context", "https://10.0.0.1:6443")

    def ping(self) -> str:
        if not self.reachable:
            raise ClusterUnreachable("the Kubernetes API server at https://10.0.0.1:6443 does not answer (connection refused).")
        return "v1.34.4"

    def features(self, requires) -> dict:  # noqa: ANN001
        from labrunner.capabilities import Capability

        return {name: Capability(name, state, f"{name} {'present' if state else 'missing'}", "" if state else f"install {name}")
                for name, state in self.features_found.items()}

    def start_step(self, lab: Lab, step: Step, *, namespace: str, on_progress=None) -> None:  # noqa: ANN001
        self.calls.append(("start", step.id))
        if not self.reachable:
            self.ping()

    def solve_step(self, lab: Lab, step: Step, *, namespace: str) -> str:
        self.calls.append(("solve", step.id))
        if self.fail_solve:
            raise self.fail_solve
        self.solved.add(step.id)
        self._changed.set()
        return step.solution.explanation

    def reset_step(self, lab: Lab, step: Step, *, namespace: str, on_progress=None) -> None:  # noqa: ANN001
        self.calls.append(("reset-step", step.id))
        self.solved.discard(step.id)

    def reset_lab(self, lab: Lab, *, namespace: str, on_progress=None) -> None:  # noqa: ANN001
        self.calls.append(("reset-lab", lab.id))
        self.solved.clear()

    def run_checks(self, lab: Lab, step: Step, *, namespace: str, answers: dict[str, str]) -> StepReport:
        if step.is_quiz:
            return run_step_checks(None, lab, step, namespace=namespace, answers=answers)  # type: ignore[arg-type]
        solved = step.id in self.solved
        results = tuple(
            replace(CheckResult.passed("found") if solved else
                    CheckResult.failed(f"{spec.params.get('object', spec.id)} does not exist yet", ["looked in " + namespace],
                                       evidence=self.evidence(spec.params.get("object", spec.id), namespace)),
                    check_id=spec.id, title=spec.title)
            for spec in step.checks)
        return StepReport(lab.id, step.id, results)

    @staticmethod
    def evidence(obj: str, namespace: str) -> Evidence:
        """What the engine's object checks give with a fail: expected and observed, the events, a command."""
        kind, _, name = str(obj).partition("/")
        return Evidence("exists", "does not exist",
                        events=(EventNote("Warning", "FailedCreate", f"{kind} {name} was refused", f"{kind}/{name}", 2),),
                        commands=(f"kubectl -n {namespace} describe {kind.lower()} {name}",))

    def watch_checks(self, lab, step, *, namespace, answers, on_report, stop) -> None:  # noqa: ANN001
        if self.settling and not step.is_quiz:
            report = self.run_checks(lab, step, namespace=namespace, answers=answers)
            on_report(replace(report, results=tuple(r.while_settling(self.settling) for r in report.results)))
            while not stop.is_set() and not self.release.wait(0.05):
                pass
        while not stop.is_set():
            self._changed.clear()
            on_report(self.run_checks(lab, step, namespace=namespace, answers=answers))
            while not stop.is_set() and not self._changed.wait(0.05):
                pass

    def list_resources(self, namespace: str) -> NamespaceView:
        if not self.reachable:
            self.ping()
        return view_of(NAMESPACE_OBJECTS)

    def watch_resources(self, namespace: str, *, on_change, stop) -> None:  # noqa: ANN001
        pass


@pytest.fixture
def fake_backend():
    return FakeBackend
