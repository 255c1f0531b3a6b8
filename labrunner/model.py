"""The lab format, version 1, as plain immutable data.

The loader builds these objects only after a lab validated, so everything here
can be trusted by the runner, the CLI and the TUI: referenced files exist and
were read, manifests parsed, check kinds and topic ids are known.
See docs/lab-format.md for the YAML that produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

FORMAT_VERSION = 1

# Placeholder replaced by the lab's namespace in manifests and check parameters,
# so one lab file works in lab-<id> for a learner, in <workshop>-<seat>-<id> for a
# workshop's seat, and in a throwaway namespace for `labrunner dev check`.
NAMESPACE_PLACEHOLDER = "${LAB_NAMESPACE}"


def fill_namespace(value: Any, namespace: str) -> Any:
    """`value` with `${LAB_NAMESPACE}` replaced by `namespace` in every string, keys included.

    Shapes: a str, or lists and dicts of them (a manifest document, a check's params, a step
    text); anything else is returned as it is. Always a new list or dict: `value` is never changed.
    """
    if isinstance(value, str):
        return value.replace(NAMESPACE_PLACEHOLDER, namespace)
    if isinstance(value, list):
        return [fill_namespace(v, namespace) for v in value]
    if isinstance(value, dict):
        return {fill_namespace(k, namespace): fill_namespace(v, namespace) for k, v in value.items()}
    return value

# What a lab may say it needs from the cluster; `doctor` and `up` know how to
# verify or provide each one.
# What a lab may require of the cluster (labrunner.capabilities finds each out), besides a minimum
# Kubernetes release written `kubernetes>=1.29`.
FEATURES = ("networkpolicy", "networkpolicy-egress", "loadbalancer", "storage", "ingress", "gateway-api", "nodeport",
            "dns", "csr", "runtimeclass", "gatekeeper", "oidc")


class Difficulty(str, Enum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


@dataclass(frozen=True)
class ObjectRef:
    """One Kubernetes object; `namespace` None means the lab's namespace
    (ignored for cluster-scoped kinds)."""

    kind: str
    name: str
    api_version: str | None = None
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class WaitSpec:
    """Block until an object reaches a state, like `kubectl wait`.

    Exactly one of `condition`, `jsonpath` (with `value`) or `deleted` applies;
    `selector` waits for every matching object (at least one must exist).
    """

    kind: str
    name: str | None = None
    selector: str | None = None
    api_version: str | None = None
    condition: str | None = None
    jsonpath: str | None = None
    value: str | None = None
    deleted: bool = False
    timeout: float = 120.0

    def describe(self) -> str:
        target = f"{self.kind}/{self.name}" if self.name else f"{self.kind} -l {self.selector}"
        if self.deleted:
            return f"{target} deleted"
        if self.condition:
            return f"{target} condition={self.condition}"
        return f"{target} {self.jsonpath}={self.value}"


@dataclass(frozen=True)
class Manifest:
    """A manifest file of the lab, already parsed (one dict per YAML document)."""

    path: Path  # relative to the lab folder
    documents: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Actions:
    """What setup, solution and cleanup do, in this order: delete, apply, wait."""

    apply: tuple[Manifest, ...] = ()
    delete: tuple[ObjectRef, ...] = ()
    wait: tuple[WaitSpec, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.apply or self.delete or self.wait)


@dataclass(frozen=True)
class CheckSpec:
    """One check of a step: a registered kind and its parameters."""

    id: str
    kind: str
    params: Mapping[str, Any]
    title: str = ""  # what the learner sees beside the verdict
    line: int | None = None  # where it sits in lab.yaml, for error messages


@dataclass(frozen=True)
class Solution:
    actions: Actions
    explanation: str = ""


@dataclass(frozen=True)
class Choice:
    id: str
    text: str


@dataclass(frozen=True)
class Quiz:
    question: str
    choices: tuple[Choice, ...]
    answer: str  # the id of the right choice
    explanation: str = ""


@dataclass(frozen=True)
class ActionGroup:
    """One group of an answer's `do`: delete, apply, wait (as `Actions`), then `run`.

    `namespace` is a suffix: the group applies into "<lab namespace>-<suffix>"
    (labrunner creates and removes it), for answers that put things in the
    wrong namespace. `run` is shell text for `sh -c`, run in the lab folder
    with ${LAB_NAMESPACE} filled in and KUBECONFIG set.
    """

    actions: Actions = field(default_factory=Actions)
    run: str = ""
    namespace: str = ""


@dataclass(frozen=True)
class Answer:
    """A learner's answer to a step, kept as data: a wrong one (`fails` names the
    checks that must fail and the text each must say) or an alternative right one."""

    id: str
    title: str
    do: tuple[ActionGroup, ...]
    fails: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # check id -> texts ("" = any message)


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    text: str  # Markdown, read from `text_path`
    text_path: Path | None
    topics: tuple[str, ...] = ()
    setup: Actions = field(default_factory=Actions)
    checks: tuple[CheckSpec, ...] = ()
    hints: tuple[str, ...] = ()
    solution: Solution | None = None
    cleanup: Actions = field(default_factory=Actions)
    quiz: Quiz | None = None
    wrong: tuple[Answer, ...] = ()
    alternatives: tuple[Answer, ...] = ()
    requires: tuple[str, ...] = ()  # what the cluster must offer for these checks to be able to pass

    @property
    def is_quiz(self) -> bool:
        return self.quiz is not None


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    summary: str
    difficulty: Difficulty
    minutes: int
    topics: tuple[str, ...]
    requires: tuple[str, ...]
    images: tuple[str, ...]
    steps: tuple[Step, ...]
    path: Path  # the lab folder
    format: int = FORMAT_VERSION
    # Why seats of one workshop cannot run it side by side on one cluster (lab.yaml `workshop:`);
    # "" when they can.
    not_shareable: str = ""

    @property
    def namespace(self) -> str:
        return f"lab-{self.id}"

    @property
    def needs(self) -> tuple[str, ...]:
        """Everything the lab requires of the cluster: its own `requires`, then each step's."""
        return tuple(dict.fromkeys([*self.requires, *(r for step in self.steps for r in step.requires)]))

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def step_index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(step_id)

    def render(self, text: str, *, namespace: str | None = None) -> str:
        """A step text, hint or explanation as the learner should read and type it: `${LAB_NAMESPACE}`
        filled in with `namespace` (default: the lab's own, lab-<id>)."""
        return fill_namespace(text, namespace or self.namespace)

    def manifests(self) -> tuple[Manifest, ...]:
        """Every manifest the lab may apply, its wrong answers and alternatives included,
        in step order (for reset and preloading)."""
        seen: dict[Path, Manifest] = {}  # by file: one file is one manifest
        for step in self.steps:
            groups = [step.setup, step.cleanup] + ([step.solution.actions] if step.solution else [])
            groups += [g.actions for answer in step.wrong + step.alternatives for g in answer.do]
            for actions in groups:
                for manifest in actions.apply:
                    seen.setdefault(manifest.path, manifest)
        return tuple(seen.values())


@dataclass(frozen=True)
class Curriculum:
    """Topic id -> one-line description, from labs/curriculum.yaml; `order` the lab ids in the
    order a learner takes them, `order_lines` the file's line of each (for problems)."""

    topics: Mapping[str, str]
    concept_only: frozenset[str] = frozenset()
    order: tuple[str, ...] = ()
    order_lines: tuple[int | None, ...] = ()

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self.topics
