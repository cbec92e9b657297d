"""Reports of a run: JUnit, JSON, table, HTML."""
from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from fedsim_harness.attack import driver, report
from fedsim_harness.attack.catalogue import BASELINE, CATALOGUE

XSW = next(c for c in CATALOGUE if c.id == "xsw1")
AUDIENCE = next(c for c in CATALOGUE if c.id == "audience-other")
RELAY = next(c for c in CATALOGUE if c.id == "relaystate-offsite")


def _results() -> list[driver.Result]:
    return [
        driver.Result(BASELINE, driver.LOGGED_IN, "logged in", 302, 0.1, "<req/>", "<samlp:Response/>"),
        driver.Result(XSW, driver.VICTIM, "logged in as claire", 302, 0.1),
        driver.Result(AUDIENCE, driver.REFUSED, "400 Audience", 400, 0.1),
        driver.Result(RELAY, driver.OFFSITE, "redirected to https://evil.example/", 302, 0.1),
    ]


def test_junit_has_one_testcase_per_case_and_fails_the_failures() -> None:
    suite = ET.fromstring(report.junit(_results(), "modigia"))
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["baseline", "xsw1", "audience-other", "relaystate-offsite"]
    failed = {c.get("name"): c.find("failure") for c in cases}
    assert failed["baseline"] is None and failed["audience-other"] is None
    assert failed["xsw1"].get("type") == driver.VICTIM
    assert failed["relaystate-offsite"].get("type") == driver.OFFSITE
    assert suite.get("failures") == "2" and suite.get("tests") == "4"
    assert "Somorovsky" in cases[1].find("system-out").text


def test_a_harness_failure_is_a_junit_error() -> None:
    broken = [driver.Result(BASELINE, driver.HARNESS, "the correct Response did not log in")]
    suite = ET.fromstring(report.junit(broken, "sp"))
    assert suite.find("testcase/error") is not None and suite.get("errors") == "1"
    assert not report.passed(broken)


def test_passed_needs_the_baseline_and_no_failure() -> None:
    results = _results()
    assert not report.passed(results)
    assert report.passed([results[0], results[2]])
    assert not report.passed([results[2]])


def test_json_and_table_and_html() -> None:
    data = json.loads(report.to_json(_results(), "modigia"))
    assert data["passed"] is False and len(data["cases"]) == 4
    assert data["cases"][0]["authn_request"] == "<req/>"
    table = report.table(_results(), width=200)
    assert "! xsw1" in table and "  audience-other" in table
    page = report.html(_results(), "modigia")
    assert 'id="xsw1"' in page and "&lt;samlp:Response/&gt;" in page


def test_signature_values_are_shortened_for_reading() -> None:
    xml = "<ds:SignatureValue>AAAA</ds:SignatureValue><ds:X509Certificate>BBBB</ds:X509Certificate>"
    assert report.readable(xml) == ("<ds:SignatureValue>…</ds:SignatureValue>"
                                    "<ds:X509Certificate>…</ds:X509Certificate>")


def test_a_skipped_case_is_skipped_in_junit_and_not_a_failure() -> None:
    case = next(c for c in CATALOGUE if c.id == "encrypted-aes128-cbc")
    results = [driver.Result(BASELINE, driver.LOGGED_IN, "ok"),
               driver.Result(case, driver.SKIPPED, "the SP publishes no encryption key")]
    assert report.passed(results)
    suite = ET.fromstring(report.junit(results, "sp"))
    assert (suite.get("skipped"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")
    skipped = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert [c.get("name") for c in skipped] == ["encrypted-aes128-cbc"]
    assert "encryption key" in skipped[0].find("skipped").get("message")
