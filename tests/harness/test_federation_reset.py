"""Federation.reset puts every database and the clock back to the state the
federation was built in, and keeps keys and files."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from fedsim.db import Database
from fedsim.mailbox.store import StoredMessage
from fedsim.sessions import StoredSession
from fedsim_harness.scenario import model
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.scenario.runner import Runner
from fedsim_harness.stack import APP_NAMES, Federation, start_in_process

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

# Jean logs in with the PIN of personas.yaml: the card must open with it.
ORIGINAL_PIN = """
name: jean-original-pin
persona: jean
steps:
  - {guide: G01, open: "monespace:/"}
  - {guide: G02, click: Me connecter}
  - {guide: G03, click: IDENTIFICATION avec un lecteur de cartes eID}
  - guide: G03
    submit: {card: "{persona.card.number}", pin: "{persona.card.pin}"}
    button: Se connecter
    expect: ["MON TABLEAU DE BORD"]
"""


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory):
    federation = start_in_process(tmp_path_factory.mktemp("reset"))
    yield federation
    federation.close()


def run(federation: Federation, scenario: model.Scenario):
    return Runner(Browser(WsgiTransport(federation.wsgi_by_netloc())), federation.urls).run(scenario)


def sessions_stored(federation: Federation) -> int:
    total = 0
    for name in APP_NAMES:
        with Database.factory(federation.apps[name])() as db:
            total += db.scalar(select(func.count()).select_from(StoredSession))
    return total


def mail_stored(federation: Federation) -> int:
    with federation.mailbox.extensions["mailbox.sessions"]() as db:
        return db.scalar(select(func.count()).select_from(StoredMessage))


def test_reset_brings_back_the_original_pin_and_empties_mail_and_sessions(fed: Federation, tmp_path: Path):
    fed.reset()
    changed = run(fed, model.find(SCENARIOS, "eid-card-blocked-and-puk"))  # Jean's PIN becomes 8642
    assert changed.ok, changed.describe_failure()
    mailed = run(fed, model.find(SCENARIOS, "email-code-login"))
    assert mailed.ok, mailed.describe_failure()
    assert sessions_stored(fed) > 0 and mail_stored(fed) > 0

    path = tmp_path / "jean-original-pin.yaml"
    path.write_text(ORIGINAL_PIN, encoding="utf-8")
    assert not run(fed, model.load(path)).ok  # the PIN of personas.yaml no longer opens the card

    ms = fed.reset()
    print(f"reset took {ms:.1f} ms")
    assert sessions_stored(fed) == 0
    assert mail_stored(fed) == 0
    again = run(fed, model.load(path))
    assert again.ok, again.describe_failure()


def test_reset_restores_every_row_of_every_table(fed: Federation):
    fed.reset()
    before = _all_rows(fed)
    assert run(fed, model.find(SCENARIOS, "eid-first-login")).ok  # an account, a dossier, Modigia rows, mail
    assert _all_rows(fed) != before
    fed.reset()
    assert _all_rows(fed) == before


def test_every_table_of_every_database_is_in_the_snapshot(fed: Federation):
    assert len(fed.snapshot.databases) == 4  # the three apps' and the mailbox's
    for database in fed.snapshot.databases:
        assert {t.name for t in database.tables} == set(inspect(database.engine).get_table_names())
    snapshotted = {t.name for database in fed.snapshot.databases for t in database.tables}
    assert {"eid_card", "account", "message", StoredSession.__tablename__, "saml_seen_assertion"} <= snapshotted


def test_reset_puts_the_clock_back_and_keeps_key_files(fed: Federation):
    fed.reset()
    certs = fed.settings.certs_dir
    files_before = {p: p.stat().st_mtime_ns for p in certs.rglob("*") if p.is_file() and "eid" in p.parts}
    before = os.environ.get("FEDSIM_CLOCK_OFFSET")
    os.environ["FEDSIM_CLOCK_OFFSET"] = "86400"
    try:
        assert run(fed, model.find(SCENARIOS, "bel-foreign-national")).ok  # registers someone without a card
        fed.reset()
        assert os.environ.get("FEDSIM_CLOCK_OFFSET") == before
    finally:
        if before is None:
            os.environ.pop("FEDSIM_CLOCK_OFFSET", None)
        else:
            os.environ["FEDSIM_CLOCK_OFFSET"] = before
    # no card was made for the BEL registration: the eID chips and CRL are those of the seeding
    files_after = {p: p.stat().st_mtime_ns for p in certs.rglob("*") if p.is_file() and "eid" in p.parts}
    assert files_after == files_before


def _all_rows(federation: Federation) -> dict[str, list[tuple]]:
    rows = {}
    for database in federation.snapshot.databases:
        with database.engine.connect() as connection:
            for table in database.tables:
                key = f"{database.engine.url.database}:{table.name}"
                rows[key] = sorted(tuple(map(repr, r)) for r in connection.execute(table.select()))
    return rows


def test_identity_providers_keep_no_assertion_in_memory(fed: Federation):
    """pysaml2's IdPs would keep every assertion they issue in a dict that
    only grows; ours keep none (fedsim.saml.idp.NoAssertionStore)."""
    fed.reset()
    csam = fed.apps["idp_csam"].extensions["idp_csam.idp"].server
    assert run(fed, model.find(SCENARIOS, "eid-returning-user")).ok
    assert not getattr(csam.session_db, "assertion", None)
