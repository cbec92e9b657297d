"""The BEL office page (G20) is for a logged-in agent: login with the
personas file's ``bel_agent``, limited tries, server-side session, logout
with the form token."""
from __future__ import annotations

from sqlalchemy import select

from fedsim.db import Database
from idp_csam import bel_agent
from idp_csam.bel import BelRegistration
from idp_csam.models import BelAgent
from test_csam_bel import AGENT, PERSON, agent_login


def _csam(federation) -> str:
    return federation.urls["idp_csam"]


def test_the_office_page_asks_an_agent_login_first(federation, browser) -> None:
    page = browser.open(_csam(federation) + "/bel/")
    assert page.url.endswith("/bel/agent/connexion") and "Nom d'utilisateur de l'agent" in page.text
    assert "Enregistrer la personne" not in page.text
    token = page.tree.xpath("//input[@name='csrf_token']/@value")[0]
    sent = browser.open(_csam(federation) + "/bel/", "POST", {**PERSON, "csrf_token": token})
    assert "Enregistrer la personne" not in sent.text  # a POST without login registers nobody
    with Database.factory(federation.apps["idp_csam"])() as db:
        assert db.scalars(select(BelRegistration)).first() is None


def test_the_agent_logs_in_registers_and_logs_out(federation, browser) -> None:
    agent_login(browser, _csam(federation))
    page = browser.page
    assert page.url.endswith("/bel/") and "Martine Lambotte" in page.text and "Se déconnecter" in page.text
    browser.submit(PERSON, button="Enregistrer la personne")
    assert "Personne enregistrée" in browser.page.text
    with Database.factory(federation.apps["idp_csam"])() as db:
        assert db.scalars(select(BelRegistration.registered_by)).one() == AGENT.bel_agent.username
    browser.submit({}, button="Se déconnecter")
    assert browser.page.url.endswith("/bel/agent/connexion?motif=deconnecte")
    assert "Vous êtes déconnecté·e" in browser.page.text
    assert browser.open(_csam(federation) + "/bel/").url.endswith("/bel/agent/connexion")


def test_logout_needs_the_form_token(federation, browser) -> None:
    agent_login(browser, _csam(federation))
    page = browser.open(_csam(federation) + "/bel/agent/deconnexion", "POST", {})
    assert page.status == 400
    assert "Agent connecté·e" in browser.open(_csam(federation) + "/bel/").text  # still logged in


def test_a_wrong_password_then_the_lockout(federation, browser) -> None:
    browser.open(_csam(federation) + "/bel/agent/connexion")
    for _ in range(bel_agent.MAX_FAILURES):
        page = browser.submit({"username": AGENT.bel_agent.username, "password": "Pas-le-bon-2026"},
                              button="Connexion de l'agent")
        assert page.status == 400 and "mot de passe d'agent incorrect" in page.text
    page = browser.submit({"username": AGENT.bel_agent.username, "password": AGENT.bel_agent.password},
                          button="Connexion de l'agent")
    assert page.status == 400 and "bloqué pendant 15 minutes" in page.text  # locked: the right one too
    unknown = browser.submit({"username": "personne.bel", "password": "Pas-le-bon-2026"},
                             button="Connexion de l'agent")
    assert unknown.status == 400 and "mot de passe d'agent incorrect" in unknown.text  # the same words
    with Database.factory(federation.apps["idp_csam"])() as db:
        agent = db.get(BelAgent, AGENT.bel_agent.username)
        assert agent.locked_until is not None and agent.password_hash.startswith("scrypt:")
        assert AGENT.bel_agent.password not in agent.password_hash

