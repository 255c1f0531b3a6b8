"""The lab namespace, live: pods, Services, NetworkPolicies, PVCs."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..resources import NamespaceView

_PHASE_STYLE = {"Running": "green", "Succeeded": "green", "Bound": "green", "Pending": "yellow", "Failed": "red",
                "Lost": "red", "Terminating": "dim"}


def view_text(view: NamespaceView) -> Text:
    """States first, then names: in a narrow panel a long name is what gets cut."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if view.empty:
        text.append("nothing here yet", style="italic")
        return text
    if view.pods:
        text.append("Pods\n", style="bold underline")
        for name, phase, ready, note in view.pods:
            text.append(f" {phase}", style=_PHASE_STYLE.get(phase, "red"))
            text.append(f" {ready} ")
            text.append(name + (f" ({note})" if note else "") + "\n", style="dim" if note else "bold")
    if view.services:
        text.append("Services\n", style="bold underline")
        for name, kind, cluster_ip, ports, external in view.services:
            text.append(f" {name} ", style="bold")
            text.append(f"{kind}\n   {cluster_ip} {ports}" + (f" → {external}" if external else "") + "\n")
    if view.policies:
        text.append("NetworkPolicies\n", style="bold underline")
        for name, selector, types in view.policies:
            text.append(f" {name} ", style="bold")
            text.append(f"{types}\n   {selector}\n")
    if view.claims:
        text.append("PersistentVolumeClaims\n", style="bold underline")
        for name, phase, capacity, storage_class in view.claims:
            text.append(f" {phase}", style=_PHASE_STYLE.get(phase, "yellow"))
            text.append(f" {capacity} {storage_class} ")
            text.append(f"{name}\n", style="bold")
    return text


class ResourcePanel(VerticalScroll):
    def compose(self):  # noqa: ANN201
        yield Static(Text("listing…", style="italic"), id="resource-list")

    def on_mount(self) -> None:
        self.border_title = "Namespace"

    def show(self, namespace: str, view: NamespaceView | None, error: str = "") -> None:
        self.border_title = f"Namespace {namespace}"
        body = self.query_one("#resource-list", Static)
        if error:
            body.update(Text(f"cannot list: {error}", style="yellow"))
        elif view is not None:
            body.update(view_text(view))
