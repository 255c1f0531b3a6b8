"""The `rbac` check: what the authorizer lets a user, group, ServiceAccount or certificate do.

Two forms. One action (`verb`, `resource`, ...) with `expect: allowed|denied`
asks one SubjectAccessReview. `only: [rules]` is "this and nothing else": it
sweeps every verb on every resource and subresource the cluster serves (and the
kubelet's subresources of nodes), in the lab's namespace, in every namespace
where a RoleBinding names the subject, and cluster-wide, and the non-resource
URLs its rules name (/metrics, /logs/*), and fails naming each action allowed
beyond the rules. What every authenticated user could do before the lab began
is not counted; a grant to system:authenticated made since is.

With `certificate: SECRET`, the subject is what the API server authenticates
the certificate in that Secret as (user and every group, from a
SelfSubjectReview sent with the certificate), never what the lab expects it to
carry. `token: SECRET` does the same with an OpenID Connect ID token kept in a
Secret (the `idtoken` check's). `anotherMember: true` asks for a different user with the same groups,
so "only her" is a check that a colleague in her groups is denied.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

from .. import accessreview
from ..accessreview import Action, Subject
from ...format.values import Text, value_type
from ..base import CheckContext, CheckKind, CheckResult, Param, all_of, exactly_one
from ..evidence import AccessReview, Evidence
from .identity import authenticate
from ..shapes import RbacRule

# Every authenticated user may do a few things (the bootstrap ClusterRoles
# system:basic-user, system:discovery, system:public-info-viewer); the sweep
# does not count what such a user, in no group of its own, may do cluster-wide
# through a ClusterRoleBinding to system:authenticated that is older than the
# lab's namespace: the cluster's standing grants. One made during the lab is
# an answer, and what it grants everyone counts.
EVERYONE = "system:authenticated"
BASELINE_USER = "labrunner:any-authenticated-user"
LAG = ("right after a change the API server's authorizer may lag for a moment; "
       "`labrunner check --wait 10` checks again until it settles")
SHOWN = 4  # lines named in a fail message; the details list every one found
ENOUGH = 60  # allowed actions beyond the set after which the sweep stops: the verdict is clear


def subject(ctx: CheckContext, p: Mapping[str, Any]) -> tuple[Subject, str] | CheckResult:
    """The subject as the API server would see its requests, and a phrase naming it.

    A CheckResult (fail or error) when a `certificate` cannot be used.
    """
    namespace = ctx.namespace
    if "serviceAccount" in p:
        ns, _, name = p["serviceAccount"].rpartition(":")
        ns = ns or namespace
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated")
        return Subject(f"system:serviceaccount:{ns}:{name}", groups), f"ServiceAccount {ns}/{name}"
    if "group" in p:
        return Subject("", (p["group"], "system:authenticated")), f"group {p['group']}"
    if "token" in p:
        return _token_subject(ctx, p["token"])
    if "certificate" in p:
        found = authenticate(ctx, p["certificate"])
        if isinstance(found, CheckResult):
            return found
        who = f"user {found.user}" + (f" (groups {', '.join(_own(found.groups))})" if _own(found.groups) else "")
        return found, who
    groups = tuple(dict.fromkeys([*p.get("groups", []), "system:authenticated"]))
    return Subject(p["user"], groups), f"user {p['user']}"


def _token_subject(ctx: CheckContext, secret: str) -> tuple[Subject, str] | CheckResult:
    """The user and groups the API server authenticates the ID token in Secret `secret` as (a
    SelfSubjectReview sent with only the token); a fail saying what is wrong with a refused token."""
    from ...addons.issuer import IssuerError, review_with_token
    from .idtoken import facts_of, read_token

    token = read_token(ctx, secret, ctx.namespace)
    if isinstance(token, CheckResult):
        return token
    try:
        seen = review_with_token(ctx.cluster, token)
    except IssuerError as exc:
        return CheckResult.errored(str(exc))
    if seen.status == 401:
        found = facts_of(ctx, token)
        if isinstance(found, CheckResult):
            return found
        if not found[1].problems:
            return CheckResult.errored(f"the API server refuses the ID token in Secret {secret}, a valid token of its "
                                       "issuer: it does not trust the issuer (`labrunner doctor` says why)")
        return CheckResult.failed(f"the API server refuses the ID token in Secret {secret}: {found[1].said()}")
    if seen.status not in (200, 201):
        return CheckResult.errored(f"the SelfSubjectReview sent with the token answered {seen.status}: {seen.message}")
    found = Subject(seen.user, seen.groups, seen.uid)
    who = f"user {found.user}" + (f" (groups {', '.join(_own(found.groups))})" if _own(found.groups) else "")
    return found, who


def _own(groups: Sequence[str]) -> list[str]:
    return [g for g in groups if g != "system:authenticated"]


def colleague(of: Subject) -> Subject:
    """Another user in exactly the same groups (no uid, no extra)."""
    return Subject(f"labrunner:another-member-of-{'+'.join(_own(of.groups)) or 'no-group'}", of.groups)


def action_of(p: Mapping[str, Any], namespace: str) -> Action:
    """The one action a single-action check asks about."""
    ns = "" if p.get("clusterWide") else (p.get("namespace") or namespace)
    return Action(p["verb"], p.get("apiGroup", ""), p["resource"], p.get("subresource", ""), ns)


def _single(ctx: CheckContext, p: Mapping[str, Any], who: str, asking: Subject) -> CheckResult:
    action = action_of(p, ctx.namespace)
    attributes = action.attributes()
    if "name" in p:
        attributes["name"] = p["name"]
    status = accessreview.review(ctx.cluster, asking, attributes)
    allowed = bool(status.get("allowed"))
    expected = p.get("expect", "allowed")
    asked = AccessReview.answered(accessreview.review_body(asking, attributes), status, expected=expected,
                                  reproduce=accessreview.can_i_command(asking, attributes))
    evidence = Evidence(expected=expected, observed="allowed" if allowed else "denied", reviews=(asked,))
    if status.get("evaluationError") and not allowed:
        return CheckResult.errored(f"the authorizer could not decide: {status['evaluationError']}",
                                   evidence=Evidence(expected=expected, observed="no decision", reviews=(asked,)))
    shown = f"{who} {action.verb} {action.what}" + (f" {p['name']}" if "name" in p else "") + f" {action.where}"
    reason = status.get("reason") or ""
    details = [reason] if reason else []
    if allowed == (expected == "allowed"):
        return CheckResult.passed(f"{shown}: {'allowed' if allowed else 'denied'}, as expected", details,
                                  evidence=evidence)
    if allowed:
        return CheckResult.failed(f"{shown} is allowed, but should be denied ({LAG})", details, evidence=evidence)
    return CheckResult.failed(f"{shown} is denied, but should be allowed (no Role/ClusterRole binding grants it "
                              f"yet; {LAG})", details, evidence=evidence)


def beyond_evidence(asking: Subject, extra: Sequence[Any]) -> Evidence:
    """A sweep's evidence: each action (or non-resource request) allowed beyond the set as the
    SubjectAccessReview that allowed it, expected denied."""
    reviews = tuple(AccessReview(accessreview.review_body(asking, a.attributes()), True, expected="denied",
                                 reproduce=accessreview.can_i_command(asking, a.attributes())) for a in extra)
    observed = f"{len(extra)} allowed beyond it" if extra else "nothing allowed beyond it"
    return Evidence(expected="every action beyond the allowed set denied", observed=observed, reviews=reviews)


# -- "this and nothing else" ---------------------------------------------------------

def declared(action: Action, rules: Sequence[Mapping[str, Any]], lab_namespace: str) -> bool:
    """Whether `action` is one the `only` rules allow.

    A rule: `verbs`, `resources` (`pods`, `pods/log`, `*/log`, `*`, as RBAC matches them), `apiGroup`
    (default "", `*` any), and where: `namespace` (default the lab's) or
    `clusterWide: true` (anywhere, including cluster-wide requests).
    """
    for rule in rules:
        if action.verb not in rule["verbs"] and "*" not in rule["verbs"]:
            continue
        if rule.get("apiGroup", "") not in (action.group, "*"):
            continue
        name = action.resource + (f"/{action.subresource}" if action.subresource else "")
        if not any(r in ("*", name) or (action.subresource and r == f"*/{action.subresource}")
                   for r in rule["resources"]):
            continue
        if rule.get("clusterWide") or action.namespace == rule.get("namespace", lab_namespace):
            return True
    return False


def binding_names(binding: Mapping[str, Any], asking: Subject) -> bool:
    """Whether a RoleBinding's subjects include the user, one of its groups or its ServiceAccount."""
    for s in binding.get("subjects") or []:
        kind, name = s.get("kind"), s.get("name")
        if kind == "User" and name == asking.user:
            return True
        if kind == "Group" and name in asking.groups:
            return True
        if kind == "ServiceAccount":
            ns = s.get("namespace") or (binding.get("metadata") or {}).get("namespace", "")
            if asking.user == f"system:serviceaccount:{ns}:{name}":
                return True
    return False


def standing_rules(ctx: CheckContext) -> list[dict]:
    """The rules every authenticated user had before the lab began: of the ClusterRoles that
    ClusterRoleBindings to system:authenticated, created before the lab's namespace, refer to."""
    ns = ctx.cluster.get("Namespace", ctx.namespace) or {}
    since = (ns.get("metadata") or {}).get("creationTimestamp") or ""
    roles = {(r.get("metadata") or {}).get("name"): r for r in ctx.cluster.list("ClusterRole")}
    rules: list[dict] = []
    for binding in ctx.cluster.list("ClusterRoleBinding"):
        created = (binding.get("metadata") or {}).get("creationTimestamp") or ""
        if since and not created < since:  # RFC 3339 UTC timestamps order as text
            continue
        if not any(s.get("kind") == "Group" and s.get("name") == EVERYONE for s in binding.get("subjects") or []):
            continue
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole":
            rules.extend((roles.get(ref.get("name")) or {}).get("rules") or [])
    return rules


def summarize(actions: Sequence[Any]) -> list[str]:
    """One line per (resource, place), in the order the actions come: `deletecollection, patch pods in lab-x`."""
    verbs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a in actions:  # in the order given
        verbs[(a.what, a.where)].append(a.verb)
    return [f"{', '.join(sorted(v))} {what} {where}" for (what, where), v in verbs.items()]


def _sweep(ctx: CheckContext, p: Mapping[str, Any], who: str, asking: Subject) -> CheckResult:
    rules = p["only"]
    namespaces = [ctx.namespace]
    # A namespace being deleted takes its RoleBindings with it (e.g. the lab's
    # previous run after a reset): not a grant the learner is making.
    leaving = {(n.get("metadata") or {}).get("name") for n in ctx.cluster.list("Namespace")
               if (n.get("metadata") or {}).get("deletionTimestamp")}
    for binding in ctx.cluster.list("RoleBinding"):
        ns = (binding.get("metadata") or {}).get("namespace", "")
        if ns and ns not in namespaces and ns not in leaving and binding_names(binding, asking):
            namespaces.append(ns)
    served = accessreview.served_resources(ctx.cluster)
    # What else may be done to the resources the set names (deletecollection
    # pods) tells the most: asked first, so it is in the evidence.
    named = {(r.get("apiGroup", ""), res.partition("/")[0]) for r in rules for res in r["resources"]}
    swept = accessreview.sweep(ctx.cluster, asking, served, namespaces, enough=ENOUGH,
                               skip=lambda a: declared(a, rules, ctx.namespace),
                               order=lambda a: ((a.group, a.resource) not in named, accessreview.telling_first(a)))
    paths = accessreview.allowed_paths(ctx.cluster, asking)
    extra: list[Any] = list(swept.allowed)
    baseline: set[Any] = set()
    if extra or paths:
        everyone = Subject(BASELINE_USER, (EVERYONE,))
        standing = standing_rules(ctx)
        possible = {a._replace(namespace="", name="") for a in accessreview.rule_actions(standing, served, "")}
        wide = [a for a in {a._replace(namespace="", name=""): None for a in extra} if a in possible]
        wide += [p for p in paths if accessreview.path_granted(p, standing)]
        baseline = set(accessreview.allowed_actions(ctx.cluster, everyone, wide))
        extra = [a for a in extra if a._replace(namespace="", name="") not in baseline]
        extra += [p for p in paths if p not in baseline]
    where = ", ".join([*namespaces, "cluster-wide"])
    full = f"; every action asked in {', '.join(swept.full)} (a rules review was incomplete)" if swept.full else ""
    summary = (f"swept {where}: {len(served)} resources and subresources the cluster serves, the subject's rules "
               f"there, {swept.asked} SubjectAccessReviews{full}")
    if not extra:
        note = f"; {len(baseline)} that every authenticated user may do are not counted" if baseline else ""
        return CheckResult.passed(f"{who} may do nothing beyond the allowed set", [summary + note],
                                  evidence=beyond_evidence(asking, []))
    lines = summarize(extra)
    more = len(lines) - SHOWN
    shown = "; ".join(lines[:SHOWN]) + (f"; and {more} more" if more > 0 and swept.complete else
                                        "; and more" if more > 0 or not swept.complete else "")
    if not swept.complete:
        summary += f"; stopped after {len(swept.allowed)} allowed actions beyond the set"
    return CheckResult.failed(f"{who} can also {shown} ({LAG})", [summary, *lines],
                              evidence=beyond_evidence(asking, extra))


def _rbac(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    found = subject(ctx, p)
    if isinstance(found, CheckResult):
        return found
    asking, who = found
    if p.get("anotherMember"):
        groups = ", ".join(_own(asking.groups)) or "no group"
        who = f"another member of {groups} (not {asking.user or 'the group'})"
        asking = colleague(asking)
    if "only" in p:
        return _sweep(ctx, p, who, asking)
    return _single(ctx, p, who, asking)


def _validate(p: Mapping[str, Any]) -> list[str]:
    problems = []
    single = [k for k in ("verb", "resource", "subresource", "name", "apiGroup", "namespace", "clusterWide", "expect")
              if k in p]
    if "only" in p:
        if single:
            problems.append(f"`only` sweeps every action; do not combine it with {', '.join(single)}")
    elif "verb" not in p or "resource" not in p:
        problems.append("give `verb` and `resource` (one action), or `only` (a sweep)")
    if p.get("anotherMember") and not ({"user", "certificate", "token"} & set(p)):
        problems.append("anotherMember needs a user, a certificate or a token (whose groups the other member shares)")
    return problems


def _service_account(value: str) -> str | None:
    """`name` or `namespace:name`: a namespace a DNS label, a ServiceAccount name a DNS subdomain
    (apimachinery), `${LAB_NAMESPACE}` counting as the lab's namespace."""
    from ...manifestrules import name_problem

    namespace, colon, name = value.replace("${LAB_NAMESPACE}", "lab-x").rpartition(":")
    if (colon and name_problem("Namespace", namespace or ":")) or name_problem("ServiceAccount", name or ":") \
            or not name:
        return f"expected a ServiceAccount as name or namespace:name, e.g. builder or ci:builder, got {value!r}"
    return None


ServiceAccount = value_type((str,), what="a ServiceAccount: name or namespace:name", check=_service_account, rule=True,
                            schema={"type": "string", "pattern": r"^[^:\s]+(:[^:\s]+)?$"})

KINDS = [
    CheckKind(
        "rbac",
        {
            "user": Param(Text, doc="a user name (as in a certificate's CN)"),
            "groups": Param(list[Text], doc="the user's groups"),
            "group": Param(Text, doc="a group"),
            "serviceAccount": Param(ServiceAccount, doc="name (in the lab namespace) or namespace:name"),
            "certificate": Param(Text, doc="a kubernetes.io/tls Secret in the lab namespace: the user and groups "
                                          "the API server authenticates its certificate as"),
            "token": Param(Text, doc="a Secret in the lab namespace holding an OpenID Connect ID token as `token`: "
                                    "the user and groups the API server authenticates the token as"),
            "anotherMember": Param(bool, doc="ask for another user in the same groups instead"),
            "verb": Param(Text, doc="get, list, create, ..."),
            "resource": Param(Text, doc="pods, deployments, ..."),
            "apiGroup": Param(str, doc='the API group ("" for core, apps, ...)'),
            "subresource": Param(Text, doc="log, exec, ..."),
            "name": Param(Text, doc="one object's name"),
            "namespace": Param(Text, doc="default: the lab's namespace"),
            "clusterWide": Param(bool, doc="ask about all namespaces / cluster-scoped"),
            "expect": Param(str, doc="allowed (default) or denied", choices=("allowed", "denied")),
            "only": Param(list[RbacRule], doc="sweep: every action beyond these rules must be denied"),
        },
        _rbac,
        validate=all_of(exactly_one("user", "group", "serviceAccount", "certificate", "token"), _validate),
        doc="RBAC allows or denies an action, or allows nothing beyond a set",
        lags="the API server's RBAC authorizer may not have seen the change yet", settles_within=10,
    )
]
