"""``/formateur`` on the mailbox app: the trainer console. For this machine
only (like /admin/sps); it lists every persona with its credentials, resets
the federation (the reset of /admin/reset), moves the federation's clock and
shows a live trace of the SAML messages of an in-process login."""
from __future__ import annotations

import html
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fedsim import clock, personas
from fedsim_harness import trainer
from fedsim_harness.scenario import model
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.scenario.runner import Runner
from fedsim_harness.stack import Federation, start_in_process
from monespace.models import Account

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
LOCAL = {"Origin": "http://localhost"}


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory):
    """An in-process federation of its own, the console installed before any request."""
    federation = start_in_process(tmp_path_factory.mktemp("trainer"))
    console = trainer.install(federation.mailbox, federation.settings)
    yield federation
    console.unsubscribe()
    federation.close()


@pytest.fixture
def console(fed: Federation, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(trainer.CLOCK_VARIABLE, raising=False)  # and back as it was after the test
    fed.mailbox.test_client().post("/admin/reset")
    return fed.mailbox.test_client()


def _accounts(fed: Federation) -> int:
    with fed.apps["monespace"].extensions["fedsim.db"]() as db:
        return db.scalar(select(func.count()).select_from(Account))


def _login(fed: Federation, scenario: str = "eid-first-login") -> None:
    browser = Browser(WsgiTransport(fed.wsgi_by_netloc()))
    result = Runner(browser, fed.urls).run(model.find(SCENARIOS, scenario))
    assert result.ok, result.describe_failure()


def test_the_console_refuses_other_machines_hosts_and_sites(console) -> None:
    page = console.get("/formateur", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert page.status_code == 403 and "this machine only" in page.text and "PIN" not in page.text
    assert console.get("/formateur/trace.json", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    for path in ("/formateur/reinitialiser", "/formateur/horloge"):
        assert console.post(path, data={"move": "1jour"}, headers=LOCAL,
                            environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
        refused = console.post(path, data={"move": "1jour"})  # no Origin, no Referer
        assert refused.status_code == 403 and "another site" in refused.text
        refused = console.post(path, data={"move": "1jour"}, headers={"Origin": "http://evil.example"})
        assert refused.status_code == 403 and "another site" in refused.text
    assert trainer.CLOCK_VARIABLE not in os.environ
    assert console.get("/formateur", headers={"Host": "rebound.example"}).status_code == 400  # DNS rebinding


def test_the_console_lists_every_persona_with_credentials(console) -> None:
    page = console.get("/formateur")
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert "script-src 'nonce-" in page.headers["Content-Security-Policy"]
    nonce = page.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page.text
    for persona in personas.load():
        assert f'id="persona-{persona.id}"' in page.text and persona.email in page.text
        if persona.card:
            assert persona.card.number in page.text and f"PIN <code>{persona.card.pin}</code>" in page.text
        assert persona.demonstrates in page.text.replace("&#39;", "'")
        if persona.csam:
            assert persona.csam.username in page.text and persona.csam.password in page.text
    assert "+32 470 11 22 33" in page.text and "14725" in page.text  # Naïma's itsme phone and code
    assert "autre carte (expirée) : <code>591-2208734-12</code>" in page.text
    assert "une carte révoquée : le refus de CSAM" in page.text
    assert "choix du contexte à la connexion" in page.text and "première connexion" in page.text
    assert "Sanne de Vries" in page.text  # a foreign national of the eIDAS nodes


def test_the_reset_button_resets_the_federation_and_the_trace(fed: Federation, console) -> None:
    before = _accounts(fed)
    _login(fed)
    assert _accounts(fed) == before + 1
    assert console.get("/formateur/trace.json").json["entries"]
    page = console.post("/formateur/reinitialiser", headers=LOCAL)
    assert page.status_code == 303 and "fait=reset" in page.headers["Location"]
    assert _accounts(fed) == before
    assert console.get("/formateur/trace.json").json["entries"] == []
    assert "La fédération est revenue à son état de départ" in console.get(page.headers["Location"]).text


def test_the_clock_buttons_move_the_federation_clock_and_back(console) -> None:
    start = clock.now()
    assert console.post("/formateur/horloge", data={"move": "30min"}, headers=LOCAL).status_code == 303
    assert timedelta(minutes=29) < clock.now() - start < timedelta(minutes=31)
    assert console.post("/formateur/horloge", data={"move": "1jour"}, headers=LOCAL).status_code == 303
    assert timedelta(days=1, minutes=29) < clock.now() - start < timedelta(days=1, minutes=31)
    assert "(décalage : 1 day, 0:30:00)" in console.get("/formateur").text
    assert console.post("/formateur/horloge", data={"move": "5min"}, headers=LOCAL).status_code == 303
    assert console.post("/formateur/horloge", data={"move": "1an"}, headers=LOCAL).status_code == 400
    assert console.post("/formateur/horloge", data={"move": "back"}, headers=LOCAL).status_code == 303
    assert abs(clock.now() - start) < timedelta(minutes=1)


def test_the_clock_cannot_move_apps_in_other_processes_without_a_shared_clock(fed: Federation, console,
                                                                             monkeypatch) -> None:
    monkeypatch.delenv(clock.SHARED_FILE_VARIABLE, raising=False)
    shown = fed.mailbox.extensions[trainer.CONSOLE]
    shown.in_process = False
    try:
        page = console.get("/formateur")
        assert "ne peut pas\n  être déplacée d'ici" in page.text and 'value="5min"' not in page.text
        assert "cette trace ne couvre que les serveurs de ce processus" in page.text
        refused = console.post("/formateur/horloge", data={"move": "5min"}, headers=LOCAL)
        assert refused.status_code == 409 and trainer.CLOCK_VARIABLE not in os.environ
    finally:
        shown.in_process = True


def test_on_gunicorn_the_clock_moves_through_the_shared_file(fed: Federation, console, monkeypatch,
                                                            tmp_path) -> None:
    """``fedsim up`` on gunicorn names a shared file (FEDSIM_CLOCK_FILE) that every worker reads."""
    shared = tmp_path / "clock-shift"
    monkeypatch.setenv(clock.SHARED_FILE_VARIABLE, str(shared))
    shown = fed.mailbox.extensions[trainer.CONSOLE]
    shown.in_process = False
    try:
        start = clock.now()
        assert 'value="5min"' in console.get("/formateur").text
        assert console.post("/formateur/horloge", data={"move": "1jour"}, headers=LOCAL).status_code == 303
        assert float(shared.read_text()) == 86400 and trainer.CLOCK_VARIABLE not in os.environ
        assert clock.now() - start >= timedelta(days=1)  # what another process reads too
        assert console.post("/formateur/horloge", data={"move": "back"}, headers=LOCAL).status_code == 303
        assert not shared.exists() and abs(clock.now() - start) < timedelta(minutes=1)
    finally:
        shown.in_process = True
        clock.set_shared_shift(0)


def test_the_trace_shows_the_saml_steps_of_an_eid_login(fed: Federation, console) -> None:
    _login(fed)
    entries = console.get("/formateur/trace.json").json["entries"]
    steps = [(e["event"], e["from"], e["to"], e["outcome"]) for e in reversed(entries)]
    assert ("AuthnRequest", "Mon Espace", "CSAM", "accepted") in steps
    assert ("Response", "CSAM", "Mon Espace", "issued") in steps
    assert ("Response", "CSAM", "Mon Espace", "accepted") in steps
    assert ("AuthnRequest", "Modigia", "Cerbère Citoyen", "accepted") in steps
    assert steps.index(("AuthnRequest", "Mon Espace", "CSAM", "accepted")) < \
        steps.index(("Response", "CSAM", "Mon Espace", "accepted"))  # newest first in the JSON
    newest = entries[0]
    assert newest["label"] and newest["outcome_label"] and newest["correlation_id"] and newest["time"]
    page = console.get("/formateur")
    assert "Demande d&#39;authentification" in page.text and "Mon Espace → CSAM" in page.text
    assert "Activation de votre compte Mon Espace" in page.text  # the latest mails, inline


def test_the_trace_shows_the_openid_connect_steps_of_an_itsme_login(fed: Federation, console) -> None:
    _login(fed, "itsme-login")
    entries = console.get("/formateur/trace.json").json["entries"]
    steps = [(e["event"], e["from"], e["to"], e["outcome"]) for e in reversed(entries)]
    assert ("AuthorizationRequest", "CSAM", "itsme", "accepted") in steps
    assert ("IDToken", "itsme", "CSAM", "issued") in steps
    assert ("IDToken", "itsme", "CSAM", "accepted") in steps
    assert steps.index(("IDToken", "itsme", "CSAM", "accepted")) < steps.index(
        ("Response", "CSAM", "Mon Espace", "issued"))
    page = html.unescape(console.get("/formateur").text)
    assert "Jeton d'identité (OpenID Connect)" in page
