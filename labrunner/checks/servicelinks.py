"""The environment variables the kubelet gives a container for a Service.

Source: the kubelet's `pkg/kubelet/envvars/envvars.go` (`FromServices`,
`makeLinkVariables`). For a Service with a cluster IP (not headless) in the
pod's namespace, a container started after the Service exists gets:
    <NAME>_SERVICE_HOST=<cluster IP>
    <NAME>_SERVICE_PORT=<first port>           <NAME>_SERVICE_PORT_<PORTNAME>=<port>
    <NAME>_PORT=tcp://<ip>:<first port>        <NAME>_PORT_<port>_TCP=tcp://<ip>:<port>
    <NAME>_PORT_<port>_TCP_PROTO=tcp  <NAME>_PORT_<port>_TCP_PORT=<port>  <NAME>_PORT_<port>_TCP_ADDR=<ip>
where <NAME> is the Service name upper-cased with `-` as `_`. A variable the
pod spec sets (`env`, or `envFrom` a ConfigMap/Secret) overrides the kubelet's.
"""

from __future__ import annotations


def env_prefix(service_name: str) -> str:
    """`api-v2` -> `API_V2`, as the kubelet spells a Service name in variable names."""
    return service_name.replace("-", "_").upper()


def _join(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_link_variables(service: dict) -> dict[str, str]:
    """Name -> value of every variable the kubelet derives from `service` (a Service dict); {} when headless."""
    spec = service.get("spec") or {}
    ip = spec.get("clusterIP") or ""
    ports = spec.get("ports") or []
    if not ip or ip == "None" or not ports:
        return {}
    prefix = env_prefix(service["metadata"]["name"])
    found = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for port in ports:
        if port.get("name"):
            found[f"{prefix}_SERVICE_PORT_{env_prefix(port['name'])}"] = str(port["port"])
    for index, port in enumerate(ports):
        protocol = port.get("protocol") or "TCP"
        url = f"{protocol.lower()}://{_join(ip, port['port'])}"
        if index == 0:
            found[f"{prefix}_PORT"] = url
        base = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        found.update({base: url, f"{base}_PROTO": protocol.lower(), f"{base}_PORT": str(port["port"]), f"{base}_ADDR": ip})
    return found


def set_in_spec(container: dict, variable: str, sources: dict[tuple[str, str], dict[str, str] | None]) -> str | None:
    """Where the container's spec sets `variable` itself, or None.

    `sources`: (kind, name) -> the keys of each ConfigMap/Secret the container's `envFrom` names
    (None when it cannot be read). Returns e.g. "env" or "envFrom ConfigMap api-config".
    """
    if any(item.get("name") == variable for item in container.get("env") or []):
        return "env"
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if not ref:
                continue
            keys = sources.get((kind, ref.get("name", ""))) or {}
            if variable.startswith(prefix) and variable[len(prefix):] in keys:
                return f"envFrom {kind} {ref.get('name')}"
    return None


def env_from_sources(container: dict) -> list[tuple[str, str]]:
    """(kind, name) of each ConfigMap and Secret the container's `envFrom` names."""
    found = []
    for source in container.get("envFrom") or []:
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if (source.get(key) or {}).get("name"):
                found.append((kind, source[key]["name"]))
    return found
