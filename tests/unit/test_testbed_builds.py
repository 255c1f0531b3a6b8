"""The testbed's build keys and suite arguments (testbed/lib): pure logic, no Go, no cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTBED = Path(__file__).resolve().parents[2] / "testbed"


@pytest.fixture
def testbed_lib(monkeypatch):
    """testbed/lib's flat modules (config, netpol_e2e), imported fresh and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(TESTBED / "lib"))
    for name in ("config", "log", "build", "netpol_e2e"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import config
    import netpol_e2e
    yield config, netpol_e2e
    for name in ("config", "log", "build", "netpol_e2e"):
        sys.modules.pop(name, None)


def test_a_patched_build_has_a_cache_key_of_its_own(testbed_lib, tmp_path):
    config, _ = testbed_lib
    paths = config.Paths(cache=tmp_path, state=tmp_path / "state", run=tmp_path / "run")
    raw = {"versions": {"kube_router": "v2.1.0", "coredns": "v1.14.7"},
           "builds": {"kube-router": {"version": "kube_router", "packages": ["x/cmd/kube-router@{version}"],
                                      "source": "x", "patches": ["p.patch"], "local_version": "labrunner.1"},
                      "coredns": {"version": "coredns", "packages": ["x/coredns@{version}"]}}}
    cfg = config.Config(raw=raw, paths=paths)
    assert cfg.build_dir("kube-router") == tmp_path / "kube-router-v2.1.0+labrunner.1"
    assert cfg.binary("kube-router") == tmp_path / "kube-router-v2.1.0+labrunner.1" / "kube-router"
    assert cfg.build_dir("coredns") == tmp_path / "coredns-v1.14.7"


def test_every_patched_build_names_its_source_patches_and_local_version(testbed_lib):
    config, _ = testbed_lib
    cfg = config.load_config()
    patched = {name: spec for name, spec in cfg.raw["builds"].items() if "patches" in spec}
    assert patched, "testbed.toml patches no build, but testbed/patches/ holds patches"
    for name, spec in patched.items():
        assert spec.get("local_version"), f"{name}: a patched build needs a local_version for its cache key"
        assert all(p.split("@")[0].startswith(spec["source"] + "/") for p in spec["packages"]), name
        for patch in spec["patches"]:
            text = (TESTBED / "patches" / patch).read_text()
            assert ("\n--- a/" in text or "\n--- /dev/null" in text) and "\n+++ b/" in text, \
                f"{patch}: not a `patch -p1` diff"
    used = {p for spec in patched.values() for p in spec["patches"]}
    assert used == {p.name for p in (TESTBED / "patches").glob("*.patch")}, "a patch in testbed/patches/ is unused"


def test_suite_arguments_replace_the_defaults_of_the_same_flag(testbed_lib):
    _, netpol_e2e = testbed_lib
    defaults = ["--ginkgo.focus=Netpol", "--ginkgo.skip=SCTP", "--ginkgo.no-color"]
    assert netpol_e2e.suite_args(defaults, []) == defaults
    assert netpol_e2e.suite_args(defaults, ["--ginkgo.focus=Netpol.*deny"]) == [
        "--ginkgo.skip=SCTP", "--ginkgo.no-color", "--ginkgo.focus=Netpol.*deny"]


@pytest.mark.parametrize("package, binary", [
    ("k8s.io/kubernetes/cmd/kubelet", "kubelet"),
    ("github.com/open-policy-agent/gatekeeper/v3@v3.23.1", "gatekeeper"),  # a major-version suffix is skipped
    ("github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@v2.1.0", "kube-router"),
    ("example.com/tool/v1", "v1"),  # v1 is no major-version suffix
    ("example.com/tool/v2x", "v2x"),
])
def test_a_binary_is_named_as_go_install_names_it(testbed_lib, package, binary):
    config, _ = testbed_lib
    assert config.binary_name(package) == binary


def test_every_add_on_image_names_an_on_demand_build_of_its_binary(testbed_lib):
    config, _ = testbed_lib
    cfg = config.load_config()
    addon_images = [img for img in cfg.images() if img.get("addon")]
    assert addon_images
    for img in addon_images:
        spec = cfg.raw["builds"][img["build"]]
        assert spec.get("on_demand"), f"{img['name']}: an add-on's build must not slow down every `up`"
        assert cfg.build_dir(img["build"]) == cfg.binary(config.binary_name(spec["packages"][0])).parent


def test_mirror_paths_normalize_names_as_docker_does(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTBED / "lib"))
    for name in ("config", "log", "build", "images"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import images

    class Cfg:
        net = {"registry_addr": "127.0.0.1:5000"}

    try:
        assert images.mirror_ref(Cfg, "traefik:v3.7.13") == "127.0.0.1:5000/docker.io/library/traefik:v3.7.13"
        assert images.mirror_ref(Cfg, "openpolicyagent/gatekeeper:v3.23.0") == \
            "127.0.0.1:5000/docker.io/openpolicyagent/gatekeeper:v3.23.0"
        assert images.mirror_ref(Cfg, "registry.k8s.io/pause:3.10.1") == "127.0.0.1:5000/registry.k8s.io/pause:3.10.1"
        assert images.mirror_ref(Cfg, "localhost:5000/x:1") == "127.0.0.1:5000/localhost:5000/x:1"
    finally:
        for name in ("config", "log", "build", "images"):
            sys.modules.pop(name, None)
