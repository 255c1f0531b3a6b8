"""Find labs on disk and validate them completely before any cluster work.

Every problem is collected (not just the first), each naming the file, the
line, the field and what was expected.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import LabFormatError, Problem, clip
from .labfiles import Budget, FileRefused, decode_text, path_problem, read_regular_file, resolve_inside
from .manifestrules import Outside, object_problems, read_outside, ref_problem
from .model import (
    FEATURES,
    FORMAT_VERSION,
    Actions,
    ActionGroup,
    Answer,
    CheckSpec,
    Choice,
    Curriculum,
    Difficulty,
    Lab,
    Manifest,
    ObjectRef,
    Quiz,
    Solution,
    Step,
    WaitSpec,
)
from .yamlfile import Lines, YamlError, dotted, parse_yaml_documents, read_yaml

LAB_FILE = "lab.yaml"
CURRICULUM_FILE = "curriculum.yaml"
_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


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
    """LABRUNNER_LABS, else ./labs, else the labs beside the package (a checkout)."""
    if os.environ.get("LABRUNNER_LABS"):
        return Path(os.environ["LABRUNNER_LABS"])
    here = Path.cwd() / "labs"
    if (here / CURRICULUM_FILE).exists():
        return here
    return Path(__file__).resolve().parent.parent / "labs"


def find_curriculum(start: Path) -> Path | None:
    """curriculum.yaml in `start` or a parent folder, else the default labs dir's."""
    start = start.resolve()
    for folder in [start, *start.parents]:
        if (folder / CURRICULUM_FILE).is_file():
            return folder / CURRICULUM_FILE
        if (folder / "labs" / CURRICULUM_FILE).is_file():
            return folder / "labs" / CURRICULUM_FILE
    fallback = default_labs_dir() / CURRICULUM_FILE
    return fallback if fallback.is_file() else None


def load_curriculum(path: Path) -> Curriculum:
    shown = _shown(path)
    try:
        data, lines = read_yaml(path, shown_as=shown)
    except YamlError as exc:
        raise LabFormatError([exc.problem]) from None
    problems: list[Problem] = []
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, dict) or not topics:
        raise LabFormatError([Problem(shown, 1, "topics", "expected a mapping of topic id to description")])
    for key, value in topics.items():
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(Problem(shown, lines.get(("topics", key)), f"topics.{key}", "expected `ID: description` text"))
    concept = data.get("concept", [])
    if not isinstance(concept, list) or any(c not in topics for c in concept):
        problems.append(Problem(shown, lines.get(("concept",)), "concept", "expected a list of topic ids from `topics`"))
    if problems:
        raise LabFormatError(problems)
    return Curriculum(topics=dict(topics), concept_only=frozenset(concept))


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


def discover_labs(root: Path | None = None, curriculum: Curriculum | None = None) -> LoadReport:
    """Load every lab under `root`, collecting problems instead of raising."""
    root = Path(root) if root else default_labs_dir()
    report = LoadReport()
    try:
        exists, is_file = root.exists(), root.is_file()
    except (OSError, ValueError) as exc:  # a name too long for the file system
        report.problems.append(Problem(_shown(root), None, "", f"cannot look at it: {exc}"))
        return report
    if not exists:
        report.problems.append(Problem(_shown(root), None, "", "no such file or folder"))
        return report
    if is_file:
        if root.name != LAB_FILE:
            report.problems.append(Problem(_shown(root), None, "", f"expected a lab folder or its {LAB_FILE}"))
            return report
        root = root.parent
    if curriculum is None:
        path = find_curriculum(root)
        if path is None:
            report.problems.append(Problem(_shown(root), None, "", f"no {CURRICULUM_FILE} found here or above"))
            return report
        try:
            curriculum = load_curriculum(path)
        except LabFormatError as exc:
            report.problems.extend(exc.problems)
            return report
    dirs = find_lab_dirs(root)
    if not dirs:
        report.problems.append(Problem(_shown(root), None, "", f"no {LAB_FILE} found in this folder or below"))
    seen: dict[str, Path] = {}
    for lab_dir in dirs:
        lab, problems = _read_lab(lab_dir, curriculum)
        if lab is not None and not problems and lab.id in seen:
            problems = [Problem(_shown(lab_dir / LAB_FILE), None, "id",
                                f"lab id {lab.id!r} is already used by {_shown(seen[lab.id])}")]
        report.problems.extend(problems)
        if lab is None or problems:
            report.broken.append(BrokenLab(_printable(lab_dir.name), lab_dir, tuple(problems)))
            continue
        seen[lab.id] = lab_dir
        report.labs.append(lab)
    return report


def _read_lab(lab_dir: Path, curriculum: Curriculum) -> tuple[Lab | None, list[Problem]]:
    """One lab folder, read so that nothing in it can stop the other labs from loading."""
    try:
        return _LabReader(lab_dir, curriculum).read()
    except Exception as exc:  # a bug of ours, met by one odd lab: that lab is broken, the others load
        return None, [Problem(_shown(lab_dir / LAB_FILE), None, "",
                              f"labrunner failed reading this lab ({type(exc).__name__}: {exc}); "
                              "this is a bug in labrunner, please report it with the lab")]


def load_labs(root: Path | None = None, curriculum: Curriculum | None = None) -> list[Lab]:
    """Every lab under `root`; raises LabFormatError listing all problems."""
    report = discover_labs(root, curriculum)
    if report.problems:
        raise LabFormatError(report.problems)
    return report.labs


def load_lab(lab_dir: Path, curriculum: Curriculum) -> Lab:
    lab, problems = _LabReader(Path(lab_dir), curriculum).read()
    if problems or lab is None:
        raise LabFormatError(problems)
    return lab


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


_MISSING = object()


class _LabReader:
    def __init__(self, lab_dir: Path, curriculum: Curriculum):
        self.dir = lab_dir
        self.root = Path(os.path.realpath(lab_dir))
        self.budget = Budget()  # bytes and YAML values over every file of this lab
        self.outside = Outside()  # what lab.yaml declares beyond its namespace (read before the steps)
        self.lab_namespace = "lab-x"  # fills ${LAB_NAMESPACE} when manifest names are judged
        self.curriculum = curriculum
        self.file = _shown(lab_dir / LAB_FILE)
        self.lines: Lines = {}
        self.problems: list[Problem] = []
        self._manifests: dict[str, Manifest] = {}

    # -- reporting -------------------------------------------------------
    def problem(self, at: tuple, message: str, *, file: str | None = None, line: int | None = None) -> None:
        if line is None:
            probe = at
            while probe and probe not in self.lines:
                probe = probe[:-1]
            line = self.lines.get(probe)
        self.problems.append(Problem(file or self.file, line, dotted(at), message))

    # -- typed getters ---------------------------------------------------
    def get(self, data: Mapping, at: tuple, key: str, kind: type | tuple, *, required: bool, default: Any = None) -> Any:
        value = data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.problem(at + (key,), f"missing; expected {_what(kind)}", line=self.lines.get(at))
                return _MISSING
            return default
        types = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            self.problem(at + (key,), f"expected {_what(kind)}, got {_what(type(value))} {_clip(value)}")
            return _MISSING
        return value

    def text(self, data: Mapping, at: tuple, key: str, *, required: bool = True) -> str:
        value = self.get(data, at, key, str, required=required, default="")
        if value is not _MISSING and required and not value.strip():
            self.problem(at + (key,), "must not be empty")
        return "" if value is _MISSING else value

    def ident(self, data: Mapping, at: tuple, key: str = "id") -> str:
        value = self.text(data, at, key)
        if value and not _ID.match(value):
            self.problem(at + (key,), f"expected lower-case letters, digits and '-' (at most 40), got {value!r}")
        return value

    def strings(self, data: Mapping, at: tuple, key: str, *, required: bool = False) -> list[str]:
        value = self.get(data, at, key, list, required=required, default=[])
        if value is _MISSING:
            return []
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.problem(at + (key, i), f"expected text, got {_clip(item)}")
            else:
                out.append(item)
        return out

    def only_keys(self, data: Mapping, at: tuple, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                self.problem(at + (key,), f"unknown field; expected one of: {', '.join(sorted(allowed))}")

    def topics(self, data: Mapping, at: tuple, *, required: bool) -> tuple[str, ...]:
        found = self.strings(data, at, "topics", required=required)
        for i, topic in enumerate(found):
            if topic not in self.curriculum:
                self.problem(at + ("topics", i), f"unknown topic id {topic!r}; expected an id from {CURRICULUM_FILE}")
        return tuple(found)

    # -- files -----------------------------------------------------------
    def resolve(self, at: tuple, relative: Any, *, suffixes: tuple[str, ...] = ()) -> Path | None:
        """`relative` inside the lab folder (see labfiles), or None with a problem at `at`."""
        message = path_problem(relative)
        if message is None:
            try:
                target = resolve_inside(self.root, relative)
            except FileRefused as exc:
                message = exc.message
        if message is not None:
            self.problem(at, message)
            return None
        if suffixes and target.suffix not in suffixes:
            self.problem(at, f"{relative!r}: expected a {' or '.join(suffixes)} file")
            return None
        return target

    def read_file(self, at: tuple, relative: str, target: Path) -> bytes | None:
        """The bytes of a regular file of the lab, charged to its budget; None with a problem at `at`."""
        try:
            return read_regular_file(target, budget=self.budget)
        except FileRefused as exc:
            self.problem(at, f"{relative!r}: {exc.message}")
            return None

    def markdown(self, at: tuple, relative: Any) -> tuple[str, Path | None]:
        target = self.resolve(at, relative, suffixes=(".md",))
        data = None if target is None else self.read_file(at, relative, target)
        if data is None:
            return "", None
        try:
            return decode_text(data), Path(relative)
        except FileRefused as exc:
            self.problem(at, f"{relative}:{exc.line}: {exc.message}")
            return "", None

    def manifest(self, at: tuple, relative: Any) -> Manifest | None:
        target = self.resolve(at, relative, suffixes=(".yaml", ".yml"))
        if target is None:
            return None
        key = str(target)
        if key in self._manifests:
            return self._manifests[key]
        shown = _shown(target)
        data = self.read_file(at, relative, target)
        if data is None:
            return None
        try:
            documents = parse_yaml_documents(data, shown_as=shown, budget=self.budget)
        except YamlError as exc:
            self.problems.append(exc.problem)
            return None
        parsed = []
        ok = True
        for doc, lines in documents:
            if doc is None:
                continue
            ok &= self._check_object(doc, lines, shown)
            parsed.append(doc)
        if not parsed:
            self.problems.append(Problem(shown, None, "", "holds no Kubernetes object"))
            return None
        if not ok:
            return None
        manifest = Manifest(path=Path(relative), documents=tuple(parsed))
        self._manifests[key] = manifest
        return manifest

    def _check_object(self, doc: Any, lines: Lines, shown: str) -> bool:
        found = object_problems(doc, lines, file=shown, lab_namespace=self.lab_namespace, outside=self.outside)
        self.problems.extend(found)
        return not found

    # -- the lab ---------------------------------------------------------
    def read(self) -> tuple[Lab | None, list[Problem]]:
        try:
            data, self.lines = read_yaml(resolve_inside(self.root, LAB_FILE), shown_as=self.file, budget=self.budget)
        except FileRefused as exc:
            return None, [Problem(self.file, exc.line, "", exc.message)]
        except YamlError as exc:
            return None, [exc.problem]
        if not isinstance(data, dict):
            self.problem((), "expected a mapping with format, id, title, ... (see docs/lab-format.md)", line=1)
            return None, self.problems
        fmt = self.get(data, (), "format", int, required=True)
        if fmt is not _MISSING and fmt != FORMAT_VERSION:
            self.problem(("format",), f"this labrunner reads format {FORMAT_VERSION}, got {fmt}")
            return None, self.problems
        self.only_keys(data, (), {"format", "id", "title", "summary", "difficulty", "minutes", "topics", "requires", "images",
                                  "outside", "steps"})
        lab_id = self.ident(data, ())
        self._outside(data, lab_id)
        title = self.text(data, (), "title")
        summary = self.text(data, (), "summary")
        difficulty = self.get(data, (), "difficulty", str, required=True)
        if difficulty is not _MISSING and difficulty not in {d.value for d in Difficulty}:
            self.problem(("difficulty",), f"expected beginner, intermediate or advanced, got {difficulty!r}")
            difficulty = _MISSING
        minutes = self.get(data, (), "minutes", int, required=True)
        if minutes is not _MISSING and minutes <= 0:
            self.problem(("minutes",), "expected a positive number of minutes")
        topics = self.topics(data, (), required=True)
        requires = self.strings(data, (), "requires")
        for i, feature in enumerate(requires):
            if feature not in FEATURES:
                self.problem(("requires", i), f"unknown feature {feature!r}; expected one of {', '.join(FEATURES)}")
        images = self.strings(data, (), "images")
        steps = self._steps(data, set(topics))
        if self.problems:
            return None, self.problems
        lab = Lab(
            id=lab_id,
            title=title,
            summary=summary,
            difficulty=Difficulty(difficulty),
            minutes=minutes,
            topics=topics,
            requires=tuple(requires),
            images=tuple(images),
            steps=tuple(steps),
            path=self.root,
        )
        return lab, self.problems

    def _outside(self, data: Mapping, lab_id: str) -> None:
        """`outside:` and the lab namespace, which the manifest and delete checks need."""
        self.outside, problems = read_outside(data.get("outside"))
        for at, message in problems:
            self.problem(("outside",) + at, message)
        if lab_id and _ID.match(lab_id):
            self.lab_namespace = f"lab-{lab_id}"

    def _steps(self, data: Mapping, lab_topics: set[str]) -> list[Step]:
        raw = self.get(data, (), "steps", list, required=True)
        if raw is _MISSING:
            return []
        if not raw:
            self.problem(("steps",), "expected at least one step")
        steps, seen = [], {}
        for i, item in enumerate(raw):
            at = ("steps", i)
            if not isinstance(item, dict):
                self.problem(at, f"expected a step (a mapping with id, title, ...), got {_clip(item)}")
                continue
            raw_id = item.get("id")
            if isinstance(raw_id, str) and raw_id in seen:
                self.problem(at + ("id",), f"step id {raw_id!r} is already used by steps[{seen[raw_id]}]")
            elif isinstance(raw_id, str):
                seen[raw_id] = i
            step = self._step(item, at, lab_topics)
            if step is not None:
                steps.append(step)
        return steps

    def _step(self, data: Mapping, at: tuple, lab_topics: set[str]) -> Step | None:
        before = len(self.problems)
        is_quiz = "quiz" in data
        common = {"id", "title", "text", "topics"}
        if is_quiz:
            self.only_keys(data, at, common | {"quiz", "wrong", "alternatives"})
            for key in ("wrong", "alternatives"):
                if key in data:
                    self.problem(at + (key,), f"a quiz step has no `{key}`; its choices are the answers")
        else:
            self.only_keys(data, at, common | {"setup", "checks", "hints", "solution", "cleanup", "wrong", "alternatives"})
        step_id = self.ident(data, at)
        title = self.text(data, at, "title")
        text, text_path = "", None
        if "text" in data or not is_quiz:
            if "text" not in data:
                self.problem(at + ("text",), "missing; expected the path of the step's Markdown text", line=self.lines.get(at))
            else:
                text, text_path = self.markdown(at + ("text",), data["text"])
        topics = self.topics(data, at, required=False)
        for i, topic in enumerate(topics):
            if topic in self.curriculum and topic not in lab_topics:
                self.problem(at + ("topics", i), f"topic {topic!r} is not in the lab's `topics`; add it there")
        if is_quiz:
            quiz = self._quiz(data["quiz"], at + ("quiz",))
            if len(self.problems) > before:
                return None
            return Step(id=step_id, title=title, text=text, text_path=text_path, topics=topics, quiz=quiz)
        setup = self._actions(data, at, "setup")
        cleanup = self._actions(data, at, "cleanup")
        checks = self._checks(data, at)
        hints = self.strings(data, at, "hints")
        solution = None
        raw_solution = self.get(data, at, "solution", dict, required=True)
        if raw_solution is not _MISSING:
            self.only_keys(raw_solution, at + ("solution",), {"apply", "delete", "wait", "explanation"})
            actions = self._actions(data, at, "solution")
            if not any(key in raw_solution for key in ("apply", "delete", "wait")):
                self.problem(at + ("solution",), "expected at least one of apply, delete, wait")
            explanation = self.text(raw_solution, at + ("solution",), "explanation", required=False)
            solution = Solution(actions=actions, explanation=explanation)
        check_ids = {c.id for c in checks}
        answer_ids: dict[str, tuple] = {}
        wrong = self._answers(data, at, "wrong", check_ids, answer_ids)
        alternatives = self._answers(data, at, "alternatives", check_ids, answer_ids)
        if len(self.problems) > before:
            return None
        return Step(
            id=step_id,
            title=title,
            text=text,
            text_path=text_path,
            topics=topics,
            setup=setup,
            checks=tuple(checks),
            hints=tuple(hints),
            solution=solution,
            cleanup=cleanup,
            wrong=tuple(wrong),
            alternatives=tuple(alternatives),
        )

    def _answers(self, data: Mapping, at: tuple, key: str, check_ids: set[str], seen: dict[str, tuple]) -> list[Answer]:
        """`wrong` (each with `fails`) or `alternatives` (without): ids unique across both lists."""
        raw = self.get(data, at, key, list, required=False, default=[])
        if raw is _MISSING:
            return []
        answers = []
        for i, item in enumerate(raw):
            aat = at + (key, i)
            if not isinstance(item, dict):
                self.problem(aat, "expected {id: ..., title: ..., do: [...]" + (", fails: {...}}" if key == "wrong" else "}"))
                continue
            before = len(self.problems)
            self.only_keys(item, aat, {"id", "title", "do", "fails"} if key == "wrong" else {"id", "title", "do"})
            answer_id = self.ident(item, aat)
            if answer_id in seen:
                self.problem(aat + ("id",), f"answer id {answer_id!r} is already used by {dotted(seen[answer_id])}")
            elif answer_id:
                seen[answer_id] = aat
            title = self.text(item, aat, "title")
            groups = self._groups(item, aat)
            fails = self._fails(item, aat, check_ids) if key == "wrong" else {}
            if len(self.problems) == before:
                answers.append(Answer(id=answer_id, title=title, do=tuple(groups), fails=fails))
        return answers

    def _groups(self, item: Mapping, at: tuple) -> list[ActionGroup]:
        raw = self.get(item, at, "do", list, required=True)
        if raw is _MISSING:
            return []
        if not raw:
            self.problem(at + ("do",), "expected at least one action group")
        groups = []
        for i, group in enumerate(raw):
            gat = at + ("do", i)
            if not isinstance(group, dict):
                self.problem(gat, "expected a mapping with apply, delete, run or wait")
                continue
            self.only_keys(group, gat, {"apply", "delete", "wait", "run", "namespace"})
            if not any(k in group for k in ("apply", "delete", "wait", "run")):
                self.problem(gat, "expected at least one of apply, delete, run, wait")
            actions = self._actions({"group": group}, gat, "group", at_self=gat)
            run = self.text(group, gat, "run", required=False)
            namespace = self.text(group, gat, "namespace", required=False)
            if namespace and not _ID.match(namespace):
                self.problem(gat + ("namespace",), f"expected a suffix of lower-case letters, digits and '-', got {namespace!r}")
            groups.append(ActionGroup(actions=actions, run=run, namespace=namespace))
        return groups

    def _fails(self, item: Mapping, at: tuple, check_ids: set[str]) -> dict[str, tuple[str, ...]]:
        raw = self.get(item, at, "fails", dict, required=True)
        if raw is _MISSING:
            return {}
        if not raw:
            self.problem(at + ("fails",), "expected at least one check id that must fail")
        fails = {}
        for check_id, texts in raw.items():
            fat = at + ("fails", check_id)
            if check_id not in check_ids:
                self.problem(fat, f"no check {check_id!r} in this step; expected one of {', '.join(sorted(check_ids))}")
                continue
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts) or not texts:
                self.problem(fat, "expected the text its fail message must contain (\"\" for any), or a list of texts")
                continue
            fails[check_id] = tuple(texts)
        return fails

    def _quiz(self, data: Any, at: tuple) -> Quiz | None:
        if not isinstance(data, dict):
            self.problem(at, "expected a mapping with question, choices, answer, explanation")
            return None
        self.only_keys(data, at, {"question", "choices", "answer", "explanation"})
        question = self.text(data, at, "question")
        explanation = self.text(data, at, "explanation", required=False)
        answer = self.text(data, at, "answer")
        raw = self.get(data, at, "choices", list, required=True)
        choices: list[Choice] = []
        if raw is not _MISSING:
            if len(raw) < 2:
                self.problem(at + ("choices",), "expected at least two choices")
            for i, item in enumerate(raw):
                if not isinstance(item, dict):
                    self.problem(at + ("choices", i), "expected {id: ..., text: ...}")
                    continue
                self.only_keys(item, at + ("choices", i), {"id", "text"})
                cid = self.get(item, at + ("choices", i), "id", str, required=True)
                ctext = self.text(item, at + ("choices", i), "text")
                if cid is _MISSING:
                    continue
                if any(c.id == cid for c in choices):
                    self.problem(at + ("choices", i, "id"), f"choice id {cid!r} appears twice")
                choices.append(Choice(cid, ctext))
            if answer and choices and answer not in {c.id for c in choices}:
                self.problem(at + ("answer",), f"expected the id of a choice ({', '.join(c.id for c in choices)}), got {answer!r}")
        return Quiz(question=question, choices=tuple(choices), answer=answer, explanation=explanation)

    def _actions(self, data: Mapping, at: tuple, key: str, *, at_self: tuple | None = None) -> Actions:
        """setup, cleanup or solution of a step, or (with `at_self`, keys checked by the caller)
        the actions of an answer's group."""
        raw = self.get(data, at, key, dict, required=False)
        if raw is None or raw is _MISSING:
            return Actions()
        at = at_self or at + (key,)
        if key not in ("solution", "group"):
            self.only_keys(raw, at, {"apply", "delete", "wait"})
        apply = []
        for i, relative in enumerate(self.get(raw, at, "apply", list, required=False, default=[]) or []):
            manifest = self.manifest(at + ("apply", i), relative)
            if manifest:
                apply.append(manifest)
        delete = []
        for i, item in enumerate(self.get(raw, at, "delete", list, required=False, default=[]) or []):
            ref = self._ref(item, at + ("delete", i))
            if ref:
                delete.append(ref)
        waits = []
        for i, item in enumerate(self.get(raw, at, "wait", list, required=False, default=[]) or []):
            wait = self._wait(item, at + ("wait", i))
            if wait:
                waits.append(wait)
        return Actions(apply=tuple(apply), delete=tuple(delete), wait=tuple(waits))

    def _ref(self, item: Any, at: tuple) -> ObjectRef | None:
        if not isinstance(item, dict):
            self.problem(at, "expected {kind: ..., name: ...}")
            return None
        self.only_keys(item, at, {"kind", "name", "apiVersion", "namespace"})
        kind = self.text(item, at, "kind")
        name = self.text(item, at, "name")
        api_version = self.get(item, at, "apiVersion", str, required=False)
        namespace = self.get(item, at, "namespace", str, required=False)
        if not kind or not name or api_version is _MISSING or namespace is _MISSING:
            return None
        refused = ref_problem(kind, name, namespace, outside=self.outside)
        if refused:
            self.problem(at, refused)
            return None
        return ObjectRef(kind=kind, name=name, api_version=api_version, namespace=namespace)

    def _wait(self, item: Any, at: tuple) -> WaitSpec | None:
        if not isinstance(item, dict):
            self.problem(at, "expected {kind: ..., name: ..., condition: ...}")
            return None
        before = len(self.problems)
        self.only_keys(item, at, {"kind", "name", "selector", "apiVersion", "condition", "jsonpath", "value", "deleted", "timeout"})
        kind = self.text(item, at, "kind")
        name = self.get(item, at, "name", str, required=False)
        selector = self.get(item, at, "selector", str, required=False)
        if (name is None) == (selector is None):
            self.problem(at, "give exactly one of name, selector")
        condition = self.get(item, at, "condition", str, required=False)
        jsonpath = self.get(item, at, "jsonpath", str, required=False)
        value = self.get(item, at, "value", (str, int, bool), required=False)
        deleted = self.get(item, at, "deleted", bool, required=False, default=False)
        timeout = self.get(item, at, "timeout", (int, float), required=False, default=120.0)
        modes = [m for m in (condition, jsonpath, deleted or None) if m not in (None, _MISSING)]
        if len(modes) != 1:
            self.problem(at, "give exactly one of condition, jsonpath (with value), deleted: true")
        if jsonpath and value is None:
            self.problem(at + ("value",), "missing; a jsonpath wait needs the value to wait for")
        if timeout is not _MISSING and timeout is not None and timeout <= 0:
            self.problem(at + ("timeout",), "expected a positive number of seconds")
        if len(self.problems) > before:
            return None
        return WaitSpec(
            kind=kind,
            name=name,
            selector=selector,
            api_version=self.get(item, at, "apiVersion", str, required=False),
            condition=condition,
            jsonpath=jsonpath,
            value=None if value is None else str(value).lower() if isinstance(value, bool) else str(value),
            deleted=bool(deleted),
            timeout=float(timeout),
        )

    def _checks(self, data: Mapping, at: tuple) -> list[CheckSpec]:
        from .checks import check_kinds, param_problems, plugin_problems

        kinds = check_kinds()
        raw = self.get(data, at, "checks", list, required=True)
        if raw is _MISSING:
            return []
        if not raw:
            self.problem(at + ("checks",), "expected at least one check")
        checks, seen = [], set()
        for i, item in enumerate(raw):
            cat = at + ("checks", i)
            if not isinstance(item, dict):
                self.problem(cat, f"expected a check (a mapping with `kind`), got {_clip(item)}")
                continue
            kind_name = self.get(item, cat, "kind", str, required=True)
            if kind_name is _MISSING:
                continue
            kind = kinds.get(kind_name)
            if kind is None or kind_name == "quiz":
                broken = "".join(f"; {line}" for line in plugin_problems())  # the kind may be a broken plug-in's
                self.problem(cat + ("kind",), f"unknown check kind {kind_name!r}; expected one of {', '.join(k for k in sorted(kinds) if k != 'quiz')}{broken}")
                continue
            check_id = item.get("id", f"{kind_name}-{i + 1}")
            if not isinstance(check_id, str) or not _ID.match(check_id):
                self.problem(cat + ("id",), f"expected lower-case letters, digits and '-', got {_clip(check_id)}")
                continue
            if check_id in seen:
                self.problem(cat + ("id",), f"check id {check_id!r} appears twice in this step")
            seen.add(check_id)
            title = item.get("title", "")
            if not isinstance(title, str):
                self.problem(cat + ("title",), "expected text")
            params = {k: v for k, v in item.items() if k not in ("kind", "id", "title")}
            for key, spec in kind.params.items():
                if spec.file and key in params:
                    manifest = self.manifest(cat + (key,), params[key])
                    params[key] = manifest
            before = len(self.problems)
            for key, message in param_problems(kind, params):
                self.problem(cat + (key,) if key else cat, message)
            if any(params.get(k) is None for k, s in kind.params.items() if s.file and k in params):
                continue
            if len(self.problems) == before:
                checks.append(CheckSpec(id=check_id, kind=kind_name, params=params, title=title or "", line=self.lines.get(cat)))
        return checks


def _what(kind: type | tuple) -> str:
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false", list: "a list", dict: "a mapping", type(None): "nothing"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _clip(value: Any) -> str:
    return clip(value)
