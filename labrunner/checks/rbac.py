"""The `rbac` check: a SubjectAccessReview for a user, group or ServiceAccount."""

from __future__ import annotations

from typing import Any, Mapping

from .base import CheckContext, CheckKind, CheckResult, Param, exactly_one


def subject(p: Mapping[str, Any], namespace: str) -> tuple[str, list[str], str]:
    """(user, groups, how to show it) as the API server would see the request."""
    if "serviceAccount" in p:
        ns, _, name = p["serviceAccount"].rpartition(":")
        ns = ns or namespace
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
        return f"system:serviceaccount:{ns}:{name}", groups, f"ServiceAccount {ns}/{name}"
    if "user" in p:
        groups = list(p.get("groups", [])) + ["system:authenticated"]
        return p["user"], groups, f"user {p['user']}"
    return "", [p["group"], "system:authenticated"], f"group {p['group']}"


def access_review_body(p: Mapping[str, Any], namespace: str) -> dict:
    user, groups, _ = subject(p, namespace)
    attributes: dict[str, Any] = {"verb": p["verb"], "resource": p["resource"], "group": p.get("apiGroup", "")}
    if not p.get("clusterWide"):
        attributes["namespace"] = p.get("namespace") or namespace
    for key in ("subresource", "name"):
        if key in p:
            attributes[key] = p[key]
    spec: dict[str, Any] = {"resourceAttributes": attributes, "groups": groups}
    if user:
        spec["user"] = user
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def _rbac(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    body = access_review_body(p, ctx.namespace)
    _, _, who = subject(p, ctx.namespace)
    review = ctx.cluster.create(body)
    status = review.get("status") or {}
    allowed = bool(status.get("allowed"))
    attrs = body["spec"]["resourceAttributes"]
    where = "cluster-wide" if p.get("clusterWide") else f"in namespace {attrs['namespace']}"
    resource = attrs["resource"] + (f"/{attrs['subresource']}" if "subresource" in attrs else "")
    action = f"{who} {p['verb']} {resource}" + (f" {attrs['name']}" if "name" in attrs else "") + f" {where}"
    reason = status.get("reason") or status.get("evaluationError") or ""
    details = [reason] if reason else []
    if allowed == (p.get("expect", "allowed") == "allowed"):
        return CheckResult.passed(f"{action}: {'allowed' if allowed else 'denied'}, as expected", details)
    if allowed:
        return CheckResult.failed(f"{action} is allowed, but should be denied", details)
    return CheckResult.failed(f"{action} is denied, but should be allowed (no Role/ClusterRole binding grants it yet)", details)


KINDS = [
    CheckKind(
        "rbac",
        {
            "user": Param(str, doc="a user name (as in a certificate's CN)"),
            "groups": Param(list, doc="the user's groups"),
            "group": Param(str, doc="a group"),
            "serviceAccount": Param(str, doc="name (in the lab namespace) or namespace:name"),
            "verb": Param(str, required=True, doc="get, list, create, ..."),
            "resource": Param(str, required=True, doc="pods, deployments, ..."),
            "apiGroup": Param(str, doc='the API group ("" for core, apps, ...)'),
            "subresource": Param(str, doc="log, exec, ..."),
            "name": Param(str, doc="one object's name"),
            "namespace": Param(str, doc="default: the lab's namespace"),
            "clusterWide": Param(bool, doc="ask about all namespaces / cluster-scoped"),
            "expect": Param(str, doc="allowed (default) or denied", choices=("allowed", "denied")),
        },
        _rbac,
        validate=exactly_one("user", "group", "serviceAccount"),
        doc="RBAC allows or denies an action",
        lags="the API server's RBAC authorizer may not have seen the change yet", settles_within=10,
    )
]
