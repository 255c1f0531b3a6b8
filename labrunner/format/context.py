"""What validation may consult beyond the lab file itself: its folder and the curriculum.

Without a context (a JSON Schema, `CheckKind.problems`) the checks that need
them are skipped; the loader always gives both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationInfo


class Folder(Protocol):
    """The lab folder as validation sees it: each method says what is wrong with a file, or None."""

    def check_markdown(self, relative: str) -> str | None: ...

    def check_manifest(self, relative: str) -> str | None: ...


class Topics(Protocol):
    def __contains__(self, topic_id: object) -> bool: ...


@dataclass(frozen=True)
class Context:
    folder: Folder | None = None
    curriculum: Topics | None = None
    outside: Any = None  # the lab's `outside:` (manifestrules.Outside): what its deletes may name


def context_of(info: ValidationInfo | Any) -> Context:
    """The Context a validator was given, or an empty one (no folder, no curriculum: those checks skip)."""
    found = getattr(info, "context", None)
    return found if isinstance(found, Context) else Context()
