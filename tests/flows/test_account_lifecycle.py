"""Mon Espace account lifecycle beyond the happy path: expired and replaced
links, resend that reveals nothing, idle timeout, contexts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from freezegun import freeze_time
from sqlalchemy import select

from downstream_sp import eid_login
from fedsim.db import Database
from fedsim.personas import by_id
from monespace.models import Account


def _log_in(browser, urls, persona_id: str) -> None:
    browser.open(urls["monespace"] + "/connexion")
    eid_login(browser, by_id(persona_id))


def _first_connection(browser, urls, persona_id: str) -> None:
    _log_in(browser, urls, persona_id)
    browser.click("Créer mon compte")
    assert "Merci de valider votre compte" in browser.page.text


def _activation_links(federation, email: str) -> list[str]:
    client = federation.mailbox.test_client()
    messages = client.get("/api/messages", query_string={"to": email}).get_json()["messages"]
    return [link["href"] for m in messages for link in m["links"] if link["text"] == "Activer mon compte Mon Espace"]


def _account(federation, persona_id: str) -> Account | None:
    with Database.factory(federation.apps["monespace"])() as db:
        return db.scalars(select(Account).where(Account.nrn == by_id(persona_id).nrn)).first()


def test_an_activation_link_expires_and_says_so_without_activating(federation, browser):
    _first_connection(browser, federation.urls, "sofie")
    [link] = _activation_links(federation, by_id("sofie").email)
    with freeze_time(datetime.now(timezone.utc) + timedelta(hours=49)):
        browser.open(link)
    assert browser.page.status == 410
    assert "Ce lien a expiré" in browser.page.text
    assert _account(federation, "sofie").status == "pending"


def test_resending_replaces_the_previous_links(federation, browser):
    _first_connection(browser, federation.urls, "sofie")
    browser.click("Renvoyer l'e-mail")
    browser.submit({"email": by_id("sofie").email}, button="Renvoyer mail d'activation")
    newest, older = _activation_links(federation, by_id("sofie").email)  # newest first
    browser.open(older)
    assert browser.page.status == 404 and "utilisez le dernier e-mail reçu" in browser.page.text
    assert _account(federation, "sofie").status == "pending"
    browser.open(newest)
    assert browser.page.status == 200 and _account(federation, "sofie").status == "active"


def test_resend_says_the_same_for_an_unknown_address(federation, browser):
    browser.open(federation.urls["monespace"] + "/compte/renvoyer")
    browser.submit({"email": "personne@example.be"}, button="Renvoyer mail d'activation")
    assert browser.page.status == 200
    assert "Si un compte en attente d'activation correspond à l'adresse" in browser.page.text
    assert _activation_links(federation, "personne@example.be") == []


def test_an_idle_session_expires(federation, browser):
    _log_in(browser, federation.urls, "jean")
    assert "MON TABLEAU DE BORD" in browser.page.text
    with freeze_time(datetime.now(timezone.utc) + timedelta(minutes=31)):
        browser.open(federation.urls["monespace"] + "/tableau-de-bord")
    assert browser.page.url.endswith(":5000/")
    assert "Votre session a expiré" in browser.page.text


def test_an_active_session_does_not_expire(federation, browser):
    _log_in(browser, federation.urls, "jean")
    with freeze_time(datetime.now(timezone.utc) + timedelta(minutes=20)):
        browser.open(federation.urls["monespace"] + "/demarches/")
    with freeze_time(datetime.now(timezone.utc) + timedelta(minutes=40)):
        browser.open(federation.urls["monespace"] + "/tableau-de-bord")
    assert "MON TABLEAU DE BORD" in browser.page.text


def test_a_context_that_is_not_the_persons_is_refused(federation, browser):
    _log_in(browser, federation.urls, "claire")
    assert "Dans quel contexte" in browser.page.text
    browser.submit({"contexte": "Administrateur"})
    assert browser.page.status == 400
    assert "Ce contexte n'est pas l'un des vôtres." in browser.page.text
