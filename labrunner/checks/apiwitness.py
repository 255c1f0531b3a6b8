"""The API server as a workshop seat's witness: does anything listen at a target, policy aside.

A probe that does not connect is asked again from a place NetworkPolicy does not isolate, to tell
"a policy blocks it" from "nothing listens there" (`probing.read_with_witness`). For a single
learner that place is a hostNetwork pod on the target's node (`probepods.ensure_node_probes`). A
workshop seat may not have one: exec into a pod on the node's own network would give the learner
the node's network (its loopback services, cloud metadata endpoints, every pod past every policy).

The API server's proxy (`GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/`; RBAC `get` on pods/proxy,
kubernetes.io "Access Services Running on Clusters"; a Service is asked through each pod of its
EndpointSlices, `service_pod_routes`, not its own proxy) connects from the API server's own network to the pod's address. Where the API server
runs on the target's node (kind's and the testbed's single node, any control-plane node), that is
the node's network, which NetworkPolicy always lets reach the pods on it. The API server says what
its dial saw in its error: "dial tcp ...: connect: connection refused", "i/o timeout". Any answer
from the target, HTTP or not, means something listens. A seat may use the proxy only in its own
namespaces; anything else has no witness here (see `network._seat_witness`).
"""

from __future__ import annotations

import json

from .probeplan import Target
from .probing import ProbeOutcome, Verdict

WITNESS_TIMEOUT = 5.0  # s: the API server's own dial gives up after 30 s; a node that far is no witness anyway


def proxy_route(target: Target, port: int, namespaces: set[str]) -> tuple[str, str, str] | None:
    """("pods" | "services", namespace, "NAME:PORT") to ask the API server about `target` at `port`, when
    it is a pod or a Service in one of `namespaces`; None otherwise (a `host:`, another namespace)."""
    if target.pod and target.pod[0] in namespaces:
        return ("pods", target.pod[0], f"{target.pod[1]}:{port}")
    if target.service and target.service[0] in namespaces:
        return ("services", target.service[0], f"{target.service[1]}:{port}")
    return None


# The API server's own refusals to proxy, before any dial (kube-apiserver's pod and service
# ResourceLocation): a 503 "no endpoints available" was read as the target answering, so a
# Service with no endpoint the API server accepts passed a deny as "the node itself connects".
_API_SERVER_OWN = ("no endpoints available for service", "no service port", "address not allowed",
                   "invalid pod request", "invalid service request")


def read_proxy_error(status: int | None, body: str) -> ProbeOutcome:
    """What an API server proxy error means for the witness. `status` is the HTTP status (None: no
    answer within WITNESS_TIMEOUT), `body` the response text (a metav1.Status for the API server's own
    errors). A Status whose message is "error trying to reach service: dial tcp ..." is the dial's
    outcome; Forbidden, NotFound and the like mean the witness could not ask; any other answer came
    from the target, so it connected."""
    if status is None:
        return ProbeOutcome(Verdict.TIMEOUT, f"no answer through the API server within {WITNESS_TIMEOUT:g}s")
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not (isinstance(parsed, dict) and parsed.get("kind") == "Status"):
        return ProbeOutcome(Verdict.CONNECTED, f"the target answered (HTTP {status})")
    message = str(parsed.get("message") or "")
    lowered = message.lower()
    if "error trying to reach service" in lowered or "dial tcp" in lowered:
        if "connection refused" in lowered:
            return ProbeOutcome(Verdict.REFUSED, "refused")
        if "timeout" in lowered or "deadline exceeded" in lowered:
            return ProbeOutcome(Verdict.TIMEOUT, "no answer to the API server's dial")
        if "no route to host" in lowered or "unreachable" in lowered:
            return ProbeOutcome(Verdict.REJECTED, "rejected (" + message.rsplit(":", 1)[-1].strip() + ")")
        if "dial tcp" in lowered:
            return ProbeOutcome(Verdict.BROKEN, f"the API server could not reach it: {message[:200]}")
        return ProbeOutcome(Verdict.CONNECTED, "the target answered (not in HTTP)")
    if status in (401, 403, 404) or any(own in lowered for own in _API_SERVER_OWN):
        return ProbeOutcome(Verdict.BROKEN, f"the API server would not proxy to it: {message[:200]}")
    # A Status from the target itself (an API server being probed) is an answer too.
    return ProbeOutcome(Verdict.CONNECTED, f"the target answered (HTTP {status})")


def ask_api_server(cluster, route: tuple[str, str, str]) -> ProbeOutcome:  # noqa: ANN001 - a labrunner Cluster
    """GET the proxy `route` (proxy_route) once, as the seat; its outcome as the node witness's."""
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    kind, namespace, name = route
    core = k8s.CoreV1Api(cluster.api)
    call = core.connect_get_namespaced_pod_proxy if kind == "pods" else core.connect_get_namespaced_service_proxy
    try:
        body = call(name, namespace, _request_timeout=WITNESS_TIMEOUT, _preload_content=False)
        return read_proxy_error(getattr(body, "status", 200), "")
    except ApiException as exc:
        return read_proxy_error(exc.status, exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body or ""))
    except Exception as exc:  # noqa: BLE001 - urllib3's timeouts and connection errors
        if "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower():
            return read_proxy_error(None, "")
        return ProbeOutcome(Verdict.BROKEN, f"the API server could not be asked: {exc}")


def service_pod_routes(service: dict, slices: list[dict], pods: dict[str, dict], port: int) -> list[tuple[str, str, str]] | str:
    """The pods proxy routes ("pods", namespace, "POD:PORT") of every ready endpoint kube-proxy sends
    `service`'s `port` to, from its EndpointSlices (`slices`, labelled kubernetes.io/service-name) and
    the pods of its namespace (`pods`, name -> pod); or why there is no witness.

    Not `services/NAME:PORT/proxy`: the API server picks from the v1 Endpoints, which a seat may write
    apart from the EndpointSlices kube-proxy follows (Endpoints to a listening pod, labelled
    endpointslice.kubernetes.io/skip-mirror, and a slice to an address where nothing answers made a
    deny pass with no NetworkPolicy). Each endpoint must be a pod of the Service's namespace whose IP
    it is; anything else (an address of the learner's choosing) has no witness."""
    meta = service.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    entry = next((e for e in (service.get("spec") or {}).get("ports") or [] if e.get("port") == port), None)
    if entry is None:
        return f"Service {name} has no port {port}"
    want = entry.get("name") or ""
    routes: list[tuple[str, str, str]] = []
    for piece in slices:
        number = next((p.get("port") for p in piece.get("ports") or [] if (p.get("name") or "") == want), None)
        if number is None:
            continue
        for endpoint in piece.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            ref = endpoint.get("targetRef") or {}
            pod = pods.get(ref.get("name", "")) if ref.get("kind") == "Pod" and ref.get("namespace", namespace) == namespace else None
            ips = {ip.get("ip") for ip in ((pod or {}).get("status") or {}).get("podIPs") or []} | {((pod or {}).get("status") or {}).get("podIP")}
            address = (endpoint.get("addresses") or [""])[0]
            if pod is None or address not in ips:
                return (f"endpoint {address} of Service {name} is not a pod of namespace {namespace}, "
                        "so the API server cannot be asked whether anything listens there")
            route = ("pods", namespace, f"{ref['name']}:{number}")
            if route not in routes:
                routes.append(route)
    return routes or f"Service {name} has no ready endpoint for port {port}"


def ask_witness(cluster, route: tuple[str, str, str]) -> ProbeOutcome:  # noqa: ANN001 - a labrunner Cluster
    """The witness's outcome for `route` (proxy_route): a pod asked through the API server's proxy;
    a Service through each pod behind it (service_pod_routes), CONNECTED only when every one connects."""
    kind, namespace, name = route
    if kind == "pods":
        return ask_api_server(cluster, route)
    service_name, _, port = name.rpartition(":")
    service = cluster.get("Service", service_name, namespace=namespace)
    if service is None:
        return ProbeOutcome(Verdict.BROKEN, f"Service {service_name} is gone")
    slices = cluster.list("EndpointSlice", namespace=namespace, selector=f"kubernetes.io/service-name={service_name}")
    pods = {p["metadata"]["name"]: p for p in cluster.list("Pod", namespace=namespace)}
    routes = service_pod_routes(service, slices, pods, int(port))
    if isinstance(routes, str):
        return ProbeOutcome(Verdict.BROKEN, routes)
    outcomes = [ask_api_server(cluster, pod_route) for pod_route in routes]
    return next((o for o in outcomes if o.verdict is not Verdict.CONNECTED), outcomes[0])
