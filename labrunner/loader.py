"""Find labs on disk and validate them completely before any cluster work.

The lab file is validated by the models of `labrunner.format` (pydantic); the
files it names are read here, through the lab folder. Every problem is
collected (not just the first), each naming the file, the line, the field and
what was expected. A valid lab becomes the plain data of `labrunner.model`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import LabFormatError, Problem, capped
from .format import lab as fmt
from .format.context import Context
from .format.curriculum import CurriculumFile
from .format.placeholders import MAX_SHOWN, NAMESPACE, counted_placeholders, walk_placeholders
from .format.problems import line_of, problems_of
from .format.values import is_id
from .labfolders import (  # re-exported: the loader's public names
    CURRICULUM_FILE,
    LAB_FILE,
    BrokenLab,
    LoadReport,
    _printable,
    _shown,
    default_labs_dir,
    find_curriculum,
    find_lab_dirs,
)
from .labfiles import Budget, FileRefused, decode_text, path_problem, read_regular_file, resolve_inside
from .manifestrules import Outside, object_problems, read_outside
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
from .yamlfile import Lines, YamlError, dotted, parse_yaml_documents, read_yaml



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
    order = tuple(parsed.order or ())
    return Curriculum(topics=dict(parsed.topics), concept_only=frozenset(parsed.concept or ()), order=order,
                      order_lines=tuple(line_of(lines, ("order", i)) for i in range(len(order))))


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
    path = None
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
    report.labs = in_learning_order(report.labs, curriculum.order)
    if path is not None and _holds_course(root, path):
        report.problems.extend(_unknown_in_order(curriculum, report, path))
    return report


def in_learning_order(labs: list[Lab], order: tuple[str, ...]) -> list[Lab]:
    """`labs` in the curriculum's `order`; the labs it does not name after them, as they came (by folder)."""
    rank = {lab_id: i for i, lab_id in enumerate(order)}
    return sorted(labs, key=lambda lab: rank.get(lab.id, len(rank)))  # sorted() is stable: the rest keep their order


def _holds_course(root: Path, curriculum_path: Path) -> bool:
    """Whether loading `root` loads every lab of the curriculum's course: `root` is the curriculum's
    folder or holds it. (`validate labs/netpol` loads one lab: the order's other ids are not missing.)"""
    try:
        root, course = root.resolve(), curriculum_path.parent.resolve()
    except (OSError, RuntimeError):
        return False
    return course == root or root in course.parents


def _unknown_in_order(curriculum: Curriculum, report: LoadReport, path: Path) -> list[Problem]:
    """A Problem for each id of the curriculum's `order` that is no lab (nor a broken lab's folder)."""
    known = {lab.id for lab in report.labs} | {broken.name for broken in report.broken}
    return [Problem(_shown(path), line, dotted(("order", i)),
                    f"no lab has the id {lab_id!r}; expected the id of a lab in this folder "
                    f"({', '.join(sorted(known)) or 'none'})")
            for i, (lab_id, line) in enumerate(zip(curriculum.order, curriculum.order_lines)) if lab_id not in known]


def _read_lab(lab_dir: Path, curriculum: Curriculum) -> tuple[Lab | None, list[Problem]]:
    """One lab folder, read so that nothing in it can stop the other labs from loading."""
    try:
        return read_lab(lab_dir, curriculum)
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
    """One lab folder; raises LabFormatError listing all problems."""
    lab, problems = read_lab(Path(lab_dir), curriculum)
    if problems or lab is None:
        raise LabFormatError(problems)
    return lab


def read_lab(lab_dir: Path, curriculum: Curriculum) -> tuple[Lab | None, list[Problem]]:
    """(the lab, []) or (None, every problem): the lab file by the format's models, then its files."""
    from .checks import check_kinds

    lab_dir = Path(lab_dir)
    folder = _LabFolder(lab_dir)
    shown = _shown(lab_dir / LAB_FILE)
    try:
        data, lines = read_yaml(resolve_inside(folder.root, LAB_FILE), shown_as=shown, budget=folder.budget)
    except FileRefused as exc:
        return None, [Problem(shown, exc.line, "", exc.message)]
    except YamlError as exc:
        return None, [exc.problem]
    folder.expect(data)
    model = fmt.lab_file_model(check_kinds())
    context = Context(folder=folder, curriculum=curriculum, outside=folder.outside)
    try:
        parsed = model.model_validate(data, context=context)
    except ValidationError as exc:
        return None, capped(problems_of(exc, model, file=shown, lines=lines) + folder.problems)
    problems = folder.problems + _foreign_deletes(parsed, folder, lines, shown)
    if problems:
        return None, capped(problems)
    return _lab(parsed, folder, lines), []


def _foreign_deletes(parsed: Any, folder: "_LabFolder", lines: Lines, shown: str) -> list[Problem]:
    """A Problem for each cluster-scoped object a delete names that no manifest of the lab creates
    (and `outside:` does not declare): known only once every manifest is read."""
    from .manifestrules import foreign_delete_problem
    from .model import NAMESPACE_PLACEHOLDER

    fill = folder.lab_namespace
    created = {(doc.get("kind"), str(doc.get("metadata", {}).get("name", "")).replace(NAMESPACE_PLACEHOLDER, fill))
               for manifest, _ in folder._manifests.values() if manifest is not None
               for doc in manifest.documents if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict)}
    found = []
    for i, step in enumerate(parsed.steps):
        groups = [(("steps", i, key), getattr(step, key, None)) for key in ("setup", "solution", "cleanup")]
        for key in ("wrong", "alternatives"):
            for j, answer in enumerate(getattr(step, key, None) or ()):
                groups += [(("steps", i, key, j, "do", g), group) for g, group in enumerate(answer.do)]
        for at, actions in groups:
            for k, ref in enumerate(getattr(actions, "delete", None) or ()):
                message = foreign_delete_problem(ref.kind, ref.name.replace(NAMESPACE_PLACEHOLDER, fill), created=created,
                                                 outside=folder.outside)
                if message:
                    path = at + ("delete", k)
                    found.append(Problem(shown, line_of(lines, path), dotted(path), message))
    return found



MAX_MARKDOWN_BLOCKS = 300  # the shipped step texts hold up to 25; Textual's Markdown makes a widget per block
MAX_MARKDOWN_LINES = 3000  # lines of text a block count is worth reading for (markdown-it: ~0.4 s)


def markdown_too_long(text: str) -> str | None:
    """What is wrong with a step text too long to show, or None.

    The TUI's Markdown widget builds one widget per block (paragraph, list item, heading, fence):
    measured, 2,000 list items took 54 s and 339 MiB to show, so a text of a few kilobytes could
    freeze the lab view. A block needs a line of its own, so a short text is never parsed; a long
    one is parsed by markdown-it (Textual's own Markdown parser) and its blocks counted.
    """
    lines = sum(1 for line in text.splitlines() if line.strip())
    if lines <= MAX_MARKDOWN_BLOCKS:
        return None
    if lines > MAX_MARKDOWN_LINES:
        return f"holds {lines} lines of text, over the {MAX_MARKDOWN_LINES} a step text may have; split the step"
    from markdown_it import MarkdownIt  # only for long texts: the TUI depends on it already

    blocks = sum(1 for token in MarkdownIt("commonmark").parse(text)
                 if token.block and (token.nesting == 1 or token.type in ("fence", "code_block", "hr", "html_block")))
    if blocks > MAX_MARKDOWN_BLOCKS:
        return (f"holds {blocks} Markdown blocks (paragraphs, list items, headings, code), over the "
                f"{MAX_MARKDOWN_BLOCKS} a step text may have; split the step")
    return None


class _LabFolder:
    """The files of one lab folder, read once each: the `Folder` the format's models consult.

    Only regular files inside the folder are read, within the lab's budget (see labfiles).
    `check_markdown` and `check_manifest` say what is wrong with a reference from the lab
    file (it is reported there); what is wrong inside a manifest is a problem of that
    file, collected in `problems`.
    """

    def __init__(self, lab_dir: Path):
        self.root = Path(os.path.realpath(lab_dir))
        self.budget = Budget()  # bytes and YAML values over every file of this lab
        self.outside = Outside()  # what lab.yaml declares beyond its namespace
        self.lab_namespace = "lab-x"  # fills ${LAB_NAMESPACE} when manifest names are judged
        self.problems: list[Problem] = []
        self._texts: dict[str, tuple[str | None, str | None]] = {}  # (text, problem) by file
        self._manifests: dict[str, tuple[Manifest | None, str | None]] = {}  # (manifest, problem) by file

    def expect(self, data: Any) -> None:
        """What judging manifests and deletes needs from lab.yaml before its steps: `outside:` and the
        lab namespace. Read tolerantly; what is wrong with them the lab file's model reports."""
        if not isinstance(data, dict):
            return
        self.outside, _ = read_outside(data.get("outside"))
        if isinstance(data.get("id"), str) and is_id(data["id"]):
            self.lab_namespace = f"lab-{data['id']}"

    def check_markdown(self, relative: str) -> str | None:
        target, problem = self.resolve(relative, suffixes=(".md",))
        if target is None:
            return problem
        key = str(target)
        if key not in self._texts:
            self._texts[key] = self._read_text(target, relative)
        text, problem = self._texts[key]
        if text is None:
            return problem
        if not text.strip():
            return f"{relative!r} is empty: write what the learner reads in this step (Markdown)"
        # Said at the reference in lab.yaml, with the text's own line: the step text has no fields.
        wrong, more = [], 0
        for number, line in enumerate(text.splitlines(), 1):
            if "${" in line:
                found, uncounted = counted_placeholders(line, {NAMESPACE}, limit=max(0, MAX_SHOWN - len(wrong)))
                wrong += [f"line {number}: {message}" for message in found]
                more += uncounted
        if more:
            wrong.append(f"and {more} more unknown placeholder{'s' if more != 1 else ''}")
        too_long = markdown_too_long(text)
        if too_long:
            wrong.append(too_long)
        return f"{relative!r} {'; '.join(wrong)}" if wrong else None

    def markdown(self, relative: str) -> str:
        """The text of a step, read by `check_markdown` during validation."""
        return self._texts[str(self.resolve(relative)[0])][0] or ""

    def check_manifest(self, relative: str) -> str | None:
        target, problem = self.resolve(relative, suffixes=(".yaml", ".yml"))
        if target is None:
            return problem
        key = str(target)
        if key not in self._manifests:
            self._manifests[key] = self._read_manifest(target, relative)
        return self._manifests[key][1]  # what is wrong inside the manifest is reported in the manifest

    def manifest(self, relative: str) -> Manifest:
        """A manifest, read and checked by `check_manifest` during validation."""
        found = self._manifests[str(self.resolve(relative)[0])][0]
        assert found is not None, "a lab with a bad manifest is never built"
        return found

    # -- files -----------------------------------------------------------
    def resolve(self, relative: str, *, suffixes: tuple[str, ...] = ()) -> tuple[Path | None, str]:
        """(the file inside the lab folder, "") or (None, what is wrong with `relative`) (see labfiles)."""
        message = path_problem(relative)
        if message is None:
            try:
                target = resolve_inside(self.root, relative)
            except FileRefused as exc:
                message = exc.message
        if message is not None:
            return None, message
        if suffixes and target.suffix not in suffixes:
            return None, f"{relative!r}: expected a {' or '.join(suffixes)} file"
        return target, ""

    def _read_text(self, target: Path, relative: str) -> tuple[str | None, str | None]:
        try:
            return decode_text(read_regular_file(target, budget=self.budget)), None
        except FileRefused as exc:
            return None, f"{relative}:{exc.line}: {exc.message}" if exc.line else f"{relative!r}: {exc.message}"

    def _read_manifest(self, target: Path, relative: str) -> tuple[Manifest | None, str | None]:
        shown = _shown(target)
        try:
            data = read_regular_file(target, budget=self.budget)
        except FileRefused as exc:
            return None, f"{relative!r}: {exc.message}"
        try:
            documents = parse_yaml_documents(data, shown_as=shown, budget=self.budget)
        except YamlError as exc:
            self.problems.append(exc.problem)
            return None, None
        parsed = []
        ok = True
        for doc, lines in documents:
            if doc is None:
                continue
            ok &= self._check_object(doc, lines, shown)
            parsed.append(doc)
        if not parsed:
            self.problems.append(Problem(shown, None, "", "holds no Kubernetes object"))
            return None, None
        if not ok:
            return None, None
        return Manifest(path=Path(relative), documents=tuple(parsed)), None

    def _check_object(self, doc: Any, lines: Lines, shown: str) -> bool:
        found = object_problems(doc, lines, file=shown, lab_namespace=self.lab_namespace, outside=self.outside)
        found += [Problem(shown, line_of(lines, at), dotted(at), message) for at, message in walk_placeholders(doc, {NAMESPACE})]
        self.problems.extend(found)
        return not found


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
        not_shareable=_not_shareable(parsed.workshop),
    )


def _not_shareable(decl: Any) -> str:
    """The lab file's reason seats cannot share a cluster for it; "" when they can."""
    if decl is None or decl.shareable is not False:
        return ""
    return decl.reason or "its lab file says it cannot be shared"


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
        requires=tuple(step.requires or ()),
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
