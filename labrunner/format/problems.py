"""From pydantic's errors to problems an author can act on: file, line, field, what to do.

An error's `loc` follows pydantic's own structure: field names, list indexes,
and the tag of a union's member (`service` for a service check). Walking the
models along it tells where the problem is in the YAML (the tags are not keys
there) and which model and field it is about, for its wording.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ..errors import MAX_PROBLEMS, Problem, more_problems
from ..yamlfile import Lines, dotted
from .shape import MORE, shown
from .values import Words, words

_TYPE_WORDS = {"string_type": (str,), "int_type": (int,), "bool_type": (bool,), "float_type": (float,),
               "list_type": (list,), "dict_type": (dict,), "int_from_float": (int,)}
_MAPPING_ERRORS = {"model_type", "model_attributes_type", "dict_type"}


@dataclass(frozen=True)
class Place:
    """Where an error's loc leads: the YAML path, the model owning the last key, the type there."""

    path: tuple
    owner: type[BaseModel] | None
    field: str | None
    hint: Any  # the annotation at the end of the path (metadata kept)


def locate(root: Any, loc: tuple) -> Place:
    """Walk the models along `loc` (see the module's docstring)."""
    path: list[Any] = []
    hint, owner, field = root, None, None
    for part in loc:
        if part == "[key]":  # the error is about the key just named, not its value
            continue
        hint = _plain(hint)
        if _is_union(hint):
            member = _member(hint, part)
            if member is not None:  # the part names a member (a tag such as `service`), not a key of the YAML
                hint = member
                continue
            hint = Any  # a rule's loc: keys of the YAML only
        base = _plain(_unannotated(hint))
        if isinstance(base, type) and issubclass(base, BaseModel):
            owner, field = base, str(part)
            path.append(part)
            info = _field(base, str(part))
            hint = _annotated(info) if info else Any
        elif get_origin(base) in (list, tuple) and isinstance(part, int):
            path.append(part)
            hint = get_args(base)[0] if get_args(base) else Any
        elif get_origin(base) is dict:
            path.append(part)
            hint = get_args(base)[1] if get_args(base) else Any
        else:
            path.append(part)
            hint = Any
    return Place(tuple(path), owner, field, hint)


def _plain(hint: Any) -> Any:
    """Without Optional; Annotated kept (its metadata names the value)."""
    if get_origin(hint) is Annotated and not _tagged(hint):  # Optional[...] with a field's metadata (max_length)
        inner, *metadata = get_args(hint)
        plain = _plain(inner)
        if plain is not inner:
            return Annotated[(plain, *metadata)]
        return hint
    if _is_union(hint) and not _tagged(hint):
        members = [a for a in get_args(hint) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return hint


def _is_union(hint: Any) -> bool:
    base = _unannotated(hint)
    return get_origin(base) in (Union, types.UnionType)


def _unannotated(hint: Any) -> Any:
    while get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    return hint


def _tagged(hint: Any) -> bool:
    return get_origin(hint) is Annotated and any(
        getattr(m, "discriminator", None) is not None for m in get_args(hint)[1:])


def _member(hint: Any, part: Any) -> Any:
    """The member of a tagged union that `part` names, by its Tag or its `kind` literal."""
    for member in get_args(_unannotated(hint)):
        tags = [getattr(m, "tag", None) for m in get_args(member)[1:]] if get_origin(member) is Annotated else []
        if part in tags:
            return _unannotated(member)
        model = _unannotated(member)
        if isinstance(model, type) and issubclass(model, BaseModel) and "kind" in model.model_fields:
            if get_origin(model.model_fields["kind"].annotation) is Literal and \
                    part in get_args(model.model_fields["kind"].annotation):
                return model
    return None


def _field(model: type[BaseModel], name: str) -> FieldInfo | None:
    for key, info in model.model_fields.items():
        if name in (key, info.alias):
            return info
    return None


def _annotated(info: FieldInfo) -> Any:
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def _marker(hint: Any) -> Words:
    hint = _plain(hint)
    if get_origin(hint) is Annotated:
        return next((m for m in get_args(hint)[1:] if isinstance(m, Words)), Words(""))
    return Words("")


def what(hint: Any) -> str:
    """What a value of `hint` is, in the words a problem uses."""
    hint = _plain(hint)
    if _is_union(hint):  # the members of a tagged union share their shape ("a check ...")
        shapes = {what(member) for member in get_args(_unannotated(hint))}
        return shapes.pop() if len(shapes) == 1 else "a mapping"
    if get_origin(hint) is Annotated:
        for meta in get_args(hint)[1:]:
            if isinstance(meta, Words):
                return meta.what
        return what(get_args(hint)[0])
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return getattr(hint, "shape", "a mapping")
    if get_origin(hint) in (list, tuple):
        return "a list"
    if get_origin(hint) is dict:
        return "a mapping"
    if isinstance(hint, type) and hint is not Any:
        return words((hint,))
    return "a value"


def wording(error: dict, place: Place) -> tuple[tuple, str]:
    """(YAML path, message) for one pydantic error at `place`."""
    kind, path, owner = error["type"], place.path, place.owner
    check = getattr(owner, "check_kind", None) if owner is not None else None
    ctx = error.get("ctx") or {}
    if "message" in ctx:
        message = str(ctx["message"])
        if "{here}" in message:
            depth = int(ctx.get("depth") or 0)
            here = dotted(path[: len(path) - depth]) if depth <= len(path) else ""
            message = message.replace("{here}", f"{here}." if here else "")
        return path, message
    if kind == "missing":
        if check is not None:
            doc = check.params[place.field].doc if place.field in check.params else ""
            return path, f"required by check kind {check.name!r}" + (f": {doc}" if doc else "")
        custom = getattr(owner, "missing", {}).get(place.field)
        return path, custom or f"missing; expected {what(place.hint)}"
    if kind == "extra_forbidden":
        fields = owner.model_fields.items() if owner else ()
        known = sorted(info.alias or name for name, info in fields if name not in getattr(owner, "hidden", ()))
        if check is not None:
            params = ", ".join(sorted(check.params))
            return path, f"unknown parameter for check kind {check.name!r} (known: {params})"
        return path, f"unknown field; expected one of: {', '.join(known)}"
    if kind == "invalid_key" or error.get("loc", ())[-1:] == ("[key]",):
        return path, f"expected a name (text) as the key, got {shown(error.get('input'))}; quote it"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _check_kind_problem(error, place)
    if kind in _MAPPING_ERRORS:
        return path, f"expected {what(place.hint)}, got {shown(error.get('input'))}"
    if kind == "too_short":
        custom = getattr(owner, "too_few", {}).get(place.field) or _marker(place.hint).too_few
        return path, custom or f"expected at least {ctx.get('min_length')} items"
    if kind == "too_long":
        most = ctx.get("max_length")
        return path, (f"expected at most {most} items, got {ctx.get('actual_length', 'more')}; "
                      "labrunner's limit (docs/lab-format.md, Values)")
    if kind in _TYPE_WORDS:
        return path, f"expected {words(_TYPE_WORDS[kind])}, got {shown(error.get('input'))}"
    return path, error.get("msg", "not valid")


def _check_kind_problem(error: dict, place: Place) -> tuple[tuple, str]:
    value = error.get("input")
    members = get_args(_unannotated(_plain(place.hint))) if _is_union(_plain(place.hint)) else ()
    names = sorted(a for m in members for a in get_args(getattr(_unannotated(m), "model_fields", {}).get(
        "kind", FieldInfo(annotation=Any)).annotation) if isinstance(a, str))
    listed = ", ".join(names)
    from ..checks.registry import plugin_problems

    listed += "".join(f"; {line}" for line in plugin_problems())  # the kind may be a broken plug-in's
    if not isinstance(value, dict):
        return place.path, f"expected a check (a mapping with `kind`), got {shown(value)}"
    if "kind" not in value:
        return place.path + ("kind",), f"missing; expected the check kind, one of {listed}"
    return place.path + ("kind",), f"unknown check kind {value['kind']!r}; expected one of {listed}"


def problems_of(exc: ValidationError, root: Any, *, file: str, lines: Lines,
                limit: int = MAX_PROBLEMS) -> list[Problem]:
    """The errors of `exc` as Problems in `file`, with the line of the value each is about.

    At most `limit` are worded (wording walks the models, so a lab of 20,000 bad values
    must not word each); the rest are counted in one last Problem. Linear in the errors.
    """
    found: list[Problem] = []
    seen: set[Problem] = set()
    raw: set[tuple] = set()
    more = 0
    for error in exc.errors(include_url=False):
        if error["type"] == MORE:  # errors `merged` dropped unseen
            more += int((error.get("ctx") or {}).get("count", 0))
            continue
        key = (tuple(error["loc"]), error["type"], error.get("msg"))
        if key in raw:
            continue
        raw.add(key)
        if len(found) >= limit:
            more += 1
            continue
        place = locate(root, tuple(error["loc"]))
        path, message = wording(error, place)
        line = line_of(lines, path[:-1] if error["type"] == "missing" else path)
        problem = Problem(file, line, dotted(path), message)
        if problem not in seen:
            seen.add(problem)
            found.append(problem)
    found.sort(key=lambda p: p.line or 0)
    if more:
        found.append(more_problems(file, more))
    return found


def line_of(lines: Lines, path: tuple) -> int | None:
    """The line of `path`, or of the nearest mapping or list above it that is in the file."""
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)
