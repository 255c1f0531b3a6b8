import pytest

from labrunner.checks.network import _judge, parse_nslookup
from labrunner.checks.probing import ProbeOutcome, Verdict, connect_command, parse_connect
from labrunner.cluster.execing import ExecResult, _result


@pytest.mark.parametrize(
    ("code", "stderr", "verdict"),
    [
        (0, "", Verdict.CONNECTED),
        (1, "TIMEOUT\n", Verdict.BLOCKED),
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


BLOCKED = ProbeOutcome(Verdict.BLOCKED, "blocked")
REFUSED = ProbeOutcome(Verdict.REFUSED, "refused")
CONNECTED = ProbeOutcome(Verdict.CONNECTED, "connected")


def test_judging_allow_and_deny():
    assert _judge("allow", CONNECTED, Verdict.BLOCKED)[0]
    assert not _judge("allow", BLOCKED, Verdict.BLOCKED)[0]
    assert _judge("deny", BLOCKED, Verdict.BLOCKED)[0]
    assert not _judge("deny", CONNECTED, Verdict.BLOCKED)[0]


def test_refused_is_not_proof_of_a_policy_where_policies_drop():
    ok, why = _judge("deny", REFUSED, Verdict.BLOCKED)
    assert not ok and "nothing listens" in why


def test_refused_is_a_block_where_the_cluster_rejects():
    assert _judge("deny", REFUSED, Verdict.REFUSED)[0]
    ok, why = _judge("allow", REFUSED, Verdict.REFUSED)
    assert not ok and "NetworkPolicy" in why


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
