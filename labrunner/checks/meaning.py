"""Comparing values by meaning, not spelling: quantities and int-or-percent values.

A learner who writes `1024Mi` where a lab says `1Gi`, or `"0%"` where it says
`0`, gave the same answer; a check that compares the text would fail them.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes.utils import parse_quantity as _parse_quantity

from .. import jsonpath

# A quantity's unit suffix (binary Ki..Ei, decimal k..E, milli m, or an exponent e3):
# text without one is an ordinary number or word and keeps its exact spelling.
_WITH_UNIT = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*([KMGTPE]i|[kMGTPEm]|[eE][+-]?[0-9]+)$")
_PERCENT = re.compile(r"^([0-9]+)%$")


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("1Gi", "500m", 2) as a Decimal (bytes, cores, ...).

    Uses the official client's `kubernetes.utils.parse_quantity`, which follows
    k8s.io/apimachinery/pkg/api/resource. Raises ValueError for anything else.
    """
    try:
        return Decimal(_parse_quantity(value))
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"not a quantity: {value!r}") from exc


def is_quantity_with_unit(value: Any) -> bool:
    """True for text such as "1Gi", "500m", "2e3": a quantity spelled with a unit."""
    if not isinstance(value, str) or not _WITH_UNIT.fullmatch(value.strip()):
        return False
    try:
        parse_quantity(value)
    except ValueError:
        return False
    return True


def percent(value: Any) -> int | None:
    """The N of an int-or-percent value "N%", or None for anything else."""
    match = _PERCENT.fullmatch(value.strip()) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def scaled_value(value: int | str, total: int, *, round_up: bool) -> int:
    """An int-or-percent value (2, "25%") resolved against `total`, as the controllers do.

    Mirrors k8s.io/apimachinery intstr.GetScaledValueFromIntOrPercent. A Deployment's
    maxSurge rounds up and its maxUnavailable rounds down
    (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#max-unavailable):
    at 3 replicas "25%" is 1 extra pod but 0 unavailable ones. Raises ValueError for other text.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    share = percent(value)
    if share is None:
        raise ValueError(f"not an int-or-percent value: {value!r}")
    exact = Decimal(share) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def same_value(found: Any, wanted: Any) -> bool:
    """Whether a field's value means what a check wants.

    - the same value, or the same text once rendered (80 and "80");
    - quantities compare as quantities when either side has a unit: "1Gi" == "1024Mi", "2" == "2000m";
      plain numbers keep their spelling (an environment variable "010" is not "10");
    - an int-or-percent "0%" is 0 of any total, so it equals 0 (and "0%" equals 0).
      Any other percent depends on the total and never equals a plain number.
    """
    if isinstance(found, bool) != isinstance(wanted, bool):
        return False  # YAML `false` is not 0
    if found == wanted or _text(found) == _text(wanted):
        return True
    if (is_quantity_with_unit(wanted) or is_quantity_with_unit(found)) and all(
            isinstance(v, (str, int, float)) for v in (found, wanted)):
        try:
            return parse_quantity(found) == parse_quantity(wanted)
        except ValueError:
            return False
    zero = (0, "0")  # a tuple: wanted may be an unhashable list or mapping
    if percent(found) == 0 and (wanted in zero or percent(wanted) == 0) and not isinstance(wanted, bool):
        return True
    if percent(wanted) == 0 and found in zero and not isinstance(found, bool):
        return True
    return False


def why_percent_differs(found: Any, wanted: Any) -> str:
    """For a percent found where a number is wanted: how the percent scales, for the learner.

    "" when that does not apply. E.g. found "25%", wanted 0: "25% rounds down to 0 only
    below 4 replicas; from 4 on it is 1 or more" (rounding down, as maxUnavailable does).
    """
    share = percent(found)
    if share is None or not share or isinstance(wanted, bool) or not isinstance(wanted, int) or wanted != 0:
        return ""
    # The smallest replica count at which the controller's rounding down gives 1 or more.
    first = next(n for n in range(1, 101) if scaled_value(found, n, round_up=False) >= 1)
    return (f"{share}% is a share of the replicas, not a number: rounded down (as maxUnavailable is) it is 0 "
            f"below {first} replicas but 1 or more from {first} on; only 0 (or 0%) is 0 at every scale")


def _text(value: Any) -> str:
    return jsonpath.render(value)
