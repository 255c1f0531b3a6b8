"""Events the thread workers report back with `post_message` (past tense)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from ..capabilities import Capability
    from ..loader import BrokenLab
    from ..model import Lab
    from ..report import StepReport
    from .backend import ClusterInfo
    from .resources import NamespaceView


class ClusterProbed(Message):
    """The API server answered with its version, or did not (`error`)."""

    def __init__(self, info: ClusterInfo, version: str, error: str = "") -> None:
        super().__init__()
        self.info, self.version, self.error = info, version, error


class FeaturesDetected(Message):
    """What the cluster offers of what the labs need: labrunner.capabilities findings by name."""

    def __init__(self, features: dict[str, Capability]) -> None:
        super().__init__()
        self.features = features


class ActionProgressed(Message):
    """A line of progress from a long cluster action (waiting for a namespace to be deleted)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class StepSetUp(Message):
    def __init__(self, step_id: str) -> None:
        super().__init__()
        self.step_id = step_id


class ChecksFinished(Message):
    def __init__(self, report: StepReport) -> None:
        super().__init__()
        self.report = report


class SolutionApplied(Message):
    def __init__(self, step_id: str) -> None:
        super().__init__()
        self.step_id = step_id


class StepReset(Message):
    def __init__(self, step_id: str) -> None:
        super().__init__()
        self.step_id = step_id


class LabReset(Message):
    pass


class ResourcesListed(Message):
    """The lab namespace as the resource panel shows it; `error` when listing failed."""

    def __init__(self, namespace: str, view: NamespaceView | None, error: str = "") -> None:
        super().__init__()
        self.namespace, self.view, self.error = namespace, view, error


class LabsLoaded(Message):
    """The lab files were read; `problems` describes the ones that did not load, `broken`
    the lab folders they belong to (listed, marked broken, never opened)."""

    def __init__(self, labs: list[Lab], problems: list[str], broken: list[BrokenLab] | None = None) -> None:
        super().__init__()
        self.labs, self.problems, self.broken = labs, problems, list(broken or [])


class RoomRead(Message):
    """The room grid of a workshop was read (workshop.grid.room_grid's dict), or could not be (`error`)."""

    def __init__(self, grid: dict | None, error: str = "") -> None:
        super().__init__()
        self.grid, self.error = grid, error
