"""The curriculum file, `labs/curriculum.yaml`: the topic ids a lab may name, and the order the
labs are taken in."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Iterable, Mapping

from pydantic import Field

from ..errors import clip
from .shape import Found, Shape, items
from .values import Id, Text


TOPIC_ID = re.compile(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,39}")  # as the shipped ids (SVC-2a): what a learner types


class CurriculumFile(Shape):
    """`topics: {ID: one line}`, `concept: [ID, ...]` for the ids taught by a quiz, and
    `order: [LAB, ...]`, the lab ids in the order a learner takes them."""

    shape: ClassVar[str] = "a mapping with topics (and concept)"
    missing: ClassVar[dict[str, str]] = {"topics": "missing; expected a mapping of topic id to description"}
    too_few: ClassVar[dict[str, str]] = {"topics": "expected a mapping of topic id to description"}
    topics: dict[str, Text] = Field(min_length=1, description="topic id -> what a learner can do after it "
                                                              "(an id: letters, digits, '-', '_', '.')")
    concept: list[Text] | None = Field(None, description="topic ids taught by a quiz, not on the cluster")
    order: list[Id] | None = Field(None, description="lab ids in the order a learner takes them (the list, the TUI "
                                                     "and a new learner's first lab follow it); labs it does not "
                                                     "name come after, by folder name")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        topics = data.get("topics")
        concept = data.get("concept")
        for topic in topics if isinstance(topics, dict) else ():
            if isinstance(topic, str) and not TOPIC_ID.fullmatch(topic):
                yield ("topics", topic), (f"{clip(topic)} is no topic id; expected letters, digits, '-', '_' "
                                          "and '.', starting with a letter or digit, e.g. SVC-1")
        order = data.get("order")
        seen: set[str] = set()
        for i, lab_id in enumerate(order if isinstance(order, list) else ()):
            if isinstance(lab_id, str) and lab_id in seen:
                yield ("order", i), f"lab {lab_id!r} is named twice; expected each lab id once"
            seen.add(lab_id if isinstance(lab_id, str) else "")
        if isinstance(topics, dict) and isinstance(concept, list):
            for i, topic in enumerate(concept):
                if isinstance(topic, str) and topic not in topics:
                    yield ("concept", i), f"{topic!r} is not one of `topics`; expected a list of topic ids from `topics`"
