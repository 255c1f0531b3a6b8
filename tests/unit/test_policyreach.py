"""What NetworkPolicies open beyond the pod network, read from the policies (pure logic)."""

import ipaddress

import pytest

from labrunner.checks.policyreach import beyond, egress_beyond, naming_labrunner, selector_matches, selector_text, singling_out

POD_NETS = [ipaddress.ip_network("10.244.0.0/24")]


def policy(egress, types=("Egress",), name="p", **spec):
    return {"metadata": {"name": name, "namespace": "lab"},
            "spec": {"podSelector": {}, "policyTypes": list(types), "egress": egress, **spec}}


def test_selector_text_follows_label_selector_operators():
    assert selector_text({}) == ""
    assert selector_text({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert selector_text({"matchExpressions": [
        {"key": "t", "operator": "In", "values": ["x", "y"]},
        {"key": "u", "operator": "NotIn", "values": ["z"]},
        {"key": "v", "operator": "Exists"},
        {"key": "w", "operator": "DoesNotExist"},
    ]}) == "t in (x,y),u notin (z),v,!w"
    with pytest.raises(ValueError):
        selector_text({"matchExpressions": [{"key": "t", "operator": "Gt", "values": ["1"]}]})


@pytest.mark.parametrize("block, outside", [
    ({"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16"]}, True),
    ({"cidr": "0.0.0.0/0"}, True),
    ({"cidr": "10.244.0.0/16"}, True),  # wider than the node's /24 pod network
    ({"cidr": "10.244.0.0/24"}, False),
    ({"cidr": "10.244.0.7/32"}, False),
    ({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/9", "10.128.0.0/9"]}, False),
    ({"cidr": "192.168.1.0/24", "except": ["192.168.1.0/25"]}, True),
])
def test_beyond_subtracts_excepts_and_the_pod_network(block, outside):
    assert (beyond(block, POD_NETS) is not None) is outside


def test_egress_beyond_finds_open_rules_and_leaves_dns_and_pod_peers_alone():
    api = {"to": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 8080}]}
    dns_anywhere = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    assert egress_beyond(policy([api, dns_anywhere]), POD_NETS) == []
    found = egress_beyond(policy([api, {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16"]}}]}]), POD_NETS)
    assert len(found) == 1 and "0.0.0.0/0" in found[0] and "every port" in found[0]
    found = egress_beyond(policy([{"ports": [{"port": 443}]}]), POD_NETS)
    assert found == ["every address (a rule with no `to`) on port 443/TCP"]
    # DNS plus anything else on the same rule is not DNS-only
    assert egress_beyond(policy([{"ports": [{"port": 53}, {"port": 80}]}]), POD_NETS)
    assert egress_beyond(policy([{"ports": [{"port": 53, "endPort": 80}]}]), POD_NETS)


def test_egress_rules_count_only_where_the_policy_isolates_egress():
    assert egress_beyond(policy([{}], types=("Ingress",)), POD_NETS) == []
    assert egress_beyond(policy([{}]), POD_NETS) == ["every address (a rule with no `to`) on every port"]


def test_naming_labrunner_finds_the_checkers_names_in_the_spec_only():
    clean = policy([], name="clean")
    clean["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "labrunner"}
    cheat = policy([], name="cheat", ingress=[{"from": [{"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["labrunner-canary"]}]}}]}])
    probe_label = policy([], name="by-label", ingress=[{"from": [{"podSelector": {"matchExpressions": [
        {"key": "labrunner.dev/probe", "operator": "DoesNotExist"}]}}]}])
    assert naming_labrunner([clean, cheat, probe_label]) == ["by-label", "cheat"]


def test_named_ports_only_reach_pods():
    # A port name is a container's port: such a rule opens nothing outside the pod network.
    assert egress_beyond(policy([{"ports": [{"port": "dns", "protocol": "UDP"}, {"port": "dns-tcp"}]}]), POD_NETS) == []


def test_selector_matches_like_the_api():
    labels = {"app": "api", "tier": "back"}
    assert selector_matches(None, labels) and selector_matches({}, {})
    assert selector_matches({"matchLabels": {"app": "api"}}, labels)
    assert not selector_matches({"matchLabels": {"app": "web"}}, labels)
    assert selector_matches({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "x"]}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, labels)


# labrunner's namespace carries labels no other namespace has; its probes are bare pods.
CANARY_NS = {"kubernetes.io/metadata.name": "labrunner-canary", "pod-security.kubernetes.io/enforce": "privileged"}
CUSTOMER = {"role": "customer", "labrunner.dev/probe": "true", "app.kubernetes.io/managed-by": "labrunner"}
CHECKERS = [(CANARY_NS, CUSTOMER), ({"kubernetes.io/metadata.name": "lab"}, {**CUSTOMER, "role": "x"})]


def ingress_from(*peers):
    return {"metadata": {"name": "p", "namespace": "lab"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": list(peers)}]}}


@pytest.mark.parametrize("peer", [
    # found by a hostile tester: the checker's namespace told apart by its Pod Security label
    {"namespaceSelector": {"matchLabels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
    {"namespaceSelector": {"matchExpressions": [{"key": "pod-security.kubernetes.io/enforce", "operator": "DoesNotExist"}]},
     "podSelector": {"matchLabels": {"role": "customer"}}},
    # probes are bare pods: "workload pods only" tells them apart
    {"namespaceSelector": {}, "podSelector": {"matchExpressions": [{"key": "pod-template-hash", "operator": "Exists"}]}},
    {"namespaceSelector": {}, "podSelector": {"matchExpressions": [
        {"key": "app.kubernetes.io/managed-by", "operator": "DoesNotExist"}]}},
    # in the lab's own namespace too
    {"podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/managed-by", "operator": "DoesNotExist"}]}},
])
def test_a_peer_that_tells_labrunner_from_other_clients_singles_it_out(peer):
    assert singling_out(ingress_from(peer), CHECKERS)


@pytest.mark.parametrize("peer", [
    {"namespaceSelector": {}},
    {"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "customer"}}},
    {"podSelector": {}},
    {"podSelector": {"matchLabels": {"app": "frontend"}}},
    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
     "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
    {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["lab"]}]}},
    {"ipBlock": {"cidr": "0.0.0.0/0"}},
])
def test_ordinary_peers_treat_labrunner_like_anyone(peer):
    assert not singling_out(ingress_from(peer), CHECKERS)
