"""Add-ons as data (labrunner/addons/): the shipped files, the reader's errors, the state doctor shows,
and that the testbed builds exactly the images the add-ons run. Pure logic: no cluster."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from labrunner.addons import addon_providing, install_fix, load_addons, read_addon, state
from labrunner.capabilities import NAMES
from labrunner.errors import LabFormatError
from labrunner.model import FEATURES

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
name: demo
title: Demo
version: v1.2.3
homepage: https://example.org/demo
provides: [ingress]
manifests:
  - {file: demo.yaml, source: "example.org/demo v1.2.3 deploy/demo.yaml, unchanged"}
images: ["example.org/demo:v1.2.3"]
ready:
  - {kind: Deployment, name: demo, namespace: demo, condition: Available}
"""
DEMO = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: demo, namespace: demo}
"""


def _folder(tmp_path: Path, text: str = GOOD, name: str = "demo", manifest: str | None = DEMO) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "addon.yaml").write_text(text)
    if manifest is not None:
        (folder / "demo.yaml").write_text(manifest)
    return folder


def _pod_images(body: dict) -> list[str]:
    spec = ((body.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c["image"] for key in ("initContainers", "containers") for c in spec.get(key) or []]


def test_every_shipped_addon_reads_and_its_manifests_hold_what_it_declares():
    addons = load_addons()
    assert "ingress" in addons
    for addon in addons.values():
        assert set(addon.spec.provides) <= set(FEATURES) and set(addon.spec.provides) <= set(NAMES), addon.name
        docs = addon.documents()
        namespaced_kinds = {"Deployment", "DaemonSet", "Service", "ServiceAccount", "ConfigMap", "Secret", "Role",
                            "RoleBinding", "Job"}
        for file, body in docs:
            if body["kind"] in namespaced_kinds:
                assert body["metadata"].get("namespace"), f"{file}: {body['kind']}/{body['metadata']['name']} names no namespace"
        run = {image for _, body in docs for image in _pod_images(body)}
        assert run == set(addon.spec.images), f"{addon.name}: images {addon.spec.images} but its pods run {sorted(run)}"
        shipped = {p.name for p in addon.folder.glob("*.yaml")} - {"addon.yaml"}
        assert shipped == {m.file for m in addon.spec.manifests}, f"{addon.name}: a manifest file is not listed, or missing"
        for want in addon.spec.ready:
            assert any(body["kind"] == want.kind and body["metadata"]["name"] == want.name for _, body in docs), \
                f"{addon.name}: ready names {want.kind}/{want.name}, which its manifests do not create"


def test_the_ingress_addon_provides_both_apis_and_replaces_ingress_nginx():
    addon = addon_providing("gateway-api")
    assert addon is addon_providing("ingress") and addon.spec.version == "v3.7.13"
    kinds = {(body["kind"], body["metadata"]["name"]) for _, body in addon.documents()}
    assert ("IngressClass", "traefik") in kinds and ("GatewayClass", "traefik") in kinds
    assert ("CustomResourceDefinition", "httproutes.gateway.networking.k8s.io") in kinds
    assert "ingress-nginx" not in (ROOT / "labrunner" / "kindcluster.py").read_text()


@pytest.mark.parametrize("change, expected", [
    (("title: Demo\n", "title: Demo\ncolour: blue\n"), "addons/demo/addon.yaml:3: colour: unknown field; docs/lab-format.md (Add-ons) lists the fields"),
    (("version: v1.2.3", "version: latest"), "addons/demo/addon.yaml:3: version: String should match pattern"), (("version: v1.2.3", "version: latest"), "got 'latest'"),
    (("provides: [ingress]\n", ""), "addons/demo/addon.yaml:1: provides: required field is missing"),
    (("name: demo", "name: other"), "name: 'other' must be the folder's name, 'demo'"),
    (("file: demo.yaml", "file: missing.yaml"), "manifests.0.file: no file missing.yaml in addons/demo/"),
    (("condition: Available}", "condition: Available, timeout: 900}"), "ready.0.timeout: Input should be less than or equal to 600"),
])
def test_a_broken_addon_file_names_file_line_and_field(tmp_path, change, expected):
    folder = _folder(tmp_path, GOOD.replace(*change))
    with pytest.raises(LabFormatError) as raised:
        read_addon(folder)
    assert expected in str(raised.value)


def test_a_manifest_that_is_not_an_object_is_refused_when_installing(tmp_path):
    addon = read_addon(_folder(tmp_path, manifest="- just\n- a list\n"))
    with pytest.raises(LabFormatError, match="addons/demo/demo.yaml: every document must be an object"):
        addon.documents()


def test_state_reads_the_ready_objects_and_says_the_fix(tmp_path, fake_cluster):
    addon = read_addon(_folder(tmp_path))
    missing = state(fake_cluster(), addon)
    assert missing.ok is False and missing.detail == "not installed (no Deployment demo/demo)"
    assert missing.fix == install_fix(addon) and "labrunner addons install demo" in missing.fix
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo", "namespace": "demo"},
                  "status": {"conditions": [{"type": "Available", "status": "False", "message": "0/1 ready"}]}}
    unready = state(fake_cluster([deployment]), addon)
    assert unready.ok is False and "has Available=False (0/1 ready)" in unready.detail
    assert "kubectl describe deployment demo -n demo" in unready.fix
    deployment["status"]["conditions"][0]["status"] = "True"
    assert state(fake_cluster([deployment]), addon).ok is True


def test_doctor_counts_a_missing_addon_only_where_a_lab_needs_it(fake_cluster):
    from labrunner.kindcluster import addon_findings

    nobody = addon_findings(fake_cluster(), {})
    assert len(nobody) == len(load_addons())
    assert all(f.ok is None and "(no lab here needs it)" in f.what and not f.counts for f in nobody)
    needed = addon_findings(fake_cluster(), {"gateway-api": ["ingress"]})
    ingress = next(f for f in needed if "add-on ingress" in f.what)
    assert ingress.ok is False and ingress.counts
    assert ingress.fix.endswith("(needed by ingress)") and "labrunner addons install ingress" in ingress.fix
    others = [f for f in needed if f is not ingress]
    assert others and all(f.ok is None and not f.counts for f in others)  # gatekeeper: no lab here needs it


def test_the_testbed_builds_exactly_the_images_the_addons_run():
    with open(ROOT / "testbed" / "testbed.toml", "rb") as f:
        raw = tomllib.load(f)
    values = {f"{k}_version": v for k, v in raw["versions"].items()}
    built: dict[str, set[str]] = {}
    for image in raw["images"]:
        if image.get("addon"):
            built.setdefault(image["addon"], set()).add(image["name"].format(**values))
            build = raw["builds"][image["build"]]
            assert build.get("on_demand"), f"{image['name']}: an add-on's build must be on_demand (warm up stays fast)"
    for addon in load_addons().values():
        assert built.get(addon.name, set()) == set(addon.spec.images), addon.name


def test_testbed_up_reads_addons_and_refuses_other_arguments(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "testbed" / "lib"))
    for name in ("config", "log", "main"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import main

    try:
        assert main._addons_option(["--addons", "ingress,gatekeeper"]) == ("ingress", "gatekeeper")
        assert main._addons_option(["--addons=ingress"]) == ("ingress",)
        assert main._addons_option([]) == ()
        with pytest.raises(SystemExit, match="unknown argument '--fast'"):
            main._addons_option(["--fast"])
    finally:
        for name in ("config", "log", "main"):
            sys.modules.pop(name, None)
