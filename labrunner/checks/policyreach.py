"""What NetworkPolicies say that no probe can show: egress beyond the pod network, and policies
that single out labrunner's own probes.

An egress sweep ("the frontend may reach nothing else") probes servers inside the cluster. An
egress rule to `ipBlock: {cidr: 0.0.0.0/0, except: [<pod network>]}`, or a rule with no `to` at
all, opens every address outside the pod network as well: the internet and other machines.
Offline there is no such server to probe, and the pod's own node is no witness: NetworkPolicy
always lets a pod reach the node it runs on (kubernetes.io, "Network Policies", ipBlock). So
those rules are read from the policies that select the source pods, as the API server stores
them. Port 53 is left out: a rule for DNS only is the lab's own business (its dns checks).

A policy that names labrunner's probe labels or namespaces treats the checker differently from
every other client, so whatever the probes show says nothing about the learner's pods.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Iterable

from ..cluster import Cluster

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DNS_PORT = 53


def selector_text(selector: dict | None) -> str:
    """A metav1.LabelSelector as a label-selector string for a list call ("" selects everything).

    Raises ValueError for an operator the API does not define (the API server refuses those).
    """
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            raise ValueError(f"unknown label selector operator {op!r}")
    return ",".join(parts)


def pod_networks(cluster: Cluster, pod_ips: Iterable[str] = ()) -> list[Network]:
    """The pod network: every node's spec.podCIDRs (kube-controller-manager's node IPAM, as kind
    and the testbed use); on a workshop seat, as the instructor's `workshop create` found them. Where no node has one (a CNI with its own IPAM), the /16 (IPv6: /64)
    around each pod address given stands in for it."""
    nets: list[Network] = []
    seat = getattr(cluster, "seat", None)
    if seat is not None:
        # A workshop seat may not list nodes: the instructor's `workshop create` wrote them down (checks.canary).
        from .canary import CANARY_NAMESPACE, workshop_record_name

        record = cluster.get("ConfigMap", workshop_record_name(seat.workshop), namespace=CANARY_NAMESPACE) or {}
        written = ((record.get("data") or {}).get("podNetworks") or "").split(",")
        nets = [ipaddress.ip_network(cidr, strict=False) for cidr in written if cidr]
    for node in ([] if seat is not None else cluster.list("Node")):
        spec = node.get("spec") or {}
        for cidr in spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []):
            nets.append(ipaddress.ip_network(cidr, strict=False))
    if not nets:
        for ip in pod_ips:
            addr = ipaddress.ip_address(ip)
            nets.append(ipaddress.ip_network(f"{ip}/{16 if addr.version == 4 else 64}", strict=False))
    return list(dict.fromkeys(nets))


def _subtract(nets: list[Network], cut: Network) -> list[Network]:
    out: list[Network] = []
    for net in nets:
        if net.version != cut.version or not net.overlaps(cut):
            out.append(net)
        elif not net.subnet_of(cut):  # type: ignore[arg-type]
            out.extend(net.address_exclude(cut))  # type: ignore[arg-type]
    return out


def beyond(block: dict, pod_nets: list[Network]) -> Network | None:
    """The first part of an ipBlock ({cidr, except}) that lies outside every pod network, or None."""
    left: list[Network] = [ipaddress.ip_network(block["cidr"], strict=False)]
    for cut in [ipaddress.ip_network(c, strict=False) for c in block.get("except") or []] + pod_nets:
        left = _subtract(left, cut)
    return min(left, key=lambda n: (n.version, n.prefixlen, n.network_address)) if left else None


def _pods_or_dns_only(rule: dict) -> bool:
    """Whether a rule's ports let nothing but DNS out of the pod network: each is port 53, or a
    named port (a name is a container's port, so it matches pods only)."""
    ports = rule.get("ports") or []
    return bool(ports) and all(isinstance(p.get("port"), str)
                               or (p.get("port") == DNS_PORT and (p.get("endPort") or DNS_PORT) == DNS_PORT)
                               for p in ports)


def _ports_text(rule: dict) -> str:
    ports = rule.get("ports") or []
    if not ports:
        return "every port"
    shown = [f"{p.get('port', 'any')}{'-' + str(p['endPort']) if p.get('endPort') else ''}/{p.get('protocol', 'TCP')}"
             for p in ports]
    return "port " + ", ".join(shown)


def egress_beyond(policy: dict, pod_nets: list[Network]) -> list[str]:
    """What one policy's egress rules open outside the pod network, said for the learner.

    Shape: ["<what> on <ports>", ...]; empty when the policy has no Egress type or opens nothing
    there (DNS-only rules aside).
    """
    spec = policy.get("spec") or {}
    if "Egress" not in (spec.get("policyTypes") or []):
        return []
    found: list[str] = []
    for rule in spec.get("egress") or []:
        if _pods_or_dns_only(rule):
            continue
        peers = rule.get("to") or []
        if not peers:
            found.append(f"every address (a rule with no `to`) on {_ports_text(rule)}")
            continue
        for peer in peers:
            block = peer.get("ipBlock")
            part = beyond(block, pod_nets) if block else None
            if part is not None:
                found.append(f"ipBlock {block['cidr']}" + (f" except {', '.join(block['except'])}" if block.get("except") else "")
                             + f" on {_ports_text(rule)}, which holds {part} outside the pod network")
    return found


def selected_pods(cluster: Cluster, policy: dict) -> set[str] | None:
    """Names of the pods in the policy's namespace its podSelector selects (the API server's own
    matching); None when the selector cannot be read."""
    try:
        text = selector_text((policy.get("spec") or {}).get("podSelector"))
    except ValueError:
        return None
    ns = policy["metadata"]["namespace"]
    return {p["metadata"]["name"] for p in cluster.list("Pod", namespace=ns, selector=text or None)}


def egress_beyond_for(cluster: Cluster, namespace: str, pods: list[str], pod_ips: Iterable[str] = ()) -> list[str]:
    """For the named pods of `namespace`: each way a NetworkPolicy selecting one of them lets it send
    outside the pod network. Shape: ["NetworkPolicy P lets pod X send to ...", ...]."""
    policies = cluster.list("NetworkPolicy", namespace=namespace)
    if not policies:
        return []
    nets = pod_networks(cluster, pod_ips)
    found: list[str] = []
    for policy in sorted(policies, key=lambda p: p["metadata"]["name"]):
        opened = egress_beyond(policy, nets)
        if not opened:
            continue
        chosen = selected_pods(cluster, policy)
        hit = sorted(set(pods) & chosen) if chosen is not None else sorted(pods)
        if hit:
            who = f"pod {hit[0]}" if len(hit) == 1 else f"pods {', '.join(hit)}"
            found += [f"NetworkPolicy {policy['metadata']['name']} lets {who} send to {what}" for what in opened]
    return found


def selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """Whether a metav1.LabelSelector selects an object with `labels` (an empty or absent selector
    selects everything), with the API's meaning of In, NotIn, Exists and DoesNotExist
    (k8s.io/apimachinery labels.Selector)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator"), expr.get("values") or []
        there = key in labels
        if op == "In" and not (there and labels[key] in values):
            return False
        if op == "NotIn" and there and labels[key] in values:
            return False
        if op == "Exists" and not there:
            return False
        if op == "DoesNotExist" and there:
            return False
    return True


# A workload pod anywhere carries the label its ReplicaSet gives it; labrunner's probes are bare pods.
TYPICAL_POD_LABELS = {"pod-template-hash": "5d8f7c9b6"}
TYPICAL_NAMESPACE = "another-team"


def typical_of(labels: dict[str, str]) -> dict[str, str]:
    """The labels an ordinary client in the probe's place would carry: the probe's own labels
    (role=customer, app=frontend: what the lab asked for) without labrunner's bookkeeping."""
    return {**{k: v for k, v in labels.items() if "labrunner" not in f"{k}={v}".lower()}, **TYPICAL_POD_LABELS}


def _peers(policy: dict) -> list[dict]:
    spec = policy.get("spec") or {}
    return [peer for rule in spec.get("ingress") or [] for peer in rule.get("from") or []] + \
           [peer for rule in spec.get("egress") or [] for peer in rule.get("to") or []]


def singling_out(policy: dict, checkers: list[tuple[dict[str, str], dict[str, str]]]) -> bool:
    """Whether a peer of the policy selects one of labrunner's probe pods but not an ordinary pod in
    its place, or the other way round. `checkers` holds (namespace labels, pod labels) of each probe
    pod; an ordinary pod is in a namespace that has only its name label and carries `typical_of`
    the probe's labels. A probe in the policy's own namespace is compared with an ordinary pod there."""
    own = policy["metadata"].get("namespace", "")
    for peer in _peers(policy):
        if "ipBlock" in peer:
            continue
        for ns_labels, pod_labels in checkers:
            same = ns_labels.get("kubernetes.io/metadata.name") == own
            if "namespaceSelector" not in peer and not same:
                continue  # a peer without namespaceSelector means the policy's namespace only
            typical_ns = ns_labels if same else {"kubernetes.io/metadata.name": TYPICAL_NAMESPACE}
            ns_selector = peer.get("namespaceSelector")
            seen = selector_matches(ns_selector, ns_labels) and selector_matches(peer.get("podSelector"), pod_labels)
            ordinary = selector_matches(ns_selector, typical_ns) and \
                selector_matches(peer.get("podSelector"), typical_of(pod_labels))
            if seen != ordinary:
                return True
    return False


def naming_labrunner(policies: list[dict]) -> list[str]:
    """Names of the policies whose spec mentions labrunner (its probe labels `labrunner.dev/...`
    or its namespaces `labrunner-...`): such a policy treats the checker unlike other clients."""
    return sorted(p["metadata"]["name"] for p in policies
                  if "labrunner" in json.dumps((p.get("spec") or {}), sort_keys=True).lower())


def policies_singling_out_labrunner(cluster: Cluster, namespace: str, probe_namespaces: list[str]) -> list[str]:
    """Names of the NetworkPolicies of `namespace` that treat labrunner's probe pods (in `namespace`
    and in `probe_namespaces`) unlike ordinary clients: by naming labrunner, or by a selector that
    tells them apart (see `singling_out`)."""
    policies = cluster.list("NetworkPolicy", namespace=namespace)
    if not policies:
        return []
    checkers: list[tuple[dict[str, str], dict[str, str]]] = []
    for ns in dict.fromkeys([namespace, *probe_namespaces]):
        found = cluster.get("Namespace", ns)
        ns_labels = ((found or {}).get("metadata") or {}).get("labels") or {"kubernetes.io/metadata.name": ns}
        for pod in cluster.list("Pod", namespace=ns):
            labels = (pod.get("metadata") or {}).get("labels") or {}
            if ns != namespace or any("labrunner" in k for k in labels):
                checkers.append((ns_labels, labels))
    named = set(naming_labrunner(policies))
    return sorted(named | {p["metadata"]["name"] for p in policies if singling_out(p, checkers)})


def describe(found: list[str], limit: int = 2) -> str:
    """A short join of findings for a one-line message."""
    return "; ".join(found[:limit]) + (f"; and {len(found) - limit} more" if len(found) > limit else "")


__all__ = ["beyond", "egress_beyond", "egress_beyond_for", "naming_labrunner", "pod_networks",
           "policies_singling_out_labrunner", "selector_matches", "selector_text", "singling_out", "describe"]
