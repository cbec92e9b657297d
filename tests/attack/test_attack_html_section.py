"""The hostile-IdP catalogue in the scenario runner's HTML report: a section
per attacked SP with every case, its verdict, explanation and reference,
and the decoded AuthnRequest and forged Response (escaped)."""
from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

from click.testing import CliRunner

from fedsim_harness.attack import catalogue, driver, report
from fedsim_harness.attack.catalogue import BASELINE, CATALOGUE
from fedsim_harness.cli import cli
from fedsim_harness.scenario.html_report import render_html

XSW = next(c for c in CATALOGUE if c.id == "xsw1")
AUDIENCE = next(c for c in CATALOGUE if c.id == "audience-other")
HOSTILE = "</pre><script>alert('pwned')</script>"
REQUEST = ('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1"><saml:Issuer '
           'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp.example/</saml:Issuer>'
           '</samlp:AuthnRequest>')
RESPONSE = ('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" InResponseTo="_r1">'
            '<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">&lt;/pre&gt;&lt;script&gt;'
            "alert('pwned')&lt;/script&gt;</saml:NameID></samlp:Response>")


def _results() -> list[driver.Result]:
    return [
        driver.Result(BASELINE, driver.LOGGED_IN, "logged in, session cookie renewed", 302, 0.1, REQUEST, RESPONSE),
        driver.Result(XSW, driver.VICTIM, f"logged in as claire {HOSTILE}", 302, 0.1, REQUEST, RESPONSE,
                      HOSTILE),
        driver.Result(AUDIENCE, driver.REFUSED, "400 Audience", 400, 0.1, REQUEST, f"not XML {HOSTILE}"),
    ]


def test_the_report_has_a_section_per_run_with_every_case_and_its_messages() -> None:
    page = render_html([], attacks=[report.section(_results(), "Modigia")])
    assert "Hostile IdP against Modigia" in page and "FAIL: 3 cases" in page
    for case in (BASELINE, XSW, AUDIENCE):
        assert f"<code>{case.id}</code>" in page
        assert unescape(page).count(case.reference) >= 1
    assert '<span class="badge fail">VICTIM</span>' in page and '<span class="badge ok">refused</span>' in page
    # decoded and pretty-printed, one click away
    assert "<summary>AuthnRequest sent by the SP</summary><pre>&lt;samlp:AuthnRequest" in page
    assert "\n  &lt;saml:Issuer" in page
    assert "<summary>Forged Response (RelayState" in page


def test_hostile_content_in_messages_and_details_is_escaped() -> None:
    page = render_html([], attacks=[report.section(_results(), "<b>sp</b>")])
    assert "<script>" not in page and "</pre><script>" not in page
    assert "&lt;script&gt;alert(" in page
    assert "&lt;b&gt;sp&lt;/b&gt;" in page and "<b>sp</b>" not in page


def test_pretty_keeps_a_doctype_message_as_posted_and_survives_garbage() -> None:
    hostile = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aa">]><r>&a;</r>'
    assert report.pretty(hostile) == hostile
    assert report.pretty("not xml <") == "not xml <"
    assert report.pretty("<a><b/></a>") == "<a>\n  <b/>\n</a>"


def test_scenario_run_with_attack_writes_the_section(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["scenario", "run", "-j", "1", "help-centre-foreign-national", "--html", str(html),
                                      "--attack", "modigia", "--attack-group", "xml"])
    assert result.exit_code == 0, result.output
    assert "Hostile IdP against Modigia" in result.output and "PASS:" in result.output
    page = html.read_text(encoding="utf-8")
    assert 'href="#scenario-help-centre-foreign-national"' in page
    for case in catalogue.select(["xml"]):
        assert re.search(rf'id="attack-1-Modigia-{re.escape(case.id)}"', page), case.id
    assert "&lt;samlp:AuthnRequest" in page and "&lt;!DOCTYPE" in page  # the XXE cases, decoded and escaped
    assert "<!DOCTYPE html>" in page and page.count("<!DOCTYPE") == 1


def test_a_saved_attack_run_joins_the_report(tmp_path: Path) -> None:
    saved = tmp_path / "attack.json"
    saved.write_text(report.to_json(_results(), "Outside SP"), encoding="utf-8")
    html = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["scenario", "run", "-j", "1", "help-centre-foreign-national", "--html", str(html),
                                      "--attack-json", str(saved)])
    assert result.exit_code == 0, result.output  # a saved run is shown, not judged again
    page = html.read_text(encoding="utf-8")
    assert "Hostile IdP against Outside SP" in page and "<code>xsw1</code>" in page and "<script>" not in page


def test_attack_options_are_checked(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["scenario", "run", "--attack-group", "xml"]).exit_code == 2
    unknown = CliRunner().invoke(cli, ["scenario", "run", "--attack", "modigia", "--attack-group", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"not": "a run"}))
    assert CliRunner().invoke(cli, ["scenario", "run", "--attack-json", str(bad)]).exit_code == 2
