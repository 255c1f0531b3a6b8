"""The kind side of an add-on's OpenID Connect issuer: the API server of a kind cluster reads its
structured authentication configuration from a folder of this machine.

kind cannot change an API server's flags after `kind create cluster`, so `labrunner up` creates a
cluster that needs an issuer with the flag already set:
- a host folder for the cluster, under labrunner's state folder (on Docker Desktop that is under
  the user's home, which Docker Desktop shares with its VM), holding an AuthenticationConfiguration
  that trusts no issuer (`labrunner.addons.authn.authentication_config()`), written BEFORE the
  cluster is created (the API server refuses to start without the file);
- the kind config, unchanged on disk, given to kind augmented (`with_authn`) with
  - a node `extraMounts` of that folder at /etc/kubernetes/authn, read-only, on each control-plane
    node (kind's v1alpha4 Node.extraMounts);
  - `kubeadmConfigPatchesJSON6902` on kubeadm's ClusterConfiguration, for both API versions kind
    v0.33 writes (v1beta3 below Kubernetes v1.36, v1beta4 from it): the flag
    `--authentication-config`, and a read-only hostPath volume of the FOLDER into the API server's
    static pod. The folder, not the file: a file's bind mount keeps the old inode when the file is
    replaced by a rename, a folder's shows the new file;
- after the add-on is installed, `up` writes the issuer in (`write_config`); the kube-apiserver
  rereads the file when it changes (k8s.io/apiserver's dynamic authentication config, Kubernetes
  1.30+, which also polls it once a minute).
`labrunner down` removes the folder (`remove_folder`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import yaml

IN_NODE = "/etc/kubernetes/authn"  # the folder in the node and in the API server's pod
FILE = "authentication-config.yaml"
FLAG = "authentication-config"  # kube-apiserver's --authentication-config
VOLUME = "labrunner-authn"


def cluster_folder(state_dir: Path, cluster: str) -> Path:
    """What `up` keeps for the kind cluster `cluster`: `<state_dir>/kind/<cluster>` (absolute)."""
    return (state_dir / "kind" / cluster).absolute()


def authn_folder(state_dir: Path, cluster: str) -> Path:
    """The host folder mounted into the node at IN_NODE."""
    return cluster_folder(state_dir, cluster) / "authn"


def sets_authentication_config(config_text: str) -> bool:
    """Whether a kind config already gives the API server --authentication-config (in any kubeadm
    patch of the cluster or of a node, merge or JSON 6902): then it is the user's, left alone."""
    return FLAG in config_text and any(FLAG in str(patch) for patch in _all_patches(_load(config_text)))


def _load(config_text: str) -> dict:
    try:
        data = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _all_patches(data: dict) -> list:
    found = list(data.get("kubeadmConfigPatches") or []) + list(data.get("kubeadmConfigPatchesJSON6902") or [])
    for node in data.get("nodes") or []:
        if isinstance(node, dict):
            found += list(node.get("kubeadmConfigPatches") or []) + list(node.get("kubeadmConfigPatchesJSON6902") or [])
    return found


def api_server_patches() -> list[dict]:
    """kind's PatchJSON6902s (group, version, kind, patch) giving kubeadm's ClusterConfiguration the
    flag and the folder as a read-only hostPath volume, one per kubeadm API version kind v0.33 writes
    for the Kubernetes versions with structured authentication config (pkg/cluster/internal/kubeadm/
    config.go: v1beta3 below v1.36, v1beta4 from v1.36); kind applies a patch only to a document of
    its group, version and kind. `apiServer.extraArgs` always exists in kind's templates
    (runtime-config): a map in v1beta3, a list of {name, value} in v1beta4. `extraVolumes` does not
    exist there: `add` of the whole list."""
    volumes = {"op": "add", "path": "/apiServer/extraVolumes", "value": [
        {"name": VOLUME, "hostPath": IN_NODE, "mountPath": IN_NODE, "readOnly": True, "pathType": "Directory"}]}
    flag = {
        "v1beta3": {"op": "add", "path": f"/apiServer/extraArgs/{FLAG}", "value": f"{IN_NODE}/{FILE}"},
        "v1beta4": {"op": "add", "path": "/apiServer/extraArgs/-", "value": {"name": FLAG, "value": f"{IN_NODE}/{FILE}"}},
    }
    return [{"group": "kubeadm.k8s.io", "version": version, "kind": "ClusterConfiguration",
             "patch": yaml.safe_dump([operation, volumes], sort_keys=False)} for version, operation in flag.items()]


def with_authn(config_text: str, folder: Path) -> str:
    """The kind config `config_text` (kind.x-k8s.io/v1alpha4) with the folder mounted into every
    control-plane node and the API server patched to read it; a config without `nodes` gets kind's
    default single control-plane node. Raises ValueError when the text is no kind config (a mapping)."""
    data = _load(config_text)
    if not data:
        raise ValueError("the kind config is not a YAML mapping: kind itself says what is wrong with it")
    nodes = data.get("nodes") or [{"role": "control-plane"}]
    mount = {"hostPath": str(folder), "containerPath": IN_NODE, "readOnly": True}
    data["nodes"] = [
        {**node, "extraMounts": [*(node.get("extraMounts") or []), mount]}
        if isinstance(node, dict) and node.get("role", "control-plane") == "control-plane" else node
        for node in nodes
    ]
    data["kubeadmConfigPatchesJSON6902"] = [*(data.get("kubeadmConfigPatchesJSON6902") or []), *api_server_patches()]
    return "# the kind config labrunner up gave kind: " \
           "the learner's, with the API server's --authentication-config folder\n" \
           + yaml.safe_dump(data, sort_keys=False)


def write_config(folder: Path, config: dict) -> Path:
    """Write the AuthenticationConfiguration `config` into `folder` as FILE, atomically (a temporary file
    then a rename, so the API server never reads half a file), readable by all (the node's root
    reads it). Returns the file's path; raises OSError when the folder refuses it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".authn-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yaml.safe_dump(config, out, sort_keys=False)
        os.chmod(temporary, 0o644)
        os.replace(temporary, folder / FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return folder / FILE


def remove_folder(state_dir: Path, cluster: str) -> bool:
    """Remove what `up` kept for `cluster`; True when there was something."""
    folder = cluster_folder(state_dir, cluster)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    try:
        folder.parent.rmdir()  # `kind/`, once no cluster's folder is left in it
    except OSError:
        pass
    return True
