"""Where labs sit on disk, and what loading them gave: light enough for start-up.

Finding lab folders and the curriculum, and the `LoadReport` of a load, need neither the
format's models (pydantic) nor YAML, so `labrunner list` and the TUI's first screen can take
a load from the lab cache (labcache.py) without importing either. The loader re-exports
these names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Problem
from .model import Lab

LAB_FILE = "lab.yaml"
CURRICULUM_FILE = "curriculum.yaml"
# What a wheel carries inside the package, under labrunner/shipped/ (setup.py copies them there
# from the top of the repository, where they stay for authors).
SHIPPED_LABS = "labs"
SHIPPED_KIND_CONFIG = "kind-config.yaml"
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BrokenLab:
    """A lab folder that did not load, named by its folder (its id may be what is broken)."""

    name: str
    path: Path
    problems: tuple[Problem, ...]

    @property
    def shown(self) -> str:
        """The folder as the user would type it."""
        return _shown(self.path)


@dataclass
class LoadReport:
    """What `discover_labs` found: the labs that loaded, every problem (the broken labs'
    and those of no lab in particular, such as a missing curriculum), and the broken labs."""

    labs: list[Lab] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    broken: list[BrokenLab] = field(default_factory=list)

    def find(self, name: str) -> Lab | BrokenLab | None:
        """The lab with id `name`, else the broken lab whose folder is `name`."""
        return next((lab for lab in self.labs if lab.id == name), None) or next(
            (lab for lab in self.broken if lab.name == name), None)


def default_labs_dir() -> Path:
    """LABRUNNER_LABS, else ./labs (when it holds a curriculum), else the labs this labrunner
    ships (`shipped_path`): in the package when installed from a wheel, else the checkout's."""
    from .settings import settings  # pydantic: loaded when labs are looked for, not at import

    if settings().labs:
        return settings().labs
    here = Path.cwd() / "labs"
    if (here / CURRICULUM_FILE).exists():
        return here
    return shipped_path(SHIPPED_LABS)


def shipped_path(name: str) -> Path:
    """Where `name` (`SHIPPED_LABS`, `SHIPPED_KIND_CONFIG`) is for this labrunner.

    Installed from a wheel: labrunner/shipped/<name> inside the package (setup.py copies it there).
    Run from a checkout (or an editable install of one): <name> at the top of the repository.
    The package's copy wins when both exist, so that a stray top-level folder of the same name in
    site-packages is never taken; when neither exists, the package's path, for the error to name."""
    shipped = _PACKAGE / "shipped" / name
    checkout = _PACKAGE.parent / name
    if not os.path.lexists(shipped) and os.path.lexists(checkout):
        return checkout
    return shipped


def find_curriculum(start: Path) -> Path | None:
    """curriculum.yaml in `start` or a parent folder, else the default labs dir's.

    The nearest one that is there at all, a FIFO, a folder or a dangling link too: reading it
    then says what is wrong with it, where skipping it would silently take another course's
    curriculum from a folder above, or say there is none."""
    start = start.resolve()
    for folder in [start, *start.parents]:
        for candidate in (folder / CURRICULUM_FILE, folder / "labs" / CURRICULUM_FILE):
            if os.path.lexists(candidate):
                return candidate
    fallback = default_labs_dir() / CURRICULUM_FILE
    return fallback if fallback.is_file() else None


def find_lab_dirs(root: Path) -> list[Path]:
    """`root` itself when it holds a lab file, else every folder below holding one (not hidden ones).

    Any entry named lab.yaml counts, a FIFO or a dangling link too, so that reading it
    reports what is wrong instead of the lab silently missing. Symlinked folders are not
    followed; the walk is iterative, so no depth of folders can exhaust the stack.
    """
    if os.path.lexists(root / LAB_FILE):
        return [root]
    found, stack = [], [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
        except OSError:  # unreadable, or gone meanwhile: nothing of a lab to find there
            continue
        if any(name == LAB_FILE for name, _ in names):
            found.append(folder)
        stack.extend(folder / name for name, is_dir in names if is_dir and not name.startswith("."))
    return sorted(found)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working folder if inside, printable."""
    try:
        # The folder resolved, not the name: a lab.yaml linked to /dev/zero is still shown as lab.yaml.
        # realpath, unlike Path.resolve on Python 3.11, does not raise on a symlink loop.
        path = Path(path)
        shown = str((Path(os.path.realpath(path.parent)) / path.name).relative_to(os.path.realpath(Path.cwd())))
    except (ValueError, OSError):
        shown = str(path)
    return _printable(shown)


def _printable(text: str) -> str:
    """A file name as text any terminal takes: undecodable bytes and control characters escaped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
