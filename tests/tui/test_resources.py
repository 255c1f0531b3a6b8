"""The resource panel's rows from object dicts as the API returns them."""

from labrunner.tui.resources import claim_row, policy_row, pod_row, service_row, view_of
from labrunner.tui.widgets.resource_panel import view_text

from .conftest import NAMESPACE_OBJECTS


def test_pod_shows_phase_readiness_and_why_it_waits():
    running, probe = NAMESPACE_OBJECTS["Pod"]
    assert pod_row(running) == ("web-5d9c7b7f4-abcde", "Running", "1/1", "")
    assert pod_row(probe) == ("lr-probe-1a2b3c4d", "ContainerCreating", "0/1", "probe")
    terminating = {**running, "metadata": {"name": "old", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert pod_row(terminating)[1] == "Terminating"


def test_service_shows_type_cluster_ip_node_port_and_external_address():
    assert service_row(NAMESPACE_OBJECTS["Service"][0]) == ("web", "NodePort", "10.96.0.10", "80:30080/TCP", "")
    pending = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11",
                                                    "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]},
               "status": {"loadBalancer": {}}}
    assert service_row(pending)[4] == "<pending>"
    given = {**pending, "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.50"}]}}}
    assert service_row(given)[4] == "172.18.0.50"
    external = {"metadata": {"name": "db"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    assert service_row(external) == ("db", "ExternalName", "-", "", "db.example.com")
    headless = {"metadata": {"name": "web-pods"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}
    assert service_row(headless) == ("web-pods", "ClusterIP", "None", "80/TCP", "")


def test_policy_and_claim_rows():
    assert policy_row(NAMESPACE_OBJECTS["NetworkPolicy"][0]) == ("default-deny", "(all pods)", "Ingress")
    egress = {"metadata": {"name": "fe"}, "spec": {"podSelector": {"matchLabels": {"role": "frontend"}},
                                                   "policyTypes": ["Egress"]}}
    assert policy_row(egress) == ("fe", "role=frontend", "Egress")
    assert claim_row(NAMESPACE_OBJECTS["PersistentVolumeClaim"][0]) == ("data", "Bound", "1Gi", "standard")
    pending = {"metadata": {"name": "c"}, "spec": {"resources": {"requests": {"storage": "2Gi"}}}, "status": {"phase": "Pending"}}
    assert claim_row(pending) == ("c", "Pending", "2Gi", "")


def test_view_sorts_by_name_and_says_when_empty():
    view = view_of(NAMESPACE_OBJECTS)
    assert [row[0] for row in view.pods] == ["lr-probe-1a2b3c4d", "web-5d9c7b7f4-abcde"]
    assert "NetworkPolicies" in view_text(view).plain
    assert view_text(view_of({})).plain == "nothing here yet"
