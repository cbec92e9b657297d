"""The scripted journeys, end to end, in-process, on the session's
federation, reset before each test (the plugin's ``federation`` fixture)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from fedsim.db import Database
from fedsim.personas import by_id
from monespace.models import Account

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
ALL_SCENARIOS = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_every_scenario_passes(run_scenario, name: str):
    result = run_scenario(name)
    assert len(result.steps) == len(result.scenario.steps)


def test_eid_first_login_creates_an_active_account_with_a_cerbere_identifier(federation, run_scenario):
    run_scenario("eid-first-login")
    app = federation.apps["monespace"]
    with Database.factory(app)() as db:
        account = db.scalars(select(Account).where(Account.nrn == by_id("naima").nrn)).one()
        assert account.is_active
        assert account.cerbere_username == "nmremi"
        assert [d.demarche_code for d in account.dossiers] == ["NAID"]


def test_eid_returning_user_goes_straight_in(run_scenario):
    result = run_scenario("eid-returning-user")
    assert not any("G09" in s.step.guide for s in result.steps)
