"""The lab file, format 1, as models: `lab.yaml` and everything in it but the checks' parameters.

The check kinds are a registry (built-in and plug-in), so the model of a whole
lab file is made for a set of kinds by `lab_file_model`. docs/lab-format.md
describes the same format for authors; `labrunner dev schema` prints it as a
JSON Schema.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, ClassVar, Iterable, Mapping, Union

from pydantic import Discriminator, Field, PlainValidator, Tag, ValidationInfo, WithJsonSchema, create_model, field_validator
from pydantic.json_schema import SkipJsonSchema

from ..errors import clip
from ..model import FEATURES, FORMAT_VERSION
from ..model import Difficulty as DifficultyLevel
from .context import context_of
from .placeholders import NAMESPACE, walk_placeholders
from .shape import FOLDER, Found, Shape, fault, given, items, repeated, shown
from .values import BOUNDS, ID_PATTERN, AnyText, ApiVersion, Id, Image, Kind, JsonPath, Minutes, Selector, Text, Title, Words, choice, is_a, is_id, seconds, value_type

DIFFICULTIES = tuple(d.value for d in DifficultyLevel)
WAIT_TIMEOUT_DEFAULT = 120.0
CURRICULUM_FILE = "curriculum.yaml"


# -- values that need the lab folder or the curriculum ---------------------------

def _path(suffixes: tuple[str, ...], check: str) -> Any:
    """A file of the lab: relative, inside the folder, there, with one of `suffixes`."""
    what = f"a path relative to the lab folder, of a {' or '.join(suffixes)} file"

    def validate(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise fault(f"expected {what}, got {shown(value)}")
        if os.path.isabs(value):
            raise fault(f"{value!r} is absolute; expected a path relative to the lab folder")
        if not value.endswith(suffixes):
            raise fault(f"{value!r}: expected a {' or '.join(suffixes)} file")
        folder = context_of(info).folder
        problem = getattr(folder, check)(value) if folder is not None else None
        if problem:
            raise fault(problem, FOLDER)
        return value

    ends = "|".join(s.lstrip(".").replace(".", r"\.") for s in suffixes)
    schema = {"type": "string", "pattern": rf"^[^/].*\.({ends})$"}
    return Annotated[Any, PlainValidator(validate), WithJsonSchema(schema), Words(what)]


MarkdownPath = _path((".md",), "check_markdown")
ManifestPath = _path((".yaml", ".yml"), "check_manifest")


def _topic(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise fault(f"expected a topic id, got {shown(value)}")
    curriculum = context_of(info).curriculum
    if curriculum is not None and value not in curriculum:
        raise fault(f"unknown topic id {value!r}; expected an id from {CURRICULUM_FILE}", FOLDER)
    return value


Topic = Annotated[Any, PlainValidator(_topic), WithJsonSchema({"type": "string", "pattern": r"\S"}),
                  Words(f"a topic id from {CURRICULUM_FILE}")]

_FAIL_TEXTS = "the text its fail message must contain (\"\" for any), or a list of texts"
FailTexts = value_type(
    (str, list), what=_FAIL_TEXTS,
    check=lambda v: None if isinstance(v, str) or (v and all(isinstance(t, str) for t in v)) else f"expected {_FAIL_TEXTS}",
    schema={"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]})

Suffix = value_type(
    (str,), what="a suffix of lower-case letters, digits and '-'",
    check=lambda v: None if is_id(v) else f"expected a suffix of lower-case letters, digits and '-', got {v!r}",
    schema={"type": "string", "pattern": ID_PATTERN})
Flag = value_type((bool,))
WaitValue = value_type((str, int, bool), what="the value to wait for (text, a number, true or false)")
WaitTimeout = seconds(BOUNDS.wait_seconds)
FormatVersion = value_type(
    (int,), what=f"the format version, {FORMAT_VERSION}", schema={"const": FORMAT_VERSION},
    check=lambda v: None if v == FORMAT_VERSION else f"this labrunner reads format {FORMAT_VERSION}, got {v}")
Difficulty = choice(DIFFICULTIES, what="beginner, intermediate or advanced")
# Names as Kubernetes validates them (apimachinery IsDNS1123Label for a namespace).
NamespaceName = value_type(
    (str,), what="a namespace name", schema={"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
    check=lambda v: None if len(v) <= 63 and re.fullmatch(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", v) else f"expected a namespace name, got {v!r}")
# A kind as the API spells it, then a name (no '/', '%', spaces or control characters: apimachinery's
# path-segment rule, which every kind's names follow, and what a person can read).
KIND_NAME_PATTERN = r"^[A-Z][A-Za-z0-9]*/[^/%\x00-\x20\x7f]{1,253}$"
KindName = value_type(
    (str,), what="Kind/name, e.g. ClusterRole/view", schema={"type": "string", "pattern": KIND_NAME_PATTERN},
    check=lambda v: None if re.fullmatch(KIND_NAME_PATTERN, v) else f"expected Kind/name, e.g. ClusterRole/view, got {clip(v)}")
KUBERNETES_MINIMUM = r"^kubernetes>=[1-9][0-9]{0,2}\.(0|[1-9][0-9]{0,2})$"


def _requirement(value: str) -> str | None:
    if value in FEATURES or re.fullmatch(KUBERNETES_MINIMUM, value):
        return None
    if value.startswith("kubernetes"):
        return f"expected a minimum Kubernetes release as kubernetes>=MAJOR.MINOR (e.g. kubernetes>=1.29), got {value!r}"
    return f"unknown feature {value!r}; expected one of {', '.join(FEATURES)}, or kubernetes>=MAJOR.MINOR"


Feature = value_type(
    (str,), what=f"a cluster feature ({', '.join(FEATURES)}) or kubernetes>=MAJOR.MINOR", check=_requirement,
    schema={"anyOf": [{"enum": list(FEATURES)}, {"type": "string", "pattern": KUBERNETES_MINIMUM}]})


# -- actions ---------------------------------------------------------------------

class ObjectRef(Shape):
    """One object to delete; `namespace` absent means the lab's (ignored for cluster-scoped kinds)."""

    shape: ClassVar[str] = "{kind: ..., name: ...}"
    kind: Kind = Field(description="the object's kind, e.g. Service")
    name: Text = Field(description="its name")
    apiVersion: ApiVersion | None = Field(None, description="e.g. apps/v1; needed only for kinds in several groups")
    namespace: Text | None = Field(None, description="default: the lab's namespace")

    def after(self, context: Any) -> Iterable[Found]:
        outside = getattr(context, "outside", None)
        if outside is None:
            return []
        from ..manifestrules import name_problem, ref_problem  # the rules manifests follow, for deletes too
        from ..model import NAMESPACE_PLACEHOLDER

        bad_name = name_problem(self.kind, self.name.replace(NAMESPACE_PLACEHOLDER, "lab-x"))
        if bad_name:
            return [(("name",), bad_name)]
        refused = ref_problem(self.kind, self.name, self.namespace, outside=outside)
        return [((), refused)] if refused else []


class Wait(Shape):
    """Block until an object reaches a state, like `kubectl wait`."""

    shape: ClassVar[str] = "{kind: ..., name: ..., condition: ...}"
    kind: Kind = Field(description="the object's kind")
    name: Text | None = Field(None, description="the object (or give selector)")
    selector: Selector | None = Field(None, description="a label selector: every matching object (at least one)")
    apiVersion: ApiVersion | None = Field(None, description="e.g. batch/v1")
    condition: Text | None = Field(None, description='a status condition type that must be "True", e.g. Available')
    jsonpath: JsonPath | None = Field(None, description="a JSONPath such as {.status.phase}, with value")
    value: WaitValue | None = Field(None, description="what the jsonpath must give")
    deleted: Flag | None = Field(None, description="true: wait until the object is gone")
    timeout: WaitTimeout | None = Field(
        None, description=f"seconds, default {WAIT_TIMEOUT_DEFAULT:g}, at most {BOUNDS.wait_seconds:g}")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        if len(given(data, "name", "selector")) != 1:
            yield (), "give exactly one of name, selector"
        modes = given(data, "condition", "jsonpath") + (["deleted"] if data.get("deleted") not in (None, False) else [])
        if len(modes) != 1:
            yield (), "give exactly one of condition, jsonpath (with value), deleted: true"
        if data.get("jsonpath") is not None and data.get("value") is None:
            yield ("value",), "missing; a jsonpath wait needs the value to wait for"
        elif data.get("value") is not None and data.get("jsonpath") is None:
            yield ("value",), "a value goes with a jsonpath; give jsonpath too or leave value out"


class Actions(Shape):
    """What setup and cleanup do, in this order: delete, apply, wait."""

    shape: ClassVar[str] = "a mapping with apply, delete, wait"
    delete: list[ObjectRef] | None = Field(None, max_length=BOUNDS.actions, description="objects to delete (absent is fine)")
    apply: list[ManifestPath] | None = Field(None, max_length=BOUNDS.actions,
                                             description="manifest files, applied with server-side apply")
    wait: list[Wait] | None = Field(None, max_length=BOUNDS.actions, description="waits, after apply")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        yield from repeated(data, "apply", "manifest")


class Solution(Actions):
    """What `labrunner solve` does, and why it is right."""

    shape: ClassVar[str] = "a mapping with apply, delete, wait, explanation"
    explanation: AnyText | None = Field(None, description="shown after the step passes")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        if not given(data, "apply", "delete", "wait"):
            yield (), "expected at least one of apply, delete, wait"
        yield from super().rules(data, context)


class ActionGroup(Actions):
    """One group of an answer's `do`: delete, apply, wait, then `run`."""

    shape: ClassVar[str] = "a mapping with apply, delete, run or wait"
    run: Text | None = Field(None, description="shell text for sh -c, run in the lab folder with ${LAB_NAMESPACE} "
                                               "filled in and KUBECONFIG set")
    namespace: Suffix | None = Field(None, description='a suffix: work in "<lab namespace>-<suffix>"')

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        if not given(data, "apply", "delete", "wait", "run"):
            yield (), "expected at least one of apply, delete, run, wait"
        yield from super().rules(data, context)


# -- answers ---------------------------------------------------------------------

class Alternative(Shape):
    """Another right answer: after `do`, the step must pass."""

    shape: ClassVar[str] = "{id: ..., title: ..., do: [...]}"
    too_few: ClassVar[dict[str, str]] = {"do": "expected at least one action group"}
    id: Id = Field(description="unique among the step's wrong answers and alternatives")
    title: Title = Field(description="one line: what the answer does")
    do: list[ActionGroup] = Field(min_length=1, max_length=BOUNDS.actions, description="action groups, run in order")


class WrongAnswer(Alternative):
    """A plausible wrong answer: after `do`, each check in `fails` must fail with its texts."""

    shape: ClassVar[str] = "{id: ..., title: ..., do: [...], fails: {...}}"
    too_few: ClassVar[dict[str, str]] = {**Alternative.too_few, "fails": "expected at least one check id that must fail"}
    fails: dict[str, FailTexts] = Field(min_length=1, description="check id -> text (or texts) its fail message "
                                                                  "must contain; \"\" for any fail")


# -- steps -----------------------------------------------------------------------

class Choice(Shape):
    shape: ClassVar[str] = "{id: ..., text: ...}"
    id: Text = Field(description="what the learner types to answer")
    text: Text = Field(description="the choice as shown")


class Quiz(Shape):
    shape: ClassVar[str] = "a mapping with question, choices, answer, explanation"
    too_few: ClassVar[dict[str, str]] = {"choices": "expected at least two choices"}
    question: Text
    choices: list[Choice] = Field(min_length=2, max_length=BOUNDS.choices)
    answer: Text = Field(description="the id of the right choice")
    explanation: AnyText | None = None

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        ids: dict[str, None] = {}  # in order, looked up in constant time
        for i, item in items(data, "choices"):
            if isinstance(item.get("id"), str):
                if item["id"] in ids:
                    yield ("choices", i, "id"), f"choice id {clip(item['id'])} appears twice"
                ids[item["id"]] = None
        texts: dict[str, int] = {}
        for i, item in items(data, "choices"):
            text = item.get("text")
            if isinstance(text, str):
                said = " ".join(text.split()).casefold()  # as the learner reads it: case and spacing aside
                if said in texts:
                    yield (("choices", i, "text"),
                           f"the same text as choices[{texts[said]}]: the learner could not tell them apart")
                texts.setdefault(said, i)
        answer = data.get("answer")
        if isinstance(answer, str) and answer.strip() and ids and answer not in ids:
            listed = ", ".join(i if len(i) <= 20 else i[:17] + "..." for i in list(ids)[:10]) + (", ..." if len(ids) > 10 else "")
            yield ("answer",), f"expected the id of a choice ({listed}), got {clip(answer)}"


class StepFields(Shape):
    id: Id = Field(description="unique in the lab")
    title: Title
    topics: list[Topic] | None = Field(None, max_length=BOUNDS.actions,
                                       description="curriculum ids this step teaches; each also in the lab's topics")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        yield from repeated(data, "topics", "topic")


class QuizStep(StepFields):
    """A step for a concept-only topic: its check is the learner's answer."""

    shape: ClassVar[str] = "a quiz step (a mapping with id, title, quiz)"
    hidden: ClassVar[frozenset[str]] = frozenset({"wrong", "alternatives"})
    text: MarkdownPath | None = Field(None, description="Markdown shown before the question")
    quiz: Quiz
    # Not part of a quiz step; declared only to say why (its choices are its answers).
    wrong: SkipJsonSchema[Any] = None
    alternatives: SkipJsonSchema[Any] = None

    @field_validator("wrong", "alternatives", mode="plain")
    @classmethod
    def _no_answers(cls, value: Any, info: ValidationInfo) -> Any:
        raise fault(f"a quiz step has no `{info.field_name}`; its choices are the answers")


class TaskStepFields(StepFields):
    """A step the learner does on the cluster; `checks` is added per set of check kinds."""

    shape: ClassVar[str] = "a step (a mapping with id, title, ...)"
    missing: ClassVar[dict[str, str]] = {"text": "missing; expected the path of the step's Markdown text"}
    too_few: ClassVar[dict[str, str]] = {"checks": "expected at least one check"}
    text: MarkdownPath = Field(description="Markdown shown to the learner")
    requires: list[Feature] | None = Field(
        None, max_length=BOUNDS.actions,
        description="what the cluster must offer for this step's checks to be able to pass; where it is "
                    "missing they are errors with the fix, never fails")
    setup: Actions | None = Field(None, description="done when the step starts")
    hints: list[Text] | None = Field(None, max_length=BOUNDS.hints, description="revealed one at a time")
    solution: Solution = Field(description="what `labrunner solve` does")
    cleanup: Actions | None = Field(None, description="what resetting the step does besides deleting what setup "
                                                      "and solution applied")
    wrong: list[WrongAnswer] | None = Field(None, max_length=BOUNDS.answers, description="plausible wrong answers that must fail")
    alternatives: list[Alternative] | None = Field(None, max_length=BOUNDS.answers,
                                                   description="other right answers that must pass")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        yield from super().rules(data, context)
        yield from repeated(data, "requires", "requirement")
        check_ids: set[str] = set()
        for i, check in items(data, "checks"):
            check_id = check.get("id", f"{check.get('kind')}-{i + 1}")
            if isinstance(check_id, str):
                if check_id in check_ids:
                    yield ("checks", i, "id"), f"check id {clip(check_id)} appears twice in this step"
                check_ids.add(check_id)
        seen: dict[str, str] = {}
        for key in ("wrong", "alternatives"):
            for i, answer in items(data, key):
                answer_id = answer.get("id")
                if not isinstance(answer_id, str):
                    continue
                if answer_id in seen:
                    yield (key, i, "id"), f"answer id {answer_id!r} is already used by {{here}}{seen[answer_id]}"
                else:
                    seen[answer_id] = f"{key}[{i}]"
        if isinstance(data.get("checks"), list):
            for i, answer in items(data, "wrong"):
                fails = answer.get("fails")
                for check_id in fails if isinstance(fails, dict) else ():
                    if check_id not in check_ids:
                        known = sorted(check_ids)
                        listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
                        yield (("wrong", i, "fails", check_id), f"no check {clip(check_id)} in this step; expected one of {listed}")


def _step_tag(value: Any) -> str:
    return "quiz" if isinstance(value, dict) and "quiz" in value else "task"


# -- the lab file ----------------------------------------------------------------

class OutsideDecl(Shape):
    """What a lab changes beyond its own namespace, declared so a reviewer sees it (see manifestrules)."""

    shape: ClassVar[str] = "a mapping with namespaces and/or objects"
    namespaces: list[NamespaceName] | None = Field(None, description="namespaces its manifests and deletes may name")
    objects: list[KindName] | None = Field(None, description="built-in or foreign objects (Kind/name) it may change")


class WorkshopDecl(Shape):
    """Whether many seats of one workshop can run the lab side by side on one cluster."""

    shape: ClassVar[str] = "a mapping with shareable and reason"
    shareable: Flag = Field(description="false when seats would collide: cluster-scoped objects of fixed names "
                                        "(a PersistentVolume, a CSR, a ClusterRole, a RuntimeClass) or a fixed "
                                        "node port; `labrunner workshop create` refuses the lab")
    reason: Text | None = Field(None, description="why it cannot be shared, as the instructor reads it (required "
                                                  "when shareable is false)")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        if data.get("shareable") is False and not data.get("reason"):
            yield ("reason",), "say why the lab cannot be shared (the instructor reads it when `workshop create` refuses it)"


class LabFields(Shape):
    """A lab file, `lab.yaml`; `steps` is added per set of check kinds."""

    shape: ClassVar[str] = "a mapping with format, id, title, ... (see docs/lab-format.md)"
    too_few: ClassVar[dict[str, str]] = {"steps": "expected at least one step",
                                         "topics": "expected at least one topic id from curriculum.yaml"}
    format: FormatVersion = Field(description=f"the format version; only {FORMAT_VERSION} exists")
    id: Id = Field(description="unique among labs; the lab's namespace is lab-<id>")
    title: Title
    summary: Text
    difficulty: Difficulty
    minutes: Minutes = Field(description="estimated time")
    topics: list[Topic] = Field(min_length=1, max_length=BOUNDS.actions,
                                description="every curriculum id the lab covers (labs/curriculum.yaml)")
    requires: list[Feature] | None = Field(
        None, max_length=BOUNDS.actions,
        description="what the cluster must offer (features, kubernetes>=1.29); the lab list marks labs it lacks")
    images: list[Image] | None = Field(None, max_length=BOUNDS.actions,
                                      description="every image the manifests use, preloaded by `labrunner up`")
    outside: OutsideDecl | None = Field(None, description="rare: namespaces and objects beyond the lab's namespace "
                                                          "that its manifests and deletes change")
    workshop: WorkshopDecl | None = Field(None, description="whether seats of a workshop can share one cluster for "
                                                            "this lab (default: they can)")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        for key, what in (("topics", "topic"), ("requires", "requirement"), ("images", "image")):
            yield from repeated(data, key, what)
        seen: dict[str, int] = {}
        for i, step in items(data, "steps"):
            if isinstance(step.get("id"), str):
                if step["id"] in seen:
                    yield ("steps", i, "id"), f"step id {step['id']!r} is already used by steps[{seen[step['id']]}]"
                else:
                    seen[step["id"]] = i
        lab_topics = set(t for t in data.get("topics") or [] if isinstance(t, str)) if isinstance(data.get("topics"), list) else None
        curriculum = getattr(context, "curriculum", None)
        for i, step in items(data, "steps"):
            topics = step.get("topics")
            for j, topic in enumerate(topics if isinstance(topics, list) and lab_topics is not None else ()):
                if isinstance(topic, str) and topic not in lab_topics and (curriculum is None or topic in curriculum):
                    yield ("steps", i, "topics", j), f"topic {topic!r} is not in the lab's `topics`; add it there"
        lab_id = data.get("id") if isinstance(data.get("id"), str) else ""
        for i, step in items(data, "steps"):
            for key in ("wrong", "alternatives"):
                for j, answer in items(step, key):
                    for g, group in items(answer, "do"):
                        suffix = group.get("namespace")
                        # The namespace is a DNS label (RFC 1123): at most 63 characters.
                        if isinstance(suffix, str) and lab_id and len(f"lab-{lab_id}-{suffix}") > 63:
                            most = 63 - len(f"lab-{lab_id}-")
                            yield (("steps", i, key, j, "do", g, "namespace"),
                                   f"the namespace lab-{lab_id}-{suffix[:24]}{'...' if len(suffix) > 24 else ''} would be "
                                   f"{len(f'lab-{lab_id}-{suffix}')} "
                                   f"characters, a namespace name has at most 63; give a suffix of at most {most}")
        outside_checks = {k: v for k, v in data.items() if k != "steps"}
        outside_checks["steps"] = [{k: v for k, v in s.items() if k != "checks"} if isinstance(s, dict) else s
                                   for s in data.get("steps") or []] if isinstance(data.get("steps"), list) else []
        yield from walk_placeholders(outside_checks, {NAMESPACE})

    @classmethod
    def first(cls, data: Mapping[str, Any]) -> list[Found]:
        # Another format version is another format: say only that, not every difference.
        version = data.get("format")
        if is_a(version, (int,)) and version != FORMAT_VERSION:
            return [(("format",), f"this labrunner reads format {FORMAT_VERSION}, got {version}")]
        return []


# Kind ids -> (model, the kinds): holding the kinds keeps their ids from being reused by others.
_models: dict[tuple, tuple[type[Shape], tuple]] = {}


def lab_file_model(kinds: Mapping[str, Any]) -> type[Shape]:
    """The model of a whole lab file whose checks are of `kinds` (name -> CheckKind); cached."""
    from .checks import check_union

    key = tuple(sorted((name, id(kind)) for name, kind in kinds.items()))
    if key not in _models:
        check = check_union(kinds)
        task_step = create_model(
            "TaskStep", __base__=TaskStepFields, __doc__=TaskStepFields.__doc__.split(";")[0] + ".",
            checks=(list[check], Field(min_length=1, max_length=BOUNDS.checks, description="the step passes when all pass")))
        step = Annotated[Union[Annotated[task_step, Tag("task")], Annotated[QuizStep, Tag("quiz")]], Discriminator(_step_tag)]
        model = create_model(
            "LabFile", __base__=LabFields, __doc__=f"A lab file, lab.yaml, format {FORMAT_VERSION}.",
            steps=(list[step], Field(min_length=1, max_length=BOUNDS.steps, description="in order")))
        _models[key] = (model, tuple(kinds.values()))
    return _models[key][0]
