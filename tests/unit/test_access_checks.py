"""Pure logic of the rbac, whoami and certificate checks: the sweep's grid and allowed set,
group comparison, certificate fields and lifetimes."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from labrunner.checks import check_kinds
from labrunner.checks.accessreview import (Action, Served, Subject, resources_from_discovery, review_body,
                                           sweep_actions, telling_first)
from labrunner.checks.certificates import Certificate, parse_pem_certificate
from labrunner.checks.kinds.identity import group_difference, lifetime_problem, parse_duration
from labrunner.checks.kinds.rbac import binding_names, colleague, declared, summarize

REPO = Path(__file__).resolve().parents[2]
NS = "lab-x"

CORE = {"groupVersion": "v1", "resources": [
    {"name": "pods", "namespaced": True, "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                                                   "update", "watch"]},
    {"name": "pods/exec", "namespaced": True, "verbs": ["create", "get"]},
    {"name": "pods/log", "namespaced": True, "verbs": ["get"]},
    {"name": "nodes", "namespaced": False, "verbs": ["get", "list"]},
    {"name": "bindings", "namespaced": True, "verbs": []},  # nothing to ask about
]}
APPS = {"groupVersion": "apps/v1", "resources": [
    {"name": "deployments", "namespaced": True, "verbs": ["get", "list", "delete"]},
]}


def test_discovery_becomes_served_resources_with_the_special_verbs():
    served = {(s.group, s.resource, s.subresource): s for s in resources_from_discovery([CORE, APPS])}
    assert served[("", "pods", "exec")] == Served("", "pods", "exec", True, ("create", "get"))
    assert served[("apps", "deployments", "")].verbs == ("delete", "get", "list")
    assert ("", "bindings", "") not in served
    assert served[("rbac.authorization.k8s.io", "clusterroles", "")].verbs == ("bind", "escalate")
    assert served[("", "users", "")].verbs == ("impersonate",)
    assert served[("certificates.k8s.io", "signers", "")] == Served("certificates.k8s.io", "signers", "", False,
                                                                      ("approve", "sign"))


def test_the_sweep_asks_every_verb_in_every_namespace_and_cluster_wide():
    served = [Served("", "pods", "exec", True, ("create", "get")), Served("", "nodes", "", False, ("get",))]
    actions = sweep_actions(served, [NS, "default"])
    assert Action("create", "", "pods", "exec", NS) in actions
    assert Action("create", "", "pods", "exec", "default") in actions
    assert Action("get", "", "pods", "exec", "") in actions  # in every namespace at once
    assert [a for a in actions if a.resource == "nodes"] == [Action("get", "", "nodes", "", "")]
    assert len(actions) == 2 * 3 + 1


def test_actions_describe_themselves_and_build_review_attributes():
    exec_here = Action("create", "", "pods", "exec", NS)
    assert exec_here.describe() == "create pods/exec in lab-x"
    assert exec_here.attributes() == {"verb": "create", "group": "", "resource": "pods", "subresource": "exec",
                                      "namespace": NS}
    assert Action("list", "apps", "deployments", "", "").describe() == "list deployments.apps cluster-wide"
    body = review_body(Subject("jane", ("shop-devs", "system:authenticated"), "u1", {"k": ["v"]}),
                       exec_here.attributes())
    assert body["spec"]["user"] == "jane" and body["spec"]["groups"] == ["shop-devs", "system:authenticated"]
    assert body["spec"]["uid"] == "u1" and body["spec"]["extra"] == {"k": ["v"]}
    assert "user" not in review_body(Subject("", ("ops",)), exec_here.attributes())["spec"]


RULES = [{"verbs": ["get", "list", "watch"], "resources": ["pods", "pods/log"]}]


@pytest.mark.parametrize("action, allowed", [
    (Action("list", "", "pods", "", NS), True),
    (Action("get", "", "pods", "log", NS), True),
    (Action("deletecollection", "", "pods", "", NS), False),
    (Action("patch", "", "pods", "", NS), False),
    (Action("get", "", "pods", "exec", NS), False),  # a subresource is not its resource
    (Action("list", "", "pods", "", "default"), False),  # another namespace
    (Action("list", "", "pods", "", ""), False),  # every namespace at once
    (Action("list", "apps", "pods", "", NS), False),  # another API group
])
def test_declared_rules_cover_exactly_what_they_say(action, allowed):
    assert declared(action, RULES, NS) is allowed


def test_declared_wildcards_and_places():
    assert declared(Action("create", "", "pods", "exec", NS), [{"verbs": ["*"], "resources": ["*/exec"]}], NS)
    assert not declared(Action("create", "", "pods", "", NS), [{"verbs": ["*"], "resources": ["*/exec"]}], NS)
    assert not declared(Action("create", "", "pods", "exec", NS), [{"verbs": ["*"], "resources": ["pods/*"]}], NS)
    anywhere = [{"verbs": ["get"], "resources": ["*"], "apiGroup": "*", "clusterWide": True}]
    assert declared(Action("get", "apps", "deployments", "", ""), anywhere, NS)
    assert declared(Action("get", "", "nodes", "", "elsewhere"), anywhere, NS)
    there = [{"verbs": ["get"], "resources": ["pods"], "namespace": "default"}]
    assert declared(Action("get", "", "pods", "", "default"), there, NS)
    assert not declared(Action("get", "", "pods", "", NS), there, NS)


def test_summary_names_verbs_per_resource_and_place():
    lines = summarize([Action("patch", "", "pods", "", NS), Action("create", "", "pods", "exec", NS),
                       Action("deletecollection", "", "pods", "", NS), Action("list", "", "pods", "", "")])
    assert lines == ["deletecollection, patch pods in lab-x", "create pods/exec in lab-x", "list pods cluster-wide"]
    ordered = sorted([Action("list", "", "pods", "", ""), Action("get", "apps", "deployments", "", NS),
                      Action("create", "", "pods", "exec", NS), Action("patch", "", "pods", "", NS)],
                     key=telling_first)
    assert [a.describe() for a in ordered] == ["patch pods in lab-x", "list pods cluster-wide",
                                               "get deployments.apps in lab-x", "create pods/exec in lab-x"]


def test_bindings_that_name_the_subject():
    jane = Subject("jane", ("shop-devs", "system:authenticated"))
    binding = {"metadata": {"namespace": "default"}, "subjects": [{"kind": "User", "name": "john"}]}
    assert not binding_names(binding, jane)
    assert binding_names({**binding, "subjects": [{"kind": "Group", "name": "system:authenticated"}]}, jane)
    assert binding_names({**binding, "subjects": [{"kind": "User", "name": "jane"}]}, jane)
    robot = Subject("system:serviceaccount:default:robot", ())
    assert binding_names({**binding, "subjects": [{"kind": "ServiceAccount", "name": "robot"}]}, robot)
    assert not binding_names({**binding, "subjects": [{"kind": "ServiceAccount", "name": "robot",
                                                       "namespace": "other"}]}, robot)


def test_a_colleague_shares_the_groups_not_the_name():
    jane = Subject("jane", ("shop-devs", "ops", "system:authenticated"), "uid-1", {"k": ["v"]})
    other = colleague(jane)
    assert other.user != "jane" and other.groups == jane.groups and not other.uid and not other.extra


def test_rbac_parameters():
    kind = check_kinds()["rbac"]
    assert not kind.problems({"certificate": "jane-cert", "only": RULES})
    assert not kind.problems({"certificate": "jane-cert", "anotherMember": True, "verb": "list", "resource": "pods"})
    assert kind.problems({"certificate": "jane-cert", "user": "jane", "verb": "list", "resource": "pods"})
    assert kind.problems({"user": "jane", "verb": "list"})  # no resource
    assert kind.problems({"user": "jane", "only": RULES, "verb": "list"})  # a sweep is not one action
    assert kind.problems({"user": "jane", "only": [{"verbs": ["get"]}]})
    assert kind.problems({"user": "jane", "only": [{"verbs": ["get"], "resources": ["pods"], "names": ["x"]}]})
    assert kind.problems({"group": "ops", "anotherMember": True, "verb": "get", "resource": "pods"})


def test_groups_compare_exactly_with_system_authenticated_implied():
    assert group_difference(["shop-devs", "system:authenticated"], ["shop-devs"]) == ([], [])
    assert group_difference(["shop-devs", "ops"], ["shop-devs"]) == ([], ["ops"])
    assert group_difference([], ["shop-devs"]) == (["shop-devs"], [])
    assert group_difference(["ops"], []) == ([], ["ops"])


def test_certificate_fields_from_pem():
    cert = parse_pem_certificate((REPO / "labs/user-access/wrong/02-self-signed.crt").read_bytes())
    assert cert.common_name == "jane" and cert.organizations == ("shop-devs",)
    assert cert.lifetime == timedelta(days=2) and cert.not_before.tzinfo is timezone.utc
    with pytest.raises(ValueError):
        parse_pem_certificate(b"-----BEGIN CERTIFICATE REQUEST-----\nabc\n")
    with pytest.raises(ValueError):
        parse_pem_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def cert_valid_for(delta: timedelta) -> Certificate:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return Certificate("jane", ("shop-devs",), start, start + delta)


def test_lifetime_allows_the_signers_backdating_only():
    day = timedelta(days=1)
    assert lifetime_problem(cert_valid_for(day), day) == ""  # 8 h or more: exactly the TTL
    assert lifetime_problem(cert_valid_for(timedelta(hours=1, minutes=5)), timedelta(hours=1)) == ""  # short: +5 min
    assert "valid for 365d" in lifetime_problem(cert_valid_for(timedelta(days=365)), day)
    assert "not 1d" in lifetime_problem(cert_valid_for(timedelta(hours=1, minutes=5)), day)
    assert lifetime_problem(cert_valid_for(day + timedelta(minutes=6)), day)


def test_durations():
    assert parse_duration(86400) == parse_duration("24h") == parse_duration("1d")
    assert parse_duration("1h30m") == timedelta(minutes=90)
    for bad in ("", "soon", "24 hours", True):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert check_kinds()["certificate"].problems({"csr": "jane"})  # nothing to check
    assert check_kinds()["certificate"].problems({"csr": "jane", "validFor": "a day"})
    assert not check_kinds()["whoami"].problems({"secret": "c", "user": "jane", "validFor": "24h"})


def test_the_sweep_flow_counts_only_what_everyone_may_not_do(fake_cluster, monkeypatch):
    """Discovery and reviews faked at our HTTP boundary (accessreview._call)."""
    from labrunner.checks import CheckContext, Status, accessreview, run_check
    from labrunner.model import CheckSpec, Difficulty, Lab, Step

    grants = {("jane", "list", "pods", "", NS), ("jane", "deletecollection", "pods", "", NS),
              ("jane", "create", "pods", "exec", "elsewhere"), ("jane", "get", "nodes", "", "")}
    # Like system:basic-user's grants, and one a learner made during the lab (a newer ClusterRoleBinding).
    everyone = {("get", "nodes", "", ""), ("get", "pods", "log", ""), ("get", "/healthz"), ("get", "/metrics")}
    asked: list[dict] = []

    rules = {NS: [{"verbs": ["list", "deletecollection"], "apiGroups": [""], "resources": ["pods"]}],
             ":cluster-wide:": [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes", "pods/log"]}]}
    paths = [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/metrics"]},
             {"verbs": ["*"], "nonResourceURLs": ["/logs/*"]}]
    grants |= {("jane", "get", "pods", "log", ""), ("jane", "get", "/healthz"), ("jane", "get", "/metrics"),
               ("jane", "get", "/logs/labrunner-probe")}
    reviewed: list[str] = []

    def call(cluster, method, path, body=None, *, what, impersonate=None):
        if method == "GET":
            return {"/apis": {"groups": [{"preferredVersion": {"groupVersion": "apps/v1"}}]},
                    "/api/v1": CORE, "/apis/apps/v1": APPS}[path]
        if path.endswith("/selfsubjectrulesreviews"):
            ns = body["spec"]["namespace"]
            if impersonate.user == "labrunner:any-authenticated-user":
                assert ns == ":cluster-wide:"
                return {"status": {"resourceRules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}]}}
            reviewed.append(ns)
            assert impersonate.user == "jane"
            if ns not in rules:  # like a webhook authorizer that cannot list its rules
                return {"status": {"resourceRules": [], "incomplete": True}}
            return {"status": {"resourceRules": rules[ns], "incomplete": False,
                               **({"nonResourceRules": paths} if ns == ":cluster-wide:" else {})}}
        spec = body["spec"]
        asked.append(spec)
        if "nonResourceAttributes" in spec:
            key = (spec["nonResourceAttributes"]["verb"], spec["nonResourceAttributes"]["path"])
            return {"status": {"allowed": (spec.get("user"), *key) in grants or key in everyone}}
        a = spec["resourceAttributes"]
        key = (a["verb"], a["resource"], a.get("subresource", ""), a.get("namespace", ""))
        allowed = (spec.get("user"), *key) in grants or key[:3] + ("",) in everyone and key[3] == ""
        return {"status": {"allowed": allowed}}

    monkeypatch.setattr(accessreview, "_call", call)
    binding = {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "elsewhere"},
               "subjects": [{"kind": "User", "name": "jane"}]}
    cluster = fake_cluster([binding])
    leaving = {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "old-run"},
               "subjects": [{"kind": "User", "name": "jane"}]}
    grants.add(("jane", "list", "pods", "", "old-run"))
    terminating = {"kind": "Namespace", "metadata": {"name": "old-run", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    def crb(name, role, created):
        return {"kind": "ClusterRoleBinding", "metadata": {"name": name, "creationTimestamp": created},
                "roleRef": {"kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "Group", "name": "system:authenticated"}]}

    def role(name, *rules):
        return {"kind": "ClusterRole", "metadata": {"name": name}, "rules": list(rules)}

    roles = [role("basic", {"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]},
                  {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}),
             role("learners", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
                  {"verbs": ["get"], "nonResourceURLs": ["/metrics"]})]
    bindings = [crb("basic", "basic", "2026-01-01T00:00:00Z"), crb("learners", "learners", "2026-03-01T10:00:05Z")]
    cluster.list = lambda kind, **_: {"RoleBinding": [binding, leaving], "Namespace": [terminating],
                                      "ClusterRole": roles, "ClusterRoleBinding": bindings}[kind]
    cluster.objects.append({"kind": "Namespace", "metadata": {"name": NS, "creationTimestamp": "2026-03-01T10:00:00Z"}})
    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(step,), path=Path("."))
    ctx = CheckContext(cluster=cluster, namespace=NS, lab=lab, step=step)
    result = run_check(ctx, CheckSpec(id="c", kind="rbac", params={"user": "jane", "only": RULES}))
    assert result.status is Status.FAIL
    assert result.message.startswith("user jane can also deletecollection pods in lab-x; create pods/exec in "
                                     "elsewhere; "), result.message
    assert "nodes" not in result.message  # everyone may get nodes here: not hers to answer for
    assert "/healthz" not in " ".join(result.details)  # ... nor /healthz
    # What everyone may do only through a ClusterRoleBinding newer than the lab's namespace is an answer.
    assert "get pods/log cluster-wide" in result.details
    assert "get /metrics (a non-resource URL)" in result.details
    assert "delete, get, head, patch, post, put /logs/* (a non-resource URL)" not in result.details
    assert "get /logs/* (a non-resource URL)" in result.details  # only the verb she has, shown as the rule says
    assert "elsewhere" in result.details[0]  # the namespace of her RoleBinding was swept
    assert "old-run" not in result.details[0]  # ... but not one being deleted
    assert any(s["user"] == "labrunner:any-authenticated-user" for s in asked)
    assert set(reviewed) == {NS, "elsewhere", ":cluster-wide:"}
    assert "every action asked in elsewhere" in result.details[0]
    # Each action allowed beyond the set is evidence: the review that allowed it, and how to ask it again.
    reviews = {(r.request["spec"].get("resourceAttributes") or r.request["spec"]["nonResourceAttributes"])["verb"]
               + " " + r.reproduce.split()[4]: r for r in result.evidence.reviews}
    exec_review = reviews["create pods"]
    assert exec_review.allowed and exec_review.expected == "denied"
    assert exec_review.request["spec"]["resourceAttributes"] == {"verb": "create", "group": "", "resource": "pods",
                                                                 "subresource": "exec", "namespace": "elsewhere"}
    assert exec_review.reproduce == ("kubectl auth can-i create pods --subresource=exec -n elsewhere --as=jane "
                                     "--as-group=system:authenticated")
    assert reviews["get /metrics"].request["spec"]["nonResourceAttributes"] == {"verb": "get", "path": "/metrics"}
    assert result.evidence.observed == f"{len(result.evidence.reviews)} allowed beyond it"
    grants.difference_update({("jane", "deletecollection", "pods", "", NS), ("jane", "create", "pods", "exec",
                                                                               "elsewhere"),
                              ("jane", "get", "pods", "log", ""), ("jane", "get", "/metrics"),
                              ("jane", "get", "/logs/labrunner-probe")})
    everyone.difference_update({("get", "pods", "log", ""), ("get", "/metrics")})
    passed = run_check(ctx, CheckSpec(id="c", kind="rbac", params={"user": "jane", "only": RULES}))
    assert passed.ok and passed.evidence.reviews == () and passed.evidence.observed == "nothing allowed beyond it"


def test_non_resource_rules_name_requests_as_rbac_matches_them():
    from labrunner.checks.accessreview import NON_RESOURCE_VERBS, NonResource, path_actions, path_granted

    asked = path_actions([{"verbs": ["get"], "nonResourceURLs": ["/metrics", "/logs/*"]},
                          {"verbs": ["*"], "nonResourceURLs": ["*"]}])
    assert NonResource("get", "/metrics", "/metrics") in asked and NonResource("get", "/logs/labrunner-probe", "/logs/*") in asked
    assert {p.verb for p in asked if p.url == "*"} == set(NON_RESOURCE_VERBS)
    assert NonResource("get", "/logs/x", "/logs/*").describe() == "get /logs/* (a non-resource URL)"
    assert NonResource("get", "/metrics").attributes() == {"verb": "get", "path": "/metrics"}
    assert "nonResourceAttributes" in review_body(Subject("jane", ()), {"verb": "get", "path": "/metrics"})["spec"]
    rules = [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/api/*"]}]
    assert path_granted(NonResource("get", "/api/v1"), rules) and path_granted(NonResource("get", "/healthz"), rules)
    assert not path_granted(NonResource("post", "/healthz"), rules)
    assert not path_granted(NonResource("get", "/healthz/x"), rules)  # no * : exact
    assert path_granted(NonResource("put", "/anything"), [{"verbs": ["*"], "nonResourceURLs": ["*"]}])


def test_the_kubelets_subresources_of_nodes_are_swept():
    served = {(s.group, s.resource, s.subresource): s for s in resources_from_discovery([CORE])}
    assert served[("", "nodes", "log")] == Served("", "nodes", "log", False, ("create", "delete", "get", "patch",
                                                                             "update"))
    assert ("", "nodes", "stats") in served and ("", "nodes", "metrics") in served


def test_rules_name_the_candidate_actions_as_rbac_matches_them():
    from labrunner.checks.accessreview import rule_actions

    served = resources_from_discovery([CORE, APPS])
    pods = rule_actions([{"verbs": ["get", "use"], "apiGroups": [""], "resources": ["pods", "*/log"]}], served, NS)
    assert set(pods) == {Action("get", "", "pods", "", NS), Action("get", "", "pods", "log", NS)}
    every = rule_actions([{"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*"]}], served, NS)
    assert {a.verb for a in every} == {"delete", "get", "list"} and {a.group for a in every} == {"apps"}
    named = rule_actions([{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["db"]}],
                         served, NS)
    assert named == [Action("delete", "", "pods", "", NS, "db")] and named[0].attributes()["name"] == "db"
    assert named[0].describe() == "delete pods db in lab-x"
    nodes = [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}]
    assert rule_actions(nodes, served, NS) == []  # cluster-scoped: only cluster-wide
    assert rule_actions(nodes, served, "") == [Action("get", "", "nodes", "", "")]


def test_certificate_check_reads_the_issued_certificate(fake_cluster):
    import base64

    from labrunner.checks import CheckContext, Status, run_check
    from labrunner.model import CheckSpec, Difficulty, Lab, Step

    pem = (REPO / "labs/user-access/wrong/02-self-signed.crt").read_bytes()  # CN=jane, O=shop-devs, 2 days
    csr = {"kind": "CertificateSigningRequest", "metadata": {"name": "jane"},
           "spec": {"expirationSeconds": 3 * 86400}, "status": {"certificate": base64.b64encode(pem).decode()}}
    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(step,), path=Path("."))

    def check(cluster, **params):
        assert not check_kinds()["certificate"].problems(params)
        return run_check(CheckContext(cluster=cluster, namespace=NS, lab=lab, step=step),
                         CheckSpec(id="c", kind="certificate", params=params))

    cluster = fake_cluster([csr])
    assert check(cluster, csr="jane", user="jane", groups=["shop-devs"], validFor="2d").ok
    assert check(cluster, csr="jane", user="bob").status is Status.FAIL
    assert check(cluster, csr="jane", groups=["shop-devs", "ops"]).status is Status.FAIL
    assert "not 1d" in check(cluster, csr="jane", validFor="1d").message
    capped = check(cluster, csr="jane", validFor="3d")  # asked for 3 days, the signer gave 2: not the learner's
    assert capped.status is Status.ERROR and "--cluster-signing-duration" in capped.message
    pending = fake_cluster([{**csr, "status": {}}])
    unapproved = check(pending, csr="jane", validFor="2d")
    assert unapproved.status is Status.FAIL and "it is not approved" in unapproved.message
    assert unapproved.evidence.expected == "a certificate valid for 2d"
    assert "kubectl describe csr jane" in unapproved.evidence.reproduce()
    for result in (check(cluster, csr="jane", user="bob"), capped):
        assert "issued certificate: subject CN=jane, O=shop-devs" in result.evidence.observed


def test_a_csr_the_signer_refused_fails_quoting_the_signers_reason(fake_cluster):
    """Approved, but the kube-apiserver-client signer refuses a request that also asks for server auth: the
    fail quotes the Failed condition's reason and message, as the kube-controller-manager writes them."""
    from labrunner.checks import CheckContext, Status, run_check
    from labrunner.model import CheckSpec, Difficulty, Lab, Step

    refused = {"kind": "CertificateSigningRequest", "metadata": {"name": "jane"},
               "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth", "server auth"],
                        "expirationSeconds": 86400},
               "status": {"conditions": [
                   {"type": "Approved", "status": "True", "reason": "KubectlApprove",
                    "message": "This CSR was approved by kubectl certificate approve."},
                   {"type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                    "message": "invalid usage for client certificate: server auth"}]}}
    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(step,), path=Path("."))
    ctx = CheckContext(cluster=fake_cluster([refused]), namespace=NS, lab=lab, step=step)
    result = run_check(ctx, CheckSpec(id="c", kind="certificate",
                                      params={"csr": "jane", "user": "jane", "groups": ["shop-devs"], "validFor": "24h"}))
    assert result.status is Status.FAIL
    assert ('the signer kubernetes.io/kube-apiserver-client refused CertificateSigningRequest jane: '
            'SignerValidationFailure: "invalid usage for client certificate: server auth"') in result.message
    assert result.evidence.expected == "a certificate for CN=jane, O=shop-devs, valid for 1d"
    assert "Failed (SignerValidationFailure" in result.evidence.observed
    assert "usages: client auth, server auth" in result.evidence.observed
    # Approved and waiting for the signer is another story than refused
    waiting = {**refused, "status": {"conditions": refused["status"]["conditions"][:1]}}
    ctx = CheckContext(cluster=fake_cluster([waiting]), namespace=NS, lab=lab, step=step)
    result = run_check(ctx, CheckSpec(id="c", kind="certificate", params={"csr": "jane", "user": "jane"}))
    assert result.status is Status.FAIL and "is approved, but kubernetes.io/kube-apiserver-client has not issued" \
        in result.message
    denied = {**refused, "status": {"conditions": [{"type": "Denied", "status": "True", "reason": "KubectlDeny",
                                                    "message": "no"}]}}
    ctx = CheckContext(cluster=fake_cluster([denied]), namespace=NS, lab=lab, step=step)
    result = run_check(ctx, CheckSpec(id="c", kind="certificate", params={"csr": "jane", "user": "jane"}))
    assert result.status is Status.FAIL and 'was denied: KubectlDeny: "no"' in result.message


# -- evidence: the review asked, its answer, and the kubectl command that asks it again ------------

def _rbac_ctx(fake_cluster):
    from labrunner.checks import CheckContext
    from labrunner.model import Difficulty, Lab, Step

    step = Step(id="s", title="S", text="", text_path=None)
    lab = Lab(id="demo", title="D", summary="", difficulty=Difficulty.BEGINNER, minutes=1, topics=(), requires=(),
              images=(), steps=(step,), path=Path("."))
    return CheckContext(cluster=fake_cluster([]), namespace=NS, lab=lab, step=step)


@pytest.mark.parametrize("answer, status", [
    ({"allowed": False, "reason": "no RBAC policy matched"}, "fail"),
    ({"allowed": True, "reason": 'RBAC: allowed by RoleBinding "b/lab-x" of Role "r" to User "jane"'}, "pass"),
    ({"allowed": False, "evaluationError": "webhook timed out"}, "error"),
])
def test_a_single_rbac_check_carries_the_review_and_its_answer(fake_cluster, monkeypatch, answer, status):
    from labrunner.checks import accessreview, run_check
    from labrunner.model import CheckSpec

    sent: list[dict] = []

    def call(cluster, method, path, body=None, *, what, impersonate=None):  # noqa: ANN001, ANN202
        sent.append(body)
        return {"status": answer}

    monkeypatch.setattr(accessreview, "_call", call)
    params = {"user": "jane", "groups": ["shop-devs"], "verb": "get", "resource": "pods", "subresource": "log"}
    result = run_check(_rbac_ctx(fake_cluster), CheckSpec(id="c", kind="rbac", params=params))
    assert result.status.value == status, result.message
    (review,) = result.evidence.reviews
    assert review.request == sent[0] and review.request["kind"] == "SubjectAccessReview"
    assert review.allowed is answer["allowed"] and review.expected == "allowed"
    assert review.reason == answer.get("reason", "") and review.evaluation_error == answer.get("evaluationError", "")
    assert review.reproduce == ("kubectl auth can-i get pods --subresource=log -n lab-x --as=jane "
                                "--as-group=shop-devs --as-group=system:authenticated")
    assert result.evidence.expected == "allowed"
    assert result.evidence.observed == {"fail": "denied", "pass": "allowed", "error": "no decision"}[status]
    shown = result.as_dict()["evidence"]["reviews"][0]
    assert shown["request"]["spec"]["user"] == "jane" and shown["allowed"] is answer["allowed"]


def test_can_i_commands_ask_what_the_review_asks():
    from labrunner.checks.accessreview import GROUP_MEMBER, NonResource, can_i_command

    jane = Subject("jane", ("system:authenticated",))
    assert can_i_command(jane, Action("list", "apps", "deployments", "", "").attributes()) == \
        "kubectl auth can-i list deployments.apps --all-namespaces --as=jane --as-group=system:authenticated"
    assert can_i_command(jane, Action("delete", "", "pods", "", NS, "db-0").attributes()) == \
        "kubectl auth can-i delete pods/db-0 -n lab-x --as=jane --as-group=system:authenticated"
    assert can_i_command(jane, NonResource("get", "/metrics").attributes()) == \
        "kubectl auth can-i get /metrics --as=jane --as-group=system:authenticated"
    sa = Subject("system:serviceaccount:lab-x:viewer", ("system:serviceaccounts", "system:authenticated"), "u-1")
    assert can_i_command(sa, Action("get", "", "secrets", "", NS).attributes()) == (
        "kubectl auth can-i get secrets -n lab-x --as=system:serviceaccount:lab-x:viewer "
        "--as-group=system:serviceaccounts --as-group=system:authenticated --as-uid=u-1")
    group_only = can_i_command(Subject("", ("ops", "system:authenticated")), Action("get", "", "pods", "", NS).attributes())
    assert f"--as={GROUP_MEMBER}" in group_only and "--as-group=ops" in group_only
    assert can_i_command(Subject("jane", ("a b",)), Action("get", "", "pods", "", NS).attributes()).endswith(
        "'--as-group=a b'")  # quoted for a shell
    assert can_i_command(Subject("jane", (), extra={"scopes": ["x"]}), Action("get", "", "pods", "", NS).attributes()) == ""
