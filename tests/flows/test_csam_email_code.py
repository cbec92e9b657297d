"""CSAM's security code by e-mail (G05, G21): username + password, then a
6-digit code from the mailbox; expiry, attempts, resend, single use."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from freezegun import freeze_time
from sqlalchemy import select

from fedsim.db import Database
from fedsim.personas import by_id
from idp_csam.methods.email_code import SUBJECT, EmailCodeChallenge

LABEL = "IDENTIFICATION avec un code de sécurité envoyé par e-mail"


def _codes(federation, email: str) -> list[str]:
    """The codes e-mailed to ``email``, newest first."""
    messages = federation.mailbox.test_client().get(
        "/api/messages", query_string={"to": email, "subject": SUBJECT}).get_json()["messages"]
    return [re.search(r"\b\d{6}\b", m["text"]).group() for m in messages]


def _password_step(browser, federation, persona_id: str = "naima"):
    persona = by_id(persona_id)
    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click(LABEL)
    browser.submit({"username": persona.csam.username, "password": persona.csam.password}, button="Suivant")
    assert browser.page.url.endswith("/email-code/code"), browser.page.main_text[:300]
    return persona


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_username_password_and_the_emailed_code_log_in(federation, browser):
    persona = _password_step(browser, federation)
    [message] = federation.mailbox.test_client().get(
        "/api/messages", query_string={"to": persona.email, "subject": SUBJECT, "limit": 1}).get_json()["messages"]
    assert f"Bonjour {persona.given_name} {persona.surname}" in message["text"]
    code = re.search(r"\d{6}", message["text"]).group()
    browser.submit({"code": code}, button="Se connecter")
    assert browser.page.url.endswith("/compte/creation"), browser.page.main_text[:300]
    assert "première connexion" in browser.page.text
    # the code is stored hashed, never in clear
    with Database.factory(federation.apps["idp_csam"])() as db:
        [challenge] = db.scalars(select(EmailCodeChallenge)).all()
        assert code not in challenge.code_digest and challenge.used_at is not None


def test_the_assertion_carries_level300_and_the_method(federation, browser):
    _password_step(browser, federation, "jean")
    browser.submit({"code": _codes(federation, by_id("jean").email)[0]}, button="Se connecter")
    assert "MON TABLEAU DE BORD" in browser.page.text
    response = [m for m in browser.saml_trace if m.kind == "SAMLResponse"][-1].xml
    assert "urn:be:fedict:iam:fas:Level300" in response
    assert "email-code" in response


def test_a_wrong_password_sends_no_code(federation, browser):
    browser.open(federation.urls["idp_csam"] + "/email-code")
    browser.submit({"username": "naima.mremi", "password": "nope"}, button="Suivant")
    assert browser.page.status == 400
    assert "Nom d'utilisateur ou mot de passe incorrect." in browser.page.text
    assert _codes(federation, by_id("naima").email) == []


def test_a_wrong_code_says_how_many_tries_are_left_then_the_limit(federation, browser):
    persona = _password_step(browser, federation)
    [code] = _codes(federation, persona.email)
    for left in (4, 3, 2, 1):
        browser.submit({"code": _other(code)}, button="Se connecter")
        assert browser.page.status == 400
        expected = f"Il vous reste {left} essai" + ("s." if left > 1 else ".")
        assert "Code de sécurité incorrect." in browser.page.text and expected in browser.page.text
    browser.submit({"code": _other(code)}, button="Se connecter")
    assert browser.page.status == 429 and "Trop d'essais erronés (5)" in browser.page.text
    # even the right code no longer works
    browser.submit({"code": code}, button="Se connecter")
    assert browser.page.status == 429 and "n'est plus valable" in browser.page.text


def test_an_expired_code_is_refused(federation, browser):
    persona = _password_step(browser, federation)
    [code] = _codes(federation, persona.email)
    with freeze_time(datetime.now(timezone.utc) + timedelta(minutes=11)):
        browser.submit({"code": code}, button="Se connecter")
    assert browser.page.status == 410
    assert "Ce code de sécurité a expiré (il est valable 10 minutes)" in browser.page.text
    assert "MON TABLEAU DE BORD" not in browser.page.text


def test_resend_invalidates_the_old_code_and_is_rate_limited(federation, browser, monkeypatch):
    persona = _password_step(browser, federation)
    browser.click("Renvoyer le code")
    assert browser.page.status == 429 and "vous pourrez en demander un nouveau dans" in browser.page.text
    assert len(_codes(federation, persona.email)) == 1
    monkeypatch.setitem(federation.apps["idp_csam"].config, "EMAIL_CODE_RESEND_DELAY", timedelta(0))
    browser.click("Renvoyer le code")
    assert browser.page.status == 200 and "le précédent n'est plus valable" in browser.page.text
    newest, older = _codes(federation, persona.email)
    if newest == older:  # one chance in a million
        return
    browser.submit({"code": older}, button="Se connecter")
    assert browser.page.status == 400 and "Utilisez le code du dernier e-mail reçu" in browser.page.text
    browser.submit({"code": newest}, button="Se connecter")
    assert browser.page.url.endswith("/compte/creation")


def test_a_code_works_once(federation, browser):
    persona = _password_step(browser, federation)
    [code] = _codes(federation, persona.email)
    browser.submit({"code": code}, button="Se connecter")
    assert browser.page.url.endswith("/compte/creation")
    browser.open(federation.urls["idp_csam"] + "/email-code/code")
    browser.submit({"code": code}, button="Se connecter")
    assert browser.page.status == 409 and "Ce code de sécurité a déjà été utilisé" in browser.page.text


def test_no_pending_code_says_so(federation, browser):
    browser.open(federation.urls["idp_csam"] + "/email-code/code")
    assert browser.page.status == 409
    assert "Aucun code de sécurité n'est en attente pour cette connexion" in browser.page.text
    browser.submit({"code": "123456"}, button="Se connecter")
    assert browser.page.status == 409
    assert "Aucun code de sécurité n'est en attente pour cette connexion" in browser.page.text


def test_the_code_is_bound_to_this_browser(federation, browser):
    from fedsim_harness.scenario.browser import Browser, WsgiTransport
    persona = _password_step(browser, federation)
    [code] = _codes(federation, persona.email)
    other = Browser(WsgiTransport(federation.wsgi_by_netloc()))
    other.open(federation.urls["idp_csam"] + "/email-code/code")
    other.submit({"code": code}, button="Se connecter")
    assert other.page.status == 409 and "Aucun code de sécurité n'est en attente" in other.page.text
