"""The one object that talks to the API server.

It wraps the official client's ApiClient and DynamicClient, keeps objects as
plain dicts, and translates every client exception into `labrunner.errors`.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

from ..errors import ClusterUnreachable, NotFound, translate_api_exception
from ..settings import TIMEOUTS

FIELD_MANAGER = "labrunner"

# Kinds whose group is not obvious from the kind alone (or exists twice, like
# Event), so lookups without apiVersion land on the version labs mean.
PREFERRED_VERSIONS = {
    "Pod": "v1",
    "Service": "v1",
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "ServiceAccount": "v1",
    "Endpoints": "v1",
    "PersistentVolume": "v1",
    "PersistentVolumeClaim": "v1",
    "Node": "v1",
    "Event": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "Ingress": "networking.k8s.io/v1",
    "IngressClass": "networking.k8s.io/v1",
    # The Gateway API serves v1 beside older versions of the same kinds (labrunner's ingress add-on).
    "GatewayClass": "gateway.networking.k8s.io/v1",
    "Gateway": "gateway.networking.k8s.io/v1",
    "HTTPRoute": "gateway.networking.k8s.io/v1",
    "GRPCRoute": "gateway.networking.k8s.io/v1",
    "EndpointSlice": "discovery.k8s.io/v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "StorageClass": "storage.k8s.io/v1",
    "CustomResourceDefinition": "apiextensions.k8s.io/v1",
    "CertificateSigningRequest": "certificates.k8s.io/v1",
    "ValidatingAdmissionPolicy": "admissionregistration.k8s.io/v1",
    "ValidatingAdmissionPolicyBinding": "admissionregistration.k8s.io/v1",
}


class Cluster:
    """A connection to one cluster. Thread-safe: checks share it across threads."""

    def __init__(self, api_client: k8s.ApiClient, *, context: str | None = None, context_name: str | None = None):
        self.api = api_client
        self.context = context  # as asked (None: the kubeconfig's current context)
        self.context_name = context_name or context  # the context in use, as the kubeconfig names it
        self._dynamic: DynamicClient | None = None
        self._lock = threading.Lock()
        self._resources: dict[tuple[str | None, str], Any] = {}
        # The workshop seat (workshop.seats.Seat) the kubeconfig's context is for, or None for an
        # ordinary learner: network checks then probe from the seat's own probe namespace.
        self.seat: Any = None

    # -- plumbing ----------------------------------------------------------
    @property
    def configuration(self) -> k8s.Configuration:
        return self.api.configuration

    @property
    def dynamic(self) -> DynamicClient:
        with self._lock:
            if self._dynamic is None:
                try:
                    self._dynamic = DynamicClient(self.api)
                except Exception as exc:  # discovery is the first request made
                    raise translate_api_exception(exc, what="API discovery") from None
            return self._dynamic

    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api)

    def resource(self, kind: str, api_version: str | None = None) -> Any:
        """The API resource serving `kind`; NotFound when the cluster lacks it."""
        api_version = api_version or PREFERRED_VERSIONS.get(kind)
        key = (api_version, kind)
        if key in self._resources:
            return self._resources[key]
        dynamic = self.dynamic
        with self._lock:
            try:
                if api_version:
                    found = dynamic.resources.get(api_version=api_version, kind=kind)
                else:
                    found = dynamic.resources.get(kind=kind)
            except ResourceNotUniqueError:
                raise NotFound(f"kind {kind} exists in several API groups; give apiVersion") from None
            except ResourceNotFoundError:
                where = f" in {api_version}" if api_version else ""
                raise NotFound(f"the cluster serves no kind {kind}{where} (is its CRD or add-on installed?)") from None
            except Exception as exc:
                raise translate_api_exception(exc, what=f"looking up kind {kind}") from None
            self._resources[key] = found
            return found

    def forget_resources(self) -> None:
        """Drop cached discovery, e.g. after CRDs were added."""
        with self._lock:
            self._resources.clear()
            if self._dynamic is not None:
                self._dynamic.resources.invalidate_cache()

    def is_namespaced(self, kind: str, api_version: str | None = None) -> bool:
        return bool(self.resource(kind, api_version).namespaced)

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a client call, translating its exceptions."""
        try:
            return fn(*args, **kwargs)
        except (ClusterUnreachable, NotFound):
            raise
        except Exception as exc:
            if isinstance(exc, (TypeError, AttributeError, KeyError)):
                raise  # our bug, not the cluster's
            raise translate_api_exception(exc, what=what) from None

    # -- reading -----------------------------------------------------------
    def get(self, kind: str, name: str, *, namespace: str | None = None, api_version: str | None = None) -> dict | None:
        """The object as a dict, or None when it does not exist."""
        resource = self.resource(kind, api_version)
        ns = namespace if resource.namespaced else None
        try:
            found = self.dynamic.get(resource, name=name, namespace=ns)
        except Exception as exc:
            error = translate_api_exception(exc, what=f"{kind}/{name}")
            if isinstance(error, NotFound):
                return None
            raise error from None
        return found.to_dict()

    def list(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        selector: str | None = None,
        field_selector: str | None = None,
        api_version: str | None = None,
    ) -> list[dict]:
        resource = self.resource(kind, api_version)
        ns = namespace if resource.namespaced else None
        result = self.call(
            f"listing {kind}",
            self.dynamic.get,
            resource,
            namespace=ns,
            label_selector=selector,
            field_selector=field_selector,
        )
        return [item for item in result.to_dict().get("items", [])]

    def list_with_version(self, kind: str, *, namespace: str | None = None, selector: str | None = None,
                          field_selector: str | None = None, api_version: str | None = None) -> tuple[list[dict], str]:
        """Items and the list's resourceVersion, to start a watch from."""
        resource = self.resource(kind, api_version)
        ns = namespace if resource.namespaced else None
        result = self.call(f"listing {kind}", self.dynamic.get, resource, namespace=ns,
                           label_selector=selector, field_selector=field_selector).to_dict()
        return result.get("items", []), result.get("metadata", {}).get("resourceVersion", "")

    def watch(
        self,
        kind: str,
        *,
        namespace: str | None = None,
        selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        timeout: float = 60,
        api_version: str | None = None,
        watcher: Any = None,
    ) -> Iterator[tuple[str, dict]]:
        """(event type, object) pairs until `timeout` seconds pass."""
        resource = self.resource(kind, api_version)
        ns = namespace if resource.namespaced else None
        try:
            for event in self.dynamic.watch(
                resource,
                namespace=ns,
                label_selector=selector,
                field_selector=field_selector,
                resource_version=resource_version,
                timeout=max(1, int(timeout + 0.999)),
                watcher=watcher,
            ):
                yield event["type"], event["raw_object"]
        except (ClusterUnreachable, NotFound):
            raise
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError) as exc:
            raise ClusterUnreachable(f"the watch on {kind} broke: {exc}") from None
        except Exception as exc:
            if isinstance(exc, (TypeError, AttributeError, KeyError, GeneratorExit)):
                raise
            raise translate_api_exception(exc, what=f"watching {kind}") from None

    # -- writing -----------------------------------------------------------
    def request(self, what: str, method: str, path: str, body: Any = None, **params: Any) -> dict:
        result = self.call(what, self.dynamic.request, method, path, body=body, **params)
        return result.to_dict() if hasattr(result, "to_dict") else result

    def create(self, body: dict, *, namespace: str | None = None) -> dict:
        """POST an object (used for review requests such as SubjectAccessReview)."""
        resource = self.resource(body["kind"], body.get("apiVersion"))
        result = self.call(f"creating {body['kind']}", self.dynamic.create, resource, body=body,
                           namespace=namespace if resource.namespaced else None)
        return result.to_dict()

    def server_version(self) -> str:
        info = self.call("reading the server version", k8s.VersionApi(self.api).get_code, _request_timeout=TIMEOUTS.version_request)
        return info.git_version


def connect(*, kubeconfig: str | None = None, context: str | None = None) -> Cluster:
    """A Cluster from a kubeconfig (KUBECONFIG / ~/.kube/config) or in-cluster config.

    Does not contact the server; call `ping` for that.
    """
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    except (ConfigException, FileNotFoundError, OSError, TypeError) as exc:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except ConfigException:
            where = kubeconfig or "KUBECONFIG or ~/.kube/config"
            raise ClusterUnreachable(
                f"no usable kubeconfig ({where}): {exc}. Start a cluster (`labrunner up` with kind) "
                "or point KUBECONFIG at any cluster's kubeconfig."
            ) from None
    # Checks run many requests in parallel; the default pool would serialize them.
    configuration.connection_pool_maxsize = 32
    api = k8s.ApiClient(configuration)
    cluster = Cluster(api, context=context, context_name=context or _current_context(kubeconfig))
    from ..workshop.seats import seat_of  # the kubeconfig extension, read without a request

    cluster.seat = seat_of(kubeconfig, context)
    return cluster


def _current_context(kubeconfig: str | None) -> str | None:
    """The kubeconfig's current context name (e.g. kind-labrunner); None in a pod or when unreadable."""
    try:
        _, active = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
    except Exception:  # noqa: BLE001 - in-cluster config, or a kubeconfig load_kube_config already accepted
        return None
    return (active or {}).get("name")


def ping(cluster: Cluster, *, timeout: float = TIMEOUTS.version_request) -> str:
    """The server's version; ClusterUnreachable with one clear message if it does not answer."""
    try:
        info = k8s.VersionApi(cluster.api).get_code(_request_timeout=timeout)
    except Exception as exc:
        status = getattr(exc, "status", None)
        if status:
            raise translate_api_exception(exc, what="the API server") from None
        host = cluster.configuration.host
        raise ClusterUnreachable(
            f"the Kubernetes API server at {host} does not answer ({_reason(exc)}). "
            "Is the cluster running? `labrunner doctor` checks the whole setup."
        ) from None
    return info.git_version


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    for marker in ("Connection refused", "timed out", "Name or service not known", "No route to host", "certificate verify failed"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[-1][:200] if text else type(exc).__name__
