"""Small manifests the live tests build on."""

import yaml

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.56"

# Every ingress to the pods labelled app=web is denied.
DENY_WEB = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
"""


def web_deployment(name: str = "web", replicas: int = 1, port: int = 8080, labels: dict | None = None) -> str:
    labels = labels or {"app": name}
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": AGNHOST, "imagePullPolicy": "IfNotPresent",
                                     "args": ["netexec", f"--http-port={port}"],
                                     "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}]}}},
    })


def service(name: str = "web", port: int = 80, target: int = 8080, selector: dict | None = None, **spec) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                           "spec": {"selector": selector or {"app": name}, "ports": [{"port": port, "targetPort": target}], **spec}})


def settled(run, until, timeout: float, every: float = 0.5):  # noqa: ANN001, ANN201
    """run() until until(result) holds or `timeout` seconds pass; the last result either way.

    For truths that lag the API (kube-proxy, NetworkPolicy programming, the RBAC authorizer):
    awaited, not raced."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = run()
        if until(result) or time.monotonic() > deadline:
            return result
        time.sleep(every)
