"""itsme (G04) through the browser: Mon Espace → CSAM → itsme OP, the person
confirms on the phone screen (a second browser, opened with the link of the
waiting page), back to Mon Espace. Unknown phone, rejection and timeout each
have their own message."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.stack import Federation

ITSME = "IDENTIFICATION via itsme"
JEAN_PHONE, JEAN_CODE = "0471 23 45 67", "25836"


@pytest.fixture
def phone(federation: Federation) -> Browser:
    """The person's phone: its own browser, its own cookies."""
    return Browser(WsgiTransport(federation.wsgi_by_netloc()))


def start_itsme(browser: Browser, federation: Federation, number: str = JEAN_PHONE):
    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click(ITSME)
    return browser.submit({"phone": number}, button="Envoyer une demande")


def phone_link(waiting_page) -> str:
    """The one-time link to the phone's screen that the waiting page shows."""
    links = waiting_page.tree.xpath("//a[contains(@class, 'itsme-phone-url')]/@href")
    assert len(links) == 1, waiting_page.text[:400]
    return links[0]


def phone_screen(phone: Browser, waiting_page):
    return phone.open(phone_link(waiting_page))


def test_jean_logs_in_with_itsme_confirming_on_his_phone(federation: Federation, browser: Browser, phone: Browser):
    page = start_itsme(browser, federation)
    assert "Confirmez sur votre téléphone" in page.text
    assert page.headers.get("Refresh") == "3"
    assert "+32471 •• •• 67" in page.text
    waiting_url = page.url

    assert "Ouvrez ce lien sur le téléphone" in " ".join(page.text.split())
    assert page.tree.xpath("//div[@class='qr']//svg")  # and its QR code
    screen = phone_screen(phone, page)
    assert "Demande de connexion" in screen.text and "registre national" in screen.text
    # still waiting: the page refreshes to itself
    assert "Confirmez sur votre téléphone" in browser.open(waiting_url).text

    wrong = phone.submit({"code": "11111"}, button="Confirmer")
    assert wrong.status == 400 and "Code itsme erroné. Il vous reste 2 essais." in wrong.text
    done = phone.submit({"code": JEAN_CODE}, button="Confirmer")
    assert done.status == 200 and "Confirmé" in done.text

    page = browser.open(waiting_url)  # the next automatic refresh
    assert "MON TABLEAU DE BORD" in page.text, page.text[:400]
    assert "Pass Points Verts - 2021-2025" in page.text
    # the SAML answer says itsme, Level450
    answer = next(m.xml for m in reversed(browser.saml_trace) if m.kind == "SAMLResponse")
    assert "urn:be:fedict:iam:fas:Level450" in answer and ">itsme<" in answer


def test_unknown_phone_has_its_own_message(federation: Federation, browser: Browser):
    page = start_itsme(browser, federation, "0499 99 99 99")
    assert page.status == 400
    assert "n'est lié à aucun compte itsme" in page.text


def test_invalid_phone_number_is_refused_before_itsme(federation: Federation, browser: Browser):
    page = start_itsme(browser, federation, "pas un numéro")
    assert page.status == 400 and "n'est pas valide" in page.text
    assert not any("/itsme-op/" in hop for hop in browser.history)


def test_rejection_on_the_phone_has_its_own_message(federation: Federation, browser: Browser, phone: Browser):
    waiting = start_itsme(browser, federation)
    waiting_url = waiting.url
    phone_screen(phone, waiting)
    assert "refusé la demande" in phone.click("Refuser").text
    page = browser.open(waiting_url)
    assert page.status == 400
    assert "Vous avez refusé la demande de connexion" in page.text
    assert "MON TABLEAU DE BORD" not in page.text


def test_no_answer_within_three_minutes_times_out(federation: Federation, browser: Browser, phone: Browser):
    waiting = start_itsme(browser, federation)
    waiting_url = waiting.url
    with freeze_time(datetime.now(timezone.utc) + timedelta(minutes=3, seconds=5)):
        screen = phone_screen(phone, waiting)
        assert screen.status == 410 and "Cette demande a expiré" in screen.text
        page = browser.open(waiting_url)
    assert page.status == 400
    assert "délai pour confirmer sur votre téléphone est dépassé" in page.text


def test_create_account_link_leads_to_an_info_page(federation: Federation, browser: Browser):
    browser.open(federation.urls["idp_csam"] + "/")
    page = browser.click("Créez votre compte itsme")
    assert page.status == 200 and "code itsme à 5 chiffres" in page.text


def test_discovery_and_jwks_over_http(federation: Federation):
    client = federation.apps["idp_csam"].test_client()
    config = json.loads(client.get("/itsme-op/.well-known/openid-configuration").data)
    base = federation.urls["idp_csam"]
    assert config["issuer"] == base + "/itsme-op"
    assert config["token_endpoint"] == base + "/itsme-op/token"
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert config["id_token_encryption_enc_values_supported"] == ["A256GCM"]
    assert "http://itsme.services/v2/claim/acr_advanced" in config["acr_values_supported"]
    keys = json.loads(client.get("/itsme-op/jwks.json").data)["keys"]
    assert [k["use"] for k in keys] == ["sig"] and "d" not in keys[0]
    rp_keys = json.loads(client.get("/itsme/jwks.json").data)["keys"]
    assert sorted(k["use"] for k in rp_keys) == ["enc", "sig"] and all("d" not in k for k in rp_keys)


@pytest.mark.parametrize("number", ["+32471234567", "+32499999999"])
def test_no_screen_lists_requests_by_phone_number(federation: Federation, browser: Browser, phone: Browser,
                                                  number: str):
    start_itsme(browser, federation)  # Jean's request is pending
    page = phone.open(f"{federation.urls['idp_csam']}/itsme-op/phone/{number}")
    assert page.status == 404 and "ne sont pas affichées par numéro de téléphone" in page.text
    assert "Demande de connexion" not in page.text and "Confirmer" not in page.text


def test_a_callback_without_a_login_in_progress_is_refused(federation: Federation, browser: Browser):
    page = browser.open(federation.urls["idp_csam"] + "/itsme/callback?code=forged&state=forged")
    assert page.status == 400 and "ne correspond à aucune connexion en cours" in page.text


def test_approval_used_after_the_code_expired_is_refused(federation: Federation, browser: Browser,
                                                         phone: Browser):
    waiting = start_itsme(browser, federation)
    waiting_url = waiting.url
    phone_screen(phone, waiting)
    phone.submit({"code": JEAN_CODE}, button="Confirmer")
    with freeze_time(datetime.now(timezone.utc) + timedelta(minutes=3, seconds=5)):
        page = browser.open(waiting_url)
    assert page.status == 400 and "code expiré ou déjà utilisé" in page.text
    assert "MON TABLEAU DE BORD" not in page.text
    # and the waiting page cannot hand the code out twice
    assert browser.open(waiting_url).status == 410
