"""env and exec in a running pod: each can fail and can pass."""

import pytest

from live_manifests import service, web_deployment

pytestmark = pytest.mark.live


def test_env_sees_service_variables(ns):
    ns.apply(service(name="backend", selector={"app": "backend"}))
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    assert ns.check("env", selector="app=web", name="BACKEND_SERVICE_HOST", matches=r"^\d+\.\d+\.\d+\.\d+$").ok
    assert ns.check("env", selector="app=web", name="BACKEND_SERVICE_PORT", equals="80").ok
    assert ns.check("env", selector="app=web", name="BACKEND_SERVICE_PORT", equals="81").status.value == "fail"
    assert ns.check("env", selector="app=web", name="NOPE_SERVICE_HOST").status.value == "fail"
    assert ns.check("env", selector="app=nothing", name="X").status.value == "fail"


def test_exec(ns):
    ns.apply(web_deployment())
    ns.wait_ready("Deployment", "web")
    assert ns.check("exec", selector="app=web", command=["cat", "/etc/hostname"], outputContains="web-").ok
    assert ns.check("exec", selector="app=web", command=["sh", "-c", "exit 3"], exitCode=3).ok
    assert ns.check("exec", selector="app=web", command=["sh", "-c", "exit 3"]).status.value == "fail"
    assert ns.check("exec", selector="app=web", command=["cat", "/etc/hostname"], outputMatches="^db-").status.value == "fail"
    broken = ns.check("exec", selector="app=web", command=["/no/such/binary"])
    assert broken.status.value in ("error", "fail")
