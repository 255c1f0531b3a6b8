"""Every setting of labrunner in one place: the `LABRUNNER_*` environment variables, and the
timeouts and intervals the engine waits by.

The environment is read when a setting is used (`settings()`), not at import, so a test or a
wrapper script can set a variable at any time. A variable that does not parse is bad input: a
UsageError naming the variable, what it holds and the form it takes (exit 2), never a traceback.

The timeouts (`TIMEOUTS`) are not read from the environment: each is a fact about Kubernetes or
about how long a step of ours may take, with its source beside it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .errors import UsageError

ENV_PREFIX = "LABRUNNER_"

# agnhost, the Kubernetes e2e image of network tools; our probes run its `connect` and `netexec`.
DEFAULT_PROBE_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.56"


class Timeouts(BaseModel):
    """Seconds the engine waits, in one place (kopf groups its own in OperatorSettings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The progress file's lock: a holder only reads, changes and writes a small file; longer means it hangs.
    progress_lock: float = 30.0
    # A namespace being deleted: its finalizers and every object in it go first; kind clears one in seconds.
    namespace_gone: float = 180.0
    # A deleted object other than a namespace (a Pod's grace period is 30 s, then its finalizers).
    object_gone: float = 60.0
    # A CustomResourceDefinition until the API server reports it Established.
    crd_established: float = 60.0
    # A pass seen in watch mode (or after settling) must still hold this much later to be reported.
    confirm_pass_after: float = 1.5
    # A failing check whose truth may still lag (CheckKind.lags) is re-run this often.
    settle_interval: float = 1.0
    # Watch mode: wait this long after a change for the rest of its burst (a rollout) before checking.
    watch_settle: float = 0.5
    # Watch mode: re-check this often without a change: some outcomes (a NodePort answering) have no event.
    watch_refresh: float = 15.0
    # Watch mode: how long to wait for each kind's watch to be listening before the first check.
    watch_listening: float = 10.0
    # Watch mode: each watch request asks the API server to end it after this long, then opens another.
    watch_request: float = 30.0
    # Watch mode: after a watch failed (a kind not served, the cluster blinked), try again after this.
    watch_retry: float = 5.0
    # `dev check`: a step passing after its solution, and `run_until_passed`'s default.
    pass_after_solution: float = 60.0
    # `dev check`: an answer's `run:` command (kubectl against a live cluster).
    answer_command: float = 120.0
    # The canary's server pods until Ready (an image pull on a fresh node).
    canary_ready: float = 90.0
    # The API server's version answer: a reachable server answers in milliseconds.
    version_request: float = 5.0
    # Probe pods (node, outside, open server) until Ready: an image pull on a fresh node.
    probe_pods_ready: float = 90.0
    # An old probe pod of another spec until it is gone (grace period 1 s, then the kubelet).
    old_probe_gone: float = 30.0
    # One exec into a probe pod running one agnhost connect (each probe times out after 1 s).
    probe_exec: float = 15.0
    # An exec that asks every source pod at once (NetworkPolicy reachability), or runs a log trigger.
    batch_exec: float = 20.0
    # Reading a container's log.
    log_request: float = 10.0
    # `dev check`: a step passing after its solution (`--timeout`'s default).
    dev_step_pass: float = 180.0
    # `dev check`: the lab's labelled cluster-scoped objects until gone, between proofs.
    dev_labelled_gone: float = 120.0
    # `labrunner up` on kind: an issuer written into the API server's authentication config until it is
    # trusted (the kube-apiserver rereads the file on a change, and polls it once a minute).
    authn_reload: float = 150.0
    # `kind get kubeconfig`, for `dev check`'s shell commands.
    kind_kubeconfig: float = 30.0


TIMEOUTS = Timeouts()


class Settings(BaseModel):
    """What the environment sets, one field per `LABRUNNER_<FIELD>` variable (upper case)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    labs: Path | None = None  # LABRUNNER_LABS: the folder of labs (else ./labs, else the checkout's)
    state_dir: Path | None = None  # LABRUNNER_STATE_DIR: where progress.json lives (else the platform's state folder)
    node_address: str | None = None  # LABRUNNER_NODE_ADDRESS: where this machine reaches node ports
    ingress_address: str | None = None  # LABRUNNER_INGRESS_ADDRESS: where this machine reaches the ingress
    # LABRUNNER_NODEPORT_RANGE: the API server's --service-node-port-range (not readable through the API).
    nodeport_range: tuple[int, int] = (30000, 32767)
    probe_image: str = DEFAULT_PROBE_IMAGE  # LABRUNNER_PROBE_IMAGE: agnhost, from a mirror where needed
    timeouts: Timeouts = TIMEOUTS

    @field_validator("nodeport_range", mode="before")
    @classmethod
    def _range(cls, value: object) -> object:
        if isinstance(value, str):
            low, dash, high = value.strip().partition("-")
            if not dash or not low.strip().isdigit() or not high.strip().isdigit() or int(low) > int(high):
                raise ValueError("expected LOW-HIGH, such as 30000-32767")
            return int(low), int(high)
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings `environ` (default: os.environ) gives; an empty variable counts as unset.
        Raises UsageError naming the variable that does not parse, and its form."""
        environ = os.environ if environ is None else environ
        names = [name for name in cls.model_fields if name != "timeouts"]
        given = {name: environ[ENV_PREFIX + name.upper()] for name in names if environ.get(ENV_PREFIX + name.upper())}
        try:
            return cls(**given)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0])
            variable = ENV_PREFIX + name.upper()
            why = str(error["msg"]).removeprefix("Value error, ")
            raise UsageError(f"{variable}={given.get(name, '')!r}: {why}; fix or unset it") from None


def settings() -> Settings:
    """The settings now, read from the environment (see Settings.from_env)."""
    return Settings.from_env()
