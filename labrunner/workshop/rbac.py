"""What a seat may do, as Kubernetes objects: the seat's ClusterRole (bound only by RoleBindings in
the seat's own namespaces, so it grants nothing anywhere else), a ClusterRole naming the seat's
namespaces for `get` (a Namespace is cluster-scoped; `resourceNames` keeps it to the seat's own),
the ResourceQuota and LimitRange of each seat namespace, and the namespaces themselves.

Why these rules (Kubernetes "Using RBAC Authorization"; "Pod Security Standards"):
- every verb on the kinds labs ask a learner to make (workloads, Services, ConfigMaps, Secrets,
  NetworkPolicies, Roles and RoleBindings, ...), but no `escalate`, `bind` or `impersonate`: the API
  server's escalation check then keeps any Role or RoleBinding a seat makes within its own rights
  and its own namespace;
- ResourceQuotas and LimitRanges are read-only to the seat, or it could lift its own limits;
- no Namespace writes: a seat that could relabel its namespace could lift its Pod Security level
  (the namespaces enforce `baseline`, which refuses privileged and host-namespace pods, i.e. root on
  a node shared with every other seat);
- node ports and load balancers are a cluster-wide resource: the quota allows none; Ingress hosts are
  too, so Ingresses are read-only;
- what RBAC cannot refuse inside a seat's own namespace, a ValidatingAdmissionPolicy bound to the
  workshop's namespaces does (seat_admission): a Service's `externalIPs` (kube-proxy on every node
  then sends that address's traffic, from every pod, to the seat: CVE-2020-8554) and a pod of the
  built-in `system-*` priority classes (it would preempt other seats' pods off a full node).
"""

from __future__ import annotations

from ..cluster.applying import LAB_LABEL, MANAGED_BY, WORKSHOP_LABEL
from .records import SEAT_LABEL
from .seats import Seat

ALL = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
READ = ["get", "list", "watch"]

# (apiGroup, resources, verbs): what a learner may do inside their seat's namespaces.
SEAT_RULES = (
    ("", ["pods", "pods/log", "pods/exec", "pods/portforward", "pods/attach", "pods/ephemeralcontainers", "pods/eviction",
          "services",
          "endpoints", "configmaps", "secrets", "serviceaccounts", "persistentvolumeclaims", "replicationcontrollers"],
     ALL),
    ("", ["events", "resourcequotas", "limitranges", "pods/status", "services/status"], READ),
    # The API server's proxy to the seat's own pods and Services: the network checks' witness on a seat
    # (checks/apiwitness.py), where a pod on the node's own network would give the learner the node's.
    ("", ["pods/proxy", "services/proxy"], ["get"]),
    ("apps", ["deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets",
              "statefulsets/scale", "daemonsets", "controllerrevisions"], ALL),
    ("batch", ["jobs", "cronjobs"], ALL),
    ("autoscaling", ["horizontalpodautoscalers"], ALL),
    ("policy", ["poddisruptionbudgets"], ALL),
    ("networking.k8s.io", ["networkpolicies"], ALL),
    # An Ingress host is one name for the whole cluster: a seat's Ingress could take another seat's traffic.
    ("networking.k8s.io", ["ingresses"], READ),
    ("discovery.k8s.io", ["endpointslices"], ALL),  # the outside lab has learners write them for a Service without a selector
    ("events.k8s.io", ["events"], READ),
    ("rbac.authorization.k8s.io", ["roles", "rolebindings"], ALL),
    ("authorization.k8s.io", ["localsubjectaccessreviews"], ["create"]),
)

# Per seat namespace. A LimitRange gives pods without resources these, so the quota (which needs
# requests and limits on every pod once it counts them) never refuses a lab's manifest for lacking them.
# Every kind a seat may create is counted (count/<resource>.<group>): a namespace without a count can fill
# etcd, and Services without one use up the cluster's ClusterIP range for every seat. Ephemeral storage
# (container layers, logs, emptyDir) has a default and a quota, or one pod's writes fill the node's disk
# and the kubelet evicts every seat's pods (Kubernetes docs, "Resource Quotas", "Local ephemeral storage").
# Every limit admits as many pods as "pods" does at the LimitRange's defaults (20 x 500Mi of ephemeral
# storage): at 4Gi the quota stopped a seat's ninth container, well before its 20 pods.
QUOTA = {"pods": "20", "requests.cpu": "2", "requests.memory": "2Gi", "limits.cpu": "10", "limits.memory": "5Gi",
         "requests.ephemeral-storage": "2Gi", "limits.ephemeral-storage": "10Gi",
         "persistentvolumeclaims": "4", "requests.storage": "4Gi", "services": "20", "services.nodeports": "0",
         "services.loadbalancers": "0", "count/secrets": "40", "count/configmaps": "40",
         "count/endpoints": "40", "count/serviceaccounts": "20", "count/replicationcontrollers": "10",
         "count/deployments.apps": "20", "count/replicasets.apps": "60", "count/statefulsets.apps": "10",
         "count/daemonsets.apps": "10", "count/controllerrevisions.apps": "60", "count/jobs.batch": "20",
         "count/cronjobs.batch": "10", "count/horizontalpodautoscalers.autoscaling": "10",
         "count/poddisruptionbudgets.policy": "10", "count/networkpolicies.networking.k8s.io": "20",
         "count/endpointslices.discovery.k8s.io": "60", "count/roles.rbac.authorization.k8s.io": "20",
         "count/rolebindings.rbac.authorization.k8s.io": "20"}
DEFAULT_REQUEST = {"cpu": "25m", "memory": "32Mi", "ephemeral-storage": "50Mi"}
DEFAULT_LIMIT = {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "500Mi"}
POD_SECURITY = "baseline"  # Pod Security Standards level every seat namespace enforces

RBAC_V1 = "rbac.authorization.k8s.io/v1"
ADMISSION_V1 = "admissionregistration.k8s.io/v1"  # ValidatingAdmissionPolicy: GA in Kubernetes 1.30


def labels(workshop: str, seat: Seat | None = None, lab_id: str | None = None) -> dict[str, str]:
    """The labels of every object a workshop makes: `workshop delete` finds them by WORKSHOP_LABEL."""
    found = {WORKSHOP_LABEL: workshop, MANAGED_BY: "labrunner"}
    if seat is not None:
        found[SEAT_LABEL] = seat.name
    if lab_id is not None:
        found[LAB_LABEL] = lab_id
    return found


def seat_role_name(workshop: str) -> str:
    return f"labrunner-workshop-{workshop}-seat"


def seat_role(workshop: str) -> dict:
    """The ClusterRole every seat is bound to, by a RoleBinding in each of its own namespaces only."""
    return {"apiVersion": RBAC_V1, "kind": "ClusterRole",
            "metadata": {"name": seat_role_name(workshop), "labels": labels(workshop)},
            "rules": [{"apiGroups": [group], "resources": resources, "verbs": verbs}
                      for group, resources, verbs in SEAT_RULES]}


def namespace_reader(workshop: str, seat: Seat, namespaces: list[str]) -> list[dict]:
    """A ClusterRole and its ClusterRoleBinding: `get` on exactly the seat's Namespaces (labrunner reads
    its namespace to tell "not started" from "being deleted"); no list, so no seat sees the others'."""
    name = f"labrunner-workshop-{seat.id}-namespaces"
    return [
        {"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": name, "labels": labels(workshop, seat)},
         "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"], "resourceNames": namespaces}]},
        {"apiVersion": RBAC_V1, "kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": labels(workshop, seat)},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": seat.user}]},
    ]


def seat_namespace_objects(workshop: str, seat: Seat, lab_id: str) -> list[dict]:
    """The seat's namespace for `lab_id` and what is in it from the start: the RoleBinding to the seat
    role, the ResourceQuota and the LimitRange. In the order they must be created."""
    ns = seat.namespace(lab_id)
    own = labels(workshop, seat, lab_id)
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {**own, "pod-security.kubernetes.io/enforce": POD_SECURITY,
                                             "pod-security.kubernetes.io/enforce-version": "latest"}}},
        {"apiVersion": RBAC_V1, "kind": "RoleBinding",
         "metadata": {"name": "labrunner-seat", "namespace": ns, "labels": own},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": seat_role_name(workshop)},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": seat.user}]},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "labrunner-seat", "namespace": ns, "labels": own},
         "spec": {"hard": dict(QUOTA)}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "labrunner-seat", "namespace": ns, "labels": own},
         "spec": {"limits": [{"type": "Container", "defaultRequest": dict(DEFAULT_REQUEST),
                              "default": dict(DEFAULT_LIMIT)}]}},
    ]


# What a seat may do in its probe namespace (<workshop>-<seat>-probe), where its network checks run
# labrunner's outside probes and open server: start, read, exec into and remove pods, and read the
# NetworkPolicies there. Nothing else: no NetworkPolicy of the seat's may decide what the probes show
# (one there could block a control and make a wrong answer pass), no pod update (an image swapped in
# place), no ephemeral containers; the checks still take a pod there as labrunner's only when it is
# exactly labrunner's (probepods.not_own) and unchanged after probing.
PROBE_RULES = (
    ("", ["pods"], ["get", "list", "watch", "create", "delete"]),
    ("", ["pods/exec"], ["get", "create"]),
    ("", ["pods/proxy"], ["get"]),
    ("", ["pods/log", "events"], READ),
    ("networking.k8s.io", ["networkpolicies"], READ),
)
# Probe pods set cpu and memory but not ephemeral storage, which the LimitRange's default (500Mi) fills:
# at 2Gi the quota held 4 pods (the open server and 3 outside probes), not 12, so a lab with more outside
# label sets could never run its check on a seat, whatever the learner's answer.
PROBE_QUOTA = {"pods": "12", "requests.cpu": "500m", "requests.memory": "512Mi", "limits.cpu": "6",
               "limits.memory": "2Gi", "requests.ephemeral-storage": "1Gi", "limits.ephemeral-storage": "6Gi",
               "services": "0"}


def probe_role_name(workshop: str) -> str:
    return f"labrunner-workshop-{workshop}-probe"


def probe_role(workshop: str) -> dict:
    """The ClusterRole every seat is bound to in its own probe namespace only (PROBE_RULES)."""
    return {"apiVersion": RBAC_V1, "kind": "ClusterRole",
            "metadata": {"name": probe_role_name(workshop), "labels": labels(workshop)},
            "rules": [{"apiGroups": [group], "resources": resources, "verbs": verbs}
                      for group, resources, verbs in PROBE_RULES]}


def seat_probe_namespace_objects(workshop: str, seat: Seat) -> list[dict]:
    """The seat's probe namespace (Seat.probe_namespace) with its RoleBinding to the probe role, its
    quota and LimitRange, in the order they must be created. It has no lab label: it is no lab's."""
    ns = seat.probe_namespace
    own = labels(workshop, seat)
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {**own, "pod-security.kubernetes.io/enforce": POD_SECURITY,
                                             "pod-security.kubernetes.io/enforce-version": "latest"}}},
        {"apiVersion": RBAC_V1, "kind": "RoleBinding",
         "metadata": {"name": "labrunner-seat-probe", "namespace": ns, "labels": own},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": probe_role_name(workshop)},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": seat.user}]},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "labrunner-seat", "namespace": ns, "labels": own},
         "spec": {"hard": dict(PROBE_QUOTA)}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "labrunner-seat", "namespace": ns, "labels": own},
         "spec": {"limits": [{"type": "Container", "defaultRequest": dict(DEFAULT_REQUEST),
                              "default": dict(DEFAULT_LIMIT)}]}},
    ]


# What `workshop create` itself needs of the instructor's identity: (verb, group, resource, name).
# Creating the seat role also needs every right it grants (RBAC's escalation check), which a
# cluster admin has; the signer right is the CSR API's own (kubernetes.io docs, "Certificates and
# Certificate Signing Requests": approving needs `approve` on signers/<signerName>).
NEEDED_RIGHTS = (
    ("create", "", "namespaces", ""), ("delete", "", "namespaces", ""), ("list", "", "namespaces", ""),
    ("create", "rbac.authorization.k8s.io", "clusterroles", ""),
    ("create", "rbac.authorization.k8s.io", "clusterrolebindings", ""),
    ("create", "rbac.authorization.k8s.io", "rolebindings", ""),
    ("create", "", "resourcequotas", ""), ("create", "", "limitranges", ""),
    ("create", "certificates.k8s.io", "certificatesigningrequests", ""),
    ("update", "certificates.k8s.io", "certificatesigningrequests/approval", ""),
    ("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client"),
    ("create", "admissionregistration.k8s.io", "validatingadmissionpolicies", ""),
    ("create", "admissionregistration.k8s.io", "validatingadmissionpolicybindings", ""),
)

# (CEL expression, message) the seat policy holds every Service and Pod in a workshop namespace to.
# `request.resource.resource` tells the two apart (one policy, one binding per workshop).
SEAT_ADMISSION = (
    ("request.resource.resource != 'services' || !has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
     "a workshop seat may not give a Service externalIPs: kube-proxy would send that address's traffic from "
     "every pod on the cluster to it (CVE-2020-8554)"),
    ("request.resource.resource != 'pods' || !has(object.spec.priorityClassName) "
     "|| !object.spec.priorityClassName.startsWith('system-')",
     "a workshop seat may not use the system-* priority classes: its pods would preempt other seats' pods"),
)


def seat_admission(workshop: str) -> list[dict]:
    """A ValidatingAdmissionPolicy (SEAT_ADMISSION) and its binding to every namespace of the workshop (by
    its label, so pods a seat's Deployment makes are held to it as well as the seat's own requests)."""
    name = f"labrunner-workshop-{workshop}-seats"
    return [
        {"apiVersion": ADMISSION_V1, "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": name, "labels": labels(workshop)},
         "spec": {"failurePolicy": "Fail",
                  "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                          "operations": ["CREATE", "UPDATE"],
                                                          "resources": ["services", "pods"]}]},
                  "validations": [{"expression": expression, "message": message}
                                  for expression, message in SEAT_ADMISSION]}},
        {"apiVersion": ADMISSION_V1, "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": name, "labels": labels(workshop)},
         "spec": {"policyName": name, "validationActions": ["Deny"],
                  "matchResources": {"namespaceSelector": {"matchLabels": {WORKSHOP_LABEL: workshop}}}}},
    ]


def canary_reader(workshop: str, namespace: str) -> list[dict]:
    """A ClusterRole to read pods, and the workshop's canary record (checks.canary.workshop_record), bound
    in labrunner's own namespace `namespace` to every seat of the workshop (its group): a seat's checks
    go by the canary the instructor ran, and never write there."""
    from ..checks.canary import workshop_record_name

    name = f"labrunner-workshop-{workshop}-canary"
    return [
        {"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": name, "labels": labels(workshop)},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": READ},
                   {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
                    "resourceNames": [workshop_record_name(workshop)]}]},
        {"apiVersion": RBAC_V1, "kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace,
                                                                     "labels": labels(workshop)},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                       "name": Seat(workshop, "seat-00").group}]},
    ]


DNS_NAMESPACE = "kube-system"  # where the cluster DNS runs (kube-dns Service, k8s-app=kube-dns pods)


def dns_reader(workshop: str) -> list[dict]:
    """A ClusterRole and its RoleBinding in kube-system for every seat of the workshop (its group): `get`
    on the kube-dns Service and `list` on pods and EndpointSlices there, which network checks that probe
    the cluster DNS need to find its address and node (the netpol lab's "pods can still send" and
    egress steps). Read-only, in that namespace only; it shows kube-system's pod specs (never Secrets)."""
    name = f"labrunner-workshop-{workshop}-dns"
    return [
        {"apiVersion": RBAC_V1, "kind": "ClusterRole", "metadata": {"name": name, "labels": labels(workshop)},
         "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get"], "resourceNames": ["kube-dns"]},
                   {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list"]}]},
        {"apiVersion": RBAC_V1, "kind": "RoleBinding", "metadata": {"name": name, "namespace": DNS_NAMESPACE,
                                                                     "labels": labels(workshop)},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                       "name": Seat(workshop, "seat-00").group}]},
    ]
