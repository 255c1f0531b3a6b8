"""What the lab list says about progress and cluster features."""

from labrunner.progress import Progress
from labrunner.tui.features import missing_features
from labrunner.tui.widgets.lab_table import cluster_cell, progress_cell


def test_only_features_known_missing_count_as_missing():
    assert missing_features(("networkpolicy", "nodeport"), {"networkpolicy": False, "nodeport": None}) == ["networkpolicy"]
    assert missing_features(("networkpolicy",), None) == []  # not detected yet


def test_cells(demo_labs):
    lab = demo_labs[0]
    assert cluster_cell(lab, None, True).plain == "checking…"
    assert cluster_cell(lab, {"networkpolicy": False}, True).plain == "✘ networkpolicy"
    assert cluster_cell(lab, {"networkpolicy": True}, True).plain == "ok"
    assert cluster_cell(lab, None, False).plain == "?"
    progress = Progress()
    assert progress_cell(lab, progress).plain == "0/2"
    progress.lab("demo").step("web-service").status = "passed"
    assert progress_cell(lab, progress).plain == "1/2"
