"""Parameters of built-in check kinds that are mappings of their own: probes, targets, triggers, rules.

Each is a `Shape` (see labrunner.format.shape): its fields are typed, unknown
keys are refused, and `rules` says what spans its fields.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Iterable, Mapping

from pydantic import Field

from ..format.shape import Found, Shape
from ..format.values import AnyText, Arguments, Host, Labels, Port, Selector, Text, Url, Words, choice, value_type
from .judging import DENIED_BY, EGRESS

Flag = value_type((bool,))


class SourceSpec(Shape):
    """Where a probe or a lookup starts: one of pod, selector, probe, outside."""

    shape: ClassVar[str] = "{pod: ...}, {selector: ...}, {probe: {labels}} or {outside: {labels}}"
    pod: Text = Field(None, description="a pod's name")
    selector: Selector = Field(None, description="a label selector: every matching pod (all must be running and ready)")
    probe: Labels = Field(None, description="a small pod labrunner starts in the lab namespace with these labels")
    outside: Labels = Field(None, description="the same, in labrunner's own namespace outside the lab")
    namespace: Text = Field(None, description="for pod and selector; default: the lab's namespace")
    container: Text = Field(None, description="for pod and selector; default: the first")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        if len([k for k in ("pod", "selector", "probe", "outside") if k in data]) != 1:
            yield (), "expected exactly one of pod, selector, probe, outside (e.g. {outside: {role: customer}})"


class SweepSpec(Shape):
    shape: ClassVar[str] = "{} or {except: <label selector of lab pods the source may reach>}"
    except_: Selector = Field(None, alias="except", description="lab pods the source may reach (a label selector)")


class TargetSpec(Shape):
    """What a probe connects to: one of service, pod, selector, host, sweep."""

    shape: ClassVar[str] = "{service: ...}, {pod: ...}, {selector: ...}, {host: ...} or {sweep: {...}}"
    service: Text = Field(None, description="a Service: its cluster IP")
    pod: Text = Field(None, description="a pod's IP")
    selector: Selector = Field(None, description="every matching pod's IP")
    host: Host = Field(None, description="a name or an address")
    namespace: Text = Field(None, description="for service, pod and selector; default: the lab's namespace")
    sweep: SweepSpec | None = Field(None, description="every destination but `except`: the source may send nowhere else")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        chosen = [k for k in ("service", "pod", "selector", "host", "sweep") if k in data]
        if len(chosen) != 1:
            yield (), "expected exactly one of service, pod, selector, host, sweep"
        elif chosen == ["sweep"] and "namespace" in data:
            yield ("namespace",), "a sweep covers the lab namespace and labrunner's open server; leave namespace out"


class ProbeSpec(Shape):
    """One line of a connectivity check: from every source pod to every target, on a port."""

    shape: ClassVar[str] = "{from, to, port, expect}"
    from_: SourceSpec = Field(alias="from", description="where the connection starts")
    to: TargetSpec = Field(description="what it connects to")
    port: Port = Field(None, description="the TCP port (not with a sweep, which chooses its own)")
    expect: choice(("allow", "deny")) = Field(description="allow: it connects; deny: it is blocked")
    deniedBy: choice(DENIED_BY) = Field(None, description="which side a deny is about (default ingress)")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        to = data.get("to")
        if isinstance(to, dict) and "sweep" in to:
            if "port" in data:
                yield ("port",), "a sweep chooses its own ports; leave port out"
            if data.get("expect") != "deny" or data.get("deniedBy", EGRESS) != EGRESS:
                yield (), "a sweep means the source may send nowhere else: expect: deny (deniedBy: egress)"
            return
        if "port" not in data:
            yield ("port",), "missing; expected a port number 1-65535"
        if "deniedBy" in data and data.get("expect") != "deny":
            yield ("deniedBy",), "expected ingress or egress, with expect: deny"


Probes = Annotated[list[ProbeSpec], Field(min_length=1), Words("a list of probes", too_few="expected at least one probe")]


class HttpTarget(Shape):
    """Where an http check sends its request: exactly one of nodePort, loadBalancer, ingress, gateway, url."""

    shape: ClassVar[str] = ("{nodePort: <service>}, {loadBalancer: <service>}, {ingress: <host>}, "
                            "{gateway: <gateway>, host?: <host>} or {url: <url>}")
    nodePort: Text = Field(None, description="a Service: one of its node ports, on a node's address")
    loadBalancer: Text = Field(None, description="a Service: its load-balancer address")
    ingress: Host = Field(None, description="a host name served by an Ingress")
    gateway: Text = Field(None, description="a Gateway (Gateway API) of the lab's namespace: through its controller")
    host: Host = Field(None, description="with gateway: the host name asked for (Host header and TLS SNI)")
    url: Url = Field(None, description="any URL")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        if len([k for k in ("nodePort", "loadBalancer", "ingress", "gateway", "url") if k in data]) != 1:
            yield (), ("expected exactly one of nodePort: <service>, loadBalancer: <service>, ingress: <host>, "
                       "gateway: <gateway>, url: <url>")
        elif "host" in data and "gateway" not in data:
            yield ("host",), "host goes with gateway: <gateway> (an ingress: <host> names its host itself)"


class Trigger(Shape):
    """What a logs check runs first, in the same pod, to cause the line it looks for."""

    shape: ClassVar[str] = "{command: [...], container?: name}"
    command: Arguments = Field(description="the command; ${NONCE} in it is a fresh random token")
    container: Text = Field(None, description="default: the container whose log is read")


class RbacRule(Shape):
    """One rule of an rbac sweep's `only`: what the subject may do, and nothing beyond the rules."""

    shape: ClassVar[str] = "{verbs: [...], resources: [...], apiGroup?, namespace?, clusterWide?}"
    too_few: ClassVar[dict[str, str]] = {"verbs": "expected at least one verb (or *)",
                                         "resources": "expected at least one resource (or *)"}
    verbs: list[Text] = Field(min_length=1, description="get, list, ... or *")
    resources: list[Text] = Field(min_length=1, description="pods, pods/log, */log or *, as RBAC matches them")
    apiGroup: AnyText = Field(None, description='default "" (core); * any')
    namespace: Text = Field(None, description="default: the lab's namespace")
    clusterWide: Flag = Field(None, description="anywhere, including cluster-wide requests")
