"""The curriculum file, `labs/curriculum.yaml`: the topic ids a lab may name."""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Mapping

from pydantic import Field

from .shape import Found, Shape, items
from .values import Text


class CurriculumFile(Shape):
    """`topics: {ID: one line}`, and `concept: [ID, ...]` for the ids taught by a quiz."""

    shape: ClassVar[str] = "a mapping with topics (and concept)"
    missing: ClassVar[dict[str, str]] = {"topics": "missing; expected a mapping of topic id to description"}
    too_few: ClassVar[dict[str, str]] = {"topics": "expected a mapping of topic id to description"}
    topics: dict[str, Text] = Field(min_length=1, description="topic id -> what a learner can do after it")
    concept: list[Text] | None = Field(None, description="topic ids taught by a quiz, not on the cluster")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        topics = data.get("topics")
        concept = data.get("concept")
        if isinstance(topics, dict) and isinstance(concept, list):
            for i, topic in enumerate(concept):
                if isinstance(topic, str) and topic not in topics:
                    yield ("concept", i), f"{topic!r} is not one of `topics`; expected a list of topic ids from `topics`"
