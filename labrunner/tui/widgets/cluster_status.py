"""The status line: the kubeconfig context, the server, and whether it answers."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..backend import ClusterInfo


class ClusterStatus(Static):
    def show_probing(self) -> None:
        self.update(Text("◌ contacting the cluster…", style="italic"))

    def show(self, info: ClusterInfo, version: str, error: str) -> None:
        text = Text()
        where = info.context or info.server
        if error:
            text.append("✘ ", style="bold red")
            text.append(f"{where} unreachable: " if where else "No cluster: ", style="bold")
            text.append(error)
            text.append("  (r retries)", style="italic")
        else:
            text.append("● ", style="bold green")
            text.append(f"{where}", style="bold")
            text.append(f"  {info.server}  Kubernetes {version}")
        self.update(text)
