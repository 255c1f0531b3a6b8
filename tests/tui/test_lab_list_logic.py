"""What the lab list says about progress and cluster features."""

from labrunner.progress import Progress
from labrunner.capabilities import Capability, unmet_cached
from labrunner.tui.widgets.lab_table import cluster_cell, progress_cell


def _found(**states):  # noqa: ANN003, ANN202
    return {name.replace("_", "-"): Capability(name.replace("_", "-"), state, "seen", "the fix") for name, state in states.items()}


def test_only_features_known_missing_count_as_missing():
    unmet = unmet_cached(_found(networkpolicy=False, nodeport=None), ("networkpolicy", "nodeport"))
    assert [u.requirement for u in unmet] == ["networkpolicy"] and unmet[0].fix == "the fix"
    assert unmet_cached({}, ("networkpolicy",)) == []  # not detected yet


def test_cells(demo_labs):
    lab = demo_labs[0]
    assert cluster_cell(lab, None, True).plain == "checking…"
    assert cluster_cell(lab, _found(networkpolicy=False), True).plain == "✘ networkpolicy"
    assert cluster_cell(lab, _found(networkpolicy=True), True).plain == "ok"
    assert cluster_cell(lab, None, False).plain == "?"
    progress = Progress()
    assert progress_cell(lab, progress).plain == "0/2"
    progress.lab("demo").step("web-service").status = "passed"
    assert progress_cell(lab, progress).plain == "1/2"
