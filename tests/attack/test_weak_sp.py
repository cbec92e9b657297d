"""The catalogue finds the holes of an SP that skips the checks."""
from __future__ import annotations

import dataclasses

import pytest
from weak_sp_app import ACS, ENTITY_ID, HOST, create_app

from fedsim import certs
from fedsim.federation import entities
from fedsim.saml.encryption import PUBLISHED_METHODS
from fedsim_harness.attack import driver, report
from fedsim_harness.attack.targets import Target

CASES = ("xsw3-unsigned-response", "xsw3", "strip-both-victim", "rogue-key-both-victim", "hmac-sha256-cert-key",
         "comment-in-attributes", "entity-in-nameid", "expired-conditions", "audience-other", "unsolicited",
         "status-responder-with-assertion", "replay-response-other-browser", "relaystate-offsite",
         "relaystate-javascript", "relaystate-scheme-relative", "login-next-scheme-relative", "not-base64")


@pytest.fixture
def weak(federation, fedsim_attack, tmp_path):
    def run(cases=CASES, rotate: bool = True, groups=(), encrypting: bool = False):
        sso = entities(federation.settings)["cerbere-idp"].url("sso")
        target = Target(ENTITY_ID, "cerbere", f"http://{HOST}/login?next=/home", f"http://{HOST}/home",
                        acs_url=ACS, name="weak SP")
        key_file = None
        if encrypting:  # it publishes an encryption key and says it demands encrypted assertions
            key_pem, cert_pem = certs.self_signed("weak SP encryption")
            key_file = tmp_path / "weak-enc.key"
            key_file.write_bytes(key_pem)
            target = dataclasses.replace(target, encryption_cert="".join(cert_pem.decode().split("-----")[2].split()),
                                         encryption_methods=PUBLISHED_METHODS, demands_encryption=True)
        app = create_app(sso, rotate=rotate, encryption_key=key_file)
        results = fedsim_attack(target, groups=groups, cases=cases, wsgi={HOST: app})
        return {r.case.id: r for r in results}
    return run


def test_the_weak_sp_is_caught_on_every_relevant_case(weak) -> None:
    results = weak()
    verdicts = {case: r.verdict for case, r in results.items()}
    assert verdicts["baseline"] == driver.LOGGED_IN
    for case in ("xsw3-unsigned-response", "xsw3", "strip-both-victim", "rogue-key-both-victim",
                 "hmac-sha256-cert-key", "comment-in-attributes", "entity-in-nameid",
                 "replay-response-other-browser"):
        assert verdicts[case] == driver.VICTIM, (case, results[case].detail)
    for case in ("expired-conditions", "audience-other", "unsolicited", "status-responder-with-assertion"):
        assert verdicts[case] == driver.ACCEPTED, (case, results[case].detail)
    for case in ("relaystate-offsite", "relaystate-javascript", "relaystate-scheme-relative",
                 "login-next-scheme-relative"):
        assert verdicts[case] == driver.OFFSITE, (case, results[case].detail)
    assert verdicts["not-base64"] == driver.REFUSED
    assert not report.passed(list(results.values()))


def test_a_session_kept_across_the_login_is_reported(weak) -> None:
    results = weak(cases=("baseline",), rotate=False)
    assert [r.verdict for r in results.values()] == [driver.NOT_ROTATED]


def test_the_weak_sp_is_caught_on_the_encryption_cases(weak) -> None:
    """It decrypts, but verifies nothing and takes a plain assertion though
    it wants encrypted ones: the encryption group says so, case by case."""
    results = weak(cases=(), groups=("encryption",), encrypting=True)
    verdicts = {case: r.verdict for case, r in results.items()}
    assert verdicts["baseline"] == driver.LOGGED_IN, results["baseline"].detail  # encrypted for its key
    assert verdicts["encrypted-baseline"] == driver.LOGGED_IN
    for case in ("encrypted-plain-to-demanding-sp", "encrypted-assertion-unsigned", "encrypted-response-unsigned"):
        assert verdicts[case] == driver.ACCEPTED, (case, results[case].detail)
    for case in ("encrypted-nothing-signed-victim", "encrypted-rogue-signed-victim", "encrypted-plain-victim-first",
                 "encrypted-swapped-after-signing-victim", "encrypted-content-comment-victim"):
        assert verdicts[case] == driver.VICTIM, (case, results[case].detail)
    for case in ("encrypted-aes128-cbc", "encrypted-key-rsa-1_5", "encrypted-to-foreign-key",
                 "encrypted-ciphertext-tampered"):
        assert verdicts[case] == driver.REFUSED, (case, results[case].detail)
    assert not report.passed(list(results.values()))


def test_against_an_sp_without_a_key_the_encryption_cases_are_skipped(weak) -> None:
    results = weak(cases=(), groups=("encryption",))
    assert results["baseline"].verdict == driver.LOGGED_IN
    assert results["encrypted-to-foreign-key"].verdict == driver.REFUSED  # it finds no NameID in clear
    skipped = {case for case, r in results.items() if r.verdict == driver.SKIPPED}
    assert skipped == set(results) - {"baseline", "encrypted-to-foreign-key"}
    assert "publishes no encryption key" in results["encrypted-aes128-cbc"].detail
    assert report.passed(list(results.values()))
