"""Foreign nationals (G20, G21): registration at a Bureau d'Enregistrement
Local, activation with the e-mailed link and the paper code, then login by
username + password + e-mail code, with a BIS number."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from freezegun import freeze_time
from sqlalchemy import select

from fedsim import nrn, personas
from fedsim.db import Database
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from idp_csam.bel import LINK_TEXT, SUBJECT, BelRegistration
from idp_csam.methods.email_code import SUBJECT as CODE_SUBJECT
from idp_csam.models import Citizen
from monespace.models import Account

EMAIL = "marie.durand@example.fr"
PERSON = {"given_name": "Marie", "surname": "Durand", "birth_date": "1990-04-17",
          "nationality": "française", "email": EMAIL}


AGENT = next(p for p in personas.load() if p.bel_agent)  # martine, a BEL agent


def agent_login(browser, csam: str) -> None:
    """The office's agent logs in to the BEL page (``csam``: CSAM's base URL)."""
    if "Agent connecté·e" in browser.open(csam + "/bel/agent/connexion").text:
        return  # already logged in: the login page leads to the office's page
    browser.submit({"username": AGENT.bel_agent.username, "password": AGENT.bel_agent.password},
                   button="Connexion de l'agent")
    assert "Agent connecté·e" in browser.page.text, browser.page.main_text[:400]


def _register(browser, federation, **changes) -> str:
    """The agent logs in and registers the person; returns the paper code shown on screen."""
    agent_login(browser, federation.urls["idp_csam"])
    browser.open(federation.urls["idp_csam"] + "/bel/")
    browser.submit({**PERSON, **changes}, button="Enregistrer la personne")
    assert browser.page.status == 200, browser.page.main_text[:400]
    return re.search(r"Code unique : ([A-Z0-9]{4}-[A-Z0-9]{4})", browser.page.text).group(1)


def _mail(federation, subject: str, to: str = EMAIL) -> dict:
    return federation.mailbox.test_client().get(
        "/api/messages", query_string={"to": to, "subject": subject, "limit": 1}).get_json()["messages"][0]


def _link(federation) -> str:
    return next(link["href"] for link in _mail(federation, SUBJECT)["links"] if link["text"] == LINK_TEXT)


def _activate(browser, link: str, paper_code: str, username: str = "marie.durand") -> None:
    browser.open(link)
    browser.submit({"paper_code": paper_code}, button="Continuer")
    assert "IDENTIFICATION avec un code de sécurité envoyé par e-mail" in browser.page.text
    browser.submit({"username": username, "password": "Marie-CSAM-2024", "confirm": "Marie-CSAM-2024"},
                   button="Activer ma clé numérique")


def _bis(federation) -> str:
    with Database.factory(federation.apps["idp_csam"])() as db:
        return db.scalars(select(Citizen.nrn).where(Citizen.email == EMAIL)).one()


def test_registration_activation_and_first_login_with_a_bis_number(federation, browser):
    paper_code = _register(browser, federation)
    bis = _bis(federation)
    parsed = nrn.parse(bis)
    assert parsed.is_bis and parsed.sex is None and str(parsed.birth_date) == "1990-04-17"
    assert parsed.formatted in browser.page.text
    with Database.factory(federation.apps["idp_csam"])() as db:  # stored hashed
        registration = db.scalars(select(BelRegistration)).one()
        assert paper_code.replace("-", "") not in registration.paper_code_digest
        assert registration.nationality == "française"
    _activate(browser, _link(federation), paper_code.lower().replace("-", " "))  # typed loosely
    assert "Votre clé numérique est activée" in browser.page.text and "marie.durand" in browser.page.text

    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click("IDENTIFICATION avec un code de sécurité envoyé par e-mail")
    browser.submit({"username": "marie.durand", "password": "Marie-CSAM-2024"}, button="Suivant")
    code = re.search(r"\d{6}", _mail(federation, CODE_SUBJECT)["text"]).group()
    browser.submit({"code": code}, button="Se connecter")
    assert "VOTRE COMPTE MON ESPACE" in browser.page.text and "Marie Durand" in browser.page.text
    response = [m for m in browser.saml_trace if m.kind == "SAMLResponse"][0].xml
    assert bis in response  # egovNRN carries the BIS number
    browser.click("Créer mon compte")
    assert "Merci de valider votre compte" in browser.page.text
    with Database.factory(federation.apps["monespace"])() as db:
        assert db.scalars(select(Account).where(Account.nrn == bis)).one() is not None


def test_two_people_born_the_same_day_get_different_bis_numbers(federation, browser):
    _register(browser, federation)
    _register(browser, federation, given_name="Paul", email="paul.durand@example.fr")
    with Database.factory(federation.apps["idp_csam"])() as db:
        numbers = db.scalars(select(Citizen.nrn).where(Citizen.persona_id.like("bel-%"))).all()
    assert len(set(numbers)) == 2 and all(nrn.parse(n).is_bis for n in numbers)


def test_the_registration_form_says_what_is_wrong(federation, browser):
    agent_login(browser, federation.urls["idp_csam"])
    browser.open(federation.urls["idp_csam"] + "/bel/")
    browser.submit({**PERSON, "email": "pas-une-adresse", "nationality": ""}, button="Enregistrer la personne")
    assert browser.page.status == 400
    assert "Tapez la nationalité." in browser.page.text
    assert "Cette adresse e-mail n'est pas valable." in browser.page.text


def test_a_wrong_paper_code_is_refused_then_blocks(federation, browser):
    _register(browser, federation)
    link = _link(federation)
    browser.open(link)
    for left in (4, 3, 2, 1):
        browser.submit({"paper_code": "AAAA-AAAA"}, button="Continuer")
        assert browser.page.status == 400 and f"Code unique incorrect. Il vous reste {left} essai" in browser.page.text
    browser.submit({"paper_code": "AAAA-AAAA"}, button="Continuer")
    assert browser.page.status == 429 and "cette activation est bloquée" in browser.page.text


def test_the_key_page_needs_the_paper_code_first(federation, browser):
    _register(browser, federation)
    browser.open(_link(federation) + "/cle")
    assert browser.page.status == 403 and "Tapez d'abord le code unique" in browser.page.text


def test_an_expired_activation_link_says_so(federation, browser):
    paper_code = _register(browser, federation)
    link = _link(federation)
    with freeze_time(datetime.now(timezone.utc) + timedelta(days=7, minutes=1)):
        browser.open(link)
        assert browser.page.status == 410 and "Ce lien d'activation a expiré" in browser.page.text
    browser.open(link)  # still valid today
    browser.submit({"paper_code": paper_code}, button="Continuer")
    assert browser.page.status == 200


def test_an_activation_link_works_once(federation, browser):
    paper_code = _register(browser, federation)
    link = _link(federation)
    _activate(browser, link, paper_code)
    assert "Votre clé numérique est activée" in browser.page.text
    browser.open(link)
    assert browser.page.status == 410 and "Ce lien d'activation a déjà été utilisé" in browser.page.text


def test_an_unknown_link_and_a_taken_username_are_refused(federation, browser):
    browser.open(federation.urls["idp_csam"] + "/bel/activation/n-importe-quoi")
    assert browser.page.status == 404 and "Ce lien d'activation n'est pas valable" in browser.page.text
    paper_code = _register(browser, federation)
    _activate(browser, _link(federation), paper_code, username="naima.mremi")
    assert browser.page.status == 400 and "Ce nom d'utilisateur est déjà pris" in browser.page.text


def test_the_registration_form_sent_twice_makes_one_registration(federation, browser):
    """A double click, or the browser sending the form again: the same BIS
    number and paper code, one registration, one e-mail, never a 500."""
    url = federation.urls["idp_csam"] + "/bel/"
    agent_login(browser, federation.urls["idp_csam"])
    browser.open(url)
    token = browser.page.tree.xpath("//input[@name='csrf_token']/@value")[0]
    pages = [browser.open(url, "POST", {**PERSON, "csrf_token": token}) for _ in range(2)]
    assert [p.status for p in pages] == [200, 200]
    shown = [(re.search(r"\d\d\.\d\d\.\d\d-\d{3}-\d\d", p.text).group(),
              re.search(r"Code unique : ([A-Z0-9]{4}-[A-Z0-9]{4})", p.text).group(1)) for p in pages]
    assert shown[0] == shown[1]
    assert "Ce formulaire a déjà été envoyé" in pages[1].text
    with Database.factory(federation.apps["idp_csam"])() as db:
        assert len(db.scalars(select(BelRegistration)).all()) == 1
    messages = federation.mailbox.test_client().get(
        "/api/messages", query_string={"to": EMAIL, "subject": SUBJECT}).get_json()["messages"]
    assert len(messages) == 1
    _activate(browser, _link(federation), shown[1][1])  # the code shown the second time works
    assert "Votre clé numérique est activée" in browser.page.text


def test_the_same_person_registered_from_another_browser_is_a_new_registration(federation, browser):
    _register(browser, federation)
    other = Browser(WsgiTransport(federation.wsgi_by_netloc()))  # its own cookies
    _register(other, federation)
    with Database.factory(federation.apps["idp_csam"])() as db:
        assert len(set(db.scalars(select(BelRegistration.nrn)).all())) == 2
