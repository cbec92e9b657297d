"""The whole hostile-IdP catalogue against the federation's own SPs,
in-process: Modigia (an SP of Cerbère) and Mon Espace's SP toward CSAM.
The baseline logs in; every hostile case is refused. These SPs publish no
encryption key: the encryption cases that need one are skipped, saying so,
and an EncryptedAssertion (for a key they do not have) is refused. Each
SP's run is made once, then each case is its own test."""
from __future__ import annotations

import pytest

from fedsim_harness.attack import driver, sp
from fedsim_harness.attack.catalogue import CATALOGUE
from fedsim_harness.pytest_plugin import _in_process

SPS = ("modigia", "monespace")
# Cases our SPs get wrong today: each is a finding, reported, not weakened.
KNOWN: dict[str, str] = {}


@pytest.fixture(scope="module")
def attacked(request: pytest.FixtureRequest):
    """``attacked(sp) -> {case id: Result}``, the catalogue run once per SP."""
    federation = _in_process(request.config)
    done: dict[str, dict[str, driver.Result]] = {}

    def results(name: str) -> dict[str, driver.Result]:
        if name not in done:
            federation.reset()
            done[name] = {r.case.id: r for r in driver.run(sp.in_process(federation, name), CATALOGUE)}
        return done[name]

    return results


def _params() -> list:
    return [pytest.param(name, case.id, id=f"{name}-{case.id}",
                         marks=[pytest.mark.xfail(strict=True, reason=KNOWN[case.id])] if case.id in KNOWN else [])
            for name in SPS for case in CATALOGUE]


@pytest.mark.parametrize(("sp_name", "case_id"), _params())
def test_our_sp_refuses_the_case(attacked, sp_name: str, case_id: str) -> None:
    result = attacked(sp_name)[case_id]
    expected = driver.LOGGED_IN if case_id == "baseline" else \
        driver.SKIPPED if result.case.skip is not None else driver.REFUSED
    assert result.verdict == expected, f"{result.verdict}: {result.detail} ({result.case.title})"
    if expected == driver.SKIPPED:
        assert "encryption key" in result.detail, result.detail
    if case_id == "encrypted-to-foreign-key":
        assert "aucune clé de chiffrement" in result.detail, result.detail
