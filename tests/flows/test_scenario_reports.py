"""What a failing scenario tells the person reading the CI log."""
from __future__ import annotations

from pathlib import Path

import pytest

from fedsim_harness.scenario import model, report
from fedsim_harness.scenario.runner import Runner

FAILING = """
name: wrong-expectation
persona: naima
steps:
  - {guide: G01, say: "Accueil", open: "monespace:/"}
  - {guide: G02, say: "Me connecter", click: Me connecter}
  - {guide: G03, say: "Lecteur eID", click: IDENTIFICATION avec un lecteur de cartes eID}
  - guide: G03
    say: Code PIN
    submit: {card: "{persona.card.number}", pin: "{persona.card.pin}"}
    button: Se connecter
    expect: ["Ce texte n'existe pas"]
  - {guide: G11, say: "jamais exécuté", open: "monespace:/tableau-de-bord"}
"""


def test_a_failing_step_names_its_guide_step_expectation_page_and_saml_messages(tmp_path: Path, federation, browser):
    path = tmp_path / "wrong-expectation.yaml"
    path.write_text(FAILING, encoding="utf-8")
    result = Runner(browser, federation.urls).run(model.load(path))

    assert not result.ok
    assert [s.ok for s in result.steps] == [True, True, True, False]  # stops at the failure
    text = result.describe_failure()
    assert "step 4 (G03 « Code PIN »)" in text
    assert "« Ce texte n'existe pas »" in text
    assert "/compte/creation (HTTP 200)" in text
    assert "VOTRE COMPTE MON ESPACE" in text  # what the page said
    assert "SAMLResponse to http://localhost:5000/saml/sp/acs" in text and "egovNRN" in text
    assert report.text([result]).splitlines()[-1] == "0 passed, 1 failed"


def test_junit_report_marks_the_failed_scenario(tmp_path: Path, federation, browser):
    path = tmp_path / "wrong-expectation.yaml"
    path.write_text(FAILING, encoding="utf-8")
    result = Runner(browser, federation.urls).run(model.load(path))
    report.write_junit([result], tmp_path / "junit.xml")
    xml = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert 'failures="1"' in xml and 'name="wrong-expectation"' in xml and "step 4" in xml


@pytest.mark.parametrize("step, complaint", [
    ("{say: x, open: 'monespace:/'}", "'guide' must name guide steps"),
    ("{guide: G27, open: 'monespace:/'}", "'guide' must name guide steps"),
    ("{guide: G01}", "exactly one action"),
    ("{guide: G01, open: 'monespace:/', click: x}", "exactly one action"),
])
def test_scenario_files_are_checked_when_loaded(tmp_path: Path, step: str, complaint: str):
    path = tmp_path / "broken.yaml"
    path.write_text(f"name: broken\npersona: naima\nsteps:\n  - {step}\n", encoding="utf-8")
    with pytest.raises(model.ScenarioError, match=complaint):
        model.load(path)


def test_every_shipped_scenario_loads_and_names_guide_steps():
    scenarios = model.load_all(Path(__file__).resolve().parents[2] / "scenarios")
    assert {s.name for s in scenarios} >= {"eid-first-login", "eid-returning-user"}
    first = next(s for s in scenarios if s.name == "eid-first-login")
    assert {"G01", "G02", "G03", "G09", "G11", "G12", "G13", "G14", "G15", "G16",
            "G22", "G24", "G25", "G26"} <= set(first.guide_steps)


def test_advance_clock_moves_the_shared_clock_in_process_only(tmp_path: Path, federation, browser):
    import os

    from fedsim_harness.scenario.browser import Browser, HttpTransport

    path = tmp_path / "clock.yaml"
    path.write_text("name: clock\nsteps:\n  - {guide: G01, open: 'monespace:/'}\n"
                    "  - {guide: G05, advance_clock: 60}\n", encoding="utf-8")
    scenario = model.load(path)
    before = os.environ.get("FEDSIM_CLOCK_OFFSET")
    assert Runner(browser, federation.urls).run(scenario).ok
    assert os.environ.get("FEDSIM_CLOCK_OFFSET") == before  # put back after the run

    clock_only = tmp_path / "clock-only.yaml"
    clock_only.write_text("name: clock-only\nsteps:\n  - {guide: G05, advance_clock: 60}\n", encoding="utf-8")
    over_http = Runner(Browser(HttpTransport()), federation.urls).run(model.load(clock_only))
    assert not over_http.ok and "advance_clock works only in-process" in over_http.describe_failure()
