"""The catalogue finds the holes of an SP that skips the checks."""
from __future__ import annotations

import pytest
from weak_sp_app import ACS, ENTITY_ID, HOST, create_app

from fedsim.federation import entities
from fedsim_harness.attack import driver, report
from fedsim_harness.attack.targets import Target

CASES = ("xsw3-unsigned-response", "xsw3", "strip-both-victim", "rogue-key-both-victim", "hmac-sha256-cert-key",
         "comment-in-attributes", "entity-in-nameid", "expired-conditions", "audience-other", "unsolicited",
         "status-responder-with-assertion", "replay-response-other-browser", "relaystate-offsite",
         "relaystate-javascript", "relaystate-scheme-relative", "login-next-scheme-relative", "not-base64")


@pytest.fixture
def weak(federation, fedsim_attack):
    def run(cases=CASES, rotate: bool = True):
        sso = entities(federation.settings)["cerbere-idp"].url("sso")
        target = Target(ENTITY_ID, "cerbere", f"http://{HOST}/login?next=/home", f"http://{HOST}/home",
                        acs_url=ACS, name="weak SP")
        results = fedsim_attack(target, cases=cases, wsgi={HOST: create_app(sso, rotate=rotate)})
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
