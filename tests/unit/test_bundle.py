"""The offline bundle's pure logic (labrunner/offline/): image names in full, which images labs and
add-ons need, the platform chosen from an index, the manifest, the archive written whole or not at all,
and the per-node presence doctor proves. The registry is not faked here: tests/live/test_live_bundle.py
pulls from the testbed's real registry and loads into its real containerd."""

from __future__ import annotations

import errno
import hashlib
import json
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from labrunner.errors import UsageError
from labrunner.offline import BundleError, BundleManifest, BundledImage, images_needed, parse_ref, read_manifest
from labrunner.offline import writing
from labrunner.offline.contents import IMAGES_NAME, MANIFEST_NAME
from labrunner.offline.loading import NODE_STATUS_MAX_IMAGES, presence
from labrunner.offline.pulling import Pulled, choose_platform

ROOT = Path(__file__).resolve().parents[2]
PAUSE = "sha256:" + "7" * 64
OTHER = "sha256:" + "8" * 64


@pytest.mark.parametrize("written, full", [
    ("traefik:v3.7.13", "docker.io/library/traefik:v3.7.13"),
    ("openpolicyagent/gatekeeper:v3.23.1", "docker.io/openpolicyagent/gatekeeper:v3.23.1"),
    ("docker.io/library/traefik:v3.7.13", "docker.io/library/traefik:v3.7.13"),
    ("registry.k8s.io/e2e-test-images/agnhost:2.56", "registry.k8s.io/e2e-test-images/agnhost:2.56"),
    ("localhost/app", "localhost/app:latest"),
    ("127.0.0.1:5000/team/app:1", "127.0.0.1:5000/team/app:1"),
    ("busybox", "docker.io/library/busybox:latest"),
    (f"registry.k8s.io/pause@{PAUSE}", f"registry.k8s.io/pause@{PAUSE}"),
])
def test_names_are_spelled_in_full_as_docker_and_the_node_do(written, full):
    assert parse_ref(written).name == full


@pytest.mark.parametrize("bad", ["Traefik:v1", "registry.k8s.io/pause@sha256:abc", "app:bad tag", "registry.k8s.io/"])
def test_a_name_docker_would_refuse_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="image"):
        parse_ref(bad)


def test_images_needed_merges_one_image_named_two_ways_and_says_who_uses_it():
    labs = [SimpleNamespace(id="a", images=("traefik:v3.7.13", "registry.k8s.io/e2e-test-images/agnhost:2.56")),
            SimpleNamespace(id="b", images=("registry.k8s.io/e2e-test-images/agnhost:2.56",))]
    addons = [SimpleNamespace(name="ingress", spec=SimpleNamespace(images=("docker.io/library/traefik:v3.7.13",)))]
    found = images_needed(labs, addons, extra=["busybox:1.36"])
    assert list(found) == ["docker.io/library/busybox:1.36", "docker.io/library/traefik:v3.7.13",
                           "registry.k8s.io/e2e-test-images/agnhost:2.56"]
    assert found["docker.io/library/traefik:v3.7.13"] == ("traefik:v3.7.13", ("lab a", "add-on ingress"))
    assert found["registry.k8s.io/e2e-test-images/agnhost:2.56"][1] == ("lab a", "lab b")
    assert found["docker.io/library/busybox:1.36"][1] == ("asked for",)


INDEX = {"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"digest": "sha256:" + "1" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
    {"digest": "sha256:" + "2" * 64, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"digest": "sha256:" + "3" * 64, "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
]}


def test_the_platform_is_chosen_from_an_index_with_or_without_a_variant():
    assert choose_platform(INDEX, "linux/amd64", "x")["digest"] == "sha256:" + "1" * 64
    assert choose_platform(INDEX, "linux/arm64", "x")["digest"] == "sha256:" + "2" * 64
    assert choose_platform(INDEX, "linux/arm/v7", "x")["digest"] == "sha256:" + "3" * 64


def test_a_platform_the_index_lacks_is_an_error_naming_those_it_has():
    with pytest.raises(BundleError, match=r"no linux/s390x image of it \(it has: linux/amd64, linux/arm64/v8, linux/arm/v7\)"):
        choose_platform(INDEX, "linux/s390x", "image x")


def _manifest(*images: BundledImage) -> BundleManifest:
    return BundleManifest(labrunner="0.1.0", platform="linux/amd64", source="upstream", labs=("netpol",),
                          addons=(), images=images)


PAUSE_IMAGE = BundledImage("registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10.1", PAUSE, 400, ("asked for",))


def test_the_manifest_reads_back_what_was_written():
    manifest = _manifest(PAUSE_IMAGE)
    assert BundleManifest.from_json(manifest.to_json(), "f") == manifest


@pytest.mark.parametrize("text, said", [
    ("not json", "is not JSON"),
    ('{"format": 9}', "field format: expected 1, found 9"),
    ('{"format": 1, "labrunner": "x"}', "missing or wrong field"),
])
def test_a_bad_manifest_is_a_usage_error_naming_the_file_and_field(text, said):
    with pytest.raises(UsageError, match=said) as caught:
        BundleManifest.from_json(text, "room.tar")
    assert str(caught.value).startswith("room.tar: ")


def test_a_file_that_is_no_bundle_is_said_so(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_manifest(tmp_path / "absent.tar")
    (tmp_path / "junk.tar").write_bytes(b"junk" * 100)
    with pytest.raises(UsageError, match="cannot read it as a labrunner bundle"):
        read_manifest(tmp_path / "junk.tar")
    with tarfile.open(tmp_path / "other.tar", "w") as tar:
        tar.add(ROOT / "pyproject.toml", arcname="pyproject.toml")
    with pytest.raises(UsageError, match="not a labrunner bundle .*pyproject.toml"):
        read_manifest(tmp_path / "other.tar")


def _node(name: str, *images: list[str]) -> dict:
    return {"metadata": {"name": name}, "status": {"images": [{"names": list(n), "sizeBytes": 1} for n in images]}}


def test_presence_is_proven_by_the_digest_on_every_node():
    manifest = _manifest(PAUSE_IMAGE)
    both = ["registry.k8s.io/pause:3.10.1", f"registry.k8s.io/pause@{PAUSE}"]
    found = presence([_node("a", both), _node("b", ["registry.k8s.io/pause:3.10.1", f"registry.k8s.io/pause@{OTHER}"]),
                      _node("c", ["registry.k8s.io/pause:3.10.1"]), _node("d", ["registry.k8s.io/other:1"])], manifest)
    assert [(p.node, p.ok) for p in found] == [("a", True), ("b", False), ("c", False), ("d", False)]
    assert "another digest (sha256:888888888888)" in found[1].detail
    assert "tag only" in found[2].detail
    assert found[3].detail == "not on the node"


def test_a_node_listing_kubelets_maximum_of_images_cannot_tell_an_absent_one():
    full = [[f"example.org/img{i}:1"] for i in range(NODE_STATUS_MAX_IMAGES)]
    (found,) = presence([_node("a", *full)], _manifest(PAUSE_IMAGE))
    assert found.ok is None and "cannot tell" in found.detail


def test_the_curriculum_order_is_cut_to_the_bundled_labs_keeping_comments():
    text = "# why\ntopics: {}\norder: [a, b, c]  \n# after\n"
    assert writing.curriculum_for(text, ["c", "a"]) == "# why\ntopics: {}\norder: [a, c]\n# after\n"
    assert "- c" in writing.curriculum_for("order:\n  - b\n  - c\n", ["c"])


# -- the archive, with the pull (labrunner's own boundary) replaced by one that writes known blobs --

def _fake_pull(fail_at: str | None = None, exc: BaseException | None = None):
    def pull(ref, platform, layout, *, mirror=None):
        if fail_at and ref.name == fail_at:
            raise exc
        blobs = layout / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        layer = ref.name.encode()
        (blobs / hashlib.sha256(layer).hexdigest()).write_bytes(layer)
        body = json.dumps({"schemaVersion": 2, "layers": [{"digest": f"sha256:{hashlib.sha256(layer).hexdigest()}"}]}).encode()
        digest = hashlib.sha256(body).hexdigest()
        (blobs / digest).write_bytes(body)
        return Pulled("application/vnd.oci.image.manifest.v1+json", f"sha256:{digest}", len(body), len(body) + len(layer))
    return pull


def _netpol():
    from labrunner.loader import discover_labs

    return [lab for lab in discover_labs(ROOT / "labs").labs if lab.id == "netpol"]


def test_the_archive_holds_the_manifest_first_the_labs_and_every_image_named_by_tag_and_digest(tmp_path, monkeypatch):
    monkeypatch.setattr(writing, "pull_image", _fake_pull())
    target = tmp_path / "room.tar"
    labs = _netpol()
    manifest = writing.write_bundle(target, labs, [], labs_root=ROOT / "labs", platform="linux/amd64",
                                    extra=["busybox:1.36"], say=lambda _: None)
    assert [i.name for i in manifest.images] == ["docker.io/library/busybox:1.36", "registry.k8s.io/e2e-test-images/agnhost:2.56"]
    assert read_manifest(target) == manifest
    with tarfile.open(target) as tar:
        names = tar.getnames()
        assert names[0] == MANIFEST_NAME
        assert "labs/netpol/lab.yaml" in names and "labs/curriculum.yaml" in names
        assert not any("__pycache__" in n for n in names)
        assert all(m.uid == 0 and m.uname == "" for m in tar.getmembers())
        assert "order: [netpol]" in tar.extractfile("labs/curriculum.yaml").read().decode()
        inner = tmp_path / "oci.tar"
        inner.write_bytes(tar.extractfile(IMAGES_NAME).read())
    with tarfile.open(inner) as oci:
        index = json.loads(oci.extractfile("index.json").read())
        assert json.loads(oci.extractfile("oci-layout").read()) == {"imageLayoutVersion": "1.0.0"}
        blobs = {n.rpartition("/")[2] for n in oci.getnames() if n.startswith("blobs/sha256/")}
    named = [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]]
    busybox = manifest.images[0]
    assert named[:2] == [busybox.name, f"docker.io/library/busybox@{busybox.digest}"]
    assert all(m["platform"] == {"os": "linux", "architecture": "amd64"} for m in index["manifests"])
    assert {m["digest"].partition(":")[2] for m in index["manifests"]} <= blobs
    assert target.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["oci.tar", "room.tar"]


@pytest.mark.parametrize("exc, said", [
    (BundleError("image x: not in the registry"), "not in the registry"),
    (OSError(errno.ENOSPC, "No space left on device"), "is full"),
    (KeyboardInterrupt(), None),
])
def test_a_failed_or_interrupted_run_leaves_no_archive_and_no_partial_file(tmp_path, monkeypatch, exc, said):
    monkeypatch.setattr(writing, "pull_image", _fake_pull("registry.k8s.io/e2e-test-images/agnhost:2.56", exc))
    target = tmp_path / "room.tar"
    target.write_text("the bundle of yesterday")  # a finished bundle is replaced only by a finished one
    raised = BundleError if said else KeyboardInterrupt
    with pytest.raises(raised) as caught:
        writing.write_bundle(target, _netpol(), [], labs_root=ROOT / "labs", platform="linux/amd64",
                             extra=["busybox:1.36"], say=lambda _: None)
    if said:
        assert said in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["room.tar"]
    assert target.read_text() == "the bundle of yesterday"


def test_a_folder_or_a_missing_folder_as_the_target_is_said_before_any_pull(tmp_path, monkeypatch):
    monkeypatch.setattr(writing, "pull_image", _fake_pull("docker.io/library/busybox:1.36", AssertionError("pulled")))
    with pytest.raises(BundleError, match="is a folder"):
        writing.write_bundle(tmp_path, [], [], labs_root=ROOT / "labs", platform="linux/amd64", extra=["busybox:1.36"])
    with pytest.raises(BundleError, match="does not exist"):
        writing.write_bundle(tmp_path / "no" / "room.tar", [], [], labs_root=ROOT / "labs", platform="linux/amd64",
                             extra=["busybox:1.36"])


# -- the faces: `up --from` (fake docker and kind on PATH, as tests/unit/test_kind_up.py), `bundle-load` --

def test_up_from_a_bundle_loads_its_archive_into_kind_and_pulls_nothing(tmp_path, monkeypatch, capsys):
    from test_kind_up import PLAIN, Tools, up_args

    from labrunner import kindcluster

    monkeypatch.setattr(writing, "pull_image", _fake_pull())
    bundle = tmp_path / "room.tar"
    writing.write_bundle(bundle, _netpol(), [], labs_root=ROOT / "labs", platform="linux/amd64",
                         extra=["example.org/local:1"], say=lambda _: None)
    tools = Tools(tmp_path, monkeypatch)
    assert kindcluster.command_up(up_args(tmp_path, bundle=bundle), [PLAIN]) == 0
    assert tools.ran("docker", "pull") == [] and tools.ran("kind", "load", "docker-image") == []
    assert len(tools.ran("kind", "load", "image-archive", "--name", "labrunner")) == 1
    assert "example.org/local:1" in tools.state["node_images"]
    out = capsys.readouterr().out
    assert "Loading the bundle's 2 images into the nodes (linux/amd64, no network)" in out
    assert "not in the bundle: example.org/nowhere:1, example.org/pullable:1" in out


def test_up_from_a_file_that_is_no_bundle_stops_before_any_cluster(tmp_path, monkeypatch):
    from test_kind_up import PLAIN, Tools, up_args

    from labrunner import kindcluster

    tools = Tools(tmp_path, monkeypatch)
    (tmp_path / "junk.tar").write_text("junk")
    with pytest.raises(UsageError, match="junk.tar"):
        kindcluster.command_up(up_args(tmp_path, bundle=tmp_path / "junk.tar"), [PLAIN])
    assert tools.argv == []


def test_bundle_load_needs_exactly_one_place_to_load_into(tmp_path, capsys):
    from labrunner.cli import main

    assert main(["bundle-load", str(tmp_path / "room.tar")]) == 2
    assert "--kind CLUSTER or --containerd SOCKET" in capsys.readouterr().err
    assert main(["bundle-load", str(tmp_path / "room.tar"), "--kind", "k"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_bundle_refuses_an_unknown_lab_and_a_bad_platform(tmp_path, capsys):
    from labrunner.cli import main

    assert main(["--labs", str(ROOT / "labs"), "bundle", str(tmp_path / "r.tar"), "--labs", "nosuch"]) == 2
    assert "no lab nosuch" in capsys.readouterr().err
    assert main(["--labs", str(ROOT / "labs"), "bundle", str(tmp_path / "r.tar"), "--platform", "amd64"]) == 2
    assert "expected linux/ARCH" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
