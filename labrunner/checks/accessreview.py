"""Many SubjectAccessReviews at once, and the actions a cluster serves.

The "nothing else" sweep of the `rbac` check asks the authorizer about every
action the cluster serves. The facts come from the API server itself: API
discovery (`/api/v1`, `/apis/<group>/<version>`) lists every resource and
subresource with its verbs; a SubjectAccessReview answers whether a subject
may do one action (authorization.k8s.io/v1).

Asking all of them (about 950 on Kubernetes 1.34, 3-6 s on a small node) is
the fallback. First a SelfSubjectRulesReview per place, sent impersonating the
subject, lists the rules the authorizers can enumerate; they name the
candidate actions (their wildcards expanded over discovery, their
resourceNames asked by name), and a SubjectAccessReview confirms each one.
When a rules review says `incomplete` (an authorizer, e.g. a webhook, cannot
list its rules), that place gets every action asked. Non-resource URLs
(/metrics, /logs/*) come from the cluster-wide review's nonResourceRules and are
confirmed the same way. Reviews run in parallel
on the client's connection pool, as raw JSON.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, NamedTuple, Sequence
from urllib.parse import quote

from urllib3 import HTTPHeaderDict

from kubernetes.client.exceptions import ApiException

from ..errors import translate_api_exception

# Verbs RBAC knows that discovery does not list (Kubernetes docs, "Using RBAC
# Authorization": privilege escalation prevention, impersonation; and
# "Certificates and Certificate Signing Requests": signers).
SPECIAL_VERBS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    # (group, resource, verbs, namespaced)
    ("rbac.authorization.k8s.io", "roles", ("bind", "escalate"), True),
    ("rbac.authorization.k8s.io", "clusterroles", ("bind", "escalate"), False),
    ("", "users", ("impersonate",), False),
    ("", "groups", ("impersonate",), False),
    ("", "serviceaccounts", ("impersonate",), True),
    ("authentication.k8s.io", "uids", ("impersonate",), False),
    ("authentication.k8s.io", "userextras", ("impersonate",), False),
    ("certificates.k8s.io", "signers", ("approve", "sign"), False),
)

# The kubelet authorizes its own HTTP endpoints with a SubjectAccessReview on
# subresources of nodes that API discovery does not list (Kubernetes docs,
# "Kubelet authentication/authorization": stats, metrics, log, spec, checkpoint,
# and with fine-grained kubelet authorization configz, healthz, pods; the verb
# is the request's HTTP method: GET get, POST create, PUT update, PATCH patch,
# DELETE delete). A client certificate the cluster issued reaches them on port 10250.
KUBELET_SUBRESOURCES = ("checkpoint", "configz", "healthz", "log", "metrics", "pods", "spec", "stats")
KUBELET_VERBS = ("create", "delete", "get", "patch", "update")

# The verbs of non-resource requests are their lowercased HTTP methods
# (apiserver's RequestInfoFactory); a rule's `*` is asked as these.
NON_RESOURCE_VERBS = ("delete", "get", "head", "patch", "post", "put")
PROBE = "labrunner-probe"  # stands for "anything" where a non-resource URL rule ends in *
WELL_KNOWN_URLS = ("/metrics", "/logs/*", "/debug/pprof/*", "*")  # the API server's own that leak most

# Groups cannot be impersonated without a user; a name no binding mentions stands in.
GROUP_MEMBER = "labrunner:a-member-of-the-groups"

DISCOVERY_TTL = 60.0  # seconds; CRDs added by a lab show up within a minute
PARALLEL = 16  # reviews in flight; the client's pool holds 32 connections


class Served(NamedTuple):
    """One resource or subresource the API server serves."""

    group: str  # "" for the core group
    resource: str  # plural, e.g. "pods"
    subresource: str  # "" or e.g. "exec"
    namespaced: bool
    verbs: tuple[str, ...]


class Action(NamedTuple):
    """One question for the authorizer: `verb` on `resource[/subresource]` in `namespace`.

    `namespace` "" means cluster-wide: a cluster-scoped resource, or a
    namespaced one in every namespace at once (`kubectl get pods -A`).
    """

    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str = ""  # one object, for rules limited by resourceNames

    @property
    def what(self) -> str:
        """`pods`, `pods/exec`, `deployments.apps`, `roles.rbac.authorization.k8s.io`, `pods db`."""
        what = self.resource + (f".{self.group}" if self.group else "")
        return what + (f"/{self.subresource}" if self.subresource else "") + (f" {self.name}" if self.name else "")

    @property
    def where(self) -> str:
        return f"in {self.namespace}" if self.namespace else "cluster-wide"

    def describe(self) -> str:
        return f"{self.verb} {self.what} {self.where}"

    def attributes(self) -> dict[str, str]:
        attrs = {"verb": self.verb, "group": self.group, "resource": self.resource}
        if self.subresource:
            attrs["subresource"] = self.subresource
        if self.namespace:
            attrs["namespace"] = self.namespace
        if self.name:
            attrs["name"] = self.name
        return attrs


class Subject(NamedTuple):
    """Who asks, as the API server would see the request."""

    user: str
    groups: tuple[str, ...]
    uid: str = ""
    extra: dict | None = None


# -- raw JSON over the client's pool ------------------------------------------------

def _call(cluster: Any, method: str, path: str, body: Any = None, *, what: str,
          impersonate: Subject | None = None) -> dict:
    api = cluster.api
    try:
        params = list(api.param_serialize(method=method, resource_path=path, body=body,
                                          header_params={"Accept": "application/json",
                                                         "Content-Type": "application/json"},
                                          auth_settings=["BearerToken"]))
        if impersonate is not None:
            params[2] = _impersonation_headers(params[2], impersonate)
        response = api.call_api(*params)
        response.read()
        if response.status >= 400:  # call_api does not raise; the typed methods do it when deserializing
            raise ApiException(status=response.status, reason=response.reason, body=response.data.decode(errors="replace"))
        return json.loads(response.data or b"{}")
    except Exception as exc:
        if isinstance(exc, (TypeError, AttributeError, KeyError)):
            raise
        raise translate_api_exception(exc, what=what) from None


def _impersonation_headers(headers: dict, subject: Subject) -> HTTPHeaderDict:
    """Kubernetes impersonation headers (one Impersonate-Group header per group)."""
    out = HTTPHeaderDict(headers)
    out["Impersonate-User"] = subject.user or GROUP_MEMBER
    for group in subject.groups:
        out.add("Impersonate-Group", group)
    if subject.uid:
        out["Impersonate-Uid"] = subject.uid
    for key, values in (subject.extra or {}).items():
        for value in values:
            out.add(f"Impersonate-Extra-{quote(key, safe='')}", value)
    return out


# -- discovery ----------------------------------------------------------------------

_cache: "weakref.WeakKeyDictionary[Any, tuple[float, list[Served]]]" = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def served_resources(cluster: Any) -> list[Served]:
    """Every resource and subresource of every API group's preferred version, plus `SPECIAL_VERBS`.

    Cached per cluster for `DISCOVERY_TTL` seconds. Raises labrunner errors
    when discovery fails.
    """
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(cluster)
        if hit and now - hit[0] < DISCOVERY_TTL:
            return hit[1]
    paths = ["/api/v1"]
    groups = _call(cluster, "GET", "/apis", what="API discovery")
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if preferred:
            paths.append(f"/apis/{preferred}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        lists = list(pool.map(lambda p: _call(cluster, "GET", p, what=f"API discovery of {p}"), paths))
    found = resources_from_discovery(lists)
    with _cache_lock:
        _cache[cluster] = (now, found)
    return found


def resources_from_discovery(lists: Iterable[dict]) -> list[Served]:
    """`Served` entries from APIResourceList documents, plus `SPECIAL_VERBS`; sorted, no duplicates."""
    found: dict[tuple[str, str, str], Served] = {}
    for resource_list in lists:
        group = (resource_list.get("groupVersion") or "v1").rpartition("/")[0]
        for r in resource_list.get("resources") or []:
            resource, _, sub = r.get("name", "").partition("/")
            verbs = tuple(sorted(set(r.get("verbs") or ())))
            if resource and verbs:
                found[(group, resource, sub)] = Served(group, resource, sub, bool(r.get("namespaced")), verbs)
    for group, resource, verbs, namespaced in SPECIAL_VERBS:
        known = found.get((group, resource, ""))
        merged = tuple(sorted(set(verbs) | set(known.verbs if known else ())))
        found[(group, resource, "")] = Served(group, resource, "", namespaced, merged)
    for sub in KUBELET_SUBRESOURCES:
        found.setdefault(("", "nodes", sub), Served("", "nodes", sub, False, KUBELET_VERBS))
    return sorted(found.values())


def sweep_actions(served: Sequence[Served], namespaces: Sequence[str]) -> list[Action]:
    """Every verb on every served resource: namespaced ones in each of `namespaces` and cluster-wide,
    cluster-scoped ones cluster-wide."""
    actions: list[Action] = []
    for s in served:
        scopes = [*namespaces, ""] if s.namespaced else [""]
        for ns in scopes:
            actions.extend(Action(verb, s.group, s.resource, s.subresource, ns) for verb in s.verbs)
    return actions


def rule_actions(rules: Iterable[dict], served: Sequence[Served], namespace: str) -> list[Action]:
    """The actions in `namespace` ("" = cluster-wide) that resource rules (as a SelfSubjectRulesReview lists
    them) grant, over the served resources: RBAC's matching (`*`, exact `resource/sub`, `*/sub`; verbs `*`
    means every served verb); rules with resourceNames give one action per name. No duplicates."""
    found: dict[Action, None] = {}
    for rule in rules:
        groups, resources, verbs = rule.get("apiGroups") or [], rule.get("resources") or [], rule.get("verbs") or []
        names = rule.get("resourceNames") or [""]
        for s in served:
            if namespace and not s.namespaced:
                continue  # cluster-scoped resources are asked about cluster-wide only
            if "*" not in groups and s.group not in groups:
                continue
            combined = s.resource + (f"/{s.subresource}" if s.subresource else "")
            if not any(r in ("*", combined) or (s.subresource and r == f"*/{s.subresource}") for r in resources):
                continue
            for verb in (s.verbs if "*" in verbs else [v for v in verbs if v in s.verbs]):
                for name in names:
                    found[Action(verb, s.group, s.resource, s.subresource, namespace, name)] = None
    return list(found)


# A namespace name no namespace can have: its rules review lists what applies
# everywhere (ClusterRoleBindings), with no RoleBinding's.
NO_NAMESPACE = ":cluster-wide:"


def rules_review(cluster: Any, subject: Subject, namespace: str) -> tuple[list[dict], bool]:
    """(resource rules, incomplete) of a SelfSubjectRulesReview impersonating `subject` in `namespace`
    ("" = what applies cluster-wide)."""
    status = _rules_status(cluster, subject, namespace)
    return status.get("resourceRules") or [], bool(status.get("incomplete"))


def _rules_status(cluster: Any, subject: Subject, namespace: str) -> dict:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace or NO_NAMESPACE}}
    answer = _call(cluster, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", body,
                   what="a SelfSubjectRulesReview", impersonate=subject)
    return answer.get("status") or {}


# -- non-resource URLs (/metrics, /logs/*, /debug/pprof/*) ------------------------------

class NonResource(NamedTuple):
    """One non-resource request: `verb` (a lowercased HTTP method) on a URL path, always cluster-wide."""

    verb: str
    path: str
    url: str = ""  # the rule's URL it stands for (`/logs/*`), shown instead of a probe path

    @property
    def what(self) -> str:
        return self.url or self.path

    @property
    def where(self) -> str:
        return "(a non-resource URL)"

    def describe(self) -> str:
        return f"{self.verb} {self.what} {self.where}"

    def attributes(self) -> dict[str, str]:
        return {"verb": self.verb, "path": self.path}


def path_actions(rules: Iterable[dict]) -> list[NonResource]:
    """The requests non-resource rules (as a SelfSubjectRulesReview lists them) grant: one per verb and URL, a
    URL ending in `*` asked as its prefix + `PROBE` (RBAC matches such a URL by prefix), verbs `*` as
    `NON_RESOURCE_VERBS`. No duplicates."""
    found: dict[NonResource, None] = {}
    for rule in rules:
        verbs = rule.get("verbs") or []
        for url in rule.get("nonResourceURLs") or []:
            path = url[:-1] + PROBE if url.endswith("*") else url
            if not path.startswith("/"):
                path = "/" + path
            for verb in (NON_RESOURCE_VERBS if "*" in verbs else verbs):
                found[NonResource(verb, path, url)] = None
    return list(found)


def path_granted(path: NonResource, rules: Iterable[dict]) -> bool:
    """Whether non-resource rules grant `path`, as RBAC matches them (`*`, exact, or a prefix ending in `*`)."""
    for rule in rules:
        verbs = rule.get("verbs") or []
        if "*" not in verbs and path.verb not in verbs:
            continue
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == path.path or (url.endswith("*") and path.path.startswith(url[:-1])):
                return True
    return False


def allowed_paths(cluster: Any, subject: Subject) -> list[NonResource]:
    """The non-resource requests `subject` may make, from its cluster-wide rules, each confirmed by a
    SubjectAccessReview (a RoleBinding's non-resource rules grant nothing: the review says so)."""
    status = _rules_status(cluster, subject, "")
    candidates = path_actions(status.get("nonResourceRules") or [])
    if status.get("incomplete"):  # an authorizer that cannot list its rules: ask the telling URLs at least
        candidates += [p for p in path_actions([{"verbs": ["get"], "nonResourceURLs": WELL_KNOWN_URLS}])
                       if p not in candidates]
    return allowed_actions(cluster, subject, candidates)  # type: ignore[arg-type]


class Sweep(NamedTuple):
    allowed: list[Action]  # actions a SubjectAccessReview allowed (not the skipped ones)
    asked: int  # SubjectAccessReviews sent
    full: list[str]  # places where every action was asked (a rules review was incomplete)
    complete: bool  # False when it stopped after `enough` allowed actions


def telling_first(action: Action) -> tuple:
    """Sort key: objects of the core group first (`delete pods`), then subresources, then other groups; each
    resource in a namespace, then cluster-wide."""
    return (bool(action.subresource), bool(action.group), action.resource, action.subresource, not action.namespace,
            action.namespace, action.name, action.verb)


def sweep(cluster: Any, subject: Subject, served: Sequence[Served], namespaces: Sequence[str], *,
          skip: Callable[[Action], bool] = lambda a: False, enough: int = 0,
          order: Callable[[Action], Any] = telling_first) -> Sweep:
    """The actions `subject` may do in `namespaces` and cluster-wide, each confirmed by a SubjectAccessReview.

    Candidates come from the subject's rules per place; where a rules review is incomplete, every served
    action of that place is asked instead. Candidates `skip` accepts are not asked. With `enough`, it
    stops (asking in batches of `PARALLEL` * 4, in `order`) once that many are allowed.
    """
    places = [*namespaces, ""]
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(places))) as pool:
        reviews = list(pool.map(lambda ns: rules_review(cluster, subject, ns), places))
    candidates: dict[Action, None] = {}
    full = []
    for ns, (rules, incomplete) in zip(places, reviews):
        if incomplete:
            full.append(ns or "cluster-wide")
            scoped = [s for s in served if s.namespaced] if ns else list(served)
            candidates.update(dict.fromkeys(a for a in sweep_actions(scoped, [ns] if ns else []) if a.namespace == ns))
        candidates.update(dict.fromkeys(rule_actions(rules, served, ns)))
    queue = sorted((a for a in candidates if not skip(a)), key=order)
    allowed: list[Action] = []
    asked = 0
    batch = PARALLEL * 4
    while asked < len(queue) and not (enough and len(allowed) >= enough):
        allowed.extend(allowed_actions(cluster, subject, queue[asked:asked + batch]))
        asked = min(len(queue), asked + batch)
    return Sweep(allowed, asked, full, asked == len(queue))


# -- reviews ------------------------------------------------------------------------

def review_body(subject: Subject, attributes: dict[str, str]) -> dict:
    """A SubjectAccessReview for `subject` (user, groups, uid, extra as authenticated) and one action."""
    key = "nonResourceAttributes" if "path" in attributes else "resourceAttributes"
    spec: dict[str, Any] = {key: attributes, "groups": list(subject.groups)}
    if subject.user:
        spec["user"] = subject.user
    if subject.uid:
        spec["uid"] = subject.uid
    if subject.extra:
        spec["extra"] = subject.extra
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def can_i_command(subject: Subject, attributes: dict[str, str]) -> str:
    """The `kubectl auth can-i` command that asks the authorizer what a SubjectAccessReview for
    `subject` and `attributes` (as `Action.attributes()` or `NonResource.attributes()` give them)
    asks, impersonating the subject (`--as`, one `--as-group` per group, `--as-uid`); it prints yes
    or no and exits 0 or 1. Needs the impersonate permission a cluster admin has. A group-only
    subject is impersonated as GROUP_MEMBER, as labrunner's own requests are; "" for a subject with
    extra attributes, which kubectl cannot impersonate."""
    if subject.extra:
        return ""
    argv = ["kubectl", "auth", "can-i", attributes.get("verb", "")]
    if "path" in attributes:
        argv.append(attributes["path"])
    else:
        what = attributes.get("resource", "") + (f".{attributes['group']}" if attributes.get("group") else "")
        argv.append(what + (f"/{attributes['name']}" if attributes.get("name") else ""))
        if attributes.get("subresource"):
            argv.append(f"--subresource={attributes['subresource']}")
        # A request with no namespace is cluster-wide; can-i asks so only with --all-namespaces.
        argv += ["-n", attributes["namespace"]] if attributes.get("namespace") else ["--all-namespaces"]
    argv.append(f"--as={subject.user or GROUP_MEMBER}")
    argv += [f"--as-group={group}" for group in subject.groups]
    if subject.uid:
        argv.append(f"--as-uid={subject.uid}")
    return shlex.join(argv)


def review(cluster: Any, subject: Subject, attributes: dict[str, str]) -> dict:
    """The review's status: {allowed, denied?, reason?, evaluationError?}."""
    answer = _call(cluster, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                   review_body(subject, attributes), what="a SubjectAccessReview")
    return answer.get("status") or {}


def allowed_actions(cluster: Any, subject: Subject, actions: Sequence[Any]) -> list[Any]:
    """The actions (or `NonResource` requests) the authorizer allows `subject`, asked in parallel (`PARALLEL`
    at a time)."""
    def ask(action: Any) -> bool:
        return bool(review(cluster, subject, action.attributes()).get("allowed"))

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        answers = list(pool.map(ask, actions))
    return [a for a, ok in zip(actions, answers) if ok]
