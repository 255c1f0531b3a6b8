"""The offline bundle's round trip on the testbed: `labrunner bundle` pulls from the testbed's registry
mirror (the only registry CI has), `labrunner bundle-load` imports the archive into the testbed's
containerd with no network, and `labrunner doctor --bundle` then shows every image of the bundle on
every node, by digest. Before the load, the same doctor shows the test's own image missing: the proof
can fail.

The test's own image is the testbed's pause image copied in the mirror to a repository of its own
(`registry.k8s.io/labrunner-bundle-test/pause:<random>`), so its presence on the node is new; the test
removes it from containerd afterwards (the mirror keeps the tag: a few hundred bytes, blobs shared).
Needs the testbed (testbed/up): its mirror, its containerd socket, crane from its builds, and `ctr`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import no_cluster

REPO = Path(__file__).resolve().parents[2]
TEST_REPOSITORY = "registry.k8s.io/labrunner-bundle-test/pause"


@pytest.fixture(scope="module")
def testbed():
    """(config of testbed/lib, mirror URL, containerd socket); no_cluster when this is not the testbed."""
    sys.path.insert(0, str(REPO / "testbed" / "lib"))
    try:
        import config
    finally:
        sys.path.remove(str(REPO / "testbed" / "lib"))
    cfg = config.load_config()
    socket = cfg.paths.run / "containerd" / "containerd.sock"
    if not socket.exists():
        no_cluster(f"no testbed containerd at {socket}: the bundle round trip runs on the testbed (testbed/up)")
    if shutil.which("ctr") is None:
        no_cluster("ctr (containerd's client) is not installed")
    return cfg, f"http://{cfg.net['registry_addr']}", socket


def labrunner(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LABRUNNER_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "labrunner.cli", "--labs", str(REPO / "labs"), *args],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd=REPO)


def crane(cfg, *args: str) -> str:  # noqa: ANN001
    done = subprocess.run([str(cfg.binary("crane")), "--insecure", *args], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def bundle_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "] bundle image " in line]


def test_a_bundle_is_made_from_the_mirror_loaded_into_the_node_and_proven_there(cluster, testbed, tmp_path):
    from labrunner.offline import read_manifest

    cfg, mirror, socket = testbed
    tag = f"bundle-{uuid.uuid4().hex[:10]}"
    mine = f"{TEST_REPOSITORY}:{tag}"
    pause = cfg.image("pause")
    registry = cfg.net["registry_addr"]
    crane(cfg, "copy", f"{registry}/{pause}", f"{registry}/{mine}")
    digest = crane(cfg, "digest", f"{registry}/{mine}")
    bundle = tmp_path / "room.tar"
    ctr = ["ctr", "--address", str(socket), "--namespace", "k8s.io"]
    try:
        started = time.monotonic()
        made = labrunner(tmp_path, "bundle", str(bundle), "--labs", "netpol", "ingress", "--image", mine, "--mirror", mirror)
        print(f"bundle: {time.monotonic() - started:.1f} s, {bundle.stat().st_size / 1e6:.1f} MB" if bundle.exists() else "")
        assert made.returncode == 0, made.stderr
        manifest = read_manifest(bundle)
        by_name = {i.name: i for i in manifest.images}
        assert set(by_name) == {"docker.io/library/traefik:v3.7.13", "registry.k8s.io/e2e-test-images/agnhost:2.56",
                                mine}  # the ingress add-on's image comes along with the ingress lab
        assert by_name[mine].digest == digest and manifest.platform.startswith("linux/")
        assert manifest.labs == ("netpol", "ingress") and manifest.addons == ("ingress",)

        before = labrunner(tmp_path, "doctor", "--bundle", str(bundle))
        lines = bundle_lines(before.stdout)
        assert any(line.startswith("[FAIL]") and mine in line and "not on the node" in line for line in lines), before.stdout
        assert before.returncode == 3

        loaded = labrunner(tmp_path, "bundle-load", str(bundle), "--containerd", str(socket))
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        listed = subprocess.run([*ctr, "images", "ls", "-q"], capture_output=True, text=True, check=True).stdout.split()
        assert mine in listed and f"{TEST_REPOSITORY}@{digest}" in listed

        # kubelet refreshes its image list every 30 s and reports it with the node's status (every 10 s):
        # wait with the engine's own reading (cheap), then ask doctor once.
        from labrunner.offline.loading import presence

        loaded_at = time.monotonic()
        while not all(p.ok for p in presence(cluster.list("Node"), manifest)) and time.monotonic() < loaded_at + 240:
            time.sleep(3)
        print(f"kubelet reported every image {time.monotonic() - loaded_at:.0f} s after the load")
        nodes = cluster.list("Node")
        after = labrunner(tmp_path, "doctor", "--bundle", str(bundle))
        lines = bundle_lines(after.stdout)
        assert len(lines) == len(manifest.images) * len(nodes), after.stdout
        assert all(line.startswith("[ ok ]") for line in lines), after.stdout
        assert any(mine in line and f"present ({digest[:19]})" in line for line in lines)
    finally:
        subprocess.run([*ctr, "images", "rm", mine, f"{TEST_REPOSITORY}@{digest}"], capture_output=True, check=False)


def test_an_image_missing_from_the_registry_is_said_and_leaves_no_file(testbed, tmp_path):
    _, mirror, _ = testbed
    bundle = tmp_path / "room.tar"
    missing = f"{TEST_REPOSITORY}:absent-{uuid.uuid4().hex[:10]}"
    made = labrunner(tmp_path, "bundle", str(bundle), "--labs", "netpol", "--image", missing, "--mirror", mirror)
    assert made.returncode == 3, made.stdout + made.stderr
    assert f"image {missing} (from the mirror {mirror}): not in the registry" in made.stderr
    assert "Traceback" not in made.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "state") == []


def test_a_multi_platform_index_is_bundled_as_the_one_platform_asked_for(testbed, tmp_path):
    """An image the registry serves as an index of two platforms: the bundle holds the asked platform's
    manifest alone (by its own digest), never the index, so `kind load image-archive` finds every blob it
    names; a platform the index lacks is an error naming those it has."""
    import json
    import tarfile

    from labrunner.offline import read_manifest
    from labrunner.offline.contents import IMAGES_NAME

    cfg, mirror, _ = testbed
    registry = cfg.net["registry_addr"]
    tag = f"index-{uuid.uuid4().hex[:10]}"
    base = f"{registry}/{TEST_REPOSITORY}:{tag}"
    crane(cfg, "copy", f"{registry}/{cfg.image('pause')}", f"{base}-amd64")
    crane(cfg, "mutate", f"{base}-amd64", "--set-platform", "linux/arm64", "-t", f"{base}-arm64")
    crane(cfg, "index", "append", "-m", f"{base}-amd64", "-m", f"{base}-arm64", "-t", base)
    index = json.loads(crane(cfg, "manifest", base))
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json" and len(index["manifests"]) == 2
    per_platform = {m["platform"]["architecture"]: m["digest"] for m in index["manifests"]}
    image = f"{TEST_REPOSITORY}:{tag}"
    for arch in ("amd64", "arm64"):
        bundle = tmp_path / f"{arch}.tar"
        made = labrunner(tmp_path, "bundle", str(bundle), "--labs", "netpol", "--image", image, "--mirror", mirror,
                         "--platform", f"linux/{arch}")
        assert made.returncode == 0, made.stderr
        manifest = read_manifest(bundle)
        (mine,) = [i for i in manifest.images if i.name == image]
        assert mine.digest == per_platform[arch] and manifest.platform == f"linux/{arch}"
        with tarfile.open(bundle) as tar:
            inner = tmp_path / f"{arch}-oci.tar"
            inner.write_bytes(tar.extractfile(IMAGES_NAME).read())
        with tarfile.open(inner) as oci:
            entries = [m for m in json.loads(oci.extractfile("index.json").read())["manifests"]
                       if m["annotations"]["io.containerd.image.name"].startswith(TEST_REPOSITORY)]
            blobs = {n.rpartition("/")[2] for n in oci.getnames()}
            body = json.loads(oci.extractfile(f"blobs/sha256/{per_platform[arch][7:]}").read())
        assert {m["digest"] for m in entries} == {per_platform[arch]}
        assert all(m["mediaType"].endswith("manifest.v1+json") for m in entries)
        assert {d["digest"][7:] for d in [body["config"], *body["layers"]]} <= blobs
    made = labrunner(tmp_path, "bundle", str(tmp_path / "s390x.tar"), "--labs", "netpol", "--image", image,
                     "--mirror", mirror, "--platform", "linux/s390x")
    assert made.returncode == 3
    assert "has no linux/s390x image of it (it has: linux/amd64, linux/arm64)" in made.stderr
    assert not (tmp_path / "s390x.tar").exists()
