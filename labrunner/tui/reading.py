"""The Markdown of the reading pane: step text, revealed hints, the solution."""

from __future__ import annotations

from pathlib import Path

from ..model import Lab, Step


def reading_markdown(lab: Lab, step: Step, *, namespace: str, hints_shown: int, solution_shown: bool) -> str:
    render_text = Lab.render

    parts = [f"# {step.title}"]
    if step.text:
        parts.append(render_text(lab, step.text, namespace=namespace).strip())
    if step.quiz:
        parts.append(f"**{step.quiz.question}**")
        parts.append("Pick an answer below and press Enter.")
    for number, hint in enumerate(step.hints[:hints_shown], 1):
        parts.append(f"> **Hint {number} of {len(step.hints)}**: {render_text(lab, hint, namespace=namespace)}")
    if solution_shown and step.solution is not None:
        parts.append("## Solution")
        if step.solution.explanation:
            parts.append(render_text(lab, step.solution.explanation, namespace=namespace).strip())
        for manifest in step.solution.actions.apply:
            text = _manifest_text(lab, manifest.path)
            parts.append(f"`{manifest.path}`\n\n```yaml\n{render_text(lab, text, namespace=namespace).rstrip()}\n```")
        parts.append("Press **a** to apply it to the cluster.")
    return "\n\n".join(parts) + "\n"


def _manifest_text(lab: Lab, relative: Path) -> str:
    """The manifest as its file says now, read as safely as when the lab loaded: it may have
    been swapped since for a FIFO or a link out of the lab folder."""
    import os

    from ..labfiles import FileRefused, decode_text, read_regular_file, resolve_inside

    try:
        return decode_text(read_regular_file(resolve_inside(Path(os.path.realpath(lab.path)), str(relative))))
    except FileRefused as exc:
        return f"# cannot show {relative}: {exc.message}"
