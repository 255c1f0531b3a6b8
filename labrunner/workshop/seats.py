"""A workshop's seat: its name, its namespaces, and how a learner's labrunner knows it is one.

A seat's kubeconfig (`labrunner workshop create ... --out DIR` writes `DIR/<seat>.kubeconfig`) carries,
in its context, a kubeconfig extension named SEAT_EXTENSION:

    contexts:
    - name: demo-seat-07
      context:
        cluster: demo
        user: demo-seat-07
        namespace: demo-seat-07-orchestration
        extensions:
        - name: labrunner.dev/seat
          extension: {workshop: demo, seat: seat-07}

kubectl keeps extensions it does not know (client-go's clientcmd `Context.Extensions`), so the file
stays a plain kubeconfig for the learner's kubectl. The extension, not the user name or the
certificate, tells labrunner which namespaces are the seat's: reading it needs no request, and a
kubeconfig without it is an ordinary learner's (namespaces `lab-<id>`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

SEAT_EXTENSION = "labrunner.dev/seat"
# A workshop name is the first part of every namespace it makes: a DNS label (RFC 1123), kept short so
# that <workshop>-<seat>-<lab> stays within the 63 characters of a namespace name.
WORKSHOP_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$")
NAME_LIMIT = 63  # characters of a namespace name (a DNS label, RFC 1123)
MAX_SEATS = 200  # what one instructor's room needs; past it the CSR signer and quotas are the limit, not us
USER_PREFIX = "labrunner:workshop"
PROBE_SUFFIX = "probe"  # the last part of a seat's probe namespace; no lab may have this id  # a seat's user is labrunner:workshop:<workshop>:<seat>


@dataclass(frozen=True)
class Seat:
    """One learner's place in workshop `workshop`: `name` is seat-01, seat-02, ..."""

    workshop: str
    name: str

    @property
    def id(self) -> str:
        """<workshop>-<seat>: the prefix of its namespaces, and its kubeconfig's context and user name."""
        return f"{self.workshop}-{self.name}"

    @property
    def user(self) -> str:
        """The user the API server knows the seat as (its certificate's common name)."""
        return f"{USER_PREFIX}:{self.workshop}:{self.name}"

    @property
    def group(self) -> str:
        """Every seat of the workshop is in this group (its certificate's organization)."""
        return f"{USER_PREFIX}:{self.workshop}"

    def namespace(self, lab_id: str) -> str:
        """The seat's namespace for lab `lab_id`: <workshop>-<seat>-<lab>."""
        return f"{self.id}-{lab_id}"

    @property
    def probe_namespace(self) -> str:
        """<workshop>-<seat>-probe: where the seat's network checks run labrunner's probe pods and open
        server, outside every lab namespace of the seat (a seat may not write labrunner's own namespace)."""
        return f"{self.id}-{PROBE_SUFFIX}"


def check_workshop_name(name: str) -> str:
    """`name` when it can name a workshop; UsageError saying the form otherwise."""
    if not WORKSHOP_NAME.match(name or ""):
        raise UsageError(f"workshop name {name!r}: use 1-20 lower-case letters, digits and '-', starting with a letter "
                         "and ending with a letter or digit (it begins every namespace name), such as kube-101")
    return name


def seat_names(count: int) -> list[str]:
    """seat-01 .. seat-NN (zero-padded to the widest number); UsageError outside 1..MAX_SEATS."""
    if not isinstance(count, int) or count < 1 or count > MAX_SEATS:
        raise UsageError(f"--seats {count}: a workshop has 1 to {MAX_SEATS} seats")
    width = max(2, len(str(count)))
    return [f"seat-{i:0{width}d}" for i in range(1, count + 1)]


def seat_of(kubeconfig: str | None = None, context: str | None = None) -> Seat | None:
    """The seat the kubeconfig's `context` (default: its current context) belongs to, from its
    SEAT_EXTENSION; None for an ordinary kubeconfig. Files are merged as kubectl merges KUBECONFIG
    (the first to set a name wins). Read without the Kubernetes client, so `labrunner list` stays fast.
    Raises UsageError for an extension that names no valid workshop and seat."""
    paths = [kubeconfig] if kubeconfig else [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    paths = paths or [str(Path.home() / ".kube" / "config")]
    current, contexts = context, {}
    for path in paths:
        data = _read_yaml(path)
        current = current or data.get("current-context")
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict) and isinstance(entry.get("context"), dict):
                contexts.setdefault(entry.get("name"), entry["context"])
    found = contexts.get(current) or {}
    for extension in found.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == SEAT_EXTENSION:
            return _seat(extension.get("extension"), where=f"context {current!r}")
    return None


def _seat(value: Any, *, where: str) -> Seat:
    value = value if isinstance(value, dict) else {}
    workshop, name = value.get("workshop"), value.get("seat")
    if not isinstance(workshop, str) or not WORKSHOP_NAME.match(workshop) or not isinstance(name, str) \
            or not re.match(r"^seat-\d{2,}$", name):
        raise UsageError(f"the kubeconfig's {where} has a {SEAT_EXTENSION} extension without a valid workshop and "
                         f"seat ({value!r}); ask the instructor for the seat's kubeconfig again")
    return Seat(workshop, name)


def _read_yaml(path: str) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    import yaml  # only for a kubeconfig that exists

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}
