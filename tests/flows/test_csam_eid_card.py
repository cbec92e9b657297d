"""The eID card reader at CSAM (G03), in-process: the card signs a fresh
challenge, CSAM checks its certificate chain and revocation list, reads the
NRN from the certificate; expired and revoked cards, the missing eID
software, PIN blocking and the PUK."""
from __future__ import annotations

from datetime import timedelta

import pytest
from werkzeug.test import Client

from fedsim.db import Database
from fedsim.personas import Persona, by_id
from fedsim_harness.scenario.browser import Browser, Page
from fedsim_harness.stack import Federation
from idp_csam.eid import load_cards
from idp_csam.models import EidCard

EID = "IDENTIFICATION avec un lecteur de cartes eID"
EXTRA = {card.number: card for card in load_cards()}
NAIMA_EXPIRED = next(c for c in EXTRA.values() if c.holder == "naima" and c.state == "expired")
JEAN_REVOKED = next(c for c in EXTRA.values() if c.holder == "jean" and c.state == "revoked")


def pin_page(browser: Browser, federation: Federation) -> Page:
    browser.open(federation.urls["monespace"] + "/connexion")
    return browser.click(EID)


def login(browser: Browser, number: str, pin: str) -> Page:
    return browser.submit({"card": number, "pin": pin}, button="Se connecter")


def _card(federation: Federation, number: str) -> EidCard:
    with Database.factory(federation.apps["idp_csam"])() as db:
        card = db.get(EidCard, number)
        db.expunge(card)
        return card


@pytest.fixture
def jean() -> Persona:
    return by_id("jean")


def test_the_reader_lists_every_card_with_its_chip(federation: Federation, browser: Browser) -> None:
    page = pin_page(browser, federation)
    options = page.tree.xpath("//select[@name='card']/option/@value")
    assert NAIMA_EXPIRED.number in options and JEAN_REVOKED.number in options
    assert by_id("naima").card.number in options
    certs = federation.settings.certs_dir / "eid"
    assert (certs / "root-ca.crt").is_file() and (certs / "citizen-ca.crl").is_file()
    assert all((certs / f"card-{number}.crt").is_file() for number in options)
    assert _card(federation, JEAN_REVOKED.number).revoked_at is not None


def test_login_with_a_valid_card(federation: Federation, browser: Browser, jean: Persona) -> None:
    pin_page(browser, federation)
    page = login(browser, jean.card.number, jean.card.pin)
    assert page.status == 200 and "MON TABLEAU DE BORD" in page.text


def test_the_nrn_comes_from_the_certificate_not_from_the_database(federation: Federation, browser: Browser,
                                                                  jean: Persona) -> None:
    """CSAM's records say the card is Naïma's; its certificate says Jean: Jean it is
    (Naïma has no Mon Espace account, Jean has one and lands on his dashboard)."""
    with Database.factory(federation.apps["idp_csam"])() as db:
        db.get(EidCard, jean.card.number).holder_nrn = by_id("naima").nrn
        db.commit()
    pin_page(browser, federation)
    page = login(browser, jean.card.number, jean.card.pin)
    assert page.status == 200 and "MON TABLEAU DE BORD" in page.text


def test_an_expired_card_is_refused(federation: Federation, browser: Browser) -> None:
    pin_page(browser, federation)
    page = login(browser, NAIMA_EXPIRED.number, NAIMA_EXPIRED.pin)
    assert page.status == 400 and "Le certificat de votre carte eID a expiré" in page.text
    assert "commune" in page.text


def test_a_revoked_card_is_refused(federation: Federation, browser: Browser) -> None:
    pin_page(browser, federation)
    page = login(browser, JEAN_REVOKED.number, JEAN_REVOKED.pin)
    assert page.status == 400 and "Le certificat de votre carte eID a été révoqué" in page.text


def test_without_the_eid_software_the_page_says_to_install_it(federation: Federation, browser: Browser) -> None:
    pin_page(browser, federation)
    page = browser.click("essayer depuis un ordinateur sans le logiciel eID")
    assert page.status == 200 and "Installez le logiciel eID" in page.text and "eid.belgium.be" in page.text
    assert not page.tree.xpath("//a[contains(@href, 'eid.belgium.be')]")
    assert not page.tree.xpath("//select[@name='card']")
    page = browser.click("J'ai installé le logiciel eID : réessayer")
    assert page.tree.xpath("//select[@name='card']")


def test_the_challenge_is_used_once(federation: Federation, jean: Persona) -> None:
    client = Client(federation.apps["idp_csam"])
    page = Page("http://csam/eid", 200, {}, client.get("/eid").get_data(as_text=True))
    token = page.tree.xpath("//input[@name='csrf_token']/@value")[0]
    before = client.get_cookie("csam_session").value
    data = {"csrf_token": token, "card": jean.card.number, "pin": jean.card.pin}
    assert client.post("/eid", data=data).status_code == 302
    client.set_cookie("csam_session", before)  # the session that held the challenge, replayed
    replay = client.post("/eid", data=data)
    # The login gave the session a new id and deleted the old one on the
    # server: the replayed cookie brings neither the challenge nor the form token.
    assert replay.status_code == 400 and "Formulaire refusé" in replay.get_data(as_text=True)
    assert "location" not in replay.headers


def test_a_stale_challenge_is_refused(federation: Federation, browser: Browser, jean: Persona,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pin_page(browser, federation)
    monkeypatch.setenv("FEDSIM_CLOCK_OFFSET", str(timedelta(minutes=6).total_seconds()))
    page = login(browser, jean.card.number, jean.card.pin)
    assert page.status == 400 and "La lecture de la carte eID a expiré" in page.text
    assert _card(federation, jean.card.number).failed_pin_tries == 0


def _block(browser: Browser, number: str) -> Page:
    for _ in range(3):
        page = login(browser, number, "0000")
    assert page.status == 400 and "La carte eID est maintenant bloquée" in page.text
    return page


def test_three_wrong_pins_block_the_card_and_the_puk_unblocks_it(federation: Federation, browser: Browser,
                                                                jean: Persona) -> None:
    number = jean.card.number
    pin_page(browser, federation)
    _block(browser, number)
    page = browser.click("Débloquer avec le code PUK")
    assert page.tree.xpath("//select[@name='card']/option[@selected]/@value") == [number]

    page = browser.submit({"puk": jean.card.puk, "new_pin": "1111", "new_pin_confirm": "2222"},
                          button="Débloquer la carte")
    assert page.status == 400 and "ne correspondent pas" in page.text
    page = browser.submit({"puk": jean.card.puk, "new_pin": "12", "new_pin_confirm": "12"},
                          button="Débloquer la carte")
    assert page.status == 400 and "4 à 12 chiffres" in page.text
    assert _card(federation, number).failed_puk_tries == 0  # input errors cost no PUK try

    page = browser.submit({"puk": jean.card.puk, "new_pin": "8642", "new_pin_confirm": "8642"},
                          button="Débloquer la carte")
    assert page.status == 200 and "Votre carte eID est débloquée" in page.text
    card = _card(federation, number)
    assert not card.is_blocked and card.failed_pin_tries == 0

    page = login(browser, number, jean.card.pin)  # the old PIN no longer works
    assert page.status == 400 and "Il vous reste 2 essais" in page.text
    page = login(browser, number, "8642")
    assert page.status == 200 and "MON TABLEAU DE BORD" in page.text


def test_three_wrong_puks_block_the_card_for_good(federation: Federation, browser: Browser, jean: Persona) -> None:
    number = jean.card.number
    pin_page(browser, federation)
    _block(browser, number)
    browser.click("Débloquer avec le code PUK")
    wrong = {"puk": "000000", "new_pin": "8642", "new_pin_confirm": "8642"}
    page = browser.submit(wrong, button="Débloquer la carte")
    assert page.status == 400 and "Code PUK erroné. Il vous reste 2 essais." in page.text
    browser.submit(wrong, button="Débloquer la carte")
    page = browser.submit(wrong, button="Débloquer la carte")
    assert page.status == 400 and "définitivement bloquée" in page.text

    # even the right PUK, or the right PIN, can do nothing now
    page = browser.submit({**wrong, "puk": jean.card.puk}, button="Débloquer la carte")
    assert page.status == 400 and "définitivement bloquée" in page.text
    page = pin_page(browser, federation)
    page = login(browser, number, jean.card.pin)
    assert page.status == 400 and "définitivement bloquée" in page.text
    assert "Débloquer avec le code PUK" not in page.text


def test_the_puk_page_refuses_a_card_that_is_not_blocked(federation: Federation, browser: Browser,
                                                         jean: Persona) -> None:
    browser.open(federation.urls["idp_csam"] + f"/eid/puk?carte={jean.card.number}")
    page = browser.submit({"puk": jean.card.puk, "new_pin": "8642", "new_pin_confirm": "8642"},
                          button="Débloquer la carte")
    assert page.status == 400 and "n'est pas bloquée" in page.text
    assert _card(federation, jean.card.number).failed_puk_tries == 0
