"""The NetworkPolicy canary's own logic, with a fake cluster at our boundary."""


from labrunner.checks import canary
from labrunner.checks.probing import ProbeOutcome, Verdict


def _pod(name: str, role: str, ip: str) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": canary.CANARY_NAMESPACE,
                                        "labels": {"labrunner.dev/canary": role}},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


def test_the_canary_probes_from_the_client_pod_it_found(fake_cluster, monkeypatch):
    class Cluster(fake_cluster):
        def _matches(self, obj, selector):  # noqa: ANN001, ANN202
            labels = obj["metadata"].get("labels") or {}
            return selector in labels if selector and "=" not in selector else super()._matches(obj, selector)

    cluster = Cluster([
        _pod("server-open", "open", "10.0.0.1"), _pod("server-closed", "closed", "10.0.0.2"),
        _pod("lr-probe-from-an-older-version", "client", "10.0.0.3"),
        {"kind": "NetworkPolicy", "metadata": {"name": "deny-closed", "namespace": canary.CANARY_NAMESPACE}},
    ])
    existing = {p["metadata"]["name"] for p in cluster.objects if p["kind"] == "Pod"}

    def run_probes(cluster, probes):  # noqa: ANN001, ANN202
        return [ProbeOutcome(Verdict.CONNECTED if p.pod in existing and p.host == "10.0.0.1" else
                             Verdict.TIMEOUT if p.pod in existing else Verdict.BROKEN,
                             f"exec into {p.pod}") for p in probes]

    monkeypatch.setattr(canary, "run_probes", run_probes)
    result = canary._run(cluster, settle=0)
    assert result.enforced is True, result.message
