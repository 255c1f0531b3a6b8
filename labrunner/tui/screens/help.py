"""Every key of every screen, read from the screens' own bindings."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def keys_of(cls: type) -> list[tuple[str, str]]:
    """(keys, description) from a class's BINDINGS and its bases', first binding wins."""
    seen: dict[str, tuple[str, str]] = {}
    for klass in cls.__mro__:
        for binding in getattr(klass, "BINDINGS", ()):
            if not isinstance(binding, Binding):
                binding = Binding(*binding)
            if binding.action in seen or not binding.description:
                continue
            keys = binding.key_display or binding.key.replace(",", " / ")
            seen[binding.action] = (keys, binding.description)
    return list(seen.values())


def help_table(sections: list[tuple[str, type]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column("key", style="bold", no_wrap=True, min_width=10)
    table.add_column("what")
    for title, cls in sections:
        table.add_row(f"[underline]{title}[/]", "")
        for keys, description in keys_of(cls):
            table.add_row(keys, description)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close help")]

    def __init__(self, sections: list[tuple[str, type]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_table(self.sections), id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "Keys (esc closes)"

    def action_close(self) -> None:
        self.dismiss(None)
