"""The `logs` check: a container's log shows a line, optionally one the check itself caused.

A spec can look right and do nothing: a log shipper that tails a file of its own
prints lines that look like the app's. With a `trigger`, the check first runs a
command (in the same pod) that writes a fresh random token, `${NONCE}`, where the
lesson says it must go (e.g. into the app's log file), then waits for that token
to come out of the container's log through the API. No learner's answer can
print a token it never saw.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import replace
from typing import Any, Mapping

from ...cluster import exec_in_pod
from ...format.values import BOUNDS, Regex, Text, seconds
from ...settings import TIMEOUTS
from ..base import CheckContext, CheckKind, CheckResult, Param, all_of
from ..evidence import Evidence
from ..shapes import Trigger
from ..targets import POD_PARAMS, find_pods, one_pod, pod_name, verdict_of_pods

NONCE = "${NONCE}"
_POLL_SECONDS = 0.5  # a shipper such as `tail -F` notices a new line within about a second


def _logs(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    pods, missing = finished_pods(ctx, p) if p.get("finished") else find_pods(ctx.cluster, p, namespace=ctx.namespace)
    if not pods:
        wanted = "a pod that ran to completion" if p.get("finished") else "every matching pod running and ready"
        return CheckResult.failed(missing, evidence=Evidence(wanted, missing))
    results = [_one_pod(ctx, p, pod) for pod in pods]
    return verdict_of_pods(results)


def finished_pods(ctx: CheckContext, p: Mapping[str, Any]) -> tuple[list[dict], str]:
    """The pods a Job-like selector matches that ran to completion (phase Succeeded), or ([], why not).

    A Job's failed attempts are not its outcome, so they are left out; a pod still
    running means the work is not done yet.
    """
    ns = p.get("namespace") or ctx.namespace
    if p.get("pod"):
        pod = ctx.cluster.get("Pod", p["pod"], namespace=ns)
        pods = [pod] if pod else []
    else:
        pods = [pod for pod in ctx.cluster.list("Pod", namespace=ns, selector=p["selector"])
                if not (pod.get("metadata") or {}).get("deletionTimestamp")]
    done = sorted((pod for pod in pods if (pod.get("status") or {}).get("phase") == "Succeeded"), key=pod_name)
    if done:
        return done, ""
    if not pods:
        return [], f"no pod matches {p.get('pod') or p.get('selector')} in namespace {ns}"
    phases = ", ".join(f"{pod_name(pod)} is {(pod.get('status') or {}).get('phase', 'Pending')}" for pod in pods)
    return [], f"no pod matching {p.get('pod') or p.get('selector')} has completed ({phases})"


def _one_pod(ctx: CheckContext, p: Mapping[str, Any], pod: dict) -> CheckResult:
    name, ns = pod_name(pod), pod["metadata"]["namespace"]
    container = p.get("container") or ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name")
    nonce = secrets.token_hex(8)
    wanted = _fill(p.get("contains"), nonce)
    pattern = re.compile(_fill(p["matches"], nonce), re.MULTILINE) if "matches" in p else None
    started = time.monotonic()
    trigger = p.get("trigger")
    if trigger:
        command = [_fill(str(part), nonce) for part in trigger["command"]]
        done = exec_in_pod(ctx.cluster, name, command, namespace=ns, container=trigger.get("container"),
                           timeout=TIMEOUTS.batch_exec)
        shown = " ".join(command)
        ran = Evidence(f"`{shown}` exits 0", "", commands=(_exec_command(ns, name, trigger.get("container"), command),))
        if done.exit_code is None:
            return CheckResult.errored(f"`{shown}` could not run in pod {name}: {done.failure}",
                                       evidence=replace(ran, observed=f"it could not run: {done.failure}"))
        if done.exit_code != 0:
            return CheckResult.failed(_explained(p, f"`{shown}` in pod {name}"
                                                    f"{' container ' + trigger['container'] if trigger.get('container') else ''}"
                                                    f" exited {done.exit_code}"), done.output.splitlines()[-5:],
                                      evidence=replace(ran, observed=f"exit {done.exit_code}"))
    # A finished pod's log no longer grows: read it once.
    deadline = started + (0 if p.get("finished") else float(p.get("timeout", 10)))
    while True:
        since = max(1, int(time.monotonic() - started) + 2)  # only what was logged since the trigger ran
        text = read_log(ctx, name, ns, container, since_seconds=since if trigger else None)
        lines = text.splitlines()
        if (wanted is not None and wanted in text) or (pattern is not None and pattern.search(text or "")):
            hit = next((line for line in lines if (wanted or "") in line and (not pattern or pattern.search(line))),
                       lines[-1] if lines else "")
            shown = "the line the check wrote" if trigger else _looked_for(p, wanted)
            return CheckResult.passed(f"the log of {container} in pod {name} shows {shown}", [hit.strip()[:200]])
        if time.monotonic() >= deadline:
            looked = _looked_for(p, wanted)
            where = f"the log of container {container} in pod {name}"
            what = (f"{where} did not show the line written by the check ({looked}) within {p.get('timeout', 10)}s"
                    if trigger else f"{where} shows no {looked}")
            last = lines[-1].strip()[:200] if lines else ""
            seen = Evidence(f"a log line with {looked}",
                            f"{len(lines)} lines" + (f" since the trigger ran, the last: {last!r}" if trigger and last
                                                     else f", the last: {last!r}" if last else ", none"),
                            commands=(f"kubectl -n {ns} logs {name} -c {container} --tail=20",))
            return CheckResult.failed(_explained(p, what), [line.strip()[:200] for line in lines[-5:]], evidence=seen)
        time.sleep(_POLL_SECONDS)


def read_log(ctx: CheckContext, pod: str, namespace: str, container: str | None, *,
             since_seconds: int | None = None) -> str:
    """A container's log as text: everything logged in the last `since_seconds`, or the last 500 lines.

    Read raw: the client would parse a log that happens to be one JSON document into a dict.
    Raises LabrunnerError (via Cluster.call) when the API refuses, e.g. the pod is gone.
    """
    response = ctx.cluster.call(f"reading the log of {pod}/{container}", ctx.cluster.core().read_namespaced_pod_log,
                                pod, namespace, container=container, since_seconds=since_seconds,
                                tail_lines=None if since_seconds else 500, _preload_content=False,
                                _request_timeout=TIMEOUTS.log_request)
    return response.data.decode("utf-8", "replace")


def _exec_command(namespace: str, pod: str, container: str | None, command: list[str]) -> str:
    """The `kubectl exec` that runs `command` as the check did."""
    import shlex

    where = f" -c {container}" if container else ""
    return f"kubectl -n {namespace} exec {pod}{where} -- " + " ".join(shlex.quote(part) for part in command)


def _looked_for(p: Mapping[str, Any], wanted: str | None) -> str:
    return repr(wanted) if wanted is not None else f"line matching {p['matches']}"


def _fill(text: str | None, nonce: str) -> str | None:
    return None if text is None else str(text).replace(NONCE, nonce)


def _explained(p: Mapping[str, Any], problem: str) -> str:
    return f"{p['explain'].strip()} ({problem})" if p.get("explain") else problem


def _validate(p: Mapping[str, Any]) -> list[str]:
    problems = []
    if ("contains" in p) == ("matches" in p):
        problems.append("give exactly one of contains, matches")
    trigger = p.get("trigger")
    if trigger is not None:
        looked_for = str(p.get("contains", p.get("matches", "")))
        if NONCE not in looked_for:
            problems.append(f"with a trigger, contains/matches should include {NONCE}: "
                            "only a fresh token proves the line came from the trigger")
    if p.get("finished") and trigger is not None:
        problems.append("a trigger needs running pods; it cannot go with finished: true")
    return problems


KINDS = [
    CheckKind(
        "logs",
        {**POD_PARAMS,
         "contains": Param(Text, doc="text the log must show; ${NONCE} is the trigger's fresh token"),
         "matches": Param(Regex, doc="or: a regular expression a log line must match"),
         "trigger": Param(Trigger, doc="{command: [...], container?: name}: run first in the same pod; "
                                       "${NONCE} in it is a fresh random token"),
         "timeout": Param(seconds(BOUNDS.logs_seconds),
                          doc=f"seconds to wait for the line (default 10, at most {BOUNDS.logs_seconds:g})"),
         "finished": Param(bool, doc="judge the pods that ran to completion (a Job's), not running ones"),
         "explain": Param(Text, doc="what to tell the learner when the line does not show")},
        _logs,
        validate=all_of(one_pod, _validate),
        placeholders=("NONCE",),
        doc="a container's log shows a line (with a trigger: the line the check caused, proving the effect)",
    ),
]
