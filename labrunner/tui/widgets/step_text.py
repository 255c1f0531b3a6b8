"""The reading pane: Markdown whose code blocks are numbered for copying."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownFence


class StepFence(MarkdownFence):
    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False, dark: bool = False) -> Content:
        # A fence without a language would make Pygments guess, loading every
        # lexer it has: half a second of frozen UI. Plain text is the honest default.
        return super().highlight(code, language or "text", ansi=ansi, dark=dark)


class StepText(Markdown):
    BLOCKS = {**Markdown.BLOCKS, "fence": StepFence, "code_block": StepFence}

    async def show(self, markdown: str) -> None:
        await self.update(markdown)
        for number, fence in enumerate(self.code_blocks(), 1):
            fence.border_title = f"key {number} copies" if number <= 9 else ""

    def code_blocks(self) -> list[MarkdownFence]:
        return list(self.query(MarkdownFence))
