"""`check --junit FILE`: step reports as JUnit XML, the test report format CI services read.

The format has no single specification; this writes the subset that Jenkins, GitLab, GitHub
Actions reporters and Ant's own report all read (Ant's XMLJUnitResultFormatter is where it comes
from): a `testsuites` root; one `testsuite` per step checked, named LAB/STEP, with `tests`,
`failures`, `errors`, `skipped`, `time` (seconds) and `timestamp`; one `testcase` per check, with
`classname` LAB.STEP, `name` the check's title and `time` in seconds. A check that fails holds a
`failure` element, one that errors an `error` element, each with the message as its `message`
attribute, `type` fail or error, and the details and evidence (expected, observed, each probe cell, each
SubjectAccessReview, each Event, the commands that reproduce them) as its text; a passing check is a plain
testcase.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .checks import CheckResult, Status

if TYPE_CHECKING:
    from .report import StepReport

# Characters XML 1.0 cannot hold at all, not even escaped (its Char production): shown as \xNN.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` with every character XML 1.0 forbids (control characters such as ESC from a pod's log,
    lone surrogates) written as a Python escape (`\\x1b`), so the report always parses."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def failure_text(result: CheckResult) -> str:
    """The text of a failure or error element: the message, the details, then the evidence, one fact a line."""
    lines = [result.message, *result.details, *result.evidence.lines()]
    lines += [f"reproduce: {command}" for command in result.evidence.reproduce()]
    return "\n".join(lines)


def _names(results: Sequence[CheckResult]) -> list[str]:
    """Each check's testcase name: its title (its id without one), with the id added where titles repeat,
    since CI services tell testcases apart by classname and name."""
    titles = [r.title or r.check_id for r in results]
    return [f"{t} [{r.check_id}]" if titles.count(t) > 1 and r.check_id else t for t, r in zip(titles, results)]


def testsuite(report: "StepReport", *, timestamp: datetime | None = None) -> ET.Element:
    """One step's report as a `testsuite` element; `timestamp` (local time, default now) is when it ran."""
    results = report.results
    counts = {status: sum(1 for r in results if r.status is status) for status in Status}
    started = (timestamp or datetime.now()).replace(microsecond=0, tzinfo=None)
    suite = ET.Element("testsuite", {
        "name": xml_safe(f"{report.lab_id}/{report.step_id}"),
        "tests": str(len(results)),
        "failures": str(counts[Status.FAIL]),
        "errors": str(counts[Status.ERROR]),
        "skipped": "0",
        "time": _seconds(report.seconds),
        "timestamp": started.isoformat(),
    })
    properties = ET.SubElement(suite, "properties")
    for name, value in (("lab", report.lab_id), ("step", report.step_id), ("status", report.status.value),
                        ("attempts", str(report.attempts))):
        ET.SubElement(properties, "property", {"name": name, "value": xml_safe(value)})
    classname = xml_safe(f"{report.lab_id}.{report.step_id}")
    for name, result in zip(_names(results), results):
        case = ET.SubElement(suite, "testcase", {"name": xml_safe(name), "classname": classname,
                                                 "time": _seconds(result.seconds)})
        if result.status is not Status.PASS:
            tag = "failure" if result.status is Status.FAIL else "error"
            element = ET.SubElement(case, tag, {"message": xml_safe(result.message), "type": result.status.value})
            element.text = xml_safe(failure_text(result))
    return suite


def junit_xml(reports: Sequence["StepReport"], *, timestamp: datetime | None = None) -> bytes:
    """The JUnit XML document (UTF-8, with its declaration) of `reports`, one testsuite each."""
    root = ET.Element("testsuites", {
        "name": "labrunner",
        "tests": str(sum(len(r.results) for r in reports)),
        "failures": str(sum(1 for r in reports for c in r.results if c.status is Status.FAIL)),
        "errors": str(sum(1 for r in reports for c in r.results if c.status is Status.ERROR)),
        "skipped": "0",
        "time": _seconds(sum(r.seconds for r in reports)),
    })
    root.extend(testsuite(report, timestamp=timestamp) for report in reports)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, reports: Sequence["StepReport"]) -> None:
    """Write `junit_xml(reports)` to `path` whole or not at all (a temporary file in the same folder,
    then renamed over it), so a CI step reading it never sees half a report. Raises OSError."""
    data = junit_xml(reports)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
        os.chmod(handle.name, 0o644)  # a report, readable like any file the command writes; not 0600
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
