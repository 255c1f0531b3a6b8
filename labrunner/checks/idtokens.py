"""What is wrong with an OpenID Connect ID token, if anything, as the API server would judge it.

The API server answers a token it refuses with a bare 401 Unauthorized, whatever the reason. So a
check reads the token itself, with the same rules a JWT authenticator applies
(k8s.io/apiserver/plugin/pkg/authenticator/token/oidc, OpenID Connect Core 1.0 section 3.1.3.7): it
must be a JWS in compact form (three base64url parts, RFC 7515), signed by a key in the issuer's
JSON Web Key Set, not expired (`exp`), from the issuer (`iss`) and for an audience the API server
accepts (`aud`). Each problem is named, so a learner's fail says which one it is. PyJWT does the
decoding and the signature check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# In the order a learner should fix them: an unreadable token has no other facts; a forged one's
# claims mean nothing.
MALFORMED, SIGNATURE, EXPIRED, ISSUER, AUDIENCE = "malformed", "signature", "expired", "issuer", "audience"
PROBLEMS = (MALFORMED, SIGNATURE, EXPIRED, ISSUER, AUDIENCE)


@dataclass(frozen=True)
class TokenFacts:
    """What `judge` found: `problems` maps each of PROBLEMS found to a sentence saying it (empty when
    the API server should accept the token); `claims` are the token's claims (unverified when its
    signature is bad; {} when malformed)."""

    problems: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def first(self) -> str:
        """The sentence of the first problem in PROBLEMS order; "" when there is none."""
        return next((self.problems[p] for p in PROBLEMS if p in self.problems), "")

    def said(self) -> str:
        """Every problem, in PROBLEMS order, joined: "it expired at ...; and its audience ..."."""
        return "; and ".join(self.problems[p] for p in PROBLEMS if p in self.problems)


def _when(seconds: Any) -> str:
    try:
        return datetime.fromtimestamp(float(seconds), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return repr(seconds)


def judge(token: str, jwks: dict, *, issuer: str, audiences: list[str], now: float) -> TokenFacts:
    """The problems of `token` (compact JWS text) against the issuer's key set `jwks` ({"keys": [...]},
    RFC 7517), its URL `issuer` and the accepted `audiences`, at `now` (Unix seconds). Never raises for
    a bad token: that is a problem found."""
    import jwt
    from jwt.exceptions import InvalidSignatureError, InvalidTokenError, PyJWKError, PyJWKSetError

    token = token.strip()
    if token.count(".") != 2:
        return TokenFacts({MALFORMED: f"it is not a JWT: a JWT is three base64url parts joined by dots "
                                      f"(header.payload.signature), this has {token.count('.') + 1}"})
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except InvalidTokenError as exc:
        return TokenFacts({MALFORMED: f"it is not a JWT that can be read: {exc}"})
    problems: dict[str, str] = {}
    kid, alg = header.get("kid"), header.get("alg")
    try:
        keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys}
    except (PyJWKSetError, PyJWKError):
        keys = {}
    key = keys.get(kid)
    if key is None:
        problems[SIGNATURE] = (f"it is signed by a key the issuer does not publish (key id {kid!r}; the issuer's "
                               f"keys: {', '.join(sorted(str(k) for k in keys)) or 'none'}): a token the issuer "
                               "did not sign, or signed with a key it has since rotated out")
    else:
        try:
            jwt.decode(token, key=key.key, algorithms=[alg or "RS256"],
                       options={"verify_exp": False, "verify_aud": False, "verify_iss": False,
                                "verify_nbf": False, "verify_iat": False})
        except InvalidSignatureError:
            problems[SIGNATURE] = (f"its signature does not match the issuer's key {kid!r}: the token was "
                                   "changed after it was signed, or signed by another key with the same id")
        except InvalidTokenError as exc:
            problems[SIGNATURE] = f"its signature cannot be checked: {exc}"
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)):
        problems[EXPIRED] = "it has no expiry time (exp), which the API server requires"
    elif exp <= now:
        problems[EXPIRED] = f"it expired at {_when(exp)} (now {_when(now)}): get a new one from the issuer"
    if claims.get("iss") != issuer:
        problems[ISSUER] = f"it was issued by {claims.get('iss')!r}, not by the issuer the API server trusts, {issuer}"
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
    if not set(auds) & set(audiences):
        problems[AUDIENCE] = (f"its audience (aud) is {', '.join(auds) or 'missing'}, but the API server accepts "
                              f"only tokens for {', '.join(audiences)}: ask the issuer for a token as client "
                              f"{audiences[0]}")
    return TokenFacts(problems, claims)
