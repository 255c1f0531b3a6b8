"""Installing an add-on on a cluster, and telling whether it works there.

Both read the add-on file (`spec.py`): `install` applies its manifests in order with server-side
apply (re-runnable: an upgrade is the same call) and waits for each `ready` object's condition;
`state` reads those objects without changing anything, for `doctor`, the lab list and the checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .spec import Addon

if TYPE_CHECKING:
    from ..cluster import Cluster

ADDON_LABEL = "labrunner.dev/addon"
CONFIG_HASH = "labrunner.dev/config-hash"


def with_config_hash(documents: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """`documents` with each Deployment whose pods mount ConfigMaps of the add-on annotated (in its pod
    template) with a hash of those ConfigMaps' data: a program that reads its configuration only at
    start (Dex) restarts when a re-install changes it, and does not when nothing changed."""
    import hashlib
    import json

    maps = {(b["metadata"].get("namespace"), b["metadata"]["name"]): b.get("data") or {}
            for _, b in documents if b["kind"] == "ConfigMap"}
    out = []
    for file, body in documents:
        spec = ((body.get("spec") or {}).get("template") or {}).get("spec") or {}
        ns = body["metadata"].get("namespace")
        used = sorted({v["configMap"]["name"] for v in spec.get("volumes") or [] if isinstance(v.get("configMap"), dict)
                       and (ns, v["configMap"].get("name")) in maps})
        if body["kind"] == "Deployment" and used:
            digest = hashlib.sha256(json.dumps([maps[(ns, n)] for n in used], sort_keys=True).encode()).hexdigest()[:16]
            template = body["spec"]["template"]
            meta = template.get("metadata") or {}
            body = {**body, "spec": {**body["spec"], "template": {**template, "metadata": {
                **meta, "annotations": {**(meta.get("annotations") or {}), CONFIG_HASH: digest}}}}}
        out.append((file, body))
    return out


@dataclass(frozen=True)
class AddonState:
    """What `state` found: `ok` True (every ready object's condition is True), False (missing or not
    ready: `detail` says which, `fix` what to do) or None (could not be told: `detail` says why)."""

    addon: str
    ok: bool | None
    detail: str
    fix: str = ""


def install_fix(addon: Addon) -> str:
    """What a person does to install `addon`: the same verb on kind and on any other cluster."""
    return (f"install it: `labrunner addons install {addon.name}` (on kind, `labrunner up` does it for the labs "
            f"that need it; on the testbed, `testbed/addon {addon.name}`)")


def install(cluster: Cluster, addon: Addon, *, say: Callable[[str], None] = print) -> None:
    """Apply `addon`'s manifests (CRDs first, then their objects, as `applying.sort_for_apply` orders
    them) and wait for each `ready` object, up to its `timeout` s. Each object is labelled
    labrunner.dev/addon=<name>, and kept by `labrunner reset --all` (it is no lab's).
    Raises ApiRejected / NotFound (a manifest the cluster refuses) or WaitTimedOut (not ready in time),
    each naming the object."""
    from ..cluster.applying import Rendered, apply_object, sort_for_apply
    from ..cluster.waiting import wait_for_condition
    from ..settings import TIMEOUTS

    objects = []
    for file, body in with_config_hash(addon.documents()):
        body = {**body, "metadata": {**body["metadata"],
                                     "labels": {**(body["metadata"].get("labels") or {}), ADDON_LABEL: addon.name}}}
        objects.append(Rendered(body, f"addons/{addon.name}/{file}"))
    say(f"installing add-on {addon.name}: {addon.spec.title} {addon.spec.version} ({len(objects)} objects)")
    established = []
    for obj in sort_for_apply(objects):
        if established and obj.kind != "CustomResourceDefinition":
            for name in established:  # custom resources need their CRDs served first
                wait_for_condition(cluster, "CustomResourceDefinition", name, condition="Established", namespace=None,
                                   timeout=TIMEOUTS.crd_established)
            cluster.forget_resources()
            established = []
        apply_object(cluster, obj, namespace="default")  # every namespaced object of an add-on names its namespace
        if obj.kind == "CustomResourceDefinition":
            established.append(obj.name)
        if addon.spec.tls and obj.kind == "Namespace" and obj.name == addon.spec.tls.secret.namespace:
            ensure_tls_secret(cluster, addon, say=say)  # before the pods that mount it
    for want in addon.spec.ready:
        say(f"waiting for {want.kind}/{want.name} condition={want.condition} (up to {want.timeout:.0f}s)")
        wait_for_condition(cluster, want.kind, want.name, condition=want.condition, namespace=want.namespace,
                           timeout=want.timeout, api_version=want.apiVersion)
    say(f"add-on {addon.name} is ready")


def ensure_tls_secret(cluster: Cluster, addon: Addon, *, say: Callable[[str], None] = print) -> bool:
    """Create `addon`'s TLS Secret (a new CA and serving certificate, tlssecret.py) unless it exists with
    a ca.crt: a re-install keeps the CA that the API server may already trust. True when it made one."""
    from .tlssecret import make_ca_and_serving, secret_body

    tls = addon.spec.tls
    assert tls is not None
    found = cluster.get("Secret", tls.secret.name, namespace=tls.secret.namespace)
    if found is not None and (found.get("data") or {}).get("ca.crt"):
        return False
    if found is not None:  # without a CA: replaced whole
        cluster.request(f"replacing Secret {tls.secret.name}", "DELETE",
                        f"/api/v1/namespaces/{tls.secret.namespace}/secrets/{tls.secret.name}")
    files = make_ca_and_serving(tls.dnsNames[0], list(tls.dnsNames), list(tls.ipAddresses))
    cluster.create(secret_body(tls.secret.namespace, tls.secret.name, files, {ADDON_LABEL: addon.name}),
                   namespace=tls.secret.namespace)
    say(f"made a CA and a serving certificate for {', '.join([*tls.dnsNames, *tls.ipAddresses])} "
        f"in Secret {tls.secret.namespace}/{tls.secret.name}")
    return True


def state(cluster: Cluster, addon: Addon) -> AddonState:
    """Whether `addon` works on `cluster`: each `ready` object exists and its condition is True.
    Reads only; never raises for a cluster fault (the state is then None, with the reason)."""
    from ..cluster.waiting import condition_status
    from ..errors import LabrunnerError, NotFound

    for want in addon.spec.ready:
        what = f"{want.kind} {want.namespace + '/' if want.namespace else ''}{want.name}"
        try:
            obj = cluster.get(want.kind, want.name, namespace=want.namespace, api_version=want.apiVersion)
        except NotFound:  # the kind itself is not served: its CRD is not installed
            return AddonState(addon.name, False, f"not installed ({want.kind} is not served)", install_fix(addon))
        except LabrunnerError as exc:
            return AddonState(addon.name, None, f"could not be told: {exc}")
        if obj is None:
            return AddonState(addon.name, False, f"not installed (no {what})", install_fix(addon))
        status = condition_status(obj, want.condition)
        if status != "True":
            message = next((c.get("message") for c in (obj.get("status") or {}).get("conditions") or []
                            if c.get("type") == want.condition and c.get("message")), "")
            return AddonState(addon.name, False,
                              f"installed but not ready: {what} has {want.condition}={status or 'unset'}"
                              + (f" ({message})" if message else ""),
                              f"look at it: kubectl describe {want.kind.lower()} {want.name}"
                              + (f" -n {want.namespace}" if want.namespace else "")
                              + f"; or install it again: `labrunner addons install {addon.name}`")
    return AddonState(addon.name, True, "ready")
