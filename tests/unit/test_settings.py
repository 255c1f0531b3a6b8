"""The settings object: each LABRUNNER_* variable read when used, a bad one named with its form."""

from pathlib import Path

import pytest

from labrunner.errors import UsageError
from labrunner.settings import DEFAULT_PROBE_IMAGE, TIMEOUTS, Settings, settings


def test_unset_and_empty_variables_give_the_defaults():
    assert Settings.from_env({}) == Settings.from_env({"LABRUNNER_LABS": "", "LABRUNNER_NODE_ADDRESS": ""})
    found = Settings.from_env({})
    assert found.labs is None and found.nodeport_range == (30000, 32767) and found.probe_image == DEFAULT_PROBE_IMAGE
    assert found.timeouts is TIMEOUTS and TIMEOUTS.confirm_pass_after == 1.5


def test_each_variable_sets_its_field():
    found = Settings.from_env({"LABRUNNER_LABS": "/labs", "LABRUNNER_STATE_DIR": "/state",
                               "LABRUNNER_NODE_ADDRESS": "10.0.0.5", "LABRUNNER_INGRESS_ADDRESS": "10.0.0.6",
                               "LABRUNNER_NODEPORT_RANGE": "31000-31999", "LABRUNNER_PROBE_IMAGE": "mirror/agnhost:2.56",
                               "LABRUNNER_UNRELATED": "ignored"})
    assert (found.labs, found.state_dir) == (Path("/labs"), Path("/state"))
    assert (found.node_address, found.ingress_address) == ("10.0.0.5", "10.0.0.6")
    assert found.nodeport_range == (31000, 31999) and found.probe_image == "mirror/agnhost:2.56"


@pytest.mark.parametrize("value", ["abc", "32000-31000", "30000", "-1-5"])
def test_a_variable_that_does_not_parse_is_named_with_its_form(value):
    with pytest.raises(UsageError, match=rf"LABRUNNER_NODEPORT_RANGE='{value}': expected LOW-HIGH, such as 30000-32767"):
        Settings.from_env({"LABRUNNER_NODEPORT_RANGE": value})


def test_the_environment_is_read_when_a_setting_is_used(monkeypatch, tmp_path):
    from labrunner.progress import progress_path

    monkeypatch.setenv("LABRUNNER_STATE_DIR", str(tmp_path / "later"))
    assert settings().state_dir == tmp_path / "later"
    assert progress_path().parent == tmp_path / "later"


def test_a_bad_variable_is_bad_input_on_the_command_line(monkeypatch, capsys):
    from labrunner import cli

    monkeypatch.setenv("LABRUNNER_NODEPORT_RANGE", "30000")
    assert cli.main(["list"]) == 2
    assert "LABRUNNER_NODEPORT_RANGE='30000': expected LOW-HIGH" in capsys.readouterr().err
