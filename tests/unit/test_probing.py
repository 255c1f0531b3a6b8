import pytest

from labrunner.checks.base import Status
from labrunner.checks.judging import LEFT_OUT
from labrunner.checks.kinds.network import Target, closed_reason, judge, judge_lookup, normal_addresses, parse_nslookup, same_name
from labrunner.checks.probing import Finding, ProbeOutcome, Verdict, connect_command, parse_connect, read_with_witness
from labrunner.cluster.execing import ExecResult, _result


@pytest.mark.parametrize(
    ("code", "stderr", "verdict"),
    [
        (0, "", Verdict.CONNECTED),
        (1, "TIMEOUT\n", Verdict.TIMEOUT),
        (1, "REFUSED\n", Verdict.REFUSED),
        (1, "DNS: lookup nope on 10.96.0.10:53: no such host\n", Verdict.UNRESOLVED),
        (1, "OTHER: dial tcp 10.0.0.1:80: connect: no route to host\n", Verdict.REJECTED),
        (1, "UNKNOWN: address x: missing port in address\n", Verdict.BROKEN),
        (None, "", Verdict.BROKEN),
    ],
)
def test_agnhost_connect_verdicts(code, stderr, verdict):
    assert parse_connect(ExecResult(code, "", stderr, "" if code is not None else "container not running")).verdict is verdict


def test_connect_command_brackets_ipv6():
    assert connect_command("10.0.0.1", 80)[2] == "10.0.0.1:80"
    assert connect_command("fd00::1", 80)[2] == "[fd00::1]:80"
    assert connect_command("10.0.0.1", 80)[-1] == "--timeout=1s"


TIMEOUT = ProbeOutcome(Verdict.TIMEOUT, "no answer within 1s")
REFUSED = ProbeOutcome(Verdict.REFUSED, "refused")
CONNECTED = ProbeOutcome(Verdict.CONNECTED, "connected")
BROKEN = ProbeOutcome(Verdict.BROKEN, "container not running")


@pytest.mark.parametrize("seen", [TIMEOUT, REFUSED], ids=["dropped", "rejected"])
def test_the_node_connecting_makes_a_failed_probe_a_block(seen):
    # Dropped (kind, Calico) or rejected with a reset (kube-router): a block either way, once the node connects.
    reading = read_with_witness(seen, CONNECTED)
    assert reading.finding is Finding.BLOCKED and "the node itself connects" in reading.detail


@pytest.mark.parametrize("seen", [TIMEOUT, REFUSED], ids=["dropped", "rejected"])
def test_the_node_refused_means_nothing_listens(seen):
    reading = read_with_witness(seen, REFUSED)
    assert reading.finding is Finding.NOT_LISTENING and "the node itself is refused" in reading.detail


def test_the_node_timing_out_too_is_unreachable():
    assert read_with_witness(TIMEOUT, TIMEOUT).finding is Finding.UNREACHABLE
    assert read_with_witness(REFUSED, ProbeOutcome(Verdict.REJECTED, "rejected (no route to host)")).finding is Finding.UNREACHABLE


def test_a_witness_that_cannot_run_is_not_a_verdict():
    assert read_with_witness(REFUSED, BROKEN).finding is Finding.BROKEN
    assert read_with_witness(REFUSED, None).finding is Finding.BROKEN
    assert read_with_witness(BROKEN, None).finding is Finding.BROKEN


def test_a_connected_probe_needs_no_witness():
    assert read_with_witness(CONNECTED, None).finding is Finding.CONNECTED


def test_closed_known_from_the_api_needs_no_witness():
    reading = read_with_witness(REFUSED, None, closed="Service db has no ready endpoints")
    assert reading.finding is Finding.NOT_LISTENING and "no ready endpoints" in reading.detail


def test_judging_allow():
    assert judge("allow", read_with_witness(CONNECTED, None)) == (Status.PASS, "connected")
    status, why = judge("allow", read_with_witness(REFUSED, CONNECTED))
    assert status is Status.FAIL and why.startswith("should be allowed: blocked")
    status, why = judge("allow", read_with_witness(REFUSED, REFUSED))
    assert status is Status.FAIL and "nothing listening" in why
    assert judge("allow", read_with_witness(TIMEOUT, TIMEOUT))[0] is Status.FAIL


def test_judging_deny():
    assert judge("deny", read_with_witness(TIMEOUT, CONNECTED), CONNECTED)[0] is Status.PASS
    assert judge("deny", read_with_witness(REFUSED, CONNECTED), CONNECTED)[0] is Status.PASS
    assert judge("deny", read_with_witness(CONNECTED, None)) == (Status.FAIL, "should be blocked: it connected")


def test_a_block_without_its_control_is_never_a_pass():
    status, why = judge("deny", read_with_witness(REFUSED, CONNECTED))
    assert status is Status.ERROR and "no control probe ran" in why
    status, why = judge("deny", read_with_witness(REFUSED, CONNECTED), BROKEN)
    assert status is Status.ERROR and "the control probe could not run" in why


@pytest.mark.parametrize("control", [TIMEOUT, REFUSED], ids=["dropped", "rejected"])
def test_a_block_by_the_other_side_is_a_fail_that_says_why(control):
    blocked = read_with_witness(REFUSED, CONNECTED)
    status, why = judge("deny", blocked, control, source="pod shell", target="pod db-0")
    assert status is Status.FAIL
    assert "pod shell cannot send anywhere" in why and why.endswith("so this does not show that pod db-0 refuses it")
    status, why = judge("deny", blocked, control, denied_by="egress", source="pod frontend", target="pod dns")
    assert status is Status.FAIL
    assert "pod dns accepts no one" in why and why.endswith("so this does not show that pod frontend may not send to it")


def test_a_sweep_leaves_out_what_shows_nothing_but_never_a_leak():
    blocked, closed = read_with_witness(REFUSED, CONNECTED), read_with_witness(REFUSED, REFUSED)
    assert judge("deny", blocked, REFUSED, denied_by="egress", sweep=True)[0] is LEFT_OUT
    assert judge("deny", closed, None, denied_by="egress", sweep=True)[0] is LEFT_OUT
    assert judge("deny", blocked, CONNECTED, denied_by="egress", sweep=True)[0] is Status.PASS
    assert judge("deny", read_with_witness(CONNECTED, None), None, denied_by="egress", sweep=True)[0] is Status.FAIL


@pytest.mark.parametrize("seen", [TIMEOUT, REFUSED], ids=["dropped", "rejected"])
def test_a_deny_is_not_proven_by_a_server_that_does_not_listen(seen):
    status, why = judge("deny", read_with_witness(seen, REFUSED))
    assert status is Status.FAIL
    assert why == "nothing listening (the node itself is refused), so this says nothing about the policy"


def test_a_deny_nobody_can_reach_is_an_error_not_a_pass():
    status, why = judge("deny", read_with_witness(TIMEOUT, TIMEOUT), CONNECTED)
    assert status is Status.ERROR and "not even the node" in why
    assert judge("deny", read_with_witness(REFUSED, BROKEN))[0] is Status.ERROR
    assert judge("allow", read_with_witness(REFUSED, BROKEN))[0] is Status.ERROR


def test_a_service_port_it_does_not_have_is_closed():
    target = Target("10.96.0.5", node="n1", ports=(80,))
    assert closed_reason(target, 80, "web") == ""
    assert closed_reason(target, 81, "web") == "Service web has no port 81"
    assert closed_reason(Target("10.244.0.7", node="n1"), 81) == ""
    assert closed_reason(Target("10.96.0.5", ports=(80,), closed="Service web has no ready endpoints"), 80) \
        == "Service web has no ready endpoints"


def test_node_probe_runs_on_its_node_in_the_host_network():
    from labrunner.cluster.probepods import node_probe_body, node_probe_name

    name = node_probe_name("control-plane-1")
    assert name.startswith("lr-node-") and name == node_probe_name("control-plane-1") != node_probe_name("worker-1")
    body = node_probe_body(name, "control-plane-1")
    spec = body["spec"]
    assert spec["nodeName"] == "control-plane-1" and spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert {"operator": "Exists"} in spec["tolerations"]
    assert spec["containers"][0]["args"] == ["pause"]
    assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "labrunner"


def test_exec_status_channel():
    assert _result("out", "", '{"metadata":{},"status":"Success"}').exit_code == 0
    failure = ('{"status":"Failure","message":"command terminated with non-zero exit code: exit status 3",'
               '"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}')
    assert _result("", "x", failure).exit_code == 3
    cannot = _result("", "", '{"status":"Failure","message":"exec: \\"nope\\": executable file not found"}')
    assert cannot.exit_code is None and "executable file not found" in cannot.failure


BUSYBOX = """Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

Name:\tweb-pods.lab-services.svc.cluster.local
Address: 10.244.0.12
Name:\tweb-pods.lab-services.svc.cluster.local
Address: 10.244.0.11

"""
BIND = """Server:\t\t10.96.0.10
Address:\t10.96.0.10#53

Name:\tweb.lab.svc.cluster.local
Address: 10.96.33.1
"""
CNAME = """Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

db.lab.svc.cluster.local\tcanonical name = db.example.com

** server can't find db.example.com: NXDOMAIN
"""
NX = """Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

** server can't find nope.lab.svc.cluster.local: NXDOMAIN
"""


def test_nslookup_outputs():
    assert parse_nslookup(BUSYBOX) == (["10.244.0.11", "10.244.0.12"], [], False)
    assert parse_nslookup(BIND)[0] == ["10.96.33.1"]
    addresses, cnames, _ = parse_nslookup(CNAME)
    assert addresses == [] and cnames == ["db.example.com"]
    assert parse_nslookup(NX) == ([], [], True)


def test_probes_of_one_pod_share_one_exec():
    from labrunner.checks.probing import Probe, batch_script, parse_batch

    probes = [Probe("p", "ns", "10.0.0.1", 80), Probe("p", "ns", "web.ns.svc", 8080)]
    script = batch_script(probes)
    assert "/agnhost connect 10.0.0.1:80 --timeout=1s" in script and script.endswith(" wait")
    outcomes = parse_batch("@@1 1 REFUSED\nnoise\n@@0 0 \n", 2)
    assert [o.verdict for o in outcomes] == [Verdict.CONNECTED, Verdict.REFUSED]
    assert parse_batch("@@0 1 TIMEOUT\n", 2)[1] is None  # a missing line falls back to its own exec


def test_dns_names_compare_by_meaning():
    assert same_name("db.example.com.", "db.example.com") and same_name("DB.Example.COM", "db.example.com.")
    assert not same_name("db.example.com", "db.example.org")
    assert normal_addresses(["fd00:0::1", "10.0.0.1", "fd00::1"]) == ["10.0.0.1", "fd00::1"]


def test_dns_cname_and_addresses_judged_by_meaning():
    upper = CNAME.replace("canonical name = db.example.com", "canonical name = DB.Example.com.")
    assert judge_lookup({"name": "db", "cname": "db.example.com."}, upper, None)[0] is Status.PASS
    assert judge_lookup({"name": "db", "cname": "other.example.com"}, upper, None)[0] is Status.FAIL
    v6 = BIND.replace("10.96.33.1", "fd00:0:0::33")
    assert judge_lookup({"name": "web", "addresses": ["fd00::33"]}, v6, ["fd00::33"])[0] is Status.PASS
    status, message = judge_lookup({"name": "web", "serviceIP": "web"}, NX, ["10.96.33.1"])
    assert status is Status.FAIL and "NXDOMAIN" in message and "up to 30s" in message
    assert judge_lookup({"name": "nope", "resolves": False}, NX, None)[0] is Status.PASS


def test_a_pods_probes_run_in_waves():
    from labrunner.checks.probing import PER_POD_AT_ONCE, Probe, batch_script

    probes = [Probe("p", "ns", "10.0.0.1", port) for port in range(1, 2 * PER_POD_AT_ONCE + 2)]
    script = batch_script(probes)
    assert script.count(" wait") == 3 and script.count("/agnhost connect") == len(probes)
    first_wave = script.split(" wait; ")[0]
    assert first_wave.count("/agnhost connect") == PER_POD_AT_ONCE
