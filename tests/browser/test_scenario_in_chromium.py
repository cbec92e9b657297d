"""The YAML scenarios in a real Chromium (fedsim_harness.scenario.chromium):
a shipped scenario runs unchanged against the federation served on real
ports, with a screenshot after each step in the HTML report; a failing one
keeps its Playwright trace."""
from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path

import pytest

from fedsim.federation import Settings
from fedsim_harness.scenario import model
from fedsim_harness.scenario.chromium import BrowserStepResult, free_ports, run_in_chromium
from fedsim_harness.scenario.html_report import write_html
from fedsim_harness.serve import ServedFederation

pytestmark = pytest.mark.browser
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def served_in_range(tmp_path: Path):
    """The federation on free ports between 5000 and 5999 (the SMTP sink's too)."""
    monespace, csam, modigia, mailbox, smtp = free_ports(5)
    settings = dataclasses.replace(
        Settings(), certs_dir=tmp_path / "certs", instance_dir=tmp_path / "instance", monespace_port=monespace,
        csam_port=csam, modigia_port=modigia, mailbox_port=mailbox, smtp_port=smtp)
    federation = ServedFederation(settings).start()
    yield federation
    federation.stop()


def test_eid_first_login_runs_in_chromium_with_a_screenshot_per_step(served_in_range, chromium_executable: Path,
                                                                     tmp_path: Path) -> None:
    scenario = model.find(SCENARIOS, "eid-first-login")
    [result] = run_in_chromium([scenario], served_in_range, artifacts_dir=tmp_path / "artifacts",
                               executable=chromium_executable)

    assert result.ok, result.describe_failure()
    assert len(result.steps) == len(scenario.steps)
    assert all(isinstance(s, BrowserStepResult) and s.screenshot.startswith(PNG) for s in result.steps)
    assert result.trace == "" and not (tmp_path / "artifacts").exists()  # a trace is kept only on failure
    # the SAML messages the page's requests carried, every step's
    kinds = [m.kind for s in result.steps for m in s.saml]
    assert kinds.count("SAMLResponse") >= 2 and "SAMLRequest" in kinds

    html = write_html([result], tmp_path / "report.html", certs_dir=served_in_range.settings.certs_dir).read_text()
    assert html.count('src="data:image/png;base64,') == len(scenario.steps)
    for index in range(1, len(scenario.steps) + 1):
        assert f"Screenshot after step {index}<" in html
    assert "Response (HTTP-POST): csam-idp (CSAM)" in html and "Response (HTTP-POST): cerbere-idp (Cerbère Citoyen)" \
        in html
    assert re.search(r"Response:</b> signature verified \(RSA-SHA256\) with csam-idp", html)
    assert "NOT verified" not in html


def test_a_failing_scenario_keeps_its_trace_and_shows_the_page(served_in_range, chromium_executable: Path,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text("""
name: wrong-expectation
persona: naima
steps:
  - {guide: G01, say: "Mon Espace", open: "monespace:/", expect: ["Me connecter"]}
  - {guide: G02, say: "Me connecter", click: Me connecter, expect: ["Ce texte n'y est pas"]}
""", encoding="utf-8")
    [result] = run_in_chromium([model.load(path)], served_in_range, artifacts_dir=tmp_path / "artifacts",
                               executable=chromium_executable)

    assert not result.ok and result.failure.index == 2
    assert "expected the page to show « Ce texte n'y est pas »" in result.failure.error
    assert "S'identifier à l'administration en ligne" in result.failure.page_said
    assert result.failure.url.startswith(served_in_range.urls["idp_csam"])
    assert [m.kind for m in result.failure.saml] == ["SAMLRequest"]  # Mon Espace's AuthnRequest to CSAM
    trace = Path(result.trace)
    assert trace == tmp_path / "artifacts" / "wrong-expectation.trace.zip" and zipfile.is_zipfile(trace)
    assert all(s.screenshot.startswith(PNG) for s in result.steps)

    html = write_html([result], tmp_path / "report.html").read_text()
    assert "wrong-expectation.trace.zip" in html and "The page said" in html
