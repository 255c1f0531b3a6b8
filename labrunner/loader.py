"""Find labs on disk and validate them completely before any cluster work.

The lab file is validated by the models of `labrunner.format` (pydantic); the
files it names are read here, through the lab folder. Every problem is
collected (not just the first), each naming the file, the line, the field and
what was expected. A valid lab becomes the plain data of `labrunner.model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import LabFormatError, Problem
from .format import lab as fmt
from .format.context import Context
from .format.curriculum import CurriculumFile
from .format.placeholders import NAMESPACE, walk_placeholders, wrong_placeholders
from .format.problems import problems_of
from .model import (
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
from .yamlfile import Lines, YamlError, read_yaml, read_yaml_documents

LAB_FILE = "lab.yaml"
CURRICULUM_FILE = "curriculum.yaml"


@dataclass
class LoadReport:
    labs: list[Lab] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


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
    """The topic ids of a curriculum file; raises LabFormatError naming each problem."""
    shown = _shown(path)
    try:
        data, lines = read_yaml(path, shown_as=shown)
    except YamlError as exc:
        raise LabFormatError([exc.problem]) from None
    try:
        parsed = CurriculumFile.model_validate(data)
    except ValidationError as exc:
        raise LabFormatError(problems_of(exc, CurriculumFile, file=shown, lines=lines)) from None
    return Curriculum(topics=dict(parsed.topics), concept_only=frozenset(parsed.concept or ()))


def find_lab_dirs(root: Path) -> list[Path]:
    """`root` itself when it holds a lab file, else every folder below holding one."""
    if (root / LAB_FILE).is_file():
        return [root]
    return sorted(p.parent for p in root.rglob(LAB_FILE) if not any(part.startswith(".") for part in p.parts))


def discover_labs(root: Path | None = None, curriculum: Curriculum | None = None) -> LoadReport:
    """Load every lab under `root`, collecting problems instead of raising."""
    root = Path(root) if root else default_labs_dir()
    report = LoadReport()
    if not root.exists():
        report.problems.append(Problem(_shown(root), None, "", "no such file or folder"))
        return report
    if root.is_file():
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
        lab, problems = read_lab(lab_dir, curriculum)
        report.problems.extend(problems)
        if lab is None:
            continue
        if lab.id in seen:
            report.problems.append(
                Problem(_shown(lab_dir / LAB_FILE), None, "id", f"lab id {lab.id!r} is already used by {_shown(seen[lab.id])}")
            )
            continue
        seen[lab.id] = lab_dir
        report.labs.append(lab)
    return report


def load_labs(root: Path | None = None, curriculum: Curriculum | None = None) -> list[Lab]:
    """Every lab under `root`; raises LabFormatError listing all problems."""
    report = discover_labs(root, curriculum)
    if report.problems:
        raise LabFormatError(report.problems)
    return report.labs


def load_lab(lab_dir: Path, curriculum: Curriculum) -> Lab:
    """One lab folder; raises LabFormatError listing all problems."""
    lab, problems = read_lab(Path(lab_dir), curriculum)
    if problems or lab is None:
        raise LabFormatError(problems)
    return lab


def read_lab(lab_dir: Path, curriculum: Curriculum) -> tuple[Lab | None, list[Problem]]:
    """(the lab, []) or (None, every problem): the lab file by the format's models, then its files."""
    from .checks import check_kinds

    lab_dir = Path(lab_dir)
    shown = _shown(lab_dir / LAB_FILE)
    try:
        data, lines = read_yaml(lab_dir / LAB_FILE, shown_as=shown)
    except YamlError as exc:
        return None, [exc.problem]
    folder = _LabFolder(lab_dir)
    model = fmt.lab_file_model(check_kinds())
    try:
        parsed = model.model_validate(data, context=Context(folder=folder, curriculum=curriculum))
    except ValidationError as exc:
        return None, problems_of(exc, model, file=shown, lines=lines) + folder.problems
    if folder.problems:
        return None, folder.problems
    return _lab(parsed, folder, lines), []


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working folder if inside."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _LabFolder:
    """The files of one lab folder, read once each: the `Folder` the format's models consult.

    `check_markdown` and `check_manifest` say what is wrong with a reference from the lab
    file (it is reported there); what is wrong inside a file is a problem of that file,
    collected in `problems`.
    """

    def __init__(self, lab_dir: Path):
        self.root = lab_dir.resolve()
        self.problems: list[Problem] = []
        self._texts: dict[str, str | None] = {}
        self._manifests: dict[str, Manifest | None] = {}

    def check_markdown(self, relative: str) -> str | None:
        target, problem = self.resolve(relative, suffixes=(".md",))
        if target is None:
            return problem
        key = str(target)
        if key not in self._texts:
            self._texts[key] = None
            try:
                self._texts[key] = target.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return f"cannot read {relative!r}: {exc}"
        text = self._texts[key]
        if text is None:
            return f"cannot read {relative!r}"
        # Said at the reference in lab.yaml, with the text's own line: the step text has no fields.
        wrong = [f"line {number}: {message}" for number, line in enumerate(text.splitlines(), 1)
                 for message in wrong_placeholders(line, {NAMESPACE})]
        return f"{relative!r} {'; '.join(wrong)}" if wrong else None

    def markdown(self, relative: str) -> str:
        """The text of a step, read by `check_markdown` during validation."""
        return self._texts[str(self.resolve(relative)[0])] or ""

    def check_manifest(self, relative: str) -> str | None:
        target, problem = self.resolve(relative, suffixes=(".yaml", ".yml"))
        if target is None:
            return problem
        key = str(target)
        if key not in self._manifests:
            self._manifests[key] = self._read_manifest(target, relative)
        return None  # what is wrong inside the manifest is reported in the manifest

    def manifest(self, relative: str) -> Manifest:
        """A manifest, read and checked by `check_manifest` during validation."""
        found = self._manifests[str(self.resolve(relative)[0])]
        assert found is not None, "a lab with a bad manifest is never built"
        return found

    # -- files -----------------------------------------------------------
    def resolve(self, relative: str, *, suffixes: tuple[str, ...] = ()) -> tuple[Path | None, str]:
        """(the file inside the lab folder, "") or (None, what is wrong with `relative`)."""
        if os.path.isabs(relative):
            return None, f"{relative!r} is absolute; expected a path relative to the lab folder"
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root):
            return None, f"{relative!r} leads outside the lab folder; keep every file inside it"
        if not target.is_file():
            return None, f"{relative!r} does not exist in the lab folder"
        if suffixes and target.suffix not in suffixes:
            return None, f"{relative!r}: expected a {' or '.join(suffixes)} file"
        return target, ""

    def _read_manifest(self, target: Path, relative: str) -> Manifest | None:
        shown = _shown(target)
        try:
            documents = read_yaml_documents(target, shown_as=shown)
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
        return Manifest(path=Path(relative), documents=tuple(parsed))

    def _check_object(self, doc: Any, lines: Lines, shown: str) -> bool:
        before = len(self.problems)
        if not isinstance(doc, dict):
            self.problems.append(Problem(shown, lines.get(()), "", "expected a Kubernetes object (a mapping)"))
            return False
        for key in ("apiVersion", "kind"):
            if not isinstance(doc.get(key), str) or not doc.get(key):
                self.problems.append(Problem(shown, lines.get(()), key, "missing; every object needs apiVersion and kind"))
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            self.problems.append(
                Problem(shown, lines.get(("metadata",), lines.get(())), "metadata.name", "missing; server-side apply needs a name")
            )
        elif meta.get("generateName"):
            self.problems.append(Problem(shown, lines.get(("metadata",)), "metadata.generateName", "not supported; give a name"))
        for at, message in walk_placeholders(doc, {NAMESPACE}):
            self.problems.append(Problem(shown, _line(lines, at), _dotted(at), message))
        return len(self.problems) == before


def _line(lines: Lines, at: tuple) -> int | None:
    while at and at not in lines:
        at = at[:-1]
    return lines.get(at)


def _dotted(at: tuple) -> str:
    from .yamlfile import dotted

    return dotted(at)


# -- from the validated lab file to the engine's plain data ---------------------------

def _lab(parsed: Any, folder: _LabFolder, lines: Lines) -> Lab:
    return Lab(
        id=parsed.id,
        title=parsed.title,
        summary=parsed.summary,
        difficulty=Difficulty(parsed.difficulty),
        minutes=parsed.minutes,
        topics=tuple(parsed.topics),
        requires=tuple(parsed.requires or ()),
        images=tuple(parsed.images or ()),
        steps=tuple(_step(step, ("steps", i), folder, lines) for i, step in enumerate(parsed.steps)),
        path=folder.root,
    )


def _step(step: Any, at: tuple, folder: _LabFolder, lines: Lines) -> Step:
    text = folder.markdown(step.text) if step.text else ""
    common = dict(id=step.id, title=step.title, text=text, text_path=Path(step.text) if step.text else None,
                  topics=tuple(step.topics or ()))
    if isinstance(step, fmt.QuizStep):
        quiz = step.quiz
        return Step(**common, quiz=Quiz(question=quiz.question, choices=tuple(Choice(c.id, c.text) for c in quiz.choices),
                                        answer=quiz.answer, explanation=quiz.explanation or ""))
    return Step(
        **common,
        setup=_actions(step.setup, folder),
        checks=tuple(_check(check, at + ("checks", i), i, folder, lines) for i, check in enumerate(step.checks)),
        hints=tuple(step.hints or ()),
        solution=Solution(actions=_actions(step.solution, folder), explanation=step.solution.explanation or ""),
        cleanup=_actions(step.cleanup, folder),
        wrong=tuple(_answer(answer, folder) for answer in step.wrong or ()),
        alternatives=tuple(_answer(answer, folder) for answer in step.alternatives or ()),
    )


def _actions(actions: fmt.Actions | None, folder: _LabFolder) -> Actions:
    if actions is None:
        return Actions()
    return Actions(
        apply=tuple(folder.manifest(relative) for relative in actions.apply or ()),
        delete=tuple(ObjectRef(kind=r.kind, name=r.name, api_version=r.apiVersion, namespace=r.namespace)
                     for r in actions.delete or ()),
        wait=tuple(_wait(w) for w in actions.wait or ()),
    )


def _wait(wait: fmt.Wait) -> WaitSpec:
    value = wait.value
    return WaitSpec(
        kind=wait.kind,
        name=wait.name,
        selector=wait.selector,
        api_version=wait.apiVersion,
        condition=wait.condition,
        jsonpath=wait.jsonpath,
        value=None if value is None else str(value).lower() if isinstance(value, bool) else str(value),
        deleted=bool(wait.deleted),
        timeout=float(wait.timeout if wait.timeout is not None else fmt.WAIT_TIMEOUT_DEFAULT),
    )


def _answer(answer: fmt.Alternative, folder: _LabFolder) -> Answer:
    fails = getattr(answer, "fails", {}) or {}
    return Answer(
        id=answer.id,
        title=answer.title,
        do=tuple(ActionGroup(actions=_actions(group, folder), run=group.run or "", namespace=group.namespace or "")
                 for group in answer.do),
        fails={check_id: (texts,) if isinstance(texts, str) else tuple(texts) for check_id, texts in fails.items()},
    )


def _check(check: Any, at: tuple, index: int, folder: _LabFolder, lines: Lines) -> CheckSpec:
    params = check.params()
    for key, spec in check.check_kind.params.items():
        if spec.file and key in params:
            params[key] = folder.manifest(params[key])
    return CheckSpec(id=check.id or f"{check.kind}-{index + 1}", kind=check.kind, params=params,
                     title=check.title or "", line=lines.get(at))
