"""Fakes at our own boundary: a Cluster that answers get/list/create from dicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrunner.loader import load_curriculum

REPO = Path(__file__).resolve().parents[2]


class FakeCluster:
    """Stands in for labrunner.cluster.Cluster in pure-logic tests."""

    def __init__(self, objects: list[dict] | None = None):
        self.objects = list(objects or [])
        self.created: list[dict] = []
        self.review_answer: dict = {"allowed": False}

    def _matches(self, obj: dict, selector: str | None) -> bool:
        if not selector:
            return True
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(labels.get(k) == v for k, _, v in (part.partition("=") for part in selector.split(",")))

    def get(self, kind: str, name: str, *, namespace: str | None = None, api_version: str | None = None) -> dict | None:
        for obj in self.objects:
            meta = obj["metadata"]
            if obj["kind"] == kind and meta["name"] == name and meta.get("namespace") in (None, namespace):
                return obj
        return None

    def list(self, kind: str, *, namespace: str | None = None, selector: str | None = None, **_: object) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind and o["metadata"].get("namespace") in (None, namespace)
                and self._matches(o, selector)]

    def create(self, body: dict, **_: object) -> dict:
        self.created.append(body)
        return {**body, "status": self.review_answer}


@pytest.fixture
def curriculum():
    return load_curriculum(REPO / "labs" / "curriculum.yaml")


@pytest.fixture(autouse=True)
def _state_dir(tmp_path, monkeypatch):
    # Never touch the developer's own progress.
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nor its lab cache (labcache.py)


@pytest.fixture
def fake_cluster():
    """The FakeCluster class, to build with the objects a test needs."""
    return FakeCluster
