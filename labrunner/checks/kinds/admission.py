"""The `admission` check: would the API server admit this manifest?

A server-side dry-run goes through authentication, every admission controller
and webhook (Gatekeeper, ValidatingAdmissionPolicy, Pod Security) and the
schema, then stores nothing.
"""

from __future__ import annotations

import secrets
from typing import Any, Mapping

from ...cluster.applying import Rendered, apply_object, render
from ...errors import ApiRejected, NotFound
from ...format.values import Text
from ..base import CheckContext, CheckKind, CheckResult, Param
from ..evidence import Evidence


def _renamed(obj: Rendered) -> Rendered:
    """`obj` under its name with a random suffix ("try-privileged-3f9a1c"), new at each try: a policy
    cannot single the probe out by a name read in the lab's files, and the dry-run is always a
    create, never an update of an object of that name that the learner made."""
    metadata = {**obj.body["metadata"], "name": f"{obj.name}-{secrets.token_hex(3)}"}
    return Rendered({**obj.body, "metadata": metadata}, obj.source)


def _admission(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    """Every object of the manifest is judged: a manifest of several probes (a pod per way to break
    the rule) passes only when each one gets the expected verdict, never on the first alone."""
    manifest = p["manifest"]
    expect = p["expect"]
    wanted_text = p.get("messageContains")
    wanted = expect if expect == "accepted" else (
        f"rejected, with a message containing {wanted_text!r}" if wanted_text else "rejected")
    verdicts = []
    for obj in render([manifest], namespace=ctx.namespace, lab_id=ctx.lab.id):
        if p.get("freshName"):
            obj = _renamed(obj)
        what = f"{obj.kind} {obj.name} ({manifest.path})"
        try:
            apply_object(ctx.cluster, obj, namespace=ctx.namespace, dry_run=True)
        except NotFound as exc:
            # No policy answers 404: the probe's namespace is gone (a step set up before it made it, or
            # deleted) or its kind is not served. The cluster is not as the step set it up.
            return CheckResult.errored(
                f"{what} cannot be tried: {exc.server_message}",
                [f"fix: `labrunner start {ctx.lab.id}` sets the step up again"],
                evidence=Evidence(wanted, f"{what}: {exc.server_message}"))
        except ApiRejected as exc:
            seen = Evidence(wanted, f"{what} rejected: {exc.server_message}")
            if expect == "accepted":
                return CheckResult.failed(f"{what} is rejected: {exc.server_message}", evidence=seen)
            if wanted_text and wanted_text not in exc.server_message:
                return CheckResult.failed(
                    f"{what} is rejected, but not for the expected reason ({wanted_text!r}): {exc.server_message}",
                    evidence=seen,
                )
            verdicts.append(f"{what} is rejected: {exc.server_message}")
            continue
        if expect == "rejected":
            return CheckResult.failed(f"{what} is accepted; a policy should reject it",
                                      evidence=Evidence(wanted, f"{what} accepted (server-side dry run)"))
        verdicts.append(f"{what} is accepted")
    if not verdicts:
        return CheckResult.errored(f"{manifest.path} holds no object to try",
                                   evidence=Evidence(wanted, "nothing was sent to the API server"))
    if expect == "rejected":
        return CheckResult.passed(verdicts[0], verdicts[1:])
    return CheckResult.passed(f"{manifest.path} is accepted", verdicts if len(verdicts) > 1 else [])


KINDS = [
    CheckKind(
        "admission",
        {
            "manifest": Param(str, required=True, doc="a manifest file of the lab", file=True),
            "expect": Param(str, required=True, doc="rejected or accepted", choices=("rejected", "accepted")),
            "messageContains": Param(Text, doc="text the rejection must contain"),
            "freshName": Param(bool, doc="try each object under its name with a random suffix, new each time, "
                                         "so a policy cannot single out the probe by name (default false)"),
        },
        _admission,
        doc="a server-side dry-run rejects (or accepts) a manifest",
        # Pod Security admission reads the namespace's labels, and ValidatingAdmissionPolicy its
        # policies and bindings, from the API server's informer caches, not from etcd.
        lags="the API server's admission plugins may not have seen the new labels or policies yet",
        settles_within=10,
    )
]
