"""The lab cache gives what a fresh load gives, and never a load that is out of date."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from labrunner import labcache, loader
from labrunner.checks import registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    """Files written a moment ago count as settled (see test_a_lab_file_changed_a_moment_ago_is_not_cached)."""
    monkeypatch.setattr(labcache, "RACY_SECONDS", 0)


@pytest.fixture
def labs(tmp_path) -> Path:
    """A labs folder of two shipped labs and the curriculum, to change at will."""
    root = tmp_path / "labs"
    root.mkdir()
    shutil.copy(REPO / "labs" / "curriculum.yaml", root)
    for lab in ("services", "netpol"):
        shutil.copytree(REPO / "labs" / lab, root / lab)
    return root


def cache_files() -> list[Path]:
    folder = Path(os.environ["XDG_CACHE_HOME"]) / "labrunner"
    return sorted(folder.glob("labs-*.pickle")) if folder.exists() else []


def no_fresh_load(monkeypatch) -> None:
    def fail(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("the labs were read again, not taken from the cache")

    monkeypatch.setattr(loader, "discover_labs", fail)


def test_a_cached_load_equals_a_fresh_one(labs, monkeypatch):
    fresh = loader.discover_labs(labs)
    assert labcache.load_labs_cached(labs) == fresh
    assert len(cache_files()) == 1
    no_fresh_load(monkeypatch)
    assert labcache.load_labs_cached(labs) == fresh


def test_a_changed_lab_file_is_read_again(labs):
    assert {lab.id for lab in labcache.load_labs_cached(labs).labs} == {"services", "netpol"}
    lab_file = labs / "services" / "lab.yaml"
    lab_file.write_text(lab_file.read_text().replace("\ntitle: ", "\ntitle: Changed ", 1))
    found = labcache.load_labs_cached(labs)
    assert next(lab for lab in found.labs if lab.id == "services").title.startswith("Changed ")


def test_a_lab_file_broken_after_caching_is_reported_broken(labs):
    labcache.load_labs_cached(labs)
    (labs / "netpol" / "lab.yaml").write_text("id: netpol\ntitle: [unclosed\n")
    report = labcache.load_labs_cached(labs)
    assert [b.name for b in report.broken] == ["netpol"]


def test_a_new_lab_folder_is_found(labs):
    labcache.load_labs_cached(labs)
    shutil.copytree(REPO / "labs" / "storage", labs / "storage")
    assert "storage" in {lab.id for lab in labcache.load_labs_cached(labs).labs}


def test_a_labs_folder_with_a_link_is_never_cached(labs):
    (labs / "services" / "link.md").symlink_to(labs / "services" / "lab.yaml")
    assert labcache.load_labs_cached(labs) == loader.discover_labs(labs)
    assert cache_files() == []


def test_with_check_plugins_installed_nothing_is_cached(labs, monkeypatch):
    monkeypatch.setattr(registry, "plugins_present", lambda: True)
    labcache.load_labs_cached(labs)
    assert cache_files() == []


def test_a_damaged_cache_file_is_replaced(labs, monkeypatch):
    labcache.load_labs_cached(labs)
    [cached] = cache_files()
    cached.write_bytes(b"not a pickle")
    assert labcache.load_labs_cached(labs) == loader.discover_labs(labs)
    no_fresh_load(monkeypatch)
    assert labcache.load_labs_cached(labs).labs  # rewritten whole: taken from the cache again


def test_an_unwritable_cache_folder_only_costs_the_cache(labs, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert labcache.load_labs_cached(labs) == loader.discover_labs(labs)


def test_a_lab_file_changed_a_moment_ago_is_not_cached(labs, monkeypatch):
    """On a file system whose clock ticks by the second, an edit within the same tick as the
    cached version would look unchanged: so a load is cached only once its files have settled."""
    monkeypatch.setattr(labcache, "RACY_SECONDS", 3600)
    assert labcache.load_labs_cached(labs) == loader.discover_labs(labs)
    assert cache_files() == []
