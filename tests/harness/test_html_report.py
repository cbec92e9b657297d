"""The HTML report of a run (fedsim_harness.scenario.html_report): one
self-contained file with every scenario and step, each SAML message decoded
with its signatures verified against the federation's metadata, the XML
escaped, and what the page said when a step failed."""
from __future__ import annotations

import dataclasses
import re
from html import escape
from pathlib import Path

from fedsim.federation import entities
from fedsim_harness.scenario import model
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.scenario.html_report import render_html, write_html
from fedsim_harness.scenario.runner import Runner, ScenarioResult
from fedsim_harness.stack import Federation

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def run(federation: Federation, scenario: model.Scenario) -> ScenarioResult:
    browser = Browser(WsgiTransport(federation.wsgi_by_netloc()))
    return Runner(browser, federation.urls).run(scenario)


def scenario_file(tmp_path: Path, text: str) -> model.Scenario:
    path = tmp_path / "made-up.yaml"
    path.write_text(text, encoding="utf-8")
    return model.load(path)


def visible(html: str) -> str:
    """The report's text without its tags, entities decoded (what a reader sees, roughly)."""
    from html import unescape
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_a_run_shows_every_scenario_step_and_decoded_saml_message(federation: Federation, tmp_path: Path) -> None:
    scenario = model.find(SCENARIOS, "eid-returning-user")
    result = run(federation, scenario)
    assert result.ok, result.describe_failure()

    path = write_html([result], tmp_path / "out" / "report.html", title="Run <42>",
                      certs_dir=federation.settings.certs_dir)
    html = path.read_text(encoding="utf-8")

    # self-contained, titled, escaped title
    assert html.startswith("<!DOCTYPE html>") and "<title>Run &lt;42&gt;</title>" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no external asset"
    assert "<script" not in html
    # the summary table and the scenario, each step with its guide steps and what it says
    assert f'href="#scenario-{scenario.name}"' in html and f'id="scenario-{scenario.name}"' in html
    assert html.count('class="step ok"') == len(scenario.steps)
    for index, step in enumerate(scenario.steps, 1):
        assert f"Step {index} · {escape(', '.join(step.guide))}" in html
        assert escape(step.say) in html
    for guide in scenario.guide_steps:
        assert guide in html

    # the CSAM Response of the first login, as a person reads it
    table = entities(federation.settings)
    csam, portal = table["csam-idp"], table["monespace-sp"]
    text = visible(html)
    assert f"Response (HTTP-POST): csam-idp (CSAM) → {portal.url('acs')}" in text
    assert f"From (Issuer) {csam.entity_id} — csam-idp (CSAM)" in text
    assert f"Audience {portal.entity_id}" in text
    assert re.search(r"NameID [0-9a-f]{64} \(format persistent\)", text)
    assert "Level (AuthnContextClassRef) urn:be:fedict:iam:fas:Level" in text
    assert re.search(r"Valid \(Conditions NotBefore → NotOnOrAfter\) \S+Z → \S+Z", text)
    assert re.search(r"givenName\s+Jean", text) and "egovNRN" in text
    assert "Status Success" in text and "IssueInstant" in text
    assert re.search(r"Response: signature verified \(RSA-SHA256\) with csam-idp \(CSAM\), "
                     r"certificate SHA-256 ([0-9A-F]{2}:){7}[0-9A-F]{2}…", text)
    assert re.search(r"Assertion: signature verified \(RSA-SHA256\) with csam-idp", text)
    assert re.search(r"AuthnRequest \(query string\): signature verified \(RSA-SHA256\) with monespace-sp", text)
    assert "LogoutRequest (HTTP-Redirect)" in text and "LogoutResponse (HTTP-Redirect)" in text
    assert "NOT verified" not in text
    # the XML one click away, escaped
    # (the prefixes are pysaml2's: ns0:, or samlp: once anything in the process registered that name
    # with ElementTree, which is process-global)
    assert re.search(r"<details><summary>XML of the Response</summary><pre>&lt;\w+:Response ", html)
    assert not re.search(r"<\w+:Response", html) and re.search(r"&lt;\w+:SignatureValue&gt;", html)


def test_a_tampered_message_is_shown_as_not_verified(federation: Federation, tmp_path: Path) -> None:
    result = run(federation, model.find(SCENARIOS, "eid-returning-user"))
    step = next(s for s in result.steps if any(m.kind == "SAMLResponse" and "Assertion" in m.raw for m in s.saml))
    genuine = next(m for m in step.saml if m.kind == "SAMLResponse")
    forged = dataclasses.replace(genuine, raw=genuine.raw.replace(">Jean<", ">Mallory<"))
    assert forged.raw != genuine.raw
    step.saml = [forged]

    text = visible(render_html([result], certs_dir=federation.settings.certs_dir))
    assert "a signature is NOT verified" in text
    assert re.search(r"Response: signature NOT verified: no key of \S+ in metadata verifies it", text)
    assert re.search(r"Assertion: signature NOT verified", text)
    assert "Mallory" in text


def test_a_failing_step_shows_its_error_and_the_page_text(federation: Federation, tmp_path: Path) -> None:
    scenario = scenario_file(tmp_path, """
name: made-up
title: "A <b>bold</b> title"
persona: jean
steps:
  - {guide: G01, say: "Home <script>alert(1)</script>", open: "monespace:/", expect: ["Me connecter"]}
  - {guide: G02, say: "Expect what is not there", click: Me connecter, expect: ["Bienvenue <chez> nous"]}
  - {guide: G03, say: "Never reached", click: IDENTIFICATION avec un lecteur de cartes eID}
""")
    result = run(federation, scenario)
    assert not result.ok and result.failure.index == 2

    html = render_html([result])
    assert "<script>alert(1)</script>" not in html and escape("Home <script>alert(1)</script>") in html
    assert "<b>bold</b>" not in html
    text = visible(html)
    assert "FAIL made-up" in text and "step 2 (G02): expected the page to show « Bienvenue <chez> nous »" in text
    failed = html[html.index("FAILED</span> Step 2"):]
    assert escape("expected the page to show « Bienvenue <chez> nous »") in failed
    assert "The page said" in failed
    assert escape("S'identifier à l'administration en ligne") in failed  # CSAM's page, quoted
    assert "not run</span> Step 3 · G03" in html
    assert "signatures not checked" in text  # no metadata given: said, not claimed verified
    assert "signatures not checked (no metadata in " in render_html([result], certs_dir=tmp_path / "nothing-here")


def test_a_scenario_that_never_ran_and_hostile_message_content_are_escaped(federation: Federation,
                                                                          tmp_path: Path) -> None:
    placeholder = model.Scenario(name="broken <file>", title="", persona="", steps=())
    never = ScenarioResult(placeholder, error="the file does not load: <oops>")
    result = run(federation, model.find(SCENARIOS, "eid-returning-user"))
    step = next(s for s in result.steps if any(m.kind == "SAMLResponse" for m in s.saml))
    genuine = next(m for m in step.saml if m.kind == "SAMLResponse")
    hostile = "&lt;img src=x onerror=alert(1)&gt;"  # as XML text: the attribute value is <img …>
    assert ">Jean<" in genuine.raw
    step.saml = [dataclasses.replace(genuine, raw=genuine.raw.replace(">Jean<", f">{hostile}<"))]

    html = render_html([never, result], certs_dir=federation.settings.certs_dir)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "broken &lt;file&gt;" in html and "the file does not load: &lt;oops&gt;" in html
    assert 'href="#scenario-broken-file"' in html


def test_the_itsme_leg_shows_its_openid_connect_messages_decoded(federation: Federation, tmp_path: Path) -> None:
    """The authorization request (with its signed request object) and the
    authorization response cross the browser: the report decodes them."""
    result = run(federation, model.find(SCENARIOS, "itsme-login"))
    assert result.ok, result.describe_failure()
    text = visible(render_html([result], certs_dir=federation.settings.certs_dir))
    assert "OIDC authorization request" in text and "JWTs decoded, not verified" in text
    assert "client_id" in text and "request header alg=RS256" in text
    assert "request requested claims" in text
    assert "OIDC authorization response" in text
