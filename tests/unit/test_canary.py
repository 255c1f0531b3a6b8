"""The NetworkPolicy canary's own logic, with a fake cluster at our boundary."""


from labrunner.checks import canary
from labrunner.checks.probing import ProbeOutcome, Verdict


def _pod(name: str, role: str, ip: str) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": canary.CANARY_NAMESPACE,
                                        "labels": {"labrunner.dev/canary": role}},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


def _cluster(fake_cluster):  # noqa: ANN001, ANN202
    class Cluster(fake_cluster):
        def _matches(self, obj, selector):  # noqa: ANN001, ANN202
            labels = obj["metadata"].get("labels") or {}
            return selector in labels if selector and "=" not in selector else super()._matches(obj, selector)

    return Cluster([
        _pod("server-open", "open", "10.0.0.1"), _pod("server-closed", "closed", "10.0.0.2"),
        _pod("lr-probe-from-an-older-version", "client", "10.0.0.3"),
        _pod("lr-probe-egress", "egress-client", "10.0.0.4"),
        {"kind": "NetworkPolicy", "metadata": {"name": "deny-closed", "namespace": canary.CANARY_NAMESPACE}},
        {"kind": "NetworkPolicy", "metadata": {"name": "deny-egress-client", "namespace": canary.CANARY_NAMESPACE}},
    ])


def _probes(cluster, *, egress_enforced: bool):  # noqa: ANN001, ANN202
    existing = {p["metadata"]["name"] for p in cluster.objects if p["kind"] == "Pod"}

    def run_probes(_cluster, probes):  # noqa: ANN001, ANN202
        def seen(p):  # noqa: ANN001, ANN202
            if p.pod not in existing:
                return Verdict.BROKEN
            if p.pod == "lr-probe-egress":
                return Verdict.TIMEOUT if egress_enforced else Verdict.CONNECTED
            return Verdict.CONNECTED if p.host == "10.0.0.1" else Verdict.TIMEOUT

        return [ProbeOutcome(seen(p), f"exec into {p.pod}") for p in probes]

    return run_probes


def test_the_canary_probes_from_the_client_pods_it_found(fake_cluster, monkeypatch):
    cluster = _cluster(fake_cluster)
    monkeypatch.setattr(canary, "run_probes", _probes(cluster, egress_enforced=True))
    result = canary.run_canary(cluster, settle=0)
    assert result.enforced is True and result.egress is True, result


def test_ingress_enforced_without_egress_is_told_apart(fake_cluster, monkeypatch):
    cluster = _cluster(fake_cluster)
    monkeypatch.setattr(canary, "run_probes", _probes(cluster, egress_enforced=False))
    result = canary.run_canary(cluster, settle=0)
    assert result.enforced is True and result.egress is False
    assert "enforces ingress but not egress" in result.egress_message
