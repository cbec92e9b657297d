"""The reason of a refused SAML message in the person's language at CSAM
(issue 13): fedsim/saml builds its reasons in French with ``said(...)``, and
CSAM's error page shows them translated (fedsim.web ``shown_reason``), the
variables (a parameter's name, an entity ID) inserted as they are. Mon Espace
and Modigia, which do not translate, still show the French reason."""
from __future__ import annotations

from urllib.parse import urljoin

import pytest

from fedsim_harness.scenario.browser import Browser, Page
from fedsim_harness.stack import Federation

REPLAYED_FR = ("Demande d'authentification déjà reçue : ce fournisseur d'identité a déjà traité une demande de ce "
               "service portant le même identifiant (rejeu refusé). Recommencez depuis le service.")
REPLAYED = {
    "nl": "Authenticatieaanvraag al ontvangen: deze identiteitsprovider heeft al een aanvraag van deze dienst met "
          "dezelfde identificatie verwerkt (replay geweigerd). Begin opnieuw vanuit de dienst.",
    "de": "Authentifizierungsanfrage bereits erhalten: Dieser Identitätsanbieter hat bereits eine Anfrage dieses "
          "Dienstes mit derselben Kennung bearbeitet (Wiederholung abgelehnt). Beginnen Sie erneut beim Dienst.",
    "en": "Authentication request already received: this identity provider has already handled a request from this "
          "service with the same identifier (replay refused). Start again from the service.",
}
TAMPERED_FR = ("Signature absente ou invalide : le message n'est pas signé par une clé de l'émetteur publiée dans "
               "ses métadonnées, ou il a été modifié.")
TAMPERED_NL = ("Handtekening ontbreekt of is ongeldig: het bericht is niet ondertekend met een sleutel van de "
               "uitgever die in zijn metadata is gepubliceerd, of het werd gewijzigd.")


def request_to(browser: Browser, url: str) -> str:
    """Where ``url`` redirects (not followed): a service's signed AuthnRequest."""
    page = browser.transport.request("GET", url)
    assert page.status in (302, 303), (url, page.status, page.text[:300])
    return urljoin(url, page.headers["Location"])


def reason(page: Page) -> str:
    """The reason as the error page shows it (one space between words)."""
    return " ".join(page.text.split())


def choose(browser: Browser, federation: Federation, lang: str) -> None:
    """The person picks a language on CSAM's home page (remembered in its cookie)."""
    assert browser.open(federation.urls["idp_csam"] + f"/?lang={lang}").status == 200


@pytest.mark.parametrize("lang", ["nl", "de", "en"])
def test_a_replayed_authn_request_is_refused_in_the_persons_language(
        federation: Federation, browser: Browser, lang: str) -> None:
    choose(browser, federation, lang)
    sso = request_to(browser, federation.urls["monespace"] + "/connexion")
    assert sso.startswith(federation.urls["idp_csam"] + "/saml/sso?")
    assert browser.transport.request("GET", sso).status == 302  # the first time: accepted
    page = browser.transport.request("GET", sso)  # the same signed request again
    assert page.status == 400
    assert REPLAYED[lang] in reason(page), reason(page)[:600]
    assert "déjà reçue" not in page.text


def test_the_variables_of_a_reason_are_inserted_untranslated(federation: Federation, browser: Browser) -> None:
    choose(browser, federation, "nl")
    sso = request_to(browser, federation.urls["monespace"] + "/connexion")
    page = browser.transport.request("GET", sso + "&RelayState=encore")  # a parameter given twice
    assert page.status == 400
    assert "SAML-bericht geweigerd" in page.text  # the title, as before
    assert "Parameter RelayState herhaald in de URL: bericht geweigerd." in reason(page), reason(page)[:600]


def test_a_tampered_authn_request_in_dutch_and_in_french(federation: Federation, browser: Browser) -> None:
    sso = request_to(browser, federation.urls["monespace"] + "/connexion")
    tampered = sso.replace("Signature=", "Signature=AAAA", 1)
    page = browser.transport.request("GET", tampered)  # no language chosen: French, as before
    assert page.status == 400 and TAMPERED_FR in reason(page), reason(page)[:600]
    choose(browser, federation, "nl")
    page = browser.transport.request("GET", tampered)
    assert page.status == 400 and TAMPERED_NL in reason(page), reason(page)[:600]
    assert TAMPERED_FR not in reason(page)


def test_mon_espace_and_modigia_still_show_the_french_reason(federation: Federation, browser: Browser) -> None:
    choose(browser, federation, "nl")  # CSAM's choice does not reach the other apps
    cerbere = request_to(browser, federation.urls["modigia_sp"] + "/saml/login")
    assert cerbere.startswith(federation.urls["monespace"] + "/cerbere/sso?")
    browser.transport.request("GET", cerbere)
    page = browser.transport.request("GET", cerbere)  # replayed at Cerbère (Mon Espace)
    assert page.status == 400 and REPLAYED_FR in reason(page), reason(page)[:600]
    page = browser.transport.request("POST", federation.urls["modigia_sp"] + "/saml/acs", {})
    assert page.status == 400
    assert "Aucune réponse SAML reçue (paramètre SAMLResponse absent)." in reason(page), reason(page)[:600]
