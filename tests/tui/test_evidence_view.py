"""`e` in the lab view shows the evidence of the selected check, driven with a Pilot in a real (headless)
terminal over the fake at the TUI's boundary (tests/tui/conftest.py). That the evidence is right is the
engine's tests' job; here: the key opens it, it shows what the check expected and saw, its events and the
command to reproduce it, and the check looked at stays selected."""

from __future__ import annotations

import pytest

from labrunner.tui.app import LabApp
from labrunner.tui.screens.evidence import EvidenceScreen
from labrunner.tui.screens.help import HelpScreen
from labrunner.tui.screens.lab_view import LabViewScreen

from .pilot import shown_messages, shown_status, text_of, wait_for


def checks_shown(app) -> str:  # noqa: ANN001
    """The check panel's table as text, as the terminal shows it."""
    table = app.screen.query_one("#check-results").content
    return "".join(segment.text for segment in app.console.render(table, app.console.options.update_width(60)))


def make_app(backend, labs, tmp_path) -> LabApp:  # noqa: ANN001
    return LabApp(backend, labs, progress_path=tmp_path / "progress.json", namespaces={"demo": "tui-demo"})


@pytest.mark.asyncio
async def test_e_shows_expected_observed_events_and_the_command_of_the_selected_check(fake_backend, demo_labs,
                                                                                      tmp_path):
    app = make_app(fake_backend(), demo_labs, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen), what="the lab view")
        await wait_for(pilot, lambda: shown_status(app) == "fail", what="the first report")
        assert "Service web exists" in checks_shown(app) and "▸" not in checks_shown(app)  # none selected yet
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvidenceScreen), what="the evidence")
        shown = text_of(app, "#evidence-text")
        assert "Service web exists" in shown and "Service/web does not exist yet" in shown
        assert "Expected  exists" in shown and "Observed  does not exist" in shown
        assert "Warning FailedCreate Service/web: Service web was refused (x2)" in shown
        assert "kubectl -n tui-demo describe service web" in shown
        assert "check 1 of 1" in app.screen.query_one("#evidence-box").border_title
        await pilot.press("y")
        assert app.clipboard == "kubectl -n tui-demo describe service web"
        await pilot.press("right")  # one check: stays on it
        assert "Expected  exists" in text_of(app, "#evidence-text")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen), what="back in the lab view")
        await wait_for(pilot, lambda: "▸ Service web exists" in checks_shown(app),
                       what="the check looked at, selected")


@pytest.mark.asyncio
async def test_a_wrong_quiz_answers_evidence_never_gives_the_answer_away(fake_backend, demo_labs, tmp_path):
    backend = fake_backend()
    app = make_app(backend, demo_labs, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown_status(app) == "fail", what="the first report")
        await pilot.press("s", "y", "a", "y")
        await wait_for(pilot, lambda: shown_status(app) == "pass", what="checks to pass")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen.step.id == "policies")
        await pilot.press("down", "enter")  # a) None: wrong
        await wait_for(pilot, lambda: "not right" in shown_messages(app))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EvidenceScreen), what="the evidence")
        shown = text_of(app, "#evidence-text")
        assert "Expected  the right choice" in shown and "Observed  a) None" in shown
        assert "Every pod in the cluster" not in shown


@pytest.mark.asyncio
async def test_e_before_any_report_says_so_and_help_lists_the_evidence_keys(fake_backend, demo_labs, tmp_path):
    app = make_app(fake_backend(reachable=False), demo_labs, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LabViewScreen), what="the lab view")
        await wait_for(pilot, lambda: app.screen.banner.display, what="the banner")
        await pilot.press("e")
        await pilot.pause()
        assert not isinstance(app.screen, EvidenceScreen)
        assert any("No check has reported yet" in n.message for n in app._notifications)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one("#help-keys").content
        rendered = "".join(segment.text for segment in app.console.render(table, app.console.options.update_width(70)))
        assert "Evidence" in rendered and "Next check" in rendered and "Copy the first command" in rendered


def test_the_evidence_text_lists_probes_reviews_events_and_only_failing_commands():
    from dataclasses import replace

    from labrunner.checks import AccessReview, CheckResult, EventNote, Evidence, ProbeCell
    from labrunner.tui.screens.evidence import evidence_text

    blocked = ProbeCell("pod shell", "service db", 5432, "deny", "pass", "blocked (timeout)", denied_by="ingress",
                        reproduce="kubectl -n lab exec shell -- /agnhost connect 10.96.14.2:5432 --timeout=1s")
    open_ = ProbeCell("pod shell", "service api", 80, "allow", "fail", "refused",
                      reproduce="kubectl -n lab exec shell -- /agnhost connect 10.96.0.9:80 --timeout=1s")
    review = AccessReview({"spec": {"user": "jane", "resourceAttributes": {"verb": "delete", "resource": "pods"}}},
                          allowed=True, expected="denied", reason="RoleBinding edit",
                          reproduce="kubectl auth can-i delete pods --as=jane")
    result = replace(CheckResult.failed("pod shell -> service api:80 should be allowed: refused", evidence=Evidence(
        probes=(blocked, open_), reviews=(review,),
        events=(EventNote("Warning", "FailedScheduling", "0/1 nodes", "Pod/api-1", 3),))), title="api open", check_id="c")
    shown = evidence_text(result).plain
    assert "Expected" not in shown  # the facts of this check are its probes
    assert "\nProbes\n  [pass] pod shell -> service db:5432: expected deny, observed blocked (timeout)\n" \
           "  [fail] pod shell -> service api:80: expected allow, observed refused" in shown
    assert "SubjectAccessReview verb=delete, resource=pods for user jane groups -: allowed (expected denied)" in shown
    assert "\nEvents\n  Warning FailedScheduling Pod/api-1: 0/1 nodes (x3)" in shown
    assert "10.96.0.9:80" in shown.split("Reproduce")[1] and "10.96.14.2" not in shown.split("Reproduce")[1]
    assert "kubectl auth can-i delete pods --as=jane" in shown.split("Reproduce")[1]
    bare = evidence_text(replace(CheckResult.failed("no"), check_id="b")).plain
    assert "This check gave no evidence beyond its message." in bare and "Reproduce" not in bare
