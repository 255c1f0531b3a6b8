"""Small manifests the live tests build on."""

import yaml

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.56"


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
