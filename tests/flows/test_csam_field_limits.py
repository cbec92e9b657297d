"""Every field of CSAM's forms has a maximum length (issue #9): one
character more gives a 400 page that names the field, in French — never a
500, and the value is not looked at any further."""
from __future__ import annotations

import pytest
from test_csam_bel import PERSON, _link, _register, agent_login

from fedsim.personas import by_id
from fedsim_harness.scenario.browser import Browser, Page
from fedsim_harness.stack import Federation
from idp_csam import fields
from idp_csam.fields import too_long

NAIMA = by_id("naima")
JEAN = by_id("jean")
PASSWORD_FORM = {"username": NAIMA.csam.username, "password": NAIMA.csam.password}
PIN_FORM = {"card": JEAN.card.number, "pin": JEAN.card.pin}
PUK_FORM = {"card": JEAN.card.number, "puk": JEAN.card.puk, "new_pin": "8642", "new_pin_confirm": "8642"}
KEY_FORM = {"username": "marie.durand", "password": "Marie-CSAM-2024", "confirm": "Marie-CSAM-2024"}


def _email_code_page(browser: Browser, csam: str) -> None:
    browser.open(csam + "/email-code")
    browser.submit(PASSWORD_FORM, button="Suivant")
    assert browser.page.url.endswith("/email-code/code")


def _app_code_page(browser: Browser, csam: str) -> None:
    browser.open(csam + "/code-app")
    browser.submit(PASSWORD_FORM, button="Suivant")
    assert "/code-app/" in browser.page.url


def _activation_page(browser: Browser, federation: Federation) -> str:
    paper_code = _register(browser, federation)
    browser.open(_link(federation))
    return paper_code


def _key_page(browser: Browser, federation: Federation) -> None:
    browser.submit({"paper_code": _activation_page(browser, federation)}, button="Continuer")
    assert browser.page.status == 200 and "username" in browser.page.body


# (how to reach the form, the form's fields, the field made too long, its label, its maximum)
def _bel_page(browser: Browser, csam: str) -> None:
    agent_login(browser, csam)  # the BEL page is for a logged-in agent
    browser.open(csam + "/bel/")


CASES = [
    ("/email-code", PASSWORD_FORM, "username", "Nom d'utilisateur", fields.USERNAME_MAX),
    ("/email-code", PASSWORD_FORM, "password", "Mot de passe", fields.PASSWORD_MAX),
    (_email_code_page, {"code": "123456"}, "code", "Code de sécurité", fields.CODE_MAX),
    ("/code-app", PASSWORD_FORM, "username", "Nom d'utilisateur", fields.USERNAME_MAX),
    ("/code-app", PASSWORD_FORM, "password", "Mot de passe", fields.PASSWORD_MAX),
    (_app_code_page, {"code": "123456"}, "code", "Code de sécurité", fields.CODE_MAX),
    ("/eid", PIN_FORM, "card", "Carte eID dans le lecteur", fields.CARD_MAX),
    ("/eid", PIN_FORM, "pin", "Code PIN", fields.PIN_MAX),
    ("/eid/puk", PUK_FORM, "card", "Carte eID dans le lecteur", fields.CARD_MAX),
    ("/eid/puk", PUK_FORM, "puk", "Code PUK", fields.PIN_MAX),
    ("/eid/puk", PUK_FORM, "new_pin", "Nouveau code PIN", fields.PIN_MAX),
    ("/eid/puk", PUK_FORM, "new_pin_confirm", "Confirmez le nouveau code PIN", fields.PIN_MAX),
    (_bel_page, PERSON, "given_name", "Prénom", fields.NAME_MAX),
    (_bel_page, PERSON, "surname", "Nom", fields.NAME_MAX),
    (_bel_page, PERSON, "birth_date", "Date de naissance", fields.DATE_MAX),
    (_bel_page, PERSON, "nationality", "Nationalité", fields.NATIONALITY_MAX),
    (_bel_page, PERSON, "email", "Adresse e-mail", fields.EMAIL_MAX),
    (_activation_page, {"paper_code": "AAAA-AAAA"}, "paper_code", "Code unique (remis sur papier)",
     fields.PAPER_CODE_MAX),
    (_key_page, KEY_FORM, "username", "Nom d'utilisateur", fields.USERNAME_MAX),
    (_key_page, KEY_FORM, "password", "Mot de passe", fields.PASSWORD_MAX),
    (_key_page, KEY_FORM, "confirm", "Confirmez le mot de passe", fields.PASSWORD_MAX),
    (_key_page, {**KEY_FORM, "key": "email-code"}, "key", "Clé numérique", fields.CODE_MAX),
]


def _reach(browser: Browser, federation: Federation, where) -> None:  # where: a path or a function
    csam = federation.urls["idp_csam"]
    if isinstance(where, str):
        browser.open(csam + where)
    elif where in (_activation_page, _key_page):
        where(browser, federation)
    else:
        where(browser, csam)


def _value(field: str, maximum: int) -> str:
    return "a" * (maximum - len("@example.fr") + 1) + "@example.fr" if field == "email" else "7" * (maximum + 1)


@pytest.mark.parametrize(("where", "form", "field", "label", "maximum"), CASES,
                         ids=[f"{c[0] if isinstance(c[0], str) else c[0].__name__}:{c[2]}" for c in CASES])
def test_one_character_too_many_is_a_400_naming_the_field(federation: Federation, browser: Browser, where, form,
                                                          field, label, maximum) -> None:
    _reach(browser, federation, where)
    ok = browser.page.status
    page = browser.submit({**form, field: _value(field, maximum)})
    assert page.status == 400, (ok, page.main_text[:400])
    assert too_long(label, maximum) in page.text, page.main_text[:400]


def _token(browser: Browser, federation: Federation) -> str:
    return browser.open(federation.urls["idp_csam"] + "/eid").tree.xpath("//input[@name='csrf_token']/@value")[0]


@pytest.mark.parametrize(("field", "label", "maximum"), [("persona", "Personne", fields.PERSONA_MAX),
                                                         ("action", "Action", fields.ACTION_MAX)])
def test_the_eidas_node_form_too(federation: Federation, browser: Browser, field, label, maximum) -> None:
    data = {"csrf_token": _token(browser, federation), field: "x" * (maximum + 1)}
    page: Page = browser.open(federation.urls["idp_csam"] + "/eidas-node/authentification", "POST", data)
    assert page.status == 400 and too_long(label, maximum) in page.text, page.main_text[:400]


def test_a_relay_state_over_80_characters_is_refused_at_the_eidas_acs(federation: Federation,
                                                                      browser: Browser) -> None:
    page = browser.open(federation.urls["idp_csam"] + "/eidas/sp/acs", "POST",
                        {"SAMLResponse": "x", "RelayState": "r" * (fields.RELAY_STATE_MAX + 1)})
    assert page.status == 400 and too_long("RelayState", fields.RELAY_STATE_MAX) in page.text, page.main_text[:400]


def test_the_maximum_itself_is_accepted(federation: Federation, browser: Browser) -> None:
    _bel_page(browser, federation.urls["idp_csam"])
    page = browser.submit({**PERSON, "given_name": "M" * fields.NAME_MAX})
    assert page.status == 200 and "Personne enregistrée" in page.text
