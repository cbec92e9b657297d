"""Single Logout, strictly: a LogoutRequest ends a session only if it names
that session's person (NameID) and session (SessionIndex), is fresh and is
not replayed; our own LogoutRequests carry the SessionIndex; and a logout
some service did not confirm is reported as partial, naming it, at Mon
Espace and at Modigia. ``labo`` is a test SP of Cerbère's registry whose
answer to a LogoutRequest a test can make fail."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time
from lxml import etree
from saml2.samlp import STATUS_RESPONDER
from werkzeug.test import Client

from downstream_sp import browser, federation, jean, labo  # noqa: F401 - fixtures: a federation with labo-sp
from downstream_sp import EID, DownstreamSP, eid_login, log_in
from fedsim.db import Database
from fedsim.federation import entities
from fedsim.personas import Persona
from fedsim.saml.slo import LogoutService, ReceivedLogout
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
UNKNOWN_PRINCIPAL = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
PARTIAL_LOGOUT = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
LABO_ACS = "http://localhost:5999/saml/acs"


# -- helpers -------------------------------------------------------------------------


def cerbere_slo(federation: Federation) -> LogoutService:
    return federation.apps["monespace"].extensions["monespace.cerbere_slo"]


def monespace_slo(federation: Federation) -> LogoutService:
    return federation.apps["monespace"].extensions["monespace.sp_slo"]


def entity_id(federation: Federation, name: str) -> str:
    return entities(federation.settings)[name].entity_id


def log_into_modigia(browser: Browser, federation: Federation, persona: Persona) -> None:
    browser.open(federation.urls["modigia_sp"] + "/saml/login")
    if browser.has(EID):
        eid_login(browser, persona)
    assert modigia_session_open(browser, federation)


def modigia_session_open(browser: Browser, federation: Federation) -> bool:
    page = browser.transport.request("GET", federation.urls["modigia_sp"] + "/mes-cours")
    return page.status == 200 or "/saml/login" not in page.headers.get("Location", "/saml/login")


def csam_session_open(browser: Browser, federation: Federation) -> bool:
    """Does CSAM still answer a login silently? (asked by Mon Espace, with
    a fresh Mon Espace cookie so that Mon Espace's own session does not count)"""
    netloc = urlsplit(federation.urls["monespace"]).netloc
    browser.transport.clients[netloc] = Client(federation.apps["monespace"])
    page = browser.open(federation.urls["monespace"] + "/connexion")
    return "MON TABLEAU DE BORD" in page.text


def subject_sent_to(browser: Browser, acs_url: str) -> tuple[str, str]:
    """(NameID, SessionIndex) of the last assertion posted to ``acs_url``."""
    xml = [m.xml for m in browser.saml_trace if m.kind == "SAMLResponse" and m.url == acs_url][-1]
    root = etree.fromstring(xml.encode())
    return (root.xpath("string(//saml:Subject/saml:NameID)", namespaces=NS),
            root.xpath("string(//saml:AuthnStatement/@SessionIndex)", namespaces=NS))


def answer_to(federation: Federation, slo: LogoutService, location: str) -> ReceivedLogout:
    """Read the LogoutResponse a redirect carries, as its addressee would."""
    with Database.factory(federation.apps["monespace"])() as db:
        return slo.receive(urlsplit(location).query, db)


def requests_to(browser: Browser, url: str) -> list[etree._Element]:
    return [etree.fromstring(m.xml.encode()) for m in browser.saml_trace if m.kind == "SAMLRequest" and m.url == url]


# -- a LogoutRequest must concern the session ----------------------------------------------


@pytest.mark.parametrize("wrong", ["name_id", "session_index"])
def test_modigia_keeps_its_session_for_a_logout_request_about_another(
        federation: Federation, browser: Browser, jean: Persona, wrong: str) -> None:
    log_into_modigia(browser, federation, jean)
    name_id, session_index = subject_sent_to(browser, federation.urls["modigia_sp"] + "/saml/acs")
    assert name_id and session_index
    if wrong == "name_id":
        name_id = "quelqu-un-d-autre"
    else:
        session_index = "_une-autre-session"
    url, _ = cerbere_slo(federation).request(entity_id(federation, "modigia-sp"), name_id, session_index)
    page = browser.transport.request("GET", url)
    assert page.status == 302
    answer = answer_to(federation, cerbere_slo(federation), page.headers["Location"])
    assert not answer.success and answer.status == UNKNOWN_PRINCIPAL
    assert modigia_session_open(browser, federation)


def test_modigia_ends_its_session_for_a_matching_logout_request(
        federation: Federation, browser: Browser, jean: Persona) -> None:
    log_into_modigia(browser, federation, jean)
    name_id, session_index = subject_sent_to(browser, federation.urls["modigia_sp"] + "/saml/acs")
    url, _ = cerbere_slo(federation).request(entity_id(federation, "modigia-sp"), name_id, session_index)
    page = browser.transport.request("GET", url)
    assert answer_to(federation, cerbere_slo(federation), page.headers["Location"]).complete
    assert not modigia_session_open(browser, federation)
    # the same request again: refused as a replay, with a page that says so
    page = browser.transport.request("GET", url)
    assert page.status == 400 and "rejouée" in page.text, page.text[:300]


def test_stale_logout_request_is_refused_and_ends_nothing(federation: Federation, browser: Browser,
                                                          jean: Persona) -> None:
    log_into_modigia(browser, federation, jean)
    name_id, session_index = subject_sent_to(browser, federation.urls["modigia_sp"] + "/saml/acs")
    with freeze_time(datetime.now(timezone.utc) - timedelta(minutes=10)):
        url, _ = cerbere_slo(federation).request(entity_id(federation, "modigia-sp"), name_id, session_index)
    page = browser.transport.request("GET", url)
    assert page.status == 400 and "périmé" in page.text, page.text[:300]
    assert "Traceback" not in page.body
    assert modigia_session_open(browser, federation)


def test_csam_keeps_its_session_for_a_logout_request_about_another(
        federation: Federation, browser: Browser, jean: Persona) -> None:
    browser.open(federation.urls["monespace"] + "/connexion")
    eid_login(browser, jean)
    name_id, session_index = subject_sent_to(browser, federation.urls["monespace"] + "/saml/sp/acs")
    for wrong_name_id, wrong_index in (("quelqu-un-d-autre", session_index), (name_id, "_une-autre-session")):
        url, _ = monespace_slo(federation).request(entity_id(federation, "csam-idp"), wrong_name_id, wrong_index)
        page = browser.transport.request("GET", url)
        answer = answer_to(federation, monespace_slo(federation), page.headers["Location"])
        assert answer.status == UNKNOWN_PRINCIPAL
    assert csam_session_open(browser, federation)
    name_id, session_index = subject_sent_to(browser, federation.urls["monespace"] + "/saml/sp/acs")
    url, _ = monespace_slo(federation).request(entity_id(federation, "csam-idp"), name_id, session_index)
    page = browser.transport.request("GET", url)
    assert answer_to(federation, monespace_slo(federation), page.headers["Location"]).complete
    assert not csam_session_open(browser, federation)


def log_out_of_monespace(browser: Browser, federation: Federation):  # noqa: ANN201 - a Page
    """GET /deconnexion only asks; its button (a POST with the CSRF token) logs out."""
    page = browser.open(federation.urls["monespace"] + "/deconnexion")
    assert page.status == 200 and "Se déconnecter de Mon Espace ?" in page.text
    return browser.click("Me déconnecter")


# -- our LogoutRequests carry the SessionIndex; partial logouts say so -------------------------


def test_logout_from_monespace_sends_session_indexes_and_reports_a_partial_logout(
        federation: Federation, browser: Browser, labo: DownstreamSP, jean: Persona) -> None:
    log_in(browser, labo, jean)
    labo_name_id, labo_index = subject_sent_to(browser, LABO_ACS)
    csam_name_id, csam_index = subject_sent_to(browser, federation.urls["monespace"] + "/saml/sp/acs")
    labo.logout_status = STATUS_RESPONDER
    page = log_out_of_monespace(browser, federation)
    assert page.status == 200
    assert "Déconnexion partielle" in page.text
    assert "Service de test labo-sp n'a pas confirmé la déconnexion" in page.text, page.text
    assert "CSAM n'a pas confirmé" not in page.text  # CSAM did answer Success
    asked = labo.logout_requests[-1]
    assert (asked.name_id, asked.session_indexes) == (labo_name_id, (labo_index,))
    to_csam, = requests_to(browser, federation.urls["idp_csam"] + "/saml/slo")
    assert to_csam.xpath("string(saml:NameID)", namespaces=NS) == csam_name_id
    assert to_csam.xpath("samlp:SessionIndex/text()", namespaces=NS) == [csam_index]
    # CSAM did end its session, and Mon Espace's is over
    assert "MON TABLEAU DE BORD" not in browser.open(federation.urls["monespace"] + "/tableau-de-bord").text


def test_complete_logout_from_monespace_says_so(federation: Federation, browser: Browser, labo: DownstreamSP,
                                               jean: Persona) -> None:
    log_in(browser, labo, jean)
    page = log_out_of_monespace(browser, federation)
    assert "Vous êtes déconnecté" in page.text and "partielle" not in page.text
    assert labo.logout_requests


def test_logout_from_modigia_reports_a_partial_logout(federation: Federation, browser: Browser,
                                                      labo: DownstreamSP, jean: Persona) -> None:
    log_into_modigia(browser, federation, jean)
    assert browser.open(labo.login_url()).url == LABO_ACS
    modigia_name_id, modigia_index = subject_sent_to(browser, federation.urls["modigia_sp"] + "/saml/acs")
    labo.logout_status = STATUS_RESPONDER
    browser.open(federation.urls["modigia_sp"] + "/deconnexion")  # a confirmation page: logging out is a POST
    page = browser.click("Me déconnecter")
    assert page.url.startswith(federation.urls["modigia_sp"] + "/au-revoir"), page.url
    assert "Déconnexion partielle" in page.text
    assert "Cerbère Citoyen n'a pas confirmé la déconnexion" in page.text
    assert "Service de test labo-sp n'a pas confirmé la déconnexion" in page.text, page.text
    to_cerbere, = requests_to(browser, federation.urls["monespace"] + "/cerbere/slo")
    assert to_cerbere.xpath("string(saml:NameID)", namespaces=NS) == modigia_name_id
    assert to_cerbere.xpath("samlp:SessionIndex/text()", namespaces=NS) == [modigia_index]
    answer = [etree.fromstring(m.xml.encode()) for m in browser.saml_trace
              if m.kind == "SAMLResponse" and m.url == federation.urls["modigia_sp"] + "/saml/slo"][-1]
    assert answer.xpath("samlp:Status//samlp:StatusCode/@Value", namespaces=NS) == [
        "urn:oasis:names:tc:SAML:2.0:status:Success", PARTIAL_LOGOUT]
    assert not modigia_session_open(browser, federation)
