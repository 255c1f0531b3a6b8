"""Run a command in a pod over the exec websocket.

The client's `stream()` helper swaps a method on the shared ApiClient while it
runs, which is not safe when checks exec from several threads at once; here
each call opens its own websocket, so parallel execs do not interfere.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from kubernetes.stream.ws_client import ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL, WSClient, get_websocket_url
from websocket import WebSocketBadStatusException, WebSocketException

from ..errors import ApiRejected, ClusterUnreachable, NotFound
from .client import Cluster


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None when the command could not run at all
    stdout: str
    stderr: str
    failure: str = ""  # the runtime's message when exit_code is None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def exec_in_pod(
    cluster: Cluster,
    pod: str,
    command: list[str],
    *,
    namespace: str,
    container: str | None = None,
    timeout: float = 15.0,
) -> ExecResult:
    """Run `command` in the pod and collect its exit code and output.

    Raises NotFound when the pod does not exist, ApiRejected when the API
    server refuses the exec (e.g. the container is not running).
    """
    configuration = cluster.configuration
    query: list[tuple[str, str]] = [("command", part) for part in command]
    query += [("stdout", "true"), ("stderr", "true"), ("stdin", "false"), ("tty", "false")]
    if container:
        query.append(("container", container))
    path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/exec"
    url = get_websocket_url(f"{configuration.host}{path}?{urlencode(query)}")
    headers = {}
    if configuration.refresh_api_key_hook is not None:
        configuration.refresh_api_key_hook(configuration)
    token = configuration.get_api_key_with_prefix("authorization")
    if token:
        headers["authorization"] = token
    try:
        ws = WSClient(configuration, url, headers, capture_all=False)
    except WebSocketBadStatusException as exc:
        status = getattr(exc, "status_code", 0)
        body = _body_message(getattr(exc, "resp_body", None)) or str(exc)
        if status == 404:
            raise NotFound(body, status=404, what=f"pod {namespace}/{pod}") from None
        raise ApiRejected(body, status=status, what=f"exec in pod {namespace}/{pod}") from None
    except (OSError, WebSocketException) as exc:
        raise ClusterUnreachable(f"cannot open an exec stream to pod {namespace}/{pod}: {exc}") from None
    stdout: list[str] = []
    stderr: list[str] = []
    error = ""
    deadline = time.monotonic() + timeout
    try:
        while ws.is_open():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ExecResult(None, "".join(stdout), "".join(stderr), f"the command ran longer than {timeout:.0f}s")
            ws.update(timeout=remaining)
            stdout.append(ws.read_channel(STDOUT_CHANNEL))
            stderr.append(ws.read_channel(STDERR_CHANNEL))
            error += ws.read_channel(ERROR_CHANNEL)
    except (OSError, WebSocketException) as exc:
        raise ClusterUnreachable(f"the exec stream to pod {namespace}/{pod} broke: {exc}") from None
    finally:
        ws.close()
    return _result("".join(stdout), "".join(stderr), error)


def _result(stdout: str, stderr: str, error: str) -> ExecResult:
    if not error.strip():
        return ExecResult(None, stdout, stderr, "the exec stream closed without a status")
    try:
        status = json.loads(error)
    except ValueError:
        return ExecResult(None, stdout, stderr, error.strip())
    if status.get("status") == "Success":
        return ExecResult(0, stdout, stderr)
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return ExecResult(int(cause.get("message", "1")), stdout, stderr)
    return ExecResult(None, stdout, stderr, status.get("message", error.strip()))


def _body_message(body: object) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return ""
    try:
        return str(json.loads(body).get("message", body))
    except (ValueError, AttributeError):
        return body.strip()[:300]
