"""A workshop seat's network checks: its probe namespace and what a seat may do there, how a probe pod
there is trusted, the API server's proxy as the witness, and the instructor's canary record."""

from __future__ import annotations

import copy
import json

from labrunner.checks.apiwitness import proxy_route, read_proxy_error, service_pod_routes
from labrunner.checks.canary import CanaryResult, from_workshop_record, workshop_record, workshop_record_name
from labrunner.checks.probeplan import Target
from labrunner.checks.probing import Verdict
from labrunner.cluster.probepods import not_own, open_server_body, outside_probe_body, pod_marks
from labrunner.workshop import rbac
from labrunner.workshop.seats import Seat


def status(message: str, code: int = 503) -> str:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code})


def test_the_api_servers_dial_is_read_as_the_node_witness():
    refused = read_proxy_error(503, status("error trying to reach service: dial tcp 10.244.0.13:9999: connect: connection refused"))
    assert refused.verdict is Verdict.REFUSED
    timeout = read_proxy_error(503, status("error trying to reach service: dial tcp 10.244.0.13:80: i/o timeout"))
    assert timeout.verdict is Verdict.TIMEOUT
    assert read_proxy_error(None, "").verdict is Verdict.TIMEOUT
    # Anything from the target, HTTP or not, and a Status the target itself sent, means it listens.
    assert read_proxy_error(200, "NOW: 2026-11-29").verdict is Verdict.CONNECTED
    assert read_proxy_error(502, status("error trying to reach service: malformed HTTP response")).verdict is Verdict.CONNECTED
    assert read_proxy_error(500, status("an API server probed", 500)).verdict is Verdict.CONNECTED
    # The API server refusing to ask is no witness at all.
    assert read_proxy_error(403, status('pods "db:5432" is forbidden', 403)).verdict is Verdict.BROKEN


def test_the_api_servers_own_refusal_to_proxy_is_no_witness():
    """Seen on a seat: a Service the API server finds no endpoint for answers 503 "no endpoints available";
    read as the target answering, a deny passed as "yet the node itself connects"."""
    for message in ('no endpoints available for service "frontend:80"', 'no service port 81 found for service "db"',
                    "address not allowed"):
        assert read_proxy_error(503, status(message)).verdict is Verdict.BROKEN, message
        assert read_proxy_error(400, status(message, 400)).verdict is Verdict.BROKEN, message


def _pod(name: str, ip: str) -> dict:
    return {"metadata": {"name": name, "namespace": "ns"}, "status": {"podIP": ip, "podIPs": [{"ip": ip}]}}


def _slice(*endpoints: dict, port: int = 8080, name: str = "") -> dict:
    return {"ports": [{"port": port, "name": name, "protocol": "TCP"}], "endpoints": list(endpoints)}


def _endpoint(ip: str, pod: str | None, ready: bool = True) -> dict:
    return {"addresses": [ip], "conditions": {"ready": ready},
            **({"targetRef": {"kind": "Pod", "name": pod, "namespace": "ns"}} if pod else {})}


def test_a_service_is_witnessed_through_the_pods_kube_proxy_sends_it_to():
    """Seen on a seat: Endpoints (which the API server's service proxy reads) to a listening pod and an
    EndpointSlice (which kube-proxy follows) to an address where nothing answers: the probes timed out,
    the service proxy connected, and a deny passed with no NetworkPolicy. Every ready endpoint of the
    slices must be a pod of the namespace at its own IP; each is asked at the slice's port."""
    service = {"metadata": {"name": "frontend", "namespace": "ns"}, "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    pods = {"fe-1": _pod("fe-1", "10.0.0.5"), "fe-2": _pod("fe-2", "10.0.0.6")}
    both = _slice(_endpoint("10.0.0.5", "fe-1"), _endpoint("10.0.0.6", "fe-2"), _endpoint("10.0.0.7", None, ready=False))
    assert service_pod_routes(service, [both], pods, 80) == [("pods", "ns", "fe-1:8080"), ("pods", "ns", "fe-2:8080")]
    blackhole = _slice(_endpoint("192.0.2.1", None))
    assert "not a pod" in service_pod_routes(service, [both, blackhole], pods, 80)
    # A pod named by the endpoint must have the endpoint's address: else the probe goes elsewhere.
    assert "not a pod" in service_pod_routes(service, [_slice(_endpoint("192.0.2.1", "fe-1"))], pods, 80)
    assert "no ready endpoint" in service_pod_routes(service, [], pods, 80)
    assert "no port 81" in service_pod_routes(service, [both], pods, 81)
    named = {"metadata": {"name": "db", "namespace": "ns"}, "spec": {"ports": [{"port": 5432, "name": "sql"}]}}
    assert service_pod_routes(named, [_slice(_endpoint("10.0.0.5", "fe-1"), port=15432, name="sql"),
                                      _slice(_endpoint("10.0.0.6", "fe-2"), port=9, name="metrics")], pods, 5432) == \
        [("pods", "ns", "fe-1:15432")]


def test_only_pods_and_services_of_the_seats_own_namespaces_are_asked_through_the_api_server():
    mine = {"ws-seat-01-netpol", "ws-seat-01-probe"}
    assert proxy_route(Target("10.0.0.5", pod=("ws-seat-01-netpol", "db-1")), 5432, mine) == \
        ("pods", "ws-seat-01-netpol", "db-1:5432")
    assert proxy_route(Target("10.96.0.7", service=("ws-seat-01-netpol", "api")), 80, mine) == \
        ("services", "ws-seat-01-netpol", "api:80")
    assert proxy_route(Target("10.0.0.9", pod=("kube-system", "coredns-1")), 8181, mine) is None
    assert proxy_route(Target("10.0.0.9", pod=("ws-seat-02-netpol", "db-1")), 5432, mine) is None
    assert proxy_route(Target("192.0.2.1"), 80, mine) is None


def running(body: dict) -> dict:
    """`body` as the API server returns it: defaults added, a uid and a status."""
    pod = copy.deepcopy(body)
    pod["metadata"].update(uid="u-1", namespace="ws-seat-01-probe")
    pod["spec"].update(restartPolicy="Always", dnsPolicy="ClusterFirst", nodeName="n1")
    pod["spec"]["containers"][0].update(terminationMessagePath="/dev/termination-log",
                                        resources={"limits": {"cpu": "500m"}})
    pod["status"] = {"containerStatuses": [{"image": "registry.k8s.io/e2e-test-images/agnhost:2.43", "restartCount": 0}]}
    return pod


def test_a_probe_pod_is_trusted_only_when_it_is_exactly_labrunners():
    body = outside_probe_body("lr-out-1", "ws-seat-01-netpol", {"role": "customer"})
    assert not_own(running(body), body) == ""
    server = open_server_body(as_nobody=True)
    assert not_own(running(server), server) == ""
    forged = running(body)
    forged["spec"]["containers"][0]["args"] = ["netexec"]
    assert "args" in not_own(forged, body)
    as_root = running(server)
    as_root["spec"]["securityContext"] = {"runAsUser": 0}
    assert "security context" in not_own(as_root, server)
    host = running(body)
    host["spec"]["hostNetwork"] = True
    assert "hostNetwork" in not_own(host, body)
    relabelled = running(body)
    relabelled["metadata"]["labels"]["app"] = "frontend"
    assert "labels" in not_own(relabelled, body)
    other_image = running(body)
    other_image["spec"]["containers"][0]["image"] = "busybox"
    assert "image" in not_own(other_image, body)


def test_a_probe_pod_with_a_file_of_the_learners_over_agnhost_is_not_labrunners():
    """Seen on a seat: a downward API file (an annotation holding a shell script, mode 0755) mounted
    with subPath over /agnhost answered TIMEOUT to every probe and connected to the open server, so
    "outside -> frontend: deny" passed with no NetworkPolicy at all."""
    body = outside_probe_body("lr-out-1", "ws-seat-01-netpol", {"role": "customer"})
    shadowed = running(body)
    shadowed["spec"]["volumes"] = [{"name": "x", "downwardAPI": {"defaultMode": 0o755, "items": [
        {"path": "agnhost", "fieldRef": {"fieldPath": "metadata.annotations['x']"}}]}}]
    shadowed["spec"]["containers"][0]["volumeMounts"] = [{"name": "x", "mountPath": "/agnhost", "subPath": "agnhost"}]
    assert "volumes" in not_own(shadowed, body)
    mounted_only = running(body)
    mounted_only["spec"]["containers"][0]["volumeMounts"] = [{"name": "x", "mountPath": "/agnhost", "subPath": "agnhost"}]
    assert "volumeMounts" in not_own(mounted_only, body)
    for key, value in (("workingDir", "/tmp"), ("lifecycle", {"postStart": {"exec": {"command": ["sh"]}}}),
                       ("envFrom", [{"configMapRef": {"name": "x"}}])):
        changed = running(body)
        changed["spec"]["containers"][0][key] = value
        assert key in not_own(changed, body)
    for key, value in (("hostAliases", [{"ip": "10.0.0.1", "hostnames": ["db"]}]),
                       ("dnsConfig", {"nameservers": ["10.0.0.1"]}), ("runtimeClassName", "other"),
                       ("dnsPolicy", "Default")):
        changed = running(body)
        changed["spec"][key] = value
        assert key in not_own(changed, body)


def test_a_seats_open_server_runs_as_nobody_and_labrunners_own_is_unchanged():
    seat = open_server_body(as_nobody=True)
    assert seat["spec"]["securityContext"]["runAsUser"] == 65534
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in seat["spec"]["securityContext"]["sysctls"]
    assert "add" not in seat["spec"]["containers"][0]["securityContext"]["capabilities"]
    assert "runAsUser" not in open_server_body()["spec"]["securityContext"]


def test_a_probe_pod_replaced_or_restarted_changes_its_mark():
    body = running(outside_probe_body("lr-out-1", "ns", {"role": "customer"}))
    again = copy.deepcopy(body)
    assert pod_marks([body]) == pod_marks([again])
    again["status"]["containerStatuses"][0]["restartCount"] = 1
    assert pod_marks([body]) != pod_marks([again])
    again = copy.deepcopy(body)
    again["metadata"]["uid"] = "u-2"
    assert pod_marks([body]) != pod_marks([again])


def test_a_seats_probe_namespace_lets_it_run_pods_and_nothing_that_could_sway_a_probe():
    seat = Seat("ws", "seat-01")
    objects = rbac.seat_probe_namespace_objects("ws", seat)
    ns = objects[0]
    assert ns["metadata"]["name"] == "ws-seat-01-probe" == seat.probe_namespace
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert "labrunner.dev/lab" not in ns["metadata"]["labels"]  # no lab's: the room view leaves it out
    binding = objects[1]
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": seat.user}]
    granted = {(rule["apiGroups"][0], resource): set(rule["verbs"])
               for rule in rbac.probe_role("ws")["rules"] for resource in rule["resources"]}
    assert granted[("networking.k8s.io", "networkpolicies")] == {"get", "list", "watch"}
    assert not {"patch", "update"} & granted[("", "pods")]
    assert ("", "pods/ephemeralcontainers") not in granted and ("", "services") not in granted
    assert not any({"escalate", "bind", "impersonate", "*"} & verbs for verbs in granted.values())


def test_seats_read_the_instructors_canary_record_and_only_that_configmap():
    result = CanaryResult(True, "NetworkPolicy is enforced for ingress", egress=False, egress_message="not for egress")
    record = workshop_record("ws", result, rbac.labels("ws"), ["10.244.0.0/24"])
    assert record["metadata"]["name"] == workshop_record_name("ws") and record["data"]["podNetworks"] == "10.244.0.0/24"
    read = from_workshop_record(record, "ws")
    assert (read.enforced, read.egress, read.egress_message) == (True, False, "not for egress")
    missing = from_workshop_record(None, "ws")
    assert missing.enforced is None and "create the workshop again" in missing.message
    reader = rbac.canary_reader("ws", "labrunner-canary")[0]
    configmaps = [r for r in reader["rules"] if "configmaps" in r["resources"]]
    assert configmaps == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
                           "resourceNames": [workshop_record_name("ws")]}]


def test_a_target_outside_the_seat_is_witnessed_only_by_an_egress_denys_control_that_reached_it():
    from labrunner.checks.kinds import network
    from labrunner.checks.probeplan import Cell, Source
    from labrunner.checks.probing import Probe, ProbeOutcome

    dns = Target("10.244.0.3", node="n1", label="pod coredns-1", pod=("kube-system", "coredns-1"))
    source = Source("frontend-1", "ws-seat-01-netpol", None, "pod frontend-1")
    egress = Cell(0, source, dns, 8181, "deny", "egress")
    ingress = Cell(1, source, Target("10.244.0.4", node="n1", label="pod x", pod=("kube-system", "x")), 80, "deny", "ingress")
    asks = [("n1", "10.244.0.3", 8181), ("n1", "10.244.0.4", 80)]
    blocked = ProbeOutcome(Verdict.TIMEOUT, "no answer within 1s")
    control = Probe("lr-open", "ws-seat-01-probe", "10.244.0.3", 8181)
    seen = {control: ProbeOutcome(Verdict.CONNECTED, "connected")}
    found = network._seat_witness(None, [egress, ingress], asks, [blocked, blocked], {0: control, 1: control}, seen,
                                  {"ws-seat-01-netpol", "ws-seat-01-probe"})
    assert found[asks[0]].verdict is Verdict.CONNECTED
    assert found[asks[1]].verdict is Verdict.BROKEN and found[asks[1]].detail.startswith(network._NO_WITNESS)
    unreached = {control: ProbeOutcome(Verdict.TIMEOUT, "no answer")}
    found = network._seat_witness(None, [egress], asks[:1], [blocked], {0: control}, unreached, {"ws-seat-01-netpol"})
    assert found[asks[0]].verdict is Verdict.BROKEN


def test_a_seats_probe_quota_filled_by_its_own_pods_is_an_error_naming_them():
    """Seen on a seat: the learner's pods in the probe namespace used up its quota, and the check said
    only "exceeded quota". It stays an error (never the learner's fail) and names the pods to delete."""
    from types import SimpleNamespace

    from conftest import FakeCluster
    from labrunner.checks.kinds.network import _quota_fix

    ns = Seat("ws", "seat-01").probe_namespace
    pods = [{"kind": "Pod", "metadata": {"name": "lr-open", "namespace": ns,
                                         "labels": {"app.kubernetes.io/managed-by": "labrunner"}}},
            {"kind": "Pod", "metadata": {"name": "filler-1", "namespace": ns}}]
    cluster = FakeCluster(pods)
    cluster.seat = Seat("ws", "seat-01")
    ctx = SimpleNamespace(cluster=cluster, namespace="ws-seat-01-netpol")
    refused = 'creating Pod: pods "lr-out-1" is forbidden: exceeded quota: labrunner-seat'
    assert _quota_fix(ctx, refused) == [f"fix: namespace {ns} is for labrunner's probe pods only; delete the others: "
                                        f"kubectl -n {ns} delete pod filler-1"]
    assert _quota_fix(ctx, "the probe pods did not become Ready") == []
    cluster.objects = pods[:1]
    assert "ask the instructor" in _quota_fix(ctx, refused)[0]
