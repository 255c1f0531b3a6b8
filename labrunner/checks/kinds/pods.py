"""Checks that run inside a learner's pod: `env` and `exec`."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from typing import Any, Mapping

from ...cluster import exec_in_pod
from ...format.values import Arguments, BOUNDS, ExitCode, Expected, Regex, ServiceName, Text, seconds
from ..base import CheckContext, CheckKind, CheckResult, Param, all_of
from ..evidence import Evidence
from ..servicelinks import env_from_sources, env_prefix, service_link_variables, set_in_spec
from ..targets import POD_PARAMS, find_pods, one_pod, verdict_of_pods


def _env(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    return _each_pod(ctx, p, _env_in)


def _exec(ctx: CheckContext, p: Mapping[str, Any]) -> CheckResult:
    return _each_pod(ctx, p, _exec_in)


def _each_pod(ctx: CheckContext, p: Mapping[str, Any], judge) -> CheckResult:  # noqa: ANN001
    """Judge every pod the spec names; the first pod that is not right decides the verdict."""
    pods, missing = find_pods(ctx.cluster, p, namespace=ctx.namespace)
    if not pods:
        return CheckResult.failed(missing, evidence=Evidence("every matching pod running and ready", missing))
    results = [judge(ctx, p, pod) for pod in pods]
    return verdict_of_pods(results)


def _exec_command(pod: dict, container: str | None, command: list[str]) -> str:
    """The `kubectl exec` that runs `command` in the pod as the check does."""
    where = f" -c {container}" if container else ""
    return (f"kubectl -n {pod['metadata']['namespace']} exec {pod['metadata']['name']}{where} -- "
            + " ".join(shlex.quote(part) for part in command))


def _env_in(ctx: CheckContext, p: Mapping[str, Any], pod: dict) -> CheckResult:
    """One pod's verdict; one that is not a pass carries what was wanted, what the container's `env` showed,
    and the `kubectl exec ... -- env` that shows it again."""
    result = _env_judged(ctx, p, pod)
    if result.ok:
        return result
    var = p["name"]
    wanted = (f"{var}={p['equals']}" if "equals" in p else f"{var} matching {p['matches']}" if "matches" in p
              else f"{var} set")
    if "serviceLink" in p:
        wanted += f", set by the kubelet for Service {p['serviceLink']}"
    command = _exec_command(pod, p.get("container"), ["env"])
    return replace(result, evidence=Evidence(wanted, result.evidence.observed or result.message, commands=(command,)))


def _env_judged(ctx: CheckContext, p: Mapping[str, Any], pod: dict) -> CheckResult:
    name = pod["metadata"]["name"]
    # `env` in the container sees what the kubelet injected too (Service
    # variables), which the pod spec does not show.
    result = exec_in_pod(ctx.cluster, name, ["env"], namespace=pod["metadata"]["namespace"], container=p.get("container"))
    if result.exit_code != 0:
        return CheckResult.errored(f"cannot read the environment of pod {name}: {result.failure or result.stderr.strip()}")
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    var = p["name"]
    if var not in env:
        return CheckResult.failed(f"pod {name} has no environment variable {var}",
                                  evidence=Evidence(observed=f"{var} not set in pod {name}"))
    value = env[var]
    seen = Evidence(observed=f"{var}={value!r} in pod {name}")
    if "serviceLink" in p:
        linked = _service_link(ctx, p, pod, var, value)
        if linked is not None:
            return linked
    if "equals" in p and value != str(p["equals"]):
        return CheckResult.failed(f"{var} in pod {name} is {value!r}, should be {str(p['equals'])!r}", evidence=seen)
    if "matches" in p and not re.search(p["matches"], value):
        return CheckResult.failed(f"{var} in pod {name} is {value!r}, should match {p['matches']}", evidence=seen)
    if "serviceLink" in p:
        return CheckResult.passed(f"pod {name} has {var}={value} from the kubelet, as Service {p['serviceLink']} gives it")
    return CheckResult.passed(f"pod {name} has {var}={value}")


def _service_link(ctx: CheckContext, p: Mapping[str, Any], pod: dict, var: str, value: str) -> CheckResult | None:
    """A fail when `var` in `pod` is not the kubelet's variable for Service `serviceLink` as it is now; else None."""
    name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
    containers = (pod.get("spec") or {}).get("containers") or []
    container = next((c for c in containers if c.get("name") == p.get("container")), containers[0] if containers else {})
    sources = {}
    for kind, source in env_from_sources(container):
        found = ctx.cluster.get(kind, source, namespace=ns)
        sources[(kind, source)] = {**((found or {}).get("data") or {}), **((found or {}).get("binaryData") or {})}
    where = set_in_spec(container, var, sources)
    if where:
        return CheckResult.failed(f"{var} in pod {name} is set by hand ({where} of container {container.get('name')}); "
                                  f"the kubelet sets it from Service {p['serviceLink']} when a container starts after the Service exists")
    # the kubelet gives no Service variable then; whatever set it (an envFrom source since deleted) was not the kubelet
    if (pod.get("spec") or {}).get("enableServiceLinks") is False:
        return CheckResult.failed(f"pod {name} has {var}={value}, but not from the kubelet: the pod sets "
                                  "enableServiceLinks: false, so the kubelet gives it no Service variables")
    service = ctx.cluster.get("Service", p["serviceLink"], namespace=ns)
    if service is None:
        return CheckResult.failed(f"pod {name} has {var}={value}, but there is no Service {p['serviceLink']} in namespace {ns}")
    expected = service_link_variables(service).get(var)
    if expected is None:
        return CheckResult.failed(f"pod {name} has {var}={value}, but the kubelet sets no {var} for Service {p['serviceLink']} "
                                  "as it is now (a headless Service, or no such port name, gets none)")
    if value != expected:
        return CheckResult.failed(f"{var} in pod {name} is {value!r}, but Service {p['serviceLink']} gives {expected!r}: "
                                  "the pod started before the Service was (re)created; restart it")
    return None


def _exec_in(ctx: CheckContext, p: Mapping[str, Any], pod: dict) -> CheckResult:
    name = pod["metadata"]["name"]
    command = [str(part) for part in p["command"]]
    shown = " ".join(command)
    result = exec_in_pod(ctx.cluster, name, command, namespace=pod["metadata"]["namespace"], container=p.get("container"),
                         timeout=float(p.get("timeout", 20)))
    details = [line for line in result.output.splitlines()][-8:]
    wanted_code = p.get("exitCode", 0)
    wanted = ", ".join([f"exit {wanted_code}"]
                       + ([f"output containing {p['outputContains']!r}"] if "outputContains" in p else [])
                       + ([f"output matching {p['outputMatches']}"] if "outputMatches" in p else []))
    last = details[-1].strip()[:120] if details else ""
    seen = Evidence(wanted, f"exit {result.exit_code}" + (f", the output's last line: {last!r}" if last else ", no output"),
                    commands=(_exec_command(pod, p.get("container"), command),))
    if result.exit_code is None:
        return CheckResult.errored(f"`{shown}` could not run in pod {name}: {result.failure}", details,
                                   evidence=replace(seen, observed=f"it could not run: {result.failure}"))
    if result.exit_code != wanted_code:
        return CheckResult.failed(f"`{shown}` in pod {name} exited {result.exit_code}, expected {wanted_code}", details,
                                  evidence=seen)
    if "outputContains" in p and str(p["outputContains"]) not in result.output:
        return CheckResult.failed(f"the output of `{shown}` in pod {name} does not contain {p['outputContains']!r}", details,
                                  evidence=seen)
    if "outputMatches" in p and not re.search(p["outputMatches"], result.output, re.MULTILINE):
        return CheckResult.failed(f"the output of `{shown}` in pod {name} does not match {p['outputMatches']}", details,
                                  evidence=seen)
    return CheckResult.passed(f"`{shown}` in pod {name} gave the expected result", details)


def _link_matches_name(p: Mapping[str, Any]) -> list[str]:
    if "serviceLink" in p and not str(p["name"]).startswith(env_prefix(p["serviceLink"]) + "_"):
        return [f"name: the kubelet's variables for Service {p['serviceLink']} start with {env_prefix(p['serviceLink'])}_"]
    return []


KINDS = [
    CheckKind(
        "env",
        {**POD_PARAMS, "name": Param(Text, required=True, doc="the variable"),
         "equals": Param((str, int), doc="its exact value"), "matches": Param(Regex, doc="a regular expression"),
         "serviceLink": Param(ServiceName, doc="a Service in the pod's namespace: the variable is the kubelet's for it "
                                       "(not set in the pod spec's env or envFrom) and has the value the Service gives now")},
        _env,
        validate=all_of(one_pod, _link_matches_name),
        doc="an environment variable is set in a running container",
    ),
    CheckKind(
        "exec",
        {**POD_PARAMS, "command": Param(Arguments, required=True, doc="the command and its arguments"),
         "exitCode": Param(ExitCode, doc="expected exit code (default 0)"),
         "outputContains": Param(Expected, doc="text the output must contain"),
         "outputMatches": Param(Regex, doc="a regular expression the output must match"),
         "timeout": Param(seconds(BOUNDS.exec_seconds), doc=f"seconds (default 20, at most {BOUNDS.exec_seconds:g})")},
        _exec,
        validate=one_pod,
        doc="a command in a pod gives the expected result",
    ),
]
