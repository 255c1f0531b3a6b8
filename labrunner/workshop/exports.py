"""A workshop's results to keep: the room grid (grid.room_grid) as CSV, JUnit XML or one HTML page.

- CSV: one row per seat, lab and step (RFC 4180, with a header row);
- JUnit XML: one `testsuite` per seat, one `testcase` per lab step (classname `<seat>.<lab>`); a step
  failing holds a `failure`, one in error an `error`, one not started is `skipped` (junit.py says which
  subset of the format this is and why);
- HTML: one self-contained page (inline CSS, no script, no link to fetch) an instructor can mail:
  the grid of seats by steps, then the stuck seats. Every value is escaped.
"""

from __future__ import annotations

import csv
import html
import io
import xml.etree.ElementTree as ET
from typing import Any

from ..junit import xml_safe
from .grid import STUCK_MINUTES

FORMATS = ("csv", "junit", "html")
_MARK = {"passed": "✔", "failing": "✘", "error": "!", "not-started": "·"}


def _cells(grid: dict[str, Any]):  # noqa: ANN202 - yields (seat row, lab id, step cell)
    for row in grid["seats"]:
        for lab in grid["labs"]:
            for step in row["labs"][lab["id"]]["steps"]:
                yield row, lab["id"], step


def to_csv(grid: dict[str, Any]) -> str:
    """seat,lab,step,state,attempts,hints,current,minutesOnStep,stuck: one row per seat, lab and step."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["seat", "lab", "step", "state", "attempts", "hints", "current", "minutesOnStep", "stuck"])
    for row, lab_id, step in _cells(grid):
        cell = row["labs"][lab_id]
        current = cell["current"] == step["id"]
        writer.writerow([row["seat"], lab_id, step["id"], step["state"], step["attempts"], step["hints"],
                         "yes" if current else "", cell["minutesOnStep"] if current and cell["minutesOnStep"] is not None else "",
                         "yes" if current and cell["stuck"] else ""])
    return out.getvalue()


def to_junit(grid: dict[str, Any]) -> bytes:
    """The grid as JUnit XML (UTF-8, with its declaration)."""
    root = ET.Element("testsuites", {"name": xml_safe(f"labrunner workshop {grid['workshop']}")})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for row in grid["seats"]:
        suite = ET.SubElement(root, "testsuite", {"name": xml_safe(row["seat"]), "timestamp": grid["at"][:19]})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for lab in grid["labs"]:
            for step in row["labs"][lab["id"]]["steps"]:
                counts["tests"] += 1
                case = ET.SubElement(suite, "testcase", {"classname": xml_safe(f"{row['seat']}.{lab['id']}"),
                                                         "name": xml_safe(step["id"]), "time": "0.000"})
                said = f"attempts {step['attempts']}, hints {step['hints']}"
                if step["state"] == "failing":
                    counts["failures"] += 1
                    ET.SubElement(case, "failure", {"type": "fail", "message": xml_safe(f"not passed yet ({said})")})
                elif step["state"] == "error":
                    counts["errors"] += 1
                    ET.SubElement(case, "error", {"type": "error", "message": xml_safe(f"a check could not run ({said})")})
                elif step["state"] == "not-started":
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", {"message": "not started"})
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:center}
th.seat,td.seat{text-align:left}.passed{background:#d7f5d7}.failing{background:#f9d6d5}.error{background:#fde9b8}
.not-started{color:#999}.stuck td.seat{font-weight:bold;background:#f9d6d5}caption{text-align:left;font-weight:bold}
"""


def to_html(grid: dict[str, Any]) -> str:
    """One self-contained HTML page of the grid (UTF-8 text)."""
    e = html.escape
    head = "".join(f'<th colspan="{len(lab["steps"])}">{e(lab["id"])}</th>' for lab in grid["labs"])
    steps = "".join(f"<th>{e(step)}</th>" for lab in grid["labs"] for step in lab["steps"])
    rows = []
    for row in grid["seats"]:
        cells = []
        for lab in grid["labs"]:
            cell = row["labs"][lab["id"]]
            for step in cell["steps"]:
                here = cell["current"] == step["id"] and cell["minutesOnStep"] is not None
                note = f" {cell['minutesOnStep']} min" if here else ""
                title = f"{step['state']}, attempts {step['attempts']}, hints {step['hints']}{note}"
                cells.append(f'<td class="{e(step["state"])}" title="{e(title)}">{_MARK.get(step["state"], "?")}'
                             f'{e(note)}</td>')
        hints = sum(c["hints"] for c in row["labs"].values())
        rows.append(f'<tr class="{"stuck" if row["stuck"] else ""}"><td class="seat">{e(row["seat"])}</td>'
                    f'{"".join(cells)}<td>{hints}</td></tr>')
    stuck = ", ".join(e(s) for s in grid["stuck"]) or "none"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Workshop {e(grid['workshop'])}</title><style>{_STYLE}</style></head><body>"
            f"<h1>Workshop {e(grid['workshop'])}</h1><p>Results at {e(grid['at'])}. "
            "✔ passed, ✘ failing, ! error (a check could not run), · not started.</p>"
            f"<table><caption>Seats by steps</caption><thead><tr><th class=\"seat\" rowspan=\"2\">seat</th>{head}"
            f"<th rowspan=\"2\">hints</th></tr><tr>{steps}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p id=\"stuck\">Stuck ({STUCK_MINUTES:.0f} minutes or more on one step): {stuck}</p></body></html>\n")


def export(grid: dict[str, Any], fmt: str) -> bytes:
    """The grid in `fmt` (one of FORMATS) as bytes to write."""
    if fmt == "csv":
        return to_csv(grid).encode("utf-8")
    if fmt == "junit":
        return to_junit(grid)
    if fmt == "html":
        return to_html(grid).encode("utf-8")
    raise ValueError(fmt)
