"""Add-ons on a real cluster: `install` applies and waits, `state` tells ready from not installed and
from installed-but-not-ready (each with its fix), and the capabilities labrunner's ingress add-on
provides say where this machine reaches it. Each can be false and can be true."""

from __future__ import annotations

import pytest

from conftest import no_cluster

ADDON = """\
name: {name}
title: Live test add-on
version: v0.0.1
homepage: https://example.org/live
provides: [ingress]
manifests:
  - {{file: app.yaml, source: "a live test's own"}}
images: ["registry.k8s.io/e2e-test-images/agnhost:2.56"]
ready:
  - {{kind: Deployment, name: {deployment}, namespace: {namespace}, apiVersion: apps/v1, condition: Available, timeout: {timeout}}}
"""
APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {deployment}, namespace: {namespace}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: live-addon}}}}
  template:
    metadata: {{labels: {{app: live-addon}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: app
          image: registry.k8s.io/e2e-test-images/agnhost:2.56
          args: [{args}]
          readinessProbe: {{exec: {{command: ["true"]}}, periodSeconds: 1}}
"""


def _addon(tmp_path, namespace: str, args: str, timeout: int = 60, deployment: str = "live-addon"):
    from labrunner.addons import read_addon

    folder = tmp_path / "live"
    folder.mkdir(exist_ok=True)
    (folder / "addon.yaml").write_text(ADDON.format(name="live", namespace=namespace, timeout=timeout, deployment=deployment))
    (folder / "app.yaml").write_text(APP.format(namespace=namespace, args=args, deployment=deployment))
    return read_addon(folder)


def test_an_addon_is_installed_waited_for_and_told_apart_from_one_not_ready(ns, tmp_path):
    from labrunner.addons import install, state
    from labrunner.errors import WaitTimedOut

    addon = _addon(tmp_path, ns.name, '"pause"')
    before = state(ns.cluster, addon)
    assert before.ok is False and before.detail.startswith("not installed") and "labrunner addons install live" in before.fix
    said: list[str] = []
    install(ns.cluster, addon, say=said.append)
    assert said[-1] == "add-on live is ready" and state(ns.cluster, addon).ok is True
    body = ns.cluster.get("Deployment", "live-addon", namespace=ns.name)
    assert body["metadata"]["labels"]["labrunner.dev/addon"] == "live"

    # The container exits at once: never ready.
    broken = _addon(tmp_path, ns.name, '"no-such-agnhost-command"', timeout=15, deployment="live-addon-broken")
    with pytest.raises(WaitTimedOut):
        install(ns.cluster, broken, say=said.append)
    unready = state(ns.cluster, broken)
    assert unready.ok is False and "installed but not ready" in unready.detail
    assert f"kubectl describe deployment live-addon-broken -n {ns.name}" in unready.fix


def test_the_ingress_addon_capabilities_say_where_this_machine_reaches_it(cluster):
    from labrunner.addons import addon_providing, state
    from labrunner.capabilities import capability
    from labrunner.capabilities.probes import tcp_answers

    if not state(cluster, addon_providing("ingress")).ok:
        no_cluster("the ingress add-on is not installed (`labrunner addons install ingress`)")
    for name in ("ingress", "gateway-api"):
        found = capability(cluster, name, fresh=True)
        assert found.state is True, found.detail
        assert "traefik" in found.data["classes"]
        for scheme in ("http", "https"):
            address, port = found.data["entry"][scheme]
            assert tcp_answers(address, port, within=3.0), (name, scheme, address, port)
