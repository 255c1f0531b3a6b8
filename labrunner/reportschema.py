"""The JSON Schema of `labrunner check --json`, declared as pydantic models.

The documents themselves are built by `StepReport.as_dict` and `CheckResult.as_dict` (and the
evidence's `as_dict`); these models describe them for consumers and are the source of the committed
`schema/check-result-v1.json`. A unit test keeps the three in step: the committed file equals
`schema_text()`, and documents the engine prints validate against it. Regenerate the file with
`python -m labrunner.reportschema > schema/check-result-v1.json`.

Version 1 only grows: a field may be added (with this schema updated; a consumer should ignore keys
it does not know), none is renamed, removed or given another meaning without a new version.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema

SCHEMA_VERSION = 1
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE = "schema/check-result-v1.json"

Seconds = Annotated[float, Field(ge=0, description="seconds, rounded to milliseconds")]
Verdict = Literal["pass", "fail", "error"]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ProbeCellDocument(_Document):
    """One cell of a connectivity check's from x to matrix: one TCP connection tried from one source pod
    (`agnhost connect`). A probe spec that names no pod to probe (a missing source or target) is a
    failing cell with no address and nothing to reproduce."""

    source: str = Field(alias="from", description='the source as messages name it: "pod shell", "outside role=customer"')
    to: str = Field(description='the target as messages name it: "service api", "pod db-0", "host example.com"')
    address: str | None = Field(description="the IP address or name connected to; null when no pod was probed")
    port: Annotated[int, Field(ge=1, le=65535)] | None = Field(description="the TCP port; null for a sweep spec with no pod")
    expected: Literal["allow", "deny"]
    denied_by: Literal["ingress", "egress"] | None = Field(
        alias="deniedBy", description="for a deny: which side's policy should block it (the target's ingress or the "
                                      "source's egress); null for an allow")
    status: Literal["pass", "fail", "error", "skipped"] = Field(
        description="skipped: a sweep destination that accepts no one labrunner can test, so it shows nothing")
    observed: str = Field(description="what the probe, and when it did not connect the target node's own attempt, "
                                      'showed: "it connected", "blocked (refused), yet the node itself connects"')
    why: str = Field(description="the verdict on this cell as the check's message says it")
    reproduce: str | None = Field(description="a shell command that runs the same probe: kubectl -n NS exec POD -- "
                                              "/agnhost connect HOST:PORT --timeout=1s (exit 0: it connected)")


class AccessReviewDocument(_Document):
    """One SubjectAccessReview asked and the authorizer's answer (authorization.k8s.io/v1)."""

    request: dict[str, Any] = Field(description="the SubjectAccessReview sent: apiVersion, kind, and spec with user, "
                                                "groups and resourceAttributes or nonResourceAttributes")
    allowed: bool
    denied: bool = Field(description="true only when an authorizer denied it outright")
    reason: str | None = Field(description="the authorizer's reason, e.g. the RoleBinding that allows it")
    evaluation_error: str | None = Field(alias="evaluationError")
    expected: Literal["allowed", "denied"] | None = Field(description="what the check expected of this review")
    reproduce: str | None = Field(description="`kubectl auth can-i ... --as=USER --as-group=GROUP` asking the same "
                                              "(needs permission to impersonate); null when kubectl cannot")


class EventDocument(_Document):
    """One Event (core/v1) about an object the check read, as `kubectl get events` lists it."""

    type: str | None = Field(description="Normal or Warning")
    reason: str | None = Field(description='e.g. "FailedScheduling", "ProvisioningFailed", "FailedCreate"')
    message: str
    object: str = Field(description='what it is about, "Kind/name": "Pod/web-7d9f-x2x4q"')
    count: Annotated[int, Field(ge=1)] = Field(description="how often it happened")
    last_seen: str | None = Field(alias="lastSeen", description="when it last happened (RFC 3339), as the API server says")
    source: str | None = Field(description='the component that reported it: "default-scheduler", "kubelet"')


class EvidenceDocument(_Document):
    """What a check expected and saw, as data. Every key is always there: null and empty lists when the
    check kind gives none. Every check that fails or errors gives at least expected and observed, or probes
    or reviews."""

    expected: str | None = Field(description='short text: "3 ready replicas", "Ready=True", "10.96.0.10", "allowed"')
    observed: str | None
    probes: list[ProbeCellDocument] = Field(description="connectivity: every cell probed, in the order of the probe specs")
    reviews: list[AccessReviewDocument] = Field(description="rbac: the reviews asked (a sweep: those allowed beyond the set)")
    events: list[EventDocument] = Field(description="the recent Events about the objects the check read (a workload's: also "
                                                    "its ReplicaSets' and pods'), oldest first; only on a fail or error")
    reproduce: list[str] = Field(description="shell commands that show what the check saw (curl, kubectl describe, logs, "
                                             "exec), besides each probe's and review's own `reproduce`")


class CheckDocument(_Document):
    """One check of the step."""

    id: str
    title: str
    status: Verdict = Field(description="fail: the learner is not there yet; error: the check could not run "
                                        "(the cluster or the environment)")
    message: str
    details: list[str] = Field(description="lines for a person: one per probe, object, ...")
    seconds: Seconds = Field(description="of the last attempt")
    attempts: Annotated[int, Field(ge=1)]
    seconds_to_pass: Seconds | None = Field(alias="secondsToPass", description="null unless the check passed")
    settling: bool = Field(description="true only in reports made between attempts while the truth may still lag "
                                       "(check --watch)")
    evidence: EvidenceDocument


class StepReportDocument(_Document):
    """The result of `labrunner check LAB --json`: one step's checks. `check --watch --json` prints one
    such document per verdict."""

    model_config = ConfigDict(title="labrunner check result")

    schema_version: Literal[1] = Field(alias="schemaVersion", description="this schema's version")
    lab: str
    step: str
    status: Verdict = Field(description="error if any check errored, else fail if any failed, else pass")
    seconds: Seconds = Field(description="from the first check's start to the verdict")
    attempts: Annotated[int, Field(ge=1)] = Field(description="rounds of checks the verdict took")
    seconds_to_pass: Seconds | None = Field(alias="secondsToPass")
    checks: list[CheckDocument]


class _NoFieldTitles(GenerateJsonSchema):
    """Titles only for the documents: a field's is its name again ("Evaluationerror"), which helps nobody."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one `check --json` document, as committed in SCHEMA_FILE."""
    schema = StepReportDocument.model_json_schema(by_alias=True, schema_generator=_NoFieldTitles)
    return {"$schema": DIALECT, "$comment": "generated from labrunner/reportschema.py; do not edit", **schema}


def schema_text() -> str:
    """`report_schema()` as the committed file holds it: sorted keys, two-space indent, a final newline."""
    return json.dumps(report_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(schema_text(), end="")
