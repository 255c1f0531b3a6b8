"""Value types of the lab format: what a field may hold, its JSON Schema, and the words for a wrong one.

Each type is `Annotated[Any, PlainValidator(...), WithJsonSchema(...)]`: one
function decides (strictly: YAML `yes` is not a number, `"80"` is not a port)
and says what was expected in the words a lab author reads; the schema gives
editors the same rule. Where a range comes from outside labrunner, its source
is named beside it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Callable, Iterable

from pydantic import PlainValidator, WithJsonSchema

from ..errors import clip
from .shape import RULE, SHAPE, fault, shown

@dataclass(frozen=True)
class Bounds:
    """The most a lab may ask for, in one place (docs/lab-format.md, Values, says the same)."""

    minutes: int = 600  # a lab's estimated time: a day of class at most
    wait_seconds: float = 600  # one wait of a setup or a solution; longer cannot be run in class
    http_seconds: float = 60  # one request of an http check; a check re-runs, it does not wait minutes
    exec_seconds: float = 120  # a command an exec check runs: a look, not a job
    logs_seconds: float = 120  # for a log line to show; a shipper that needs longer is not shipping
    # Lengths of lists: far above what a lab for one sitting holds, low enough that no list makes work.
    steps: int = 100  # steps of a lab
    checks: int = 50  # checks of a step
    hints: int = 50  # hints of a step
    choices: int = 26  # choices of a quiz (a to z)
    answers: int = 50  # wrong answers, and alternatives, of a step
    actions: int = 200  # deletes, applies, waits of one set of actions; groups of an answer's `do`; images; topics


BOUNDS = Bounds()

ID_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
_ID = re.compile(ID_PATTERN)


def is_id(text: str) -> bool:
    """Whether `text` is an id: a DNS label of lower-case letters, digits and '-', at most 40 long."""
    return _ID.fullmatch(text) is not None

@dataclass(frozen=True)
class Words:
    """How a problem names what a field expects ("a port number 1-65535"); pydantic ignores it.

    `too_few` words a list that is shorter than its `min_length` ("expected at least one probe").
    """

    what: str
    too_few: str = ""


_WORDS = {str: "text", bool: "true or false", int: "a whole number", float: "a number", list: "a list",
          dict: "a mapping", type(None): "nothing"}
_JSON = {str: {"type": "string"}, bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"},
         list: {"type": "array"}, dict: {"type": "object"}, type(None): {"type": "null"}}


def words(types: Iterable[type]) -> str:
    """`(str, int)` as "text or a whole number"; int beside float is just "a number"."""
    kinds = list(dict.fromkeys(types))
    if float in kinds and int in kinds:
        kinds.remove(int)
    return " or ".join(dict.fromkeys(_WORDS.get(k, getattr(k, "__name__", str(k))) for k in kinds))


def is_a(value: Any, types: tuple[type, ...]) -> bool:
    """isinstance, as YAML means its types: true/false is no number, a whole number is a number,
    and .nan or .inf is no value a lab can mean."""
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, types)


def json_schema_of(types: tuple[type, ...]) -> dict:
    """The JSON Schema of plain Python types (an unknown class: anything)."""
    kinds = [t for t in types if not (t is int and float in types)]
    if any(t not in _JSON for t in kinds):
        return {}
    options = [_JSON[t] for t in kinds]
    return options[0] if len(options) == 1 else {"anyOf": options}


def value_type(types: tuple[type, ...], *, what: str = "", check: Callable[[Any], str | None] | None = None,
               schema: dict | None = None, rule: bool = False) -> Any:
    """A field type: the value must be one of `types`, then pass `check` (None, or what is wrong).

    `what` names the expected value in "expected {what}, got {value}"; `schema` is its JSON
    Schema (by default the types'). `rule` marks a `check` a JSON Schema cannot make (a regex
    that compiles, a quantity the Kubernetes client parses), so tests know the schema misses it.
    """
    what = what or words(types)

    def validate(value: Any) -> Any:
        if not is_a(value, types):
            if isinstance(value, float) and not math.isfinite(value) and (float in types or int in types):
                # RULE: a JSON Schema validator takes NaN for a number
                raise fault(f"expected {what}; {value} is not a finite number", RULE)
            raise fault(f"expected {what}, got {shown(value)}")
        problem = check(value) if check else None
        if problem:
            raise fault(problem, RULE if rule else SHAPE)
        return value

    return Annotated[Any, PlainValidator(validate), WithJsonSchema(json_schema_of(types) if schema is None else schema),
                     Words(what)]


def ranged(types: tuple[type, ...], *, ge: float | None = None, gt: float | None = None, le: float | None = None,
           what: str) -> Any:
    """A number in a range, said as `what` ("a port number 1-65535") both for a wrong type and out of range."""
    def check(value: Any) -> str | None:
        if (ge is not None and value < ge) or (gt is not None and value <= gt) or (le is not None and value > le):
            return f"expected {what}, got {value}"
        return None

    schema = dict(json_schema_of(types))
    schema.update({k: v for k, v in (("minimum", ge), ("exclusiveMinimum", gt), ("maximum", le)) if v is not None})
    return value_type(types, what=what, check=check, schema=schema)


def choice(values: Iterable[Any], *, what: str = "", unknown: str = "") -> Any:
    """One of fixed values; "expected A or B" for two, else "expected one of A, B, C".

    `unknown` words the problem instead, with {value!r} and {listed} filled in
    ("unknown feature {value!r}; expected one of {listed}").
    """
    values = tuple(values)
    listed = ", ".join(map(str, values))
    what = what or (" or ".join(map(str, values)) if len(values) == 2 else f"one of {listed}")

    def validate(value: Any) -> Any:
        if isinstance(value, (bool, list, dict)) or value not in values or type(value) is not type(values[values.index(value)]):
            raise fault(unknown.format(value=value, listed=listed) if unknown else f"expected {what}, got {value!r}")
        return value

    return Annotated[Any, PlainValidator(validate), WithJsonSchema({"enum": list(values)}), Words(what)]


def _nonempty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


# -- text ---------------------------------------------------------------------------

Text = value_type((str,), check=_nonempty, schema={"type": "string", "minLength": 1, "pattern": r"\S"})
"""Text that says something (not empty, not only spaces)."""

AnyText = value_type((str,))
"""Text, possibly empty."""

# A title is shown on one line beside others (`list`, the TUI's lists, check results): a line
# break inside it (a trailing one, as a folded `>` scalar ends, is dropped) breaks the table, and
# a title of pages is no title. 300 characters is twice the longest in labs/.
TITLE_LENGTH = 300
_LINE_BREAK = re.compile("[\n\r\x85\u2028\u2029]")


def _one_line(value: str) -> str | None:
    line = value.rstrip()
    if _LINE_BREAK.search(line):
        return "a title is one line; remove the line break (for YAML's `>`, write the title on one line instead)"
    if len(line) > TITLE_LENGTH:
        return f"a title is one line of at most {TITLE_LENGTH} characters, this one has {len(line)}; shorten it"
    return None


Title = value_type((str,), what="text", check=lambda v: _nonempty(v) or _one_line(v), rule=True,
                   schema={"type": "string", "minLength": 1, "pattern": r"\S"})
"""A title: one line that says something, at most TITLE_LENGTH characters."""

# An image reference as container runtimes parse it (github.com/distribution/reference, the
# grammar in its reference.go): [domain[:port]/]path[:tag][@digest], the path lower case.
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_DOMAIN = (r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
                 r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")
IMAGE_PATTERN = (rf"^(?:{_IMAGE_DOMAIN}/)?{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
                 r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")


def _image(value: str) -> str | None:
    name = value.split("@")[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]  # the tag off; a registry's :port stays
    if not re.fullmatch(IMAGE_PATTERN, value) or len(name) > 255:
        return (f"expected an image reference such as registry.k8s.io/e2e-test-images/agnhost:2.56 "
                f"(lower-case path, :tag, @sha256:digest), got {clip(value, 80)}")
    return None


Image = value_type((str,), what="an image reference", check=_image,
                   schema={"type": "string", "pattern": IMAGE_PATTERN})
"""An image reference a container runtime can pull (`labrunner up` preloads it)."""

AnyTitle = value_type((str,), what="text", check=_one_line, rule=True, schema={"type": "string"})
"""A title that may be empty (a check's, which then gets one from its kind)."""


def _kubernetes_name(what: str, pattern: str, limit: int) -> Any:
    """Text naming an object as Kubernetes allows names of its kind (apimachinery validation:
    IsDNS1035Label, IsDNS1123Label, IsDNS1123Subdomain), `${LAB_NAMESPACE}` filled in first. A
    check on a name no object can have (`API`, `api_pods`) could never pass: a learner's fail
    for an author's typo. A rule: the schema takes any text, placeholders included."""
    name = re.compile(pattern)

    def check(value: str) -> str | None:
        filled = value.replace("${LAB_NAMESPACE}", "lab-x")
        if len(filled) > limit or not name.fullmatch(filled):
            return f"expected {what}, got {clip(value, 80)}"
        return None

    return value_type((str,), what=what, check=check, rule=True,
                      schema={"type": "string", "minLength": 1, "pattern": r"\S"})


# A name DNS can hold (RFC 1035 sizes: labels of 1-63 octets, 253 in all without the final dot):
# letters, digits, '-' and '_' (SRV names: _http._tcp...). `${LAB_NAMESPACE}` filled in first.
_DNS_NAME_LABEL = re.compile(r"[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?")


def _dns_name(value: str) -> str | None:
    filled = value.replace("${LAB_NAMESPACE}", "lab-x")
    name = filled[:-1] if filled.endswith(".") else filled
    labels = name.split(".")
    if len(name) > 253 or not all(len(label) <= 63 and _DNS_NAME_LABEL.fullmatch(label) for label in labels):
        return (f"expected a DNS name: labels of letters, digits, '-' and '_' (1 to 63 each, 253 in all) joined "
                f"by '.', got {clip(value, 80)}; no such name can resolve")
    return None


DnsName = value_type((str,), what="a DNS name", check=_dns_name, rule=True,
                     schema={"type": "string", "minLength": 1, "pattern": r"\S"})
"""A name to look up in DNS (api.${LAB_NAMESPACE}.svc.cluster.local, example.com.)."""

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
ServiceName = _kubernetes_name("a Service name: lower-case letters, digits and '-', a letter first (at most 63)",
                               r"[a-z]([-a-z0-9]*[a-z0-9])?", 63)
"""A Service's name (a DNS-1035 label)."""
ContainerName = _kubernetes_name("a container name: lower-case letters, digits and '-' (at most 63)", _LABEL, 63)
"""A container's name (a DNS-1123 label)."""
ResourceName = _kubernetes_name("an object name: lower-case letters, digits, '-' and '.' (at most 253)",
                                _LABEL + r"(\." + _LABEL + ")*", 253)
"""The name of a pod, Secret, claim, volume, StorageClass or CSR (a DNS-1123 subdomain)."""

Id = value_type((str,), what="an id: lower-case letters, digits and '-' (at most 40)",
                check=lambda v: None if _ID.fullmatch(v) else f"expected lower-case letters, digits and '-' (at most 40), got {v!r}",
                schema={"type": "string", "pattern": ID_PATTERN})
"""A lab, step, check or answer id; a lab's id becomes part of its namespace `lab-<id>` (a DNS label)."""


def _regex(value: str) -> str | None:
    if not value:
        return "an empty regular expression matches anything, so the check could not fail; give a pattern"
    return regex_problem(value)


def regex_problem(value: str) -> str | None:
    """Why `value` is not a regular expression Python compiles, in plain words; None if it is.

    Beyond re.error, compiling raises OverflowError (`a{99999999999}`), RecursionError (deep
    nesting) or MemoryError: each is a pattern that cannot be, said at its field.
    """
    try:
        re.compile(value)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    except OverflowError:
        return "not a valid regular expression: a repetition count is too large (at most 4294967294); give a smaller one"
    except (RecursionError, MemoryError):
        return "not a valid regular expression: it is nested too deep or too large to compile; simplify it"
    except (TypeError, ValueError) as exc:
        return f"not a valid regular expression: {clip(str(exc), 80)}"
    return None


Regex = value_type((str,), what="a regular expression", check=_regex, rule=True,
                   schema={"type": "string", "format": "regex", "minLength": 1})
"""A Python regular expression that compiles (checks use `re.search`)."""

_OBJECT = re.compile(r"^[A-Z][A-Za-z0-9]*/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
ObjectName = value_type(
    (str,), what="Kind/name such as Service/web",
    check=lambda v: None if _OBJECT.fullmatch(v) else f"expected Kind/name such as Service/web, got {v!r}",
    schema={"type": "string", "pattern": _OBJECT.pattern})
"""`Kind/name` of one object: a Kind as the API spells it, a name as Kubernetes allows (DNS subdomain)."""

# A kind and an apiVersion as the API spells them (apimachinery: a Kind is CamelCase; a group is
# a DNS subdomain, a version v<digits>[alpha|beta<digits>]).
KIND_PATTERN = r"^[A-Z][A-Za-z0-9]*$"
API_VERSION_PATTERN = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?$"
Kind = value_type((str,), what="a kind as the API spells it, e.g. Deployment", schema={"type": "string", "pattern": KIND_PATTERN},
                  check=lambda v: None if re.fullmatch(KIND_PATTERN, v) else f"expected a kind as the API spells it, e.g. Deployment, got {v!r}")
ApiVersion = value_type(
    (str,), what="an apiVersion such as v1 or apps/v1", schema={"type": "string", "pattern": API_VERSION_PATTERN},
    check=lambda v: None if re.fullmatch(API_VERSION_PATTERN, v) else f"expected an apiVersion such as v1 or apps/v1, got {v!r}")

# -- numbers ------------------------------------------------------------------------

Count = ranged((int,), ge=0, what="a count: a whole number, 0 or more")
Port = ranged((int,), ge=1, le=65535, what="a port number 1-65535")  # TCP/UDP ports; 0 is no port
ExitCode = ranged((int,), ge=0, le=255, what="an exit code 0-255")  # what a POSIX process can return
HttpStatus = ranged((int,), ge=100, le=599, what="an HTTP status 100-599")  # RFC 9110 section 15
Minutes = value_type(
    (int,), schema={"type": "integer", "exclusiveMinimum": 0, "maximum": BOUNDS.minutes},
    check=lambda v: None if 0 < v <= BOUNDS.minutes else f"expected a positive number of minutes, at most {BOUNDS.minutes}, got {v}")


Expected = value_type(
    (str, int), what="text or a number to look for", schema={"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]},
    check=lambda v: "empty text is found in anything, so the check could not fail; give the text to look for"
    if v == "" else None)
"""What an output or a body must contain: empty text would be in every one."""

OnlyTrue = value_type((bool,), what="true", schema={"const": True},
                      check=lambda v: None if v else "only true means something here; leave the field out instead")
"""A switch that is only ever turned on: false would make a check that cannot fail."""


# The shortest timeout a lab may set. An exec, a request or a wait crosses the API server (and a
# websocket or a kubelet) first: measured on a loaded 2-core testbed that alone can take several
# hundred milliseconds, so a shorter timeout would fail right answers.
LEAST_SECONDS = 1


def seconds(limit: float) -> Any:
    """A timeout: a number of seconds from LEAST_SECONDS to `limit`, so no lab waits forever and no
    right answer fails for want of time."""
    return ranged((int, float), ge=LEAST_SECONDS, le=limit,
                  what=f"a number of seconds from {LEAST_SECONDS} to {limit:g}")


# -- Kubernetes values --------------------------------------------------------------

# A quantity as the API server writes it (k8s.io/apimachinery/pkg/api/resource, quantity.go):
# a number, then a binary (Ki..Ei) or decimal (n, u, m, k..E) suffix or an exponent. Never negative here.
QUANTITY_PATTERN = r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
_QUANTITY = re.compile(QUANTITY_PATTERN)
_QUANTITY_MAX = Decimal(2) ** 63 - 1  # apimachinery keeps a quantity's value in an int64


def _quantity(value: Any) -> str | None:
    from kubernetes.utils import parse_quantity  # the official client's own parser; imported only when needed

    if isinstance(value, str) and not _QUANTITY.fullmatch(value):
        return f"expected a quantity such as 1Gi or 500m, got {value!r}"
    try:
        number = Decimal(parse_quantity(value))
    except (ValueError, TypeError, InvalidOperation):
        return f"expected a quantity such as 1Gi or 500m, got {value!r}"
    if not number.is_finite() or number < 0 or number > _QUANTITY_MAX:
        return f"expected a quantity from 0 to 2^63-1, got {value!r}"
    return None


Quantity = value_type((str, int), what="a quantity such as 1Gi or 500m", check=_quantity, rule=True,
                      schema={"anyOf": [{"type": "string", "pattern": QUANTITY_PATTERN}, {"type": "integer", "minimum": 0}]})
"""A resource quantity ("1Gi", "500m", 2), as kubernetes.utils.parse_quantity reads it."""

_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
DURATION_PATTERN = r"^(?=.)([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"


_DURATION_DIGITS = 9  # per number: 999999999 days is what timedelta holds; longer is a typo


def parse_duration(value: int | str) -> timedelta:
    """Seconds (int) or text like `24h`, `90m`, `1d`, `1h30m`; ValueError (in plain words) otherwise."""
    too_long = f"a duration too long: {clip(value)}; give at most {_DURATION_DIGITS} digits per number, e.g. 24h or 365d"
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10 ** (_DURATION_DIGITS + 5):
            raise ValueError(too_long)
        return timedelta(seconds=value)
    parts = _DURATION.fullmatch(str(value).strip())
    if not parts or not any(parts.groups()):
        raise ValueError(f"not a duration: {clip(value)} (use seconds or e.g. 24h, 90m, 1d)")
    if any(len(x or "") > _DURATION_DIGITS for x in parts.groups()):
        raise ValueError(too_long)
    d, h, m, s = (int(x or 0) for x in parts.groups())
    try:
        return timedelta(days=d, hours=h, minutes=m, seconds=s)
    except OverflowError:
        raise ValueError(too_long) from None


def _duration(value: Any) -> str | None:
    try:
        lifetime = parse_duration(value)
    except ValueError as exc:
        return str(exc)
    if lifetime <= timedelta(0):
        return f"expected a lifetime above 0, got {value!r}"
    return None


Duration = value_type((int, str), what="a duration: seconds, or e.g. 24h, 90m, 1d", check=_duration, rule=True,
                      schema={"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": DURATION_PATTERN}]})


def _finite_everywhere(value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if isinstance(value, list):
        return next(filter(None, map(_finite_everywhere, value)), None)
    if isinstance(value, dict):
        return next(filter(None, map(_finite_everywhere, value.values())), None)
    return None


def plain_value(types: tuple[type, ...]) -> Any:
    """A value of `types` whose numbers, also inside lists and mappings, are finite."""
    return value_type(types, check=_finite_everywhere, rule=True)


def _jsonpath(value: str) -> str | None:
    from .. import jsonpath

    try:
        jsonpath.parse(value)
    except jsonpath.JsonPathError as exc:
        return str(exc)
    return None


JsonPath = value_type((str,), what="a JSONPath such as {.status.phase}", check=_jsonpath, rule=True,
                      schema={"type": "string", "minLength": 1})
"""The subset of kubectl's JSONPath that labrunner.jsonpath reads (checks and waits)."""


def _arguments(value: list) -> str | None:
    if not value or not all(is_a(part, (str, int)) for part in value):
        return "expected a non-empty list of arguments (text or whole numbers), e.g. [cat, /data/hello]"
    if not isinstance(value[0], str) or not value[0].strip():
        return f"the first argument is the program to run; expected its name, got {shown(value[0])}"
    return None


Arguments = value_type((list,), what="a list of arguments, e.g. [cat, /data/hello]", check=_arguments,
                       schema={"type": "array", "minItems": 1, "prefixItems": [{"type": "string", "pattern": r"\S"}],
                               "items": {"type": ["string", "integer"]}})
"""A command and its arguments, as a container's `command` (no shell unless it names one)."""

LABRUNNER_LABELS = "labrunner.dev/"


def _labels(value: dict) -> str | None:
    from ..manifestrules import label_key_problem, label_value_problem

    if not value or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return "expected labels as a mapping of text to text, e.g. {role: client}"
    if any(k.startswith(LABRUNNER_LABELS) for k in value):
        return f"labels under {LABRUNNER_LABELS} are labrunner's own"
    for key, item in value.items():
        problem = label_key_problem(key) or label_value_problem(item)
        if problem:
            return problem
    return None


# Label syntax (apimachinery IsQualifiedName, IsValidLabelValue), as manifestrules checks it.
LABEL_KEY_PATTERN = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                     r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
Labels = value_type((dict,), what="labels as a mapping of text to text, e.g. {role: client}", check=_labels,
                    schema={"type": "object", "minProperties": 1,
                            "additionalProperties": {"type": "string", "pattern": LABEL_VALUE_PATTERN},
                            "propertyNames": {"pattern": LABEL_KEY_PATTERN, "not": {"pattern": "^labrunner\\.dev/"}}})
"""Labels of a pod labrunner starts (a probe); labrunner.dev/ is labrunner's own prefix."""


def _selector(value: str) -> str | None:
    from .selectors import SelectorError, parse_selector

    try:
        parse_selector(value.replace("${LAB_NAMESPACE}", "lab-x"))  # filled in before the API reads it
    except SelectorError as exc:
        return f"not a label selector Kubernetes reads: {exc}; write e.g. app=web, tier in (a,b) or !canary"
    return None


Selector = value_type((str,), what="a label selector such as app=web", check=_selector, rule=True,
                      schema={"type": "string", "minLength": 1, "pattern": r"\S"})
"""A label selector as Kubernetes reads it (labrunner.format.selectors)."""


def host_problem(value: str) -> str | None:
    """Why `value` is neither a DNS name (RFC 1123: labels of letters, digits and '-', at most 253
    in all) nor an IP address, or None. `${LAB_NAMESPACE}` counts as the lab's namespace."""
    import ipaddress

    filled = value.replace("${LAB_NAMESPACE}", "lab-x")
    try:
        ipaddress.ip_address(filled.strip("[]") if filled.startswith("[") else filled)
        return None
    except ValueError:
        pass
    name = filled[:-1] if filled.endswith(".") else filled  # a fully qualified name ends with '.'
    if 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in name.split(".")):
        return None
    return f"expected a host name (letters, digits, '-' and '.') or an IP address, got {clip(value)}"


_HOST_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?")
Host = value_type((str,), what="a host name or an IP address", check=host_problem, rule=True,
                  schema={"type": "string", "minLength": 1, "pattern": r"^[^\s/]+$"})
"""A DNS name or an IP address (a probe's `to: {host}`, an ingress host)."""


def url_problem(value: str) -> str | None:
    """Why `value` is no http:// or https:// URL with a host (and no spaces or control characters), or None."""
    from urllib.parse import urlsplit

    if not value.startswith(("http://", "https://")):
        return f"expected an http:// or https:// URL, got {clip(value)}"
    if any(c.isspace() or not c.isprintable() for c in value):
        return f"a URL has no spaces, line breaks or control characters; got {clip(value)} (write a space as %20)"
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError when not a number 0-65535
    except ValueError as exc:
        return f"not a URL: {clip(value)} ({exc})"
    if not parts.hostname:
        return f"expected a URL with a host, such as http://example.com/, got {clip(value)}"
    if port == 0:
        return f"port 0 is no port; got {clip(value)}"
    return host_problem(parts.hostname)


Url = value_type((str,), what="an http:// or https:// URL", check=url_problem, rule=True,
                 schema={"type": "string", "pattern": r"^https?://[^\s/?#]+([/?#]\S*)?$"})
"""An http:// or https:// URL with a host, as a request line can carry it."""
