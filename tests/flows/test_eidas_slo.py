"""eIDAS Single Logout (issue 12): the simulated foreign node's
``/eidas-node/slo`` and CSAM's connector's ``/eidas/sp/slo`` (HTTP-Redirect,
signed both ways, through fedsim.saml.slo), and the propagation: when Mon
Espace logs out of CSAM a person who logged in through eIDAS, CSAM ends the
node's session before it answers Mon Espace (CSAM -> node -> CSAM -> Mon
Espace). Every message here is made and signed by the real services with
the keys of their metadata; refusals are pages that say why, never a 500."""
from __future__ import annotations

import base64
import zlib
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
from downstream_sp import eid_login
from flask import Flask
from lxml import etree
from werkzeug.test import Client

from fedsim.db import Database
from fedsim.federation import entities
from fedsim.personas import by_id
from fedsim.saml.slo import LogoutService, ReceivedLogout
from fedsim_harness.scenario.browser import Browser, Page
from fedsim_harness.stack import Federation

EIDAS_LABEL = "IDENTIFICATION avec une identification électronique reconnue au plan européen"
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
UNKNOWN_PRINCIPAL = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
SANNE = "NL/BE/123456782"  # the node's NameID for Sanne de Vries (persistent: her PersonIdentifier)


# -- helpers -------------------------------------------------------------------------------------


def entity_id(federation: Federation, name: str) -> str:
    return entities(federation.settings)[name].entity_id


def csam(federation: Federation) -> Flask:
    return federation.apps["idp_csam"]


def node_slo(federation: Federation) -> LogoutService:
    """The node's own SLO service (its key, its metadata): what it would send."""
    return LogoutService(csam(federation).extensions["idp_csam.eidas_node"].server)


def connector_slo(federation: Federation) -> LogoutService:
    return LogoutService(csam(federation).extensions["idp_csam.eidas_sp"].client)


def monespace_slo(federation: Federation) -> LogoutService:
    return federation.apps["monespace"].extensions["monespace.sp_slo"]


def eidas_login(browser: Browser, federation: Federation) -> None:
    """Mon Espace -> CSAM -> the Dutch node: Sanne de Vries."""
    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click(EIDAS_LABEL)
    browser.click("Pays-Bas")
    page = browser.click("Sanne de Vries")
    assert "VOTRE COMPTE MON ESPACE" in page.text, page.main_text[:300]


def subject_sent_to(browser: Browser, acs_url: str) -> tuple[str, str]:
    """(NameID, SessionIndex) of the last assertion posted to ``acs_url``."""
    xml = [m.xml for m in browser.saml_trace if m.kind == "SAMLResponse" and m.url == acs_url][-1]
    root = etree.fromstring(xml.encode())
    return (root.xpath("string(//saml:Subject/saml:NameID)", namespaces=NS),
            root.xpath("string(//saml:AuthnStatement/@SessionIndex)", namespaces=NS))


def request_in(location: str) -> etree._Element:
    """The LogoutRequest a redirect carries (read, not received: no replay record)."""
    value = parse_qs(urlsplit(location).query)["SAMLRequest"][0]
    return etree.fromstring(zlib.decompress(base64.b64decode(value), -15))


def answer_in(app: Flask, slo: LogoutService, location: str) -> ReceivedLogout:
    """The LogoutResponse a redirect carries, verified as its addressee would."""
    with Database.factory(app)() as db:
        return slo.receive(urlsplit(location).query, db)


def get(browser: Browser, url: str) -> Page:
    """One hop, without following the redirect."""
    return browser.transport.request("GET", url)


def csam_session_open(browser: Browser, federation: Federation) -> bool:
    """Does CSAM still answer a login silently? (asked by Mon Espace, with a
    fresh Mon Espace cookie so that Mon Espace's own session does not count)"""
    netloc = urlsplit(federation.urls["monespace"]).netloc
    browser.transport.clients[netloc] = Client(federation.apps["monespace"])
    page = browser.open(federation.urls["monespace"] + "/connexion")
    return "VOTRE COMPTE MON ESPACE" in page.text or "MON TABLEAU DE BORD" in page.text


def forged_signature(url: str) -> str:
    """``url`` with another (well-formed) signature value."""
    head, _, _ = url.partition("&Signature=")
    return head + "&Signature=" + quote_plus(base64.b64encode(b"\x01" * 256).decode("ascii"))


def refused(page: Page, reason: str) -> None:
    assert page.status == 400, (page.status, page.text[:300])
    assert reason in page.text, page.text[:600]
    assert "Traceback" not in page.body


# -- propagation: a logout of CSAM ends the node's session first ------------------------------------


def test_a_logout_of_csam_ends_the_node_session_before_csam_answers(federation: Federation,
                                                                    browser: Browser) -> None:
    eidas_login(browser, federation)
    node_name_id, node_index = subject_sent_to(browser, federation.urls["idp_csam"] + "/eidas/sp/acs")
    csam_name_id, csam_index = subject_sent_to(browser, federation.urls["monespace"] + "/saml/sp/acs")
    assert node_name_id == SANNE and node_index

    url, request_id = monespace_slo(federation).request(entity_id(federation, "csam-idp"), csam_name_id, csam_index,
                                                         relay_state="etat-de-mon-espace")
    to_node = get(browser, url)  # CSAM: to the node first
    location = to_node.headers["Location"]
    assert to_node.status == 302 and location.startswith(federation.urls["idp_csam"] + "/eidas-node/slo?"), location
    asked = request_in(location)
    assert asked.findtext("saml:Issuer", namespaces=NS) == entity_id(federation, "csam-eidas-sp")
    assert asked.findtext("saml:NameID", namespaces=NS) == SANNE
    assert asked.xpath("samlp:SessionIndex/text()", namespaces=NS) == [node_index]
    assert "Signature=" in location and "SigAlg=" in location

    to_connector = get(browser, location)  # the node ends its session, answers the connector
    location = to_connector.headers["Location"]
    assert location.startswith(federation.urls["idp_csam"] + "/eidas/sp/slo?"), location
    node_answer = answer_in(csam(federation), connector_slo(federation), location)
    assert node_answer.complete and node_answer.issuer == entity_id(federation, "eidas-node-idp")
    assert node_answer.in_response_to == asked.get("ID")

    to_monespace = get(browser, location)  # CSAM ends its session, answers Mon Espace
    location = to_monespace.headers["Location"]
    assert location.startswith(federation.urls["monespace"] + "/saml/sp/slo?"), location
    csam_answer = answer_in(federation.apps["monespace"], monespace_slo(federation), location)
    assert csam_answer.complete and csam_answer.in_response_to == request_id
    assert csam_answer.relay_state == "etat-de-mon-espace"  # Mon Espace's RelayState, kept across the hops
    assert not csam_session_open(browser, federation)
    # the node's answer again: refused, the logout it answered is over
    refused(get(browser, to_connector.headers["Location"]), "non sollicitée")


def test_a_logout_from_mon_espace_goes_through_the_node(federation: Federation, browser: Browser,
                                                        run_scenario) -> None:
    run_scenario("eidas-netherlands")  # Sanne's account created and activated: the dashboard
    browser.open(federation.urls["monespace"] + "/deconnexion")
    page = browser.click("Me déconnecter")
    assert page.status == 200 and "Vous êtes déconnecté" in page.text and "partielle" not in page.text, \
        page.text[:500]
    hops = [h.split("?")[0] for h in browser.history]
    node_hop = next(i for i, h in enumerate(hops) if "/eidas-node/slo" in h)
    assert "/saml/slo" in hops[node_hop - 1] and "/eidas/sp/slo" in hops[node_hop + 1], hops
    (asked,) = [etree.fromstring(m.xml.encode()) for m in browser.saml_trace
                if m.kind == "SAMLRequest" and m.url == federation.urls["idp_csam"] + "/eidas-node/slo"]
    assert asked.findtext("saml:NameID", namespaces=NS) == SANNE
    assert not csam_session_open(browser, federation)


def test_a_logout_of_csam_after_another_method_does_not_go_to_the_node(federation: Federation,
                                                                       browser: Browser) -> None:
    """Propagation is only for an authentication that came from the node: the
    control case, a CSAM session without eIDAS, ends without any hop."""
    browser.open(federation.urls["monespace"] + "/connexion")
    eid_login(browser, by_id("jean"))
    name_id, index = subject_sent_to(browser, federation.urls["monespace"] + "/saml/sp/acs")
    url, _ = monespace_slo(federation).request(entity_id(federation, "csam-idp"), name_id, index)
    page = get(browser, url)
    assert page.headers["Location"].startswith(federation.urls["monespace"] + "/saml/sp/slo?")
    assert answer_in(federation.apps["monespace"], monespace_slo(federation), page.headers["Location"]).complete


# -- the node's SLO endpoint ---------------------------------------------------------------------


def test_the_node_ends_its_session_only_for_the_person_and_session_named(federation: Federation,
                                                                         browser: Browser) -> None:
    eidas_login(browser, federation)
    node_name_id, node_index = subject_sent_to(browser, federation.urls["idp_csam"] + "/eidas/sp/acs")
    node_id = entity_id(federation, "eidas-node-idp")
    slo = connector_slo(federation)

    def ask(name_id: str, index: str) -> ReceivedLogout:
        url, request_id = slo.request(node_id, name_id, index)
        page = get(browser, url)
        assert page.status == 302 and page.headers["Location"].startswith(
            federation.urls["idp_csam"] + "/eidas/sp/slo?"), page.text[:300]
        answer = answer_in(csam(federation), slo, page.headers["Location"])
        assert answer.in_response_to == request_id and answer.issuer == node_id
        return answer

    for name_id, index in (("XX/BE/quelqu-un-d-autre", node_index), (node_name_id, "_une-autre-session")):
        answer = ask(name_id, index)
        assert not answer.success and answer.status == UNKNOWN_PRINCIPAL, answer
        assert "Demande de déconnexion refusée" in answer.status_message
    assert ask(node_name_id, node_index).complete  # the node's session ends
    # no node session left: a request about someone else has nothing to end (Success, as CSAM answers)
    assert ask("XX/BE/quelqu-un-d-autre", node_index).complete
    assert csam_session_open(browser, federation)  # the node's logout alone does not end CSAM's session


def test_the_node_refuses_what_it_must(federation: Federation, browser: Browser) -> None:
    eidas_login(browser, federation)
    node_name_id, node_index = subject_sent_to(browser, federation.urls["idp_csam"] + "/eidas/sp/acs")
    url, _ = connector_slo(federation).request(entity_id(federation, "eidas-node-idp"), node_name_id, node_index)
    unsigned = url.split("&SigAlg=")[0]
    refused(get(browser, unsigned), "non signé")
    refused(get(browser, forged_signature(url)), "Signature absente ou invalide")
    refused(get(browser, federation.urls["idp_csam"] + "/eidas-node/slo"), "Aucun message de déconnexion SAML")
    assert get(browser, url).status == 302  # the genuine one
    refused(get(browser, url), "rejouée")  # once only
    # a LogoutResponse: the node never asks anyone to log out
    stray = node_slo(federation).respond(ReceivedLogout("request", entity_id(federation, "csam-eidas-sp"), "id-x"))
    answer = connector_slo(federation).respond(
        ReceivedLogout("request", entity_id(federation, "eidas-node-idp"), "id-jamais-envoye"))
    assert stray.startswith(federation.urls["idp_csam"] + "/eidas/sp/slo?")
    assert answer.startswith(federation.urls["idp_csam"] + "/eidas-node/slo?")
    refused(get(browser, answer), "le nœud eIDAS n'a demandé aucune déconnexion")


# -- the connector's SLO endpoint --------------------------------------------------------------------


def test_a_logout_request_of_the_node_ends_the_csam_session_it_names(federation: Federation,
                                                                      browser: Browser) -> None:
    eidas_login(browser, federation)
    node_name_id, node_index = subject_sent_to(browser, federation.urls["idp_csam"] + "/eidas/sp/acs")
    connector_id = entity_id(federation, "csam-eidas-sp")
    slo = node_slo(federation)
    for name_id, index in (("XX/BE/quelqu-un-d-autre", node_index), (node_name_id, "_une-autre-session")):
        url, _ = slo.request(connector_id, name_id, index)
        page = get(browser, url)
        answer = answer_in(csam(federation), slo, page.headers["Location"])
        assert answer.status == UNKNOWN_PRINCIPAL and not answer.success
    assert csam_session_open(browser, federation)
    url, request_id = slo.request(connector_id, node_name_id, node_index)
    page = get(browser, url)
    assert page.headers["Location"].startswith(federation.urls["idp_csam"] + "/eidas-node/slo?")
    answer = answer_in(csam(federation), slo, page.headers["Location"])
    assert answer.complete and answer.in_response_to == request_id
    assert not csam_session_open(browser, federation)


def test_the_connector_refuses_what_it_must(federation: Federation, browser: Browser) -> None:
    eidas_login(browser, federation)
    # a LogoutResponse to a request the connector never sent
    stray = node_slo(federation).respond(
        ReceivedLogout("request", entity_id(federation, "csam-eidas-sp"), "id-jamais-envoye"))
    refused(get(browser, stray), "non sollicitée")
    refused(get(browser, stray.split("&SigAlg=")[0]), "non signé")
    refused(get(browser, federation.urls["idp_csam"] + "/eidas/sp/slo?SAMLRequest=%%%"), "illisible")
    node_name_id, node_index = subject_sent_to(browser, federation.urls["idp_csam"] + "/eidas/sp/acs")
    url, _ = node_slo(federation).request(entity_id(federation, "csam-eidas-sp"), node_name_id + "-x", node_index)
    assert get(browser, url).status == 302
    refused(get(browser, url), "rejouée")
    # none of this ended anything
    assert csam_session_open(browser, federation)


@pytest.mark.parametrize("path", ["/eidas-node/slo", "/eidas/sp/slo"])
def test_slo_endpoints_answer_garbage_with_a_page(federation: Federation, browser: Browser, path: str) -> None:
    for query in ("SAMLResponse=bm9wZQ%3D%3D", "SAMLRequest=&SAMLRequest=", "RelayState=x", "SAMLRequest=" + "A" * 5000):
        page = get(browser, federation.urls["idp_csam"] + path + "?" + query)
        assert page.status == 400 and "Traceback" not in page.body, (query, page.status)


def test_a_node_that_does_not_confirm_makes_the_csam_logout_partial(federation: Federation,
                                                                    browser: Browser) -> None:
    """The node's session is no longer the one CSAM's authentication came
    from (a later login at the node, whose answer never reached CSAM): the
    node answers UnknownPrincipal, CSAM still ends its own session and tells
    Mon Espace Success/PartialLogout, naming the node."""
    eidas_login(browser, federation)
    csam_name_id, csam_index = subject_sent_to(browser, federation.urls["monespace"] + "/saml/sp/acs")
    page = browser.open(federation.urls["idp_csam"] + "/eidas?pays=NL")  # to the node's page again
    assert "/eidas-node/authentification" in page.url
    (token,) = page.tree.xpath("//form[.//button[@name='persona']]//input[@name='csrf_token']/@value")
    answered = browser.transport.request("POST", page.url, {"csrf_token": token, "persona": "sanne"})
    assert answered.status == 200 and "SAMLResponse" in answered.body  # not delivered to the connector

    url, request_id = monespace_slo(federation).request(entity_id(federation, "csam-idp"), csam_name_id, csam_index)
    to_node = get(browser, url)
    to_connector = get(browser, to_node.headers["Location"])
    node_answer = answer_in(csam(federation), connector_slo(federation), to_connector.headers["Location"])
    assert node_answer.status == UNKNOWN_PRINCIPAL
    to_monespace = get(browser, to_connector.headers["Location"])
    csam_answer = answer_in(federation.apps["monespace"], monespace_slo(federation), to_monespace.headers["Location"])
    assert csam_answer.success and csam_answer.partial and csam_answer.in_response_to == request_id
    assert "Nœud eIDAS étranger (simulé) n'a pas confirmé la déconnexion" in csam_answer.status_message
    assert not csam_session_open(browser, federation)
