"""CSAM's newer pages in the person's language (issue 13): the BEL agent's
login, the OpenID Provider's pages and error pages, the eIDAS single-logout
refusals, itsme's back-channel failure, and the HTTP error pages (404, 405…)
whose titles Werkzeug writes in English — French by default, translated on
CSAM, French (never English) on the French-only apps."""
from __future__ import annotations

import socket

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from fedsim.saml.slo import ReceivedLogout
from fedsim.web import http_error_texts
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation
from idp_csam import bel_agent
from idp_csam.itsme_backchannel import Http, Unreachable
from test_csam_bel import AGENT
from test_eidas_slo import connector_slo, entity_id, get, node_slo


def csam(federation: Federation) -> str:
    return federation.urls["idp_csam"]


def title(page) -> str:  # noqa: ANN001 - a browser Page
    return " ".join(page.tree.xpath("string(//h1)").split())


# -- the BEL agent -------------------------------------------------------------------------------

def test_the_bel_agent_login_in_dutch(federation: Federation, browser: Browser) -> None:
    page = browser.open(csam(federation) + "/bel/agent/connexion?lang=nl")
    assert page.status == 200 and title(page) == "Lokaal Registratiekantoor (BEL)"
    assert "De registratie van buitenlandse onderdanen is voorbehouden aan de medewerkers." in page.text
    assert page.tree.xpath("//label[@for='username']/text()") == ["Gebruikersnaam van de medewerker"]
    assert page.tree.xpath("//label[@for='password']/text()") == ["Wachtwoord"]
    assert "Connexion de l'agent" not in page.text and "Nom d'utilisateur" not in page.text
    page = browser.submit({"username": "", "password": ""}, button="Aanmelden als medewerker")
    assert page.status == 400 and "Typ uw gebruikersnaam als medewerker." in page.text
    page = browser.submit({"username": AGENT.bel_agent.username, "password": "Niet-het-goede-2026"},
                          button="Aanmelden als medewerker")
    assert page.status == 400
    assert (f"Na {bel_agent.MAX_FAILURES} foute pogingen wordt de toegang van de medewerker 15 minuten "
            "geblokkeerd.") in page.text and "incorrect" not in page.text
    page = browser.submit({"username": AGENT.bel_agent.username, "password": AGENT.bel_agent.password},
                          button="Aanmelden als medewerker")
    assert page.url.endswith("/bel/") and "Aangemelde medewerker:" in page.text
    assert "Agent connecté·e" not in page.text
    page = browser.submit({}, button="Afmelden")
    assert "U bent afgemeld van de pagina van het kantoor." in page.text


def test_the_bel_agent_refusal_in_german_and_french(federation: Federation, browser: Browser) -> None:
    browser.open(csam(federation) + "/bel/agent/connexion?lang=de")
    page = browser.submit({"username": "niemand.bel", "password": "Falsch-2026"}, button="Anmeldung für Mitarbeitende")
    assert page.status == 400 and "Benutzername oder Passwort für Mitarbeitende falsch." in page.text
    browser.open(csam(federation) + "/bel/agent/connexion?lang=fr")
    page = browser.submit({"username": "personne.bel", "password": "Faux-2026"}, button="Connexion de l'agent")
    assert "Nom d'utilisateur ou mot de passe d'agent incorrect. Après 5 essais erronés, l'accès de l'agent " \
           "est bloqué pendant 15 minutes." in page.text


def test_the_logout_form_refusal_in_english(federation: Federation, browser: Browser) -> None:
    browser.open(csam(federation) + "/?lang=en")
    page = browser.open(csam(federation) + "/bel/agent/deconnexion", "POST", {})
    assert page.status == 400  # the CSRF check answers first: its page is translated too
    assert title(page) == "Form refused"


# -- the OpenID Provider ---------------------------------------------------------------------------

def test_the_oidc_error_pages_in_dutch(federation: Federation, browser: Browser) -> None:
    page = browser.open(csam(federation) + "/oidc/authorize?lang=nl&client_id=onbekend&response_type=code")
    assert page.status == 400 and title(page) == "OpenID Connect-fout"
    assert "Clienttoepassing onbekend bij CSAM (client_id niet geregistreerd)" in page.text
    assert "Application cliente inconnue" not in page.text
    page = browser.open(csam(federation) + "/oidc/answer")  # the csam_lang cookie: still Dutch
    assert page.status == 409 and "Er loopt in deze browser geen OpenID Connect-aanmeldingsaanvraag" in page.text
    page = browser.open(csam(federation) + "/oidc/logout?id_token_hint=pas.un.jeton")
    assert page.status == 400 and "Het token id_token_hint is niet door CSAM uitgegeven" in page.text


def test_the_oidc_logged_out_page_in_german_and_french(federation: Federation, browser: Browser) -> None:
    page = browser.open(csam(federation) + "/oidc/logout?lang=de")
    assert page.status == 200 and title(page) == "Sie sind von CSAM abgemeldet"
    assert page.tree.xpath("//a[text()='Erneut anmelden']/@href") == ["/"]
    page = browser.open(csam(federation) + "/oidc/logout?lang=fr")
    assert title(page) == "Vous êtes déconnecté de CSAM" and "S'identifier à nouveau" in page.text


# -- eIDAS single logout ---------------------------------------------------------------------------

def test_the_eidas_slo_refusals_in_dutch_and_german(federation: Federation, browser: Browser) -> None:
    browser.open(csam(federation) + "/?lang=nl")
    # a LogoutResponse sent to the node, which asked for no logout
    to_node = connector_slo(federation).respond(
        ReceivedLogout("request", entity_id(federation, "eidas-node-idp"), "id-nooit-verzonden"))
    page = get(browser, to_node)
    assert page.status == 400, page.text[:300]
    assert "Onverwacht afmeldingsantwoord: het eIDAS-knooppunt heeft geen afmelding gevraagd." in page.text
    assert "inattendue" not in page.text
    browser.open(csam(federation) + "/?lang=de")
    # a LogoutResponse sent to the connector, which sent no LogoutRequest
    stray = node_slo(federation).respond(
        ReceivedLogout("request", entity_id(federation, "csam-eidas-sp"), "id-nie-gesendet"))
    page = get(browser, stray)
    assert page.status == 400 and "Nicht angeforderte Abmeldeantwort: Der eIDAS-Connector" in page.text


# -- itsme's back-channel --------------------------------------------------------------------------

def test_the_itsme_backchannel_failure_in_the_pages_language(federation: Federation) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    url = f"http://127.0.0.1:{port}/itsme-op/token"
    with federation.apps["idp_csam"].test_request_context("/?lang=en"), pytest.raises(Unreachable) as failed:
        Http().request("POST", url, data={"code": "x"})
    assert str(failed.value) == f"{url}: connection refused or impossible"
    with federation.apps["idp_csam"].test_request_context("/"), pytest.raises(Unreachable) as failed:
        Http().request("POST", url, data={"code": "x"})
    assert str(failed.value) == f"{url} : connexion refusée ou impossible"


# -- HTTP errors (Werkzeug's) ----------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "expected"), [
    ("nl", "Pagina niet gevonden"), ("de", "Seite nicht gefunden"), ("en", "Page not found"),
    ("fr", "Page introuvable")])
def test_csam_not_found_in_the_persons_language(federation: Federation, browser: Browser, lang: str,
                                                expected: str) -> None:
    page = browser.open(csam(federation) + f"/no-such-page?lang={lang}")
    assert page.status == 404 and title(page) == expected
    assert "Not Found" not in page.text and "requested URL" not in page.text


def test_csam_method_not_allowed_in_german(federation: Federation, browser: Browser) -> None:
    browser.open(csam(federation) + "/?lang=de")
    page = browser.open(csam(federation) + "/oidc/answer", "POST", {})
    assert page.status == 405 and title(page) == "Methode nicht erlaubt"
    assert "Diese Adresse nimmt diese Art von Anfrage nicht an (HTTP-Methode)." in page.text


@pytest.mark.parametrize("app", ["monespace", "modigia_sp"])
def test_the_french_only_apps_show_french_error_titles(federation: Federation, browser: Browser, app: str) -> None:
    page = browser.open(federation.urls[app] + "/no-such-page?lang=nl")
    assert page.status == 404 and title(page) == "Page introuvable"
    assert "Aucune page ne se trouve à cette adresse" in page.text and "Not Found" not in page.text


def test_a_description_given_at_the_raise_is_kept(federation: Federation) -> None:
    with federation.apps["idp_csam"].test_request_context("/?lang=nl"):
        assert http_error_texts(NotFound()) == (
            "Pagina niet gevonden",
            "Op dit adres staat geen pagina: controleer het, of begin opnieuw vanaf de startpagina.")
        assert http_error_texts(NotFound("Geen kaart 42.")) == ("Pagina niet gevonden", "Geen kaart 42.")
        assert http_error_texts(MethodNotAllowed(["GET"]))[0] == "Methode niet toegestaan"
    with federation.apps["monespace"].test_request_context("/"):
        assert http_error_texts(NotFound()) == (
            "Page introuvable", "Aucune page ne se trouve à cette adresse : vérifiez-la, ou repartez de l'accueil.")


def test_the_web_layers_own_refusals_in_the_pages_language(federation: Federation) -> None:
    """Refused before any view (an untrusted Host, a NUL in a form): CSAM
    says why in the person's language; the other apps in French."""
    client = federation.apps["idp_csam"].test_client()
    client.get("/?lang=nl")  # the language cookie
    host = client.get("/?lang=nl", headers={"Host": "evil.example"})  # no cookie for another host
    assert host.status_code == 400 and "Host-header niet herkend" in host.get_data(as_text=True)
    form = client.post("/bel/agent/connexion", data={"username": "a\x00b", "password": "x"})
    assert form.status_code == 400 and "een veld bevat een nulteken" in form.get_data(as_text=True)
    french = federation.apps["monespace"].test_client().get("/", headers={"Host": "evil.example"})
    assert "en-tête Host non reconnu" in french.get_data(as_text=True)
