"""The base of every model of the lab format, and how a model says what is wrong.

Pydantic checks each field on its own. What spans fields (exactly one of two
keys, ids unique in a list, `fails` naming a check of the step) is a model's
`rules`: they read the raw mapping, so they are reported together with every
field problem in one pass instead of only once the fields are right.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Iterator, Mapping, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from ..errors import clip

# Error types of our own, so a test can tell what a JSON Schema can say from what it cannot:
SHAPE = "lab_shape"  # a value of the wrong type or out of range: the JSON Schema says so too
RULE = "lab_rule"  # across fields, or beyond a schema (a regex that compiles, a placeholder that exists)
FOLDER = "lab_folder"  # needs the lab folder or the curriculum (a file that exists, a known topic)

_KNOWN_TYPES = frozenset(get_args(ErrorType))

Loc = tuple[str | int, ...]
Found = tuple[Loc, str]  # (where below the model, what is wrong)


def fault(message: str, kind: str = SHAPE, *, depth: int = 0) -> PydanticCustomError:
    """An error with our own words; the message travels in ctx so braces in it stay literal.

    A rule's message may say `{here}` for the path of the model it checks (a mapping deep
    in the file cannot know it); `depth` is how far below that model the error sits.
    """
    return PydanticCustomError(kind, "{message}", {"message": message, "depth": depth})


def shown(value: Any) -> str:
    """A value as a problem quotes it: its kind in words, then a short repr."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return f"a whole number ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text {_clip(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _clip(value: Any) -> str:
    return clip(value)  # never spells a huge value out (one aliases made huge)


class Shape(BaseModel):
    """A mapping of the lab format: strict types (YAML `yes` is no number), no unknown keys.

    `shape` names the mapping in a problem ("expected {kind: ..., name: ...}").
    A subclass adds cross-field checks by overriding `rules`.
    """

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False, frozen=True)
    shape: ClassVar[str] = "a mapping"

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        """Problems across this mapping's fields, read from the raw mapping (tolerant of bad fields)."""
        return ()

    @classmethod
    def first(cls, data: Mapping[str, Any]) -> list[Found]:
        """Problems that make every other one moot (another format version): reported alone."""
        return []

    def after(self, context: Any) -> Iterable[Found]:
        """Problems only the validated model can tell (its fields are all right by now)."""
        return ()

    @model_validator(mode="wrap")
    @classmethod
    def _apply_rules(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and (alone := cls.first(data)):
            raise merged(cls.__name__, None, alone)
        found = _rules_of(cls, data, info.context) if isinstance(data, dict) else []
        try:
            model = handler(data)
        except ValidationError as exc:
            raise merged(cls.__name__, exc, found) from None
        found.extend(model.after(info.context))
        if found:
            raise merged(cls.__name__, None, found)
        return model


def _rules_of(cls: type[Shape], data: Mapping[str, Any], context: Any) -> list[Found]:
    try:
        return list(cls.rules(data, context))
    except Exception as exc:  # a rule that trips over odd input must say so, not crash the loader
        return [((), f"this {cls.__name__} could not be checked ({type(exc).__name__}: {exc}); "
                     "please report it with the lab file")]


MORE = "lab_more"  # stands for errors dropped by `merged`; ctx["count"] says how many
KEPT_ERRORS = 200  # errors kept per model: well over what is shown (errors.MAX_PROBLEMS), a few are duplicates


def merged(title: str, exc: ValidationError | None, found: Iterable[Found]) -> ValidationError:
    """One ValidationError holding the field errors pydantic found and ours (rule errors).

    At most KEPT_ERRORS are carried up, the rest counted in one MORE error, so a lab of
    200,000 wrong values costs each enclosing model no more than a lab of 200.
    """
    errors: list[InitErrorDetails] = []
    dropped = 0
    for error in (exc.errors(include_url=False) if exc else []):
        if error["type"] == MORE:
            dropped += int((error.get("ctx") or {}).get("count", 0))
        elif len(errors) < KEPT_ERRORS:
            errors.append(_reraisable(error))
        else:
            dropped += 1
    for loc, message in found:
        if len(errors) < KEPT_ERRORS:
            errors.append(InitErrorDetails(type=fault(message, RULE, depth=len(loc)), loc=loc, input=None))
        else:
            dropped += 1
    if dropped:
        errors.append(InitErrorDetails(type=PydanticCustomError(MORE, "{count} more", {"count": dropped}),
                                       loc=(), input=None))
    return ValidationError.from_exception_data(title, errors)


def _reraisable(error: Mapping[str, Any]) -> InitErrorDetails:
    details = InitErrorDetails(type=error["type"], loc=error["loc"], input=error.get("input"))
    if error["type"] in _KNOWN_TYPES:
        if "ctx" in error:
            details["ctx"] = error["ctx"]
    else:
        ctx = error.get("ctx") or {}
        details["type"] = PydanticCustomError(error["type"], "{message}", {"depth": 0, **ctx, "message": error["msg"]})
    return details


def given(data: Mapping[str, Any], *keys: str) -> list[str]:
    """Which of `keys` the mapping has with a value: null, [] and {} say nothing."""
    return [key for key in keys if data.get(key) not in (None, [], {})]


def items(data: Mapping[str, Any], key: str) -> Iterator[tuple[int, dict]]:
    """(index, mapping) for each mapping in the list at `key`; anything else is skipped."""
    value = data.get(key)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def repeated(data: Mapping[str, Any], key: str, what: str) -> Iterator[Found]:
    """A problem at each item of the list at `key` that repeats an earlier one (texts and numbers
    compared as written): a second copy says nothing new, and where order matters (manifests
    applied twice) it hides a slip. `what` names the items ("topic", "manifest")."""
    value = data.get(key)
    if not isinstance(value, list):
        return
    first: dict[tuple[type, Any], int] = {}
    for i, item in enumerate(value):
        if isinstance(item, (str, int)) and not isinstance(item, bool):
            seen = first.setdefault((type(item), item), i)
            if seen != i:
                shown_item = item if len(str(item)) <= 60 else str(item)[:57] + "..."
                yield (key, i), f"{what} {shown_item!r} is already {key}[{seen}]; give each once"

