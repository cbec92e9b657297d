"""The same driver over real HTTP (requests), against Modigia on a port."""
from __future__ import annotations

from fedsim_harness.attack import catalogue, driver, sp, targets


def test_a_few_cases_against_modigia_over_http(live_federation) -> None:
    settings = live_federation.settings
    setup = sp.over_http(settings, targets.builtin(settings, "modigia"))
    cases = catalogue.select(ids=["xsw3", "comment-in-nameid", "replay-response-other-browser",
                                  "relaystate-offsite", "login-next-scheme-relative"])
    verdicts = {r.case.id: r.verdict for r in driver.run(setup, cases)}
    assert verdicts == {"baseline": driver.LOGGED_IN, "xsw3": driver.REFUSED, "comment-in-nameid": driver.REFUSED,
                        "replay-response-other-browser": driver.REFUSED, "relaystate-offsite": driver.REFUSED,
                        "login-next-scheme-relative": driver.REFUSED}
