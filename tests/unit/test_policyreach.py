"""What NetworkPolicies open beyond the pod network, read from the policies (pure logic)."""

import ipaddress

import pytest

from labrunner.checks.policyreach import beyond, egress_beyond, naming_labrunner, selector_text

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
