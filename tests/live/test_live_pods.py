"""env, exec and logs in a pod, and the sidecars lab's Job: each can fail and can pass."""

import pytest

from lab_steps import prove
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


def writer_and_reader(shared: bool) -> str:
    """A pod whose `writer` appends to /out/app.log and whose `reader` tails /in/app.log (the same volume or not)."""
    reader_volume = "out" if shared else "own"
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: pair}}
spec:
  terminationGracePeriodSeconds: 0
  volumes: [{{name: out, emptyDir: {{}}}}, {{name: own, emptyDir: {{}}}}]
  containers:
    - name: writer
      image: registry.k8s.io/e2e-test-images/agnhost:2.56
      command: [/bin/sh, -c, "touch /out/app.log; exec /agnhost pause"]
      volumeMounts: [{{name: out, mountPath: /out}}]
    - name: reader
      image: registry.k8s.io/e2e-test-images/agnhost:2.56
      command: [/bin/sh, -c, "echo line one >> /in/app.log; tail -F /in/app.log"]
      volumeMounts: [{{name: {reader_volume}, mountPath: /in}}]
"""


TRIGGERED = dict(pod="pair", container="reader", contains="seen ${NONCE}", timeout=8,
                 trigger={"container": "writer", "command": ["/bin/sh", "-c", "echo seen ${NONCE} >> /out/app.log"]})


@pytest.mark.parametrize("shared", [True, False])
def test_logs_with_a_trigger_on_a_volume(ns, shared):
    ns.apply(writer_and_reader(shared))
    ns.wait_ready("Pod", "pair", condition="Ready")
    assert ns.check("logs", pod="pair", container="reader", contains="line one").ok
    assert ns.check("logs", pod="pair", container="reader", contains="line two", timeout=2).status.value == "fail"
    result = ns.check("logs", **TRIGGERED)
    if shared:
        assert result.ok, result.message
        assert "shows the line the check wrote" in result.message
    else:
        assert result.status.value == "fail" and "did not show the line written by the check" in result.message
    broken = ns.check("logs", **{**TRIGGERED, "trigger": {"container": "writer", "command": ["sh", "-c", "exit 4"]}})
    assert broken.status.value == "fail" and "exited 4" in broken.message


JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
        - {name: work, image: registry.k8s.io/e2e-test-images/agnhost:2.56, command: [/bin/sh, -c, "sleep 2; echo all done"]}
"""


def test_logs_of_a_finished_job(ns):
    ns.apply(JOB)
    waiting = ns.check("logs", selector="job-name=once", finished=True, contains="all done")
    assert waiting.status.value == "fail" and ("has completed" in waiting.message or "no pod matches" in waiting.message)
    ns.wait_ready("Job", "once", condition="Complete")
    assert ns.check("logs", selector="job-name=once", finished=True, contains="all done").ok
    assert ns.check("logs", selector="job-name=once", finished=True, contains="half done", timeout=1).status.value == "fail"


# -- the sidecars lab's job-sidecar step: a native sidecar that serves the report ----------

@pytest.mark.parametrize("answer", ["proxy-stopped-by-exit", "report-skips-proxy", "no-startup-probe"])
def test_job_sidecar_step_wants_a_native_sidecar_that_serves(cluster, answer):
    """A proxy the report stops through /exit, or one that serves nothing, fails; a native sidecar passes."""
    proof = prove(cluster, "sidecars", "job-sidecar", answer)
    assert proof.proven, proof.problem
