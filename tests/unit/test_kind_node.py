"""The kind node image's own pieces (testbed/kind, testbed/lib/kindnode.py): the runc wrapper that
drops CAP_SYS_RESOURCE and the image archive format. Pure logic: no Docker, no Go, no cluster; the
real proof is `make kind-test`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

TESTBED = Path(__file__).resolve().parents[2] / "testbed"
WRAPPER = TESTBED / "kind" / "runc-without-sys-resource"
CAPS = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]

needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="the wrapper needs jq (the node image has it)")


def _run_wrapper(tmp_path: Path, *args: str) -> list[str]:
    """Runs the wrapper with a stand-in runc that records its arguments; returns them."""
    fake = tmp_path / "fake-runc"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {tmp_path}/args\n")
    fake.chmod(0o755)
    subprocess.run([str(WRAPPER), *args], check=True, env={**os.environ, "LABRUNNER_REAL_RUNC": str(fake)})
    return (tmp_path / "args").read_text().split("\n")[:-1]


@needs_jq
def test_create_drops_sys_resource_from_every_set_of_the_bundle_and_passes_the_arguments_on(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    spec = {"ociVersion": "1.0.2", "process": {"args": ["sh"], "capabilities": {
        "bounding": CAPS, "effective": CAPS, "permitted": CAPS}}}
    (bundle / "config.json").write_text(json.dumps(spec))
    args = ["--root", "/run/x", "create", "--bundle", str(bundle), "--pid-file", "p", "ctr1"]
    assert _run_wrapper(tmp_path, *args) == args
    caps = json.loads((bundle / "config.json").read_text())["process"]["capabilities"]
    assert caps == {k: ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"] for k in ("bounding", "effective", "permitted")}


@needs_jq
def test_exec_drops_it_from_the_process_file(tmp_path):
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["ls"], "capabilities": {"bounding": CAPS}}))
    _run_wrapper(tmp_path, "exec", f"--process={process}", "ctr1")
    assert json.loads(process.read_text())["capabilities"] == {"bounding": [c for c in CAPS if c != "CAP_SYS_RESOURCE"]}


@needs_jq
def test_a_spec_without_capabilities_and_other_commands_are_left_alone(tmp_path):
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"process": {"args": ["sh"]}}))
    _run_wrapper(tmp_path, "create", "-b", str(bundle), "c")
    assert json.loads((bundle / "config.json").read_text()) == {"process": {"args": ["sh"]}}
    assert _run_wrapper(tmp_path, "state", "c") == ["state", "c"]


@pytest.fixture
def kindnode(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTBED / "lib"))
    names = ("config", "log", "build", "images", "kindnode")
    for name in names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    import kindnode as module
    yield module
    for name in names:
        sys.modules.pop(name, None)


def test_an_image_archive_is_in_docker_save_format_with_its_layers_in_order(kindnode, tmp_path):
    bottom = kindnode.binary_layer({"usr/local/bin/a": b"A"})
    top = kindnode.binary_layer({"b": b"B"})
    path = tmp_path / "img.tar"
    kindnode.write_archive(path, "registry.k8s.io/x:v1", [bottom, top], entrypoint=["/b"])
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        config = json.load(tar.extractfile(manifest[0]["Config"]))
        layers = [tar.extractfile(name).read() for name in manifest[0]["Layers"]]
    assert manifest[0]["RepoTags"] == ["registry.k8s.io/x:v1"]
    assert layers == [bottom, top]
    assert config["config"]["Entrypoint"] == ["/b"] and config["rootfs"]["type"] == "layers"
    assert len(config["rootfs"]["diff_ids"]) == 2
    with tarfile.open(fileobj=__import__("io").BytesIO(bottom)) as layer:
        assert {m.name: m.isdir() for m in layer.getmembers()} == {
            "usr": True, "usr/local": True, "usr/local/bin": True, "usr/local/bin/a": False}


def test_go_names_a_major_version_package_after_the_element_before_it(kindnode):
    import config
    assert config.binary_name("go.etcd.io/etcd/server/v3@v3.6.5") == "server"
    assert config.binary_name("sigs.k8s.io/kind@v0.33.0") == "kind"
    assert config.binary_name("k8s.io/kubernetes/cmd/kubeadm") == "kubeadm"


def test_image_names_are_normalized_as_containerd_lists_them(kindnode):
    assert kindnode.normalized("traefik:v3.7.13") == "docker.io/library/traefik:v3.7.13"
    assert kindnode.normalized("kindest/node:v1") == "docker.io/kindest/node:v1"
    assert kindnode.normalized("registry.k8s.io/pause:3.10.1") == "registry.k8s.io/pause:3.10.1"
    assert kindnode.normalized("localhost:5000/x:1") == "localhost:5000/x:1"
