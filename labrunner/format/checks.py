"""A check in a lab file, as a model made from its kind's declared parameters.

Every `CheckKind` (built in or a plug-in) declares `params: {name: Param}`; a
Param's type is a plain Python type (or a tuple of them), a value type of
`labrunner.format.values`, or a `Shape`. The kind's own `validate(params)`
adds what spans parameters ("give exactly one of pod, selector"). A plug-in
whose declaration or validation is broken is reported against the plug-in, as
a problem of every check that uses it; it never stops the loader.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Iterable, Literal, Mapping, Union

from pydantic import BaseModel, Field, create_model

from .lab import ManifestPath
from .placeholders import NAMESPACE, walk_placeholders
from .shape import Found, Shape
from .values import AnyTitle, Id, choice, plain_value

if TYPE_CHECKING:
    from ..checks.base import CheckKind, Param

_COMMON = ("kind", "id", "title")


class CheckFields(Shape):
    """The fields every check has; a kind's model adds its parameters."""

    check_kind: ClassVar[Any] = None  # the CheckKind this model was made from
    shape: ClassVar[str] = "a check (a mapping with `kind`)"
    id: Id | None = Field(None, description="unique in the step; default <kind>-<n>")
    title: AnyTitle | None = Field(None, description="what the learner sees beside the verdict")

    @classmethod
    def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
        kind = cls.check_kind
        known = {NAMESPACE, *getattr(kind, "placeholders", ())}
        yield from walk_placeholders({k: v for k, v in data.items() if k != "kind"}, known)

    def after(self, context: Any) -> Iterable[Found]:
        kind = self.check_kind
        if kind is None or kind.validate is None:
            return []
        try:
            found = kind.validate(self.params())
            # one message as text, or none as None, as a plug-in may write it: never one per letter
            messages = [found] if isinstance(found, str) else list(found or ())
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a plug-in's bug must not stop the loader (sys.exit neither)
            return [((), f"{_origin(kind)} failed while validating these parameters: {_fault(exc)}")]
        return [_placed(message, kind) for message in messages]

    def params(self) -> dict[str, Any]:
        """The parameters as the lab file gives them (the kind's `run` gets these)."""
        return {k: v for k, v in self.model_dump(by_alias=True, exclude_unset=True).items() if k not in _COMMON}


def _placed(message: str, kind: CheckKind) -> Found:
    """A kind's validation message "probes: expected ..." goes to that parameter; others to the check."""
    head, sep, rest = str(message).partition(": ")
    if sep and head in kind.params:
        return (head,), rest
    return (), str(message)


def _origin(kind: CheckKind) -> str:
    """How a kind's fault names it: a plug-in by its entry point, so its author knows whose code broke."""
    from ..checks.registry import plugin_origin

    return plugin_origin(kind.name) or f"the check kind {kind.name!r} ({getattr(kind.run, '__module__', '?')})"


def _fault(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}"


def param_type(param: Param) -> Any:
    """The field type of a declared parameter (see the module's docstring)."""
    if param.file:
        return ManifestPath
    if param.choices is not None:
        return choice(param.choices)
    wanted = param.type
    if isinstance(wanted, tuple) or (isinstance(wanted, type) and not issubclass(wanted, BaseModel)):
        return plain_value(wanted if isinstance(wanted, tuple) else (wanted,))
    return wanted


def model_name(kind_name: str) -> str:
    """`service` -> ServiceCheck, `configmap-present` -> ConfigmapPresentCheck."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", kind_name) if part) + "Check"


def check_model(kind: CheckKind) -> type[CheckFields]:
    """The model of one check of `kind`: kind, id, title and the kind's parameters."""
    fields: dict[str, Any] = {"kind": (Literal[kind.name], Field(description=kind.doc or f"the check kind {kind.name}"))}
    for name, param in kind.params.items():
        default = ... if param.required else None
        fields[name] = (param_type(param), Field(default, description=param.doc or None))
    model = create_model(model_name(kind.name), __base__=CheckFields, __doc__=kind.doc or None, **fields)
    model.check_kind = kind
    return model


def broken_model(kind_name: str, kind: Any, why: str) -> type[CheckFields]:
    """Stands in for a plug-in kind whose parameters cannot be made into a model: every use says why."""
    message = f"check kind {kind_name!r} cannot be used: {why}"

    class Broken(CheckFields):
        model_config = {**CheckFields.model_config, "extra": "allow"}

        @classmethod
        def rules(cls, data: Mapping[str, Any], context: Any) -> Iterable[Found]:
            yield ("kind",), message

    model = create_model(model_name(kind_name), __base__=Broken, kind=(Literal[kind_name], ...))
    model.check_kind = None
    return model


def check_union(kinds: Mapping[str, CheckKind]) -> Any:
    """Every kind a lab file may name (not the built-in `quiz`), told apart by `kind`."""
    models = []
    for name, kind in sorted(kinds.items()):
        if name == "quiz":
            continue
        try:
            models.append(check_model(kind))
        except Exception as exc:  # a plug-in's parameters that are no type at all
            models.append(broken_model(name, kind, f"{_origin(kind)} declares parameters that are no types: {exc}"))
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]
