"""The `idtoken` check: who the API server takes an OpenID Connect ID token for, or that it refuses it.

The learner keeps the ID token they got from the issuer in a Secret (`kubectl create secret generic
NAME --from-literal=token=$TOKEN`). The check sends a SelfSubjectReview with that token alone
(`Authorization: Bearer`, nothing of labrunner's credentials), so it passes only when the API server
itself accepts the token and maps its claims to the user and groups expected, exactly as `kubectl
--token=$TOKEN auth whoami` shows. The API server says only 401 when it refuses a token, so the check
also reads the token against the issuer's published keys (checks/idtokens.py) and says which of
malformed, signed by another key, expired, another issuer or another audience it is.

With `expect: refused` and `because`, the token must be a genuine one that has exactly that problem
(say, a token of the issuer for another client: audience), and the API server must refuse it.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import replace
from typing import Any, Mapping

from ...format.values import ResourceName, Text
from ..base import CheckContext, CheckKind, CheckResult, Param
from ..evidence import Evidence
from ..idtokens import PROBLEMS, TokenFacts, judge

TOKEN_KEY = "token"


def read_token(ctx: CheckContext, name: str, namespace: str, key: str = TOKEN_KEY) -> str | CheckResult:
    """The token text in Secret `name`'s `key`, or a fail saying how to store it."""
    make = f"kubectl -n {namespace} create secret generic {name} --from-literal={key}=\"$TOKEN\""
    secret = ctx.cluster.get("Secret", name, namespace=namespace)
    if secret is None:
        return CheckResult.failed(f"Secret {name} does not exist yet; store the ID token in it: `{make}`")
    encoded = (secret.get("data") or {}).get(key)
    try:
        token = base64.b64decode(encoded or "", validate=True).decode().strip()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        token = ""
    if not token:
        return CheckResult.failed(f"Secret {name} has no `{key}`; store the ID token under that key: `{make}`")
    return token


def _issuer(ctx: CheckContext):  # noqa: ANN202
    """(the oidc add-on, facts of its keys) or an error CheckResult: the issuer is the environment."""
    from ...addons import addon_providing
    from ...addons.issuer import IssuerError, signing_keys

    addon = addon_providing("oidc")
    if addon is None or addon.spec.issuer is None:
        return CheckResult.errored("labrunner has no OpenID Connect issuer add-on")
    try:
        return addon, signing_keys(ctx.cluster, addon)
    except IssuerError as exc:
        return CheckResult.errored(f"{exc}: is the oidc add-on installed and ready (`labrunner addons`)?")


def facts_of(ctx: CheckContext, token: str) -> tuple[Any, TokenFacts] | CheckResult:
    """(the add-on, what is wrong with `token` as its issuer and the API server's audiences see it)."""
    found = _issuer(ctx)
    if isinstance(found, CheckResult):
        return found
    addon, keys = found
    issuer = addon.spec.issuer
    return addon, judge(token, keys, issuer=issuer.url, audiences=list(issuer.audiences), now=time.time())


def _idtoken(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    result = _idtoken_judged(ctx, p)
    if result.ok or result.evidence:
        return result
    wanted = (f"refused, because of its {p['because']} only" if p.get("expect") == "refused" else
              f"user {p['user']!r}" + (f" in groups {', '.join(p['groups'])}" if p.get("groups") else ""))
    return replace(result, evidence=Evidence(wanted, result.message))


def _idtoken_judged(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    from ...addons.issuer import IssuerError, review_with_token

    name, ns = p["secret"], p.get("namespace") or ctx.namespace
    token = read_token(ctx, name, ns, p.get("key", TOKEN_KEY))
    if isinstance(token, CheckResult):
        return token
    found = facts_of(ctx, token)
    if isinstance(found, CheckResult):
        return found
    addon, facts = found
    try:
        seen = review_with_token(ctx.cluster, token)
    except IssuerError as exc:
        return CheckResult.errored(str(exc))
    if seen.status not in (200, 201, 401):
        return CheckResult.errored(f"the SelfSubjectReview sent with the token answered {seen.status}: {seen.message}")
    accepted = seen.status != 401
    own = [g for g in seen.groups if g != "system:authenticated"]
    shown = (f"user {seen.user!r}" + (f" in groups {', '.join(own)}" if own else " in no groups")) if accepted \
        else "refused (401 Unauthorized)"
    claims = facts.claims
    details = [f"the token's claims: iss {claims.get('iss')!r}, aud {claims.get('aud')!r}, email "
               f"{claims.get('email')!r}, groups {claims.get('groups')!r}"] if claims else []
    details.append(f"the API server: {shown}")
    decode = (f"kubectl -n {ns} get secret {name} -o jsonpath='{{.data.{p.get('key', TOKEN_KEY)}}}' | base64 -d | "
              "cut -d. -f2 | base64 -d 2>/dev/null; echo")
    if p.get("expect", "accepted") == "refused":
        return _refused(p, name, facts, accepted, shown, details, decode)
    wanted = f"user {p['user']!r}" + (f" in groups {', '.join(p['groups'])}" if p.get("groups") else "")
    evidence = Evidence(wanted, shown, commands=(decode,))
    if facts.problems:
        message = f"the token in Secret {name} cannot be used: {facts.said()}"
        if accepted:  # the API server and our reading disagree: ours is wrong, never the learner
            return CheckResult.errored(f"{message}, yet the API server accepted it as {shown}", details,
                                       evidence=evidence)
        return CheckResult.failed(message, details, evidence=evidence)
    if not accepted:
        return CheckResult.errored(f"the token in Secret {name} is a valid token of {addon.spec.issuer.url}, but the "
                                   "API server refuses it: it does not trust the issuer (`labrunner doctor` says why)",
                                   details, evidence=evidence)
    if seen.user != p["user"]:
        return CheckResult.failed(f"the API server sees the token in Secret {name} as {shown}, not as user "
                                  f"{p['user']!r}: the user name is the token's {addon.spec.issuer.username.claim} "
                                  f"claim with the prefix {addon.spec.issuer.username.prefix!r}; get the token as "
                                  "the right user", details, evidence=evidence)
    if "groups" in p:
        asked = set(p["groups"]) - {"system:authenticated"}
        missing, extra = sorted(asked - set(own)), sorted(set(own) - asked)
        if missing or extra:
            parts = ([f"not in {', '.join(missing)}"] if missing else []) + \
                    ([f"also in {', '.join(extra)}"] if extra else [])
            return CheckResult.failed(f"the API server sees {shown}: {' and '.join(parts)}; groups come from the "
                                      f"token's {addon.spec.issuer.groups.claim} claim (asked for with the scope "
                                      "`groups`)", details, evidence=evidence)
    return CheckResult.passed(f"the API server accepts the token in Secret {name} as {shown}", details,
                              evidence=evidence)


def _refused(p: Mapping[str, Any], name: str, facts: TokenFacts, accepted: bool, shown: str, details: list[str],
             decode: str) -> CheckResult:
    because = p["because"]
    evidence = Evidence(f"refused, because of its {because} only", shown + (f"; {facts.said()}" if facts.problems
                                                                              else ""), commands=(decode,))
    if because not in facts.problems:
        what = facts.said() or "a token the API server should accept"
        return CheckResult.failed(f"the token in Secret {name} should be a genuine token of the issuer refused for "
                                  f"its {because}, but {'it is ' + what if not facts.problems else what}",
                                  details, evidence=evidence)
    others = {k: v for k, v in facts.problems.items() if k != because}
    if others:
        return CheckResult.failed(f"the token in Secret {name} has more wrong than its {because}: "
                                  f"{'; and '.join(others.values())}; get a fresh one from the issuer, so only "
                                  f"its {because} is wrong", details, evidence=evidence)
    if accepted:
        return CheckResult.failed(f"the API server accepted the token in Secret {name} as {shown}, though "
                                  f"{facts.problems[because]}", details, evidence=evidence)
    return CheckResult.passed(f"the API server refuses the token in Secret {name}: {facts.problems[because]}",
                              details, evidence=evidence)


def _validate(p: Mapping[str, Any]) -> list[str]:
    if p.get("expect", "accepted") == "refused":
        problems = [] if "because" in p else ["expect: refused needs `because`: the one thing wrong with the token"]
        return problems + [f"{k}: only for expect: accepted" for k in ("user", "groups") if k in p]
    problems = [] if "user" in p else ["user: required for expect: accepted"]
    return problems + (["because: only for expect: refused"] if "because" in p else [])


KINDS = [
    CheckKind(
        "idtoken",
        {
            "secret": Param(ResourceName, required=True, doc="a Secret holding the ID token under `key`"),
            "key": Param(Text, doc="the Secret's key holding the token; default `token`"),
            "namespace": Param(Text, doc="the Secret's namespace; default: the lab's"),
            "user": Param(Text, doc="the user name the API server must see (the username claim, prefixed)"),
            "groups": Param(list[Text], doc="exactly the groups it must see (the groups claim, prefixed); "
                                            "system:authenticated is implied"),
            "expect": Param(str, doc="accepted (default) or refused", choices=("accepted", "refused")),
            "because": Param(str, doc="for refused: the one thing wrong with the token", choices=PROBLEMS),
        },
        _idtoken,
        validate=_validate,
        doc="the API server accepts an OpenID Connect ID token as exactly that user and those groups, or "
            "refuses a genuine token for the one reason named",
    ),
]
