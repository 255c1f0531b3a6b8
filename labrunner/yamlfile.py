"""Safe YAML reading that remembers where each value came from.

PyYAML's safe constructor refuses `!!python/...` tags but forgets line numbers;
we compose the node tree ourselves so validation errors can point at a line.
Every fault of the reader becomes a `YamlError` naming the file and the line:
characters YAML forbids, scalars that fail their tag (`!!int twenty`), integers
beyond 64 bits, nesting beyond `LIMITS.depth`, and more values than
`LIMITS.file_values` over all documents of a file (aliases count each time they
are used, so an alias bomb stops early). There is no timestamp type: the lab
format has no dates, so `2024-02-30` is text, never a crash.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem
from .labfiles import LIMITS, Budget, FileRefused, decode_text, line_of, read_regular_file, unprintable

# Node path (keys and list indexes from the document root) -> 1-based line.
Lines = dict[tuple[Any, ...], int]

_TAG = "tag:yaml.org,2002:"
_MAP, _SEQ = _TAG + "map", _TAG + "seq"
# Scalars the lab format and Kubernetes objects know; `!!binary`, `!!timestamp`, `!!set`... are refused.
_SCALAR_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null")}
_INT64 = 1 << 63
_INT_DIGITS = 20  # more digits than any 64-bit integer has, underscores and sign aside


class YamlError(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(str(problem))


try:  # libyaml scans and parses about 7 times faster; composing stays ours, for the limits
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

if _CParser is not None:
    class _Base(yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:  # pragma: no cover
    _Base = yaml.SafeLoader  # type: ignore[misc,assignment]


# YAML 1.1's int and float without their base-60 forms (`1:30` is 90 there, text in YAML 1.2): a lab
# meaning a time or a port never gets a number it did not write. The rest as PyYAML's resolver.py.
_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""", re.X)
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)
_OWN = {_TAG + "int": _INT, _TAG + "float": _FLOAT}
# Numbers YAML 1.1 (PyYAML) and YAML 1.2 (the JSON Schema's editors) read differently: `025` is 21
# (octal) in 1.1 and 25 in 1.2; `2_5`, `0b11` and `1_0.5` are numbers in 1.1 and text in 1.2. A lab
# file means one thing to labrunner and the author's editor, so there they are errors. Manifests keep
# YAML 1.1, as kubectl reads them (`defaultMode: 0644` is octal there).
_YAML11_ONLY = re.compile(r"[-+]?(0[0-7_]+|0b[01_]+|[0-9][0-9_]*_[0-9_]*(\.[0-9_]*)?([eE][-+][0-9]+)?|[0-9]*\.[0-9_]*_[0-9_]*)")


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """A safe loader without the timestamp, `=` and base-60 resolvers, and with a nesting limit."""

    yaml_implicit_resolvers = {
        first: [(tag, _OWN.get(tag, regexp)) for tag, regexp in resolvers
                if tag not in (_TAG + "timestamp", _TAG + "value")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, text: str, shown_as: str) -> None:
        super().__init__(text)
        self.shown_as = shown_as
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        # The composer recurses once per level: stop before Python's stack does.
        if self.depth >= LIMITS.depth:
            raise _too_deep(self.shown_as, self.peek_event().start_mark.line + 1)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_yaml_documents(path: Path, *, shown_as: str, budget: Budget | None = None,
                        yaml12_numbers: bool = False) -> list[tuple[Any, Lines]]:
    """Every document of the YAML file `path` as plain data, each with its line map.

    `path` must be a regular file (see labfiles.read_regular_file); `budget` is the
    lab's, charged with the file's bytes and values. Empty documents are None. With
    `yaml12_numbers`, a number YAML 1.2 would read otherwise (`025`, `2_5`) is an error.
    Raises YamlError naming `shown_as` and, where known, the line.
    """
    try:
        data = read_regular_file(path, budget=budget)
    except FileRefused as exc:
        raise YamlError(Problem(shown_as, exc.line, "", exc.message)) from None
    return parse_yaml_documents(data, shown_as=shown_as, budget=budget, yaml12_numbers=yaml12_numbers)


# Characters YAML 1.1 (PyYAML) reads as line breaks that most editors show as nothing or as a space.
_UNSEEN_BREAKS = {"\u2028": "U+2028 (LINE SEPARATOR)", "\u2029": "U+2029 (PARAGRAPH SEPARATOR)", "\x85": "U+0085 (NEXT LINE)"}


def _unseen_line_breaks(text: str) -> tuple[int, str] | None:
    """(line as an editor counts it, what to do) for the first character YAML takes for a line break
    where an editor shows none; None when the text holds none."""
    found = [i for i in (text.find(c) for c in _UNSEEN_BREAKS) if i >= 0]
    if not found:
        return None
    at = min(found)
    return (text.count("\n", 0, at) + 1,
            f"the line holds {_UNSEEN_BREAKS[text[at]]}, which YAML reads as a line break: remove it, or write it "
            f"as \\u{ord(text[at]):04x} inside double quotes")


def parse_yaml_documents(data: bytes | str, *, shown_as: str, budget: Budget | None = None,
                         yaml12_numbers: bool = False) -> list[tuple[Any, Lines]]:
    """Every document of YAML text `data`, as `read_yaml_documents` gives them."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(Problem(shown_as, line_of(data, exc.start), "",
                                    f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8")) from None
    else:
        text = data
    bad = unprintable(text)
    if bad:
        raise YamlError(Problem(shown_as, line_of(text, bad[0]), "",
                                ("" if "reorders" in bad[1] else "not valid YAML: ")  # YAML allows those; we do not
                                + f"the character {bad[1]} is not allowed in a YAML file; remove it"))
    loader: _Loader | None = None
    documents = []
    try:
        loader = _Loader(text, shown_as)
        walk = _Walk(loader, shown_as, budget, yaml12_numbers=yaml12_numbers)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: Lines = {}
            walk.seen.clear()  # node ids are only unique while the document's nodes live
            documents.append((walk.to_data(node, (), lines, 0), lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own limit (1000), met while scanning ahead
            raise _too_deep(shown_as, line) from None
        message = " ".join(filter(None, [exc.context, exc.problem]))
        breaks = _unseen_line_breaks(text[: mark.index + 1] if mark else "")
        if breaks:  # the parser counted them as lines, an editor does not: say where the real cause is
            line, message = breaks[0], f"{message}; {breaks[1]}"
        raise YamlError(Problem(shown_as, line, "", f"not valid YAML: {message}")) from None
    except yaml.reader.ReaderError as exc:  # the characters were checked above; this is a safety net
        position = getattr(exc, "position", None)
        line = line_of(text, position) if isinstance(position, int) else None
        raise YamlError(Problem(shown_as, line, "", f"not valid YAML: {getattr(exc, 'reason', exc)}")) from None
    except yaml.YAMLError as exc:
        raise YamlError(Problem(shown_as, None, "", f"not valid YAML: {exc}")) from None
    except RecursionError:  # a safety net; the depth limit stops nesting well before this
        raise _too_deep(shown_as, None) from None
    finally:
        if loader is not None:
            loader.dispose()
    if budget is not None:
        budget.values_left -= walk.values
        budget.chars_left -= walk.chars
    return documents


def read_yaml(path: Path, *, shown_as: str, budget: Budget | None = None) -> tuple[Any, Lines]:
    """A file that must hold exactly one YAML document: a lab file or the curriculum, whose numbers
    must mean the same in YAML 1.1 and 1.2 (see read_yaml_documents)."""
    documents = read_yaml_documents(path, shown_as=shown_as, budget=budget, yaml12_numbers=True)
    if len(documents) != 1:
        raise YamlError(
            Problem(shown_as, None, "", f"expected one YAML document, found {len(documents)}")
        )
    return documents[0]


class _Walk:
    """Turns composed nodes into plain data, counting values against one limit."""

    def __init__(self, loader: _Loader, shown_as: str, budget: Budget | None, *, yaml12_numbers: bool = False) -> None:
        self.loader = loader
        self.shown_as = shown_as
        self.yaml12_numbers = yaml12_numbers
        # The lab's budget binds when less of it is left than one file may take.
        self.values_limit = LIMITS.file_values if budget is None else min(LIMITS.file_values, budget.values_left)
        self.chars_limit = LIMITS.file_chars if budget is None else min(LIMITS.file_chars, budget.chars_left)
        self.values = 0
        self.chars = 0
        self.seen: set[int] = set()  # nodes already placed in the line map: the rest are alias uses

    def count(self, n: int, line: int | None, *, chars: int = 0) -> None:
        self.values += n
        self.chars += chars
        self._within(self.values, self.values_limit, LIMITS.file_values, LIMITS.lab_values, line,
                     "{holds} over {size} values (each use of an alias counts); split it or write it without aliases")
        self._within(self.chars, self.chars_limit, LIMITS.file_chars, LIMITS.lab_chars, line,
                     "{spells} out over {size} characters of text (each use of an alias counts); write it without aliases")

    def _within(self, used: int, limit: int, file_limit: int, lab_limit: int, line: int | None, what: str) -> None:
        """Raise YamlError when `used` passes `limit`, naming the lab's limit when it is the one that binds."""
        if used <= limit:
            return
        lab_wide = limit < file_limit
        whose = "the lab's YAML files together" if lab_wide else "the file"
        text = what.format(size=lab_limit if lab_wide else file_limit,
                           holds="hold" if lab_wide else "holds", spells="spell" if lab_wide else "spells")
        raise YamlError(Problem(self.shown_as, line, "", f"too large: {whose} {text}"))

    def to_data(self, node: yaml.Node, at: tuple, lines: Lines | None, depth: int) -> Any:
        line = node.start_mark.line + 1
        self.count(1, line, chars=len(node.value) if isinstance(node, yaml.ScalarNode) else 0)
        if depth >= LIMITS.depth:  # also stops an alias that contains itself (`&a [*a]`)
            raise _too_deep(self.shown_as, line)
        if lines is not None:
            if id(node) in self.seen:
                lines = None  # an alias use: errors inside point at its nearest recorded parent
            else:
                self.seen.add(id(node))
                lines[at] = line
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise _bad_tag(node, self.shown_as)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _TAG + "merge":
                    raise YamlError(Problem(self.shown_as, key_node.start_mark.line + 1, _dotted(at),
                                            "merge keys (`<<`) are not supported; write the keys out"))
                key = self.to_data(key_node, at + ("<key>",), None, depth + 1)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise YamlError(Problem(self.shown_as, key_node.start_mark.line + 1, "", "a mapping key must be a plain value"))
                if key in result:
                    raise YamlError(
                        Problem(self.shown_as, key_node.start_mark.line + 1, _dotted(at + (key,)), "this key appears twice")
                    )
                if lines is not None and id(value_node) in self.seen:
                    lines[at + (key,)] = key_node.start_mark.line + 1  # an alias use: its key's line
                result[key] = self.to_data(value_node, at + (key,), lines, depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise _bad_tag(node, self.shown_as)
            return [self.to_data(item, at + (i,), lines, depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node, at, line)

    def _scalar(self, node: yaml.ScalarNode, at: tuple, line: int) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _bad_tag(node, self.shown_as)
        if node.tag == _TAG + "int" and len(node.value.lstrip("+-").replace("_", "")) > _INT_DIGITS:
            raise YamlError(Problem(self.shown_as, line, _dotted(at),
                                    f"the whole number {_clip(node.value)} is too long (over {_INT_DIGITS} digits); "
                                    "quote it if it is text"))
        try:
            # The safe constructor knows only the standard scalar tags.
            value = self.loader.construct_object(node, deep=True)
            if node.tag == _TAG + "null" and node.value not in ("", "~", "null", "Null", "NULL"):
                raise ValueError("only null, ~ or nothing is null")
        except Exception as exc:  # PyYAML's constructors raise KeyError (`!!bool maybe`), IndexError (`!!int ""`)...
            reason = (exc.problem if isinstance(exc, yaml.constructor.ConstructorError) else
                      str(exc) if isinstance(exc, ValueError) else "")
            raise YamlError(Problem(self.shown_as, line, _dotted(at),
                                    f"not valid YAML: {_clip(node.value)} is not a valid {node.tag[len(_TAG):]}"
                                    + (f" ({reason})" if reason else ""))) from None
        if (self.yaml12_numbers and node.tag in (_TAG + "int", _TAG + "float") and not node.style
                and _YAML11_ONLY.fullmatch(node.value)):
            octal = re.fullmatch(r"[-+]?0[0-7]+", node.value)
            if not octal or value != int(node.value, 10):  # `00`, `07` mean the same in both
                other = f"{int(node.value, 10)} (decimal)" if octal else "text"
                fix = (f"write the number you mean without the leading 0 ({value} or {int(node.value, 10)})" if octal
                       else f"write {value}, or quote it if it is text")
                raise YamlError(Problem(self.shown_as, line, _dotted(at),
                                        f"{_clip(node.value)} is {value}{' (octal)' if octal else ''} in YAML 1.1, which "
                                        f"labrunner reads, but {other} in YAML 1.2, which editors read; {fix}"))
        if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
            raise YamlError(Problem(self.shown_as, line, _dotted(at),
                                    f"the whole number {_clip(node.value)} does not fit in 64 bits; quote it if it is text"))
        if isinstance(value, str):
            bad = unprintable(value)
            if bad:
                raise YamlError(Problem(self.shown_as, line, _dotted(at),
                                        f"the text holds the character {bad[1]}; remove it"))
        return value


def _too_deep(shown_as: str, line: int | None) -> YamlError:
    return YamlError(Problem(shown_as, line, "", f"nested too deeply (over {LIMITS.depth} levels)"))


def _bad_tag(node: yaml.Node, shown_as: str) -> YamlError:
    return YamlError(
        Problem(
            shown_as,
            node.start_mark.line + 1,
            "",
            f"the YAML tag {node.tag!r} is not allowed (only plain YAML: maps, lists, text, numbers, booleans)",
        )
    )


def _clip(value: str) -> str:
    text = repr(value[:40])
    return text if len(value) <= 40 else text[:37] + "..."


def _dotted(at: tuple) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


dotted = _dotted
