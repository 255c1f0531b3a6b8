"""`labrunner up` and `down` at our boundary: the command lines they run.

A fake `docker` and `kind` on PATH (fakebin/fake_tools.py) record each argv and answer from a
state file. That proves which commands run in which case, not that they work: the real docker and
kind run in `make kind-test`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from labrunner import kindauthn, kindcluster, kindsetup
from labrunner.loader import load_labs

REPO = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).resolve().parent / "fakebin" / "fake_tools.py"
LABS = load_labs(REPO / "labs")
EXPOSING = next(lab for lab in LABS if lab.id == "exposing")  # requires a load balancer
PLAIN = replace(EXPOSING, id="plain", requires=(), images=("example.org/local:1", "example.org/pullable:1",
                                                             "example.org/nowhere:1"))


class Tools:
    """The fake tools' state and the argv they were run with."""

    def __init__(self, tmp_path: Path, monkeypatch, **state):  # noqa: ANN001
        self.bin, self.log, self.state_file = tmp_path / "bin", tmp_path / "argv.log", tmp_path / "state.json"
        self.bin.mkdir()
        for tool in ("docker", "kind"):
            wrapper = self.bin / tool
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" {tool} "$@"\n')
            wrapper.chmod(0o755)
        self.state_file.write_text(json.dumps(state))
        self.log.write_text("")
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_TOOLS_STATE", str(self.state_file))
        monkeypatch.setenv("FAKE_TOOLS_LOG", str(self.log))
        monkeypatch.delenv("DOCKER_HOST", raising=False)
        monkeypatch.delenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", raising=False)

    @property
    def argv(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    @property
    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def ran(self, *prefix: str) -> list[list[str]]:
        return [a for a in self.argv if a[:len(prefix)] == list(prefix)]


def up_args(tmp_path: Path, **kwargs) -> argparse.Namespace:  # noqa: ANN003
    defaults = dict(name="labrunner", config=REPO / "kind-config.yaml", image=None, no_loadbalancer=False,
                    kubeconfig=str(tmp_path / "no-kubeconfig"))
    return argparse.Namespace(**{**defaults, **kwargs})


def test_an_image_docker_has_is_loaded_without_a_pull(tmp_path, monkeypatch, capsys):
    tools = Tools(tmp_path, monkeypatch, images=["example.org/local:1"], pullable=["example.org/pullable:1"])
    assert kindcluster.command_up(up_args(tmp_path), [PLAIN]) == 0
    assert tools.ran("docker", "pull") == [["docker", "pull", "example.org/nowhere:1"],
                                           ["docker", "pull", "example.org/pullable:1"]]  # never the local one
    loaded = [a[-1] for a in tools.ran("kind", "load", "docker-image")]
    assert loaded == ["example.org/local:1", "example.org/pullable:1"]  # the one not to be had is left to the node
    out = capsys.readouterr().out
    assert "not loaded: example.org/nowhere:1; the node pulls them" in out
    assert "[1/3] Creating the kind cluster labrunner" in out and "[2/3] Loading the labs' 3 images" in out
    assert "image 3/3: example.org/pullable:1" in out


def test_the_node_image_is_chosen_by_image_else_by_the_config(tmp_path, monkeypatch, capsys):
    tools = Tools(tmp_path, monkeypatch)
    assert kindcluster.command_up(up_args(tmp_path, image="kindest/node:v1.34.0"), []) == 0
    [create] = tools.ran("kind", "create", "cluster")
    assert create[-2:] == ["--image", "kindest/node:v1.34.0"] and "--config" in create
    assert "node image kindest/node:v1.34.0 (--image)" in capsys.readouterr().out

    config = tmp_path / "own.yaml"
    config.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n"
                      "  - role: control-plane\n    image: registry.example/node:v1.34.4\n")
    assert kindcluster.command_up(up_args(tmp_path, name="other", config=config), []) == 0
    create = tools.ran("kind", "create", "cluster")[-1]
    assert "--image" not in create and create[create.index("--config") + 1] == str(config)  # kind reads it from there
    assert "node image registry.example/node:v1.34.4 (from own.yaml)" in capsys.readouterr().out


def test_an_existing_cluster_is_used_and_image_is_said_to_need_a_new_one(tmp_path, monkeypatch, capsys):
    tools = Tools(tmp_path, monkeypatch, clusters=["labrunner"])
    assert kindcluster.command_up(up_args(tmp_path, image="kindest/node:v1.34.0"), []) == 0
    assert tools.ran("kind", "create") == []
    assert "applies when a cluster is created" in capsys.readouterr().out


def test_up_runs_cloud_provider_kind_for_a_lab_that_needs_a_load_balancer(tmp_path, monkeypatch, capsys):
    tools = Tools(tmp_path, monkeypatch, pullable=[kindsetup.CLOUD_PROVIDER_KIND_IMAGE])
    assert kindcluster.command_up(up_args(tmp_path), [replace(EXPOSING, images=())]) == 0
    [run] = tools.ran("docker", "run")
    assert run[-1] == kindsetup.CLOUD_PROVIDER_KIND_IMAGE
    assert run[run.index("--network") + 1] == "kind" and "/var/run/docker.sock:/var/run/docker.sock" in run
    assert tools.state["containers"] == {kindsetup.LB_CONTAINER: "running"}
    # run again: the running one is kept, none started beside it
    assert kindcluster.command_up(up_args(tmp_path), [replace(EXPOSING, images=())]) == 0
    assert len(tools.ran("docker", "run")) == 1 and "already runs" in capsys.readouterr().out


def test_the_load_balancer_image_is_not_pulled_when_docker_has_it(tmp_path, monkeypatch):
    tools = Tools(tmp_path, monkeypatch, images=[kindsetup.CLOUD_PROVIDER_KIND_IMAGE])
    assert kindcluster.command_up(up_args(tmp_path), [replace(EXPOSING, images=())]) == 0
    assert tools.ran("docker", "pull") == [] and len(tools.ran("docker", "run")) == 1


def test_without_its_image_up_says_exactly_what_to_run(tmp_path, monkeypatch, capsys):
    tools = Tools(tmp_path, monkeypatch)  # nothing pullable: an offline machine
    assert kindcluster.command_up(up_args(tmp_path), [replace(EXPOSING, images=())]) == 0
    out = capsys.readouterr().out
    assert tools.ran("docker", "run") == []
    assert f"go install {kindsetup.CLOUD_PROVIDER_KIND_MODULE} && cloud-provider-kind" in out
    assert " ".join(kindsetup.lb_run_command()) in out


def test_no_loadbalancer_leaves_it_to_the_learner(tmp_path, monkeypatch):
    tools = Tools(tmp_path, monkeypatch, pullable=[kindsetup.CLOUD_PROVIDER_KIND_IMAGE])
    assert kindcluster.command_up(up_args(tmp_path, no_loadbalancer=True), [replace(EXPOSING, images=())]) == 0
    assert tools.ran("docker", "run") == [] and tools.ran("docker", "pull") == []


def test_a_rootless_docker_socket_and_kinds_own_network_are_used(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    monkeypatch.setenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", "kind-labs")
    command = kindsetup.lb_run_command()
    assert "/run/user/1000/docker.sock:/var/run/docker.sock" in command
    assert command[command.index("--network") + 1] == "kind-labs"


def test_down_removes_the_cluster_its_load_balancers_and_cloud_provider_kind(tmp_path, monkeypatch):
    tools = Tools(tmp_path, monkeypatch, clusters=["labrunner"], containers={kindsetup.LB_CONTAINER: "running"},
                  labelled={"labrunner": ["lb1"], "mine": ["lb2"]})
    assert kindcluster.command_down(argparse.Namespace(name="labrunner"), []) == 0
    state = tools.state
    assert state["clusters"] == [] and state["containers"] == {}
    assert state["labelled"] == {"labrunner": [], "mine": ["lb2"]}  # another cluster's are not ours to remove
    assert tools.ran("docker", "stop") == [["docker", "stop", kindsetup.LB_CONTAINER]]  # stopped first: it cleans up


def test_down_keeps_cloud_provider_kind_while_another_kind_cluster_uses_it(tmp_path, monkeypatch, capsys):
    tools = Tools(tmp_path, monkeypatch, clusters=["labrunner", "mine"], containers={kindsetup.LB_CONTAINER: "running"})
    assert kindcluster.command_down(argparse.Namespace(name="labrunner"), []) == 0
    assert tools.state["containers"] == {kindsetup.LB_CONTAINER: "running"}
    assert "serves the kind clusters mine" in capsys.readouterr().out


def test_a_failed_delete_is_an_error_and_touches_nothing_else(tmp_path, monkeypatch):
    tools = Tools(tmp_path, monkeypatch, clusters=["labrunner"])
    (tools.bin / "kind").write_text("#!/bin/sh\nexit 1\n")
    assert kindcluster.command_down(argparse.Namespace(name="labrunner"), []) == 3
    assert tools.ran("docker", "rm") == []


@pytest.mark.parametrize("text, expected", [
    ("nodes:\n  - role: control-plane\n    image: a:1\n  - role: worker\n    image: a:1\n", ["a:1"]),
    ("nodes:\n  - role: control-plane\n", []),
    ("kind: Cluster\n", []),
    ("nodes: [oops", []),
])
def test_the_config_node_images(text, expected):
    assert kindsetup.config_node_images(text) == expected


def test_the_shipped_kind_config_names_no_node_image():
    """kind-config.yaml leaves the node image to kind's default for the learner's kind version."""
    assert kindsetup.config_node_images((REPO / "kind-config.yaml").read_text()) == []


def test_up_preloads_and_installs_the_addons_the_labs_need_and_an_install_fault_is_an_error(tmp_path, monkeypatch, capsys):
    from labrunner import addons, cluster
    from labrunner.errors import WaitTimedOut

    ingress_lab = next(lab for lab in LABS if lab.id == "ingress")  # requires ingress and gateway-api
    tools = Tools(tmp_path, monkeypatch, pullable=["traefik:v3.7.13"])
    installed: list[str] = []
    monkeypatch.setattr(cluster, "connect", lambda **kwargs: object())
    monkeypatch.setattr(kindcluster, "cluster_findings", lambda c, labs: [])  # what the cluster can do: not asked here
    monkeypatch.setattr(kindcluster, "wait_for_service_accounts", lambda c: True)
    monkeypatch.setattr(addons, "install", lambda c, addon, **kwargs: installed.append(addon.name))
    assert kindcluster.command_up(up_args(tmp_path), [replace(ingress_lab, images=())]) == 0
    assert [a[-1] for a in tools.ran("kind", "load", "docker-image")] == ["traefik:v3.7.13"]
    assert installed == ["ingress"]
    assert "Installing the add-ons the labs need: ingress" in capsys.readouterr().out
    assert kindcluster.command_up(up_args(tmp_path), [PLAIN]) == 0 and installed == ["ingress"]  # no lab needs it

    def times_out(c, addon, **kwargs):  # noqa: ANN001, ANN202
        raise WaitTimedOut("timed out after 240s waiting for Deployment/traefik condition=Available")

    monkeypatch.setattr(addons, "install", times_out)
    assert kindcluster.command_up(up_args(tmp_path), [replace(ingress_lab, images=())]) == 3
    assert "installing add-ons failed: timed out after 240s" in capsys.readouterr().err


def test_where_the_node_address_does_not_answer_cloud_provider_kind_publishes_load_balancer_ports(tmp_path, monkeypatch,
                                                                                                   capsys):
    tools = Tools(tmp_path, monkeypatch, images=[kindsetup.CLOUD_PROVIDER_KIND_IMAGE])
    monkeypatch.setattr(kindsetup, "node_reached", lambda name, runner: False)  # as on Docker Desktop
    assert kindcluster.command_up(up_args(tmp_path), [replace(EXPOSING, images=())]) == 0
    [run] = tools.ran("docker", "run")
    assert run[-2:] == [kindsetup.CLOUD_PROVIDER_KIND_IMAGE, "--enable-lb-port-mapping"]
    assert "load balancers' ports will be published here" in capsys.readouterr().out
    # the node address answers now (another machine, same docker): the container is replaced without the flag
    monkeypatch.setattr(kindsetup, "node_reached", lambda name, runner: True)
    assert kindcluster.command_up(up_args(tmp_path), [replace(EXPOSING, images=())]) == 0
    assert tools.ran("docker", "run")[-1][-1] == kindsetup.CLOUD_PROVIDER_KIND_IMAGE
    assert tools.ran("docker", "stop") == [["docker", "stop", kindsetup.LB_CONTAINER]]
    assert "replacing it" in capsys.readouterr().out


def test_the_commands_by_hand_carry_the_port_mapping_where_it_is_needed():
    said = kindsetup.lb_by_hand(port_mapping=True)
    assert f"{kindsetup.CLOUD_PROVIDER_KIND_IMAGE} --enable-lb-port-mapping" in said
    assert "&& cloud-provider-kind --enable-lb-port-mapping" in said
    assert "--enable-lb-port-mapping" not in kindsetup.lb_by_hand()


# -- an OpenID Connect issuer on kind (labrunner/kindauthn.py) ---------------------------------

SHIPPED = (REPO / "kind-config.yaml").read_text()


def test_the_shipped_config_gets_the_mount_and_the_flag_and_keeps_everything_else(tmp_path):
    before = yaml.safe_load(SHIPPED)
    after = yaml.safe_load(kindauthn.with_authn(SHIPPED, tmp_path / "authn"))
    node = after["nodes"][0]
    assert node["extraMounts"] == [{"hostPath": str(tmp_path / "authn"), "containerPath": "/etc/kubernetes/authn",
                                    "readOnly": True}]
    assert {k: v for k, v in node.items() if k != "extraMounts"} == before["nodes"][0]
    assert after["networking"] == before["networking"]  # the default service range 10.96.0.0/16 stays
    assert "serviceSubnet" not in after["networking"]
    # kind v0.33 writes kubeadm v1beta3 below Kubernetes v1.36 (extraArgs a map), v1beta4 from it (a list).
    beta3, beta4 = after["kubeadmConfigPatchesJSON6902"]
    assert [(p["group"], p["version"], p["kind"]) for p in (beta3, beta4)] == [
        ("kubeadm.k8s.io", "v1beta3", "ClusterConfiguration"), ("kubeadm.k8s.io", "v1beta4", "ClusterConfiguration")]
    file = "/etc/kubernetes/authn/authentication-config.yaml"
    assert yaml.safe_load(beta3["patch"])[0] == {"op": "add", "path": "/apiServer/extraArgs/authentication-config",
                                                 "value": file}
    assert yaml.safe_load(beta4["patch"])[0] == {"op": "add", "path": "/apiServer/extraArgs/-",
                                                 "value": {"name": "authentication-config", "value": file}}
    for patch in (beta3, beta4):
        operation = yaml.safe_load(patch["patch"])[1]
        [volume] = operation["value"]
        assert operation["path"] == "/apiServer/extraVolumes"
        assert volume["hostPath"] == volume["mountPath"] == "/etc/kubernetes/authn" and volume["readOnly"] is True
    assert kindauthn.sets_authentication_config(kindauthn.with_authn(SHIPPED, tmp_path))


def test_only_control_plane_nodes_get_the_mount_and_a_config_without_nodes_gets_one(tmp_path):
    text = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraMounts:\n" \
           "  - {hostPath: /data, containerPath: /data}\n- role: worker\n"
    nodes = yaml.safe_load(kindauthn.with_authn(text, tmp_path))["nodes"]
    assert [m["containerPath"] for m in nodes[0]["extraMounts"]] == ["/data", "/etc/kubernetes/authn"]
    assert nodes[1] == {"role": "worker"}
    bare = yaml.safe_load(kindauthn.with_authn("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n", tmp_path))
    assert bare["nodes"][0]["role"] == "control-plane" and bare["nodes"][0]["extraMounts"][0]["hostPath"] == str(tmp_path)


def test_a_config_that_sets_the_flag_itself_is_recognised_and_a_mention_in_a_comment_is_not():
    own = SHIPPED + "kubeadmConfigPatches:\n- |\n  kind: ClusterConfiguration\n  apiServer:\n    extraArgs:\n" \
                    "      authentication-config: /etc/authn.yaml\n"
    assert kindauthn.sets_authentication_config(own)
    assert not kindauthn.sets_authentication_config(SHIPPED + "# authentication-config is set by labrunner\n")
    assert not kindauthn.sets_authentication_config(SHIPPED)


def test_the_file_is_replaced_whole_and_down_removes_the_folder(tmp_path):
    folder = kindauthn.authn_folder(tmp_path, "c1")
    written = kindauthn.write_config(folder, {"kind": "AuthenticationConfiguration", "jwt": []})
    kindauthn.write_config(folder, {"kind": "AuthenticationConfiguration", "jwt": [{"issuer": {"url": "https://x"}}]})
    assert yaml.safe_load(written.read_text())["jwt"][0]["issuer"]["url"] == "https://x"
    assert [p.name for p in folder.iterdir()] == ["authentication-config.yaml"]  # no temporary file left
    kindauthn.authn_folder(tmp_path, "c2").mkdir(parents=True)
    assert kindauthn.remove_folder(tmp_path, "c1") and not (tmp_path / "kind" / "c1").exists()
    assert kindauthn.remove_folder(tmp_path, "c2") and not (tmp_path / "kind").exists()
    assert not kindauthn.remove_folder(tmp_path, "c1")


def test_up_creates_a_cluster_for_the_oidc_lab_with_the_folder_and_down_removes_it(tmp_path, monkeypatch, capsys):
    from labrunner import addons, cluster
    from labrunner.capabilities import Capability

    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "state"))
    oidc_lab = replace(next(lab for lab in LABS if lab.id == "oidc"), images=())
    tools = Tools(tmp_path, monkeypatch, pullable=["ghcr.io/dexidp/dex:v2.45.1"])
    monkeypatch.setattr(cluster, "connect", lambda **kwargs: object())
    monkeypatch.setattr(kindcluster, "wait_for_service_accounts", lambda c: True)
    monkeypatch.setattr(kindcluster, "cluster_findings", lambda c, labs: [])
    monkeypatch.setattr(addons, "install", lambda c, addon, **kwargs: None)
    monkeypatch.setattr("labrunner.addons.authn.installed_config",
                        lambda c, chosen: {"kind": "AuthenticationConfiguration", "jwt": [{"issuer": {"url": "u"}}]})
    monkeypatch.setattr("labrunner.capabilities.capability",
                        lambda c, name, **kw: Capability(name, True, "trusted"))
    assert kindcluster.command_up(up_args(tmp_path), [oidc_lab]) == 0, capsys.readouterr().err
    [create] = tools.ran("kind", "create", "cluster")
    given = Path(create[create.index("--config") + 1])
    folder = tmp_path / "state" / "kind" / "labrunner" / "authn"
    assert yaml.safe_load(given.read_text())["nodes"][0]["extraMounts"][0]["hostPath"] == str(folder)
    assert yaml.safe_load((folder / "authentication-config.yaml").read_text())["jwt"] == [{"issuer": {"url": "u"}}]
    assert (REPO / "kind-config.yaml").read_text() == SHIPPED  # the file itself unchanged
    assert kindcluster.command_down(up_args(tmp_path), []) == 0
    assert not (tmp_path / "state" / "kind" / "labrunner").exists()


def test_a_lab_without_an_issuer_gets_the_config_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "state"))
    plain = replace(next(lab for lab in LABS if lab.id == "exposing"), images=(), requires=())
    tools = Tools(tmp_path, monkeypatch)
    monkeypatch.setattr(kindcluster, "cluster_findings", lambda c, labs: [])
    assert kindcluster.command_up(up_args(tmp_path, no_loadbalancer=True), [plain]) == 0
    [create] = tools.ran("kind", "create", "cluster")
    assert create[create.index("--config") + 1] == str(REPO / "kind-config.yaml")
    assert not (tmp_path / "state" / "kind").exists()


def test_the_issuer_not_trusted_in_time_is_an_error_with_the_fix(tmp_path, monkeypatch, capsys):
    from labrunner import addons, cluster, settings
    from labrunner.capabilities import Capability

    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "state"))
    oidc_lab = replace(next(lab for lab in LABS if lab.id == "oidc"), images=())
    Tools(tmp_path, monkeypatch)
    monkeypatch.setattr(cluster, "connect", lambda **kwargs: object())
    monkeypatch.setattr(kindcluster, "wait_for_service_accounts", lambda c: True)
    monkeypatch.setattr(kindcluster, "cluster_findings", lambda c, labs: [])
    monkeypatch.setattr(addons, "install", lambda c, addon, **kwargs: None)
    monkeypatch.setattr("labrunner.addons.authn.installed_config", lambda c, chosen: {"jwt": []})
    monkeypatch.setattr("labrunner.capabilities.capability",
                        lambda c, name, **kw: Capability(name, False, "refused (401)", "write it"))
    monkeypatch.setattr(settings, "TIMEOUTS", settings.TIMEOUTS.model_copy(update={"authn_reload": 0.0}))
    assert kindcluster.command_up(up_args(tmp_path), [oidc_lab]) == 3
    err = capsys.readouterr().err
    assert "does not trust the issuer 0 s after it was written: refused (401)" in err and "fix: write it" in err
