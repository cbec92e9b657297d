"""Step-up: a downstream SP's RequestedAuthnContext. Cerbère answers from the
Mon Espace session when its level (mapped by monespace.identity.LEVELS) is
enough, asks CSAM for what is needed otherwise, and answers a signed
NoAuthnContext error Response when no level can do (CSAM offers the eID,
Level500, and the e-mail code, Level300, and says NoAuthnContext itself when
none of its keys fits)."""
from __future__ import annotations

import base64
import re
from urllib.parse import urljoin

import pytest
from lxml import etree
from sqlalchemy import select

from downstream_sp import browser, federation, jean, labo  # noqa: F401 - fixtures: a federation with labo-sp
from downstream_sp import DownstreamSP, eid_login, log_in
from fedsim.federation import entities
from fedsim.personas import Persona
from fedsim.saml.errors import AuthnContextUnavailable
from fedsim.saml.state import OutstandingRequest
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation
from monespace import identity

L200, L400, L450, L500 = (f"urn:be:fedict:iam:fas:Level{n}" for n in (200, 400, 450, 500))
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
ACS = "http://localhost:5999/saml/acs"


def log_into_monespace(browser: Browser, federation: Federation, persona: Persona) -> None:
    browser.open(federation.urls["monespace"] + "/connexion")
    page = eid_login(browser, persona)
    assert "MON TABLEAU DE BORD" in page.text, page.text[:300]


def went_to_csam(browser: Browser, since: int, federation: Federation) -> bool:
    return any(federation.urls["idp_csam"] in hop for hop in browser.history[since:])


def upstream_requests(browser: Browser, federation: Federation) -> list[etree._Element]:
    return [etree.fromstring(m.xml.encode()) for m in browser.saml_trace
            if m.kind == "SAMLRequest" and m.url == federation.urls["idp_csam"] + "/saml/sso"]


def requested(request: etree._Element) -> tuple[str | None, list[str]]:
    found = request.xpath("samlp:RequestedAuthnContext", namespaces=NS)
    if not found:
        return None, []
    return found[0].get("Comparison"), found[0].xpath("saml:AuthnContextClassRef/text()", namespaces=NS)


def request_id(sp: DownstreamSP) -> str:
    return sp.db.scalars(select(OutstandingRequest.request_id).where(
        OutstandingRequest.relay_state == sp.relay_states[-1])).one()


def assert_signed_no_authn_context(sp: DownstreamSP, federation: Federation) -> None:
    """The SP got a signed error Response it can verify and read."""
    form = sp.posted[-1]
    root = etree.fromstring(base64.b64decode(form["SAMLResponse"]))
    assert root.xpath("string(saml:Issuer)", namespaces=NS) == entities(federation.settings)["cerbere-idp"].entity_id
    assert root.get("InResponseTo") == request_id(sp) and root.get("Destination") == ACS
    assert root.xpath("ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm", namespaces=NS) == [RSA_SHA256]
    assert not root.xpath("saml:Assertion", namespaces=NS)
    assert root.xpath("samlp:Status/samlp:StatusCode/samlp:StatusCode/@Value", namespaces=NS) == [NO_AUTHN_CONTEXT]
    assert form["RelayState"] == sp.relay_states[-1]
    with pytest.raises(AuthnContextUnavailable, match="Le niveau d'authentification demandé n'est pas disponible"):
        sp.accept(form)


def test_minimum_level400_is_met_silently_by_an_eid_session(federation: Federation, browser: Browser,
                                                            labo: DownstreamSP, jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    since = len(browser.history)
    page = browser.open(labo.login_url(contexts=(L400,), comparison="minimum"))
    assert page.url == ACS, page.text[:300]
    assert not went_to_csam(browser, since, federation), browser.history[since:]
    login = labo.accept()
    assert login.authn_context == identity.LEVELS[L500] == L500
    assert login.first("cerbereUsername") == jean.monespace.cerbere_username


def test_minimum_level400_without_a_session_asks_csam_for_it(federation: Federation, browser: Browser,
                                                              labo: DownstreamSP, jean: Persona) -> None:
    page = log_in(browser, labo, jean, contexts=(L400,), comparison="minimum")
    assert page.url == ACS, page.text[:300]
    assert labo.accept().authn_context == L500
    # Mon Espace asked CSAM for exactly the CSAM levels that map to « minimum Level400 »
    (upstream,) = upstream_requests(browser, federation)
    assert requested(upstream) == ("exact", [L400, L450, L500])


def test_exact_level200_cannot_be_met_and_the_sp_is_told(federation: Federation, browser: Browser,
                                                         labo: DownstreamSP, jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    since = len(browser.history)
    page = browser.open(labo.login_url(contexts=(L200,), comparison="exact"))
    assert page.url == ACS, page.text[:300]
    # Cerbère asked CSAM for Level200, and CSAM (eID only: Level500) said NoAuthnContext
    assert went_to_csam(browser, since, federation)
    assert requested(upstream_requests(browser, federation)[-1]) == ("exact", [L200])
    csam_answer = [m for m in browser.saml_trace if m.kind == "SAMLResponse"
                   and m.url == federation.urls["monespace"] + "/saml/sp/acs"][-1]
    assert NO_AUTHN_CONTEXT in csam_answer.xml
    assert_signed_no_authn_context(labo, federation)
    # the Mon Espace session is untouched, and a later ordinary request is answered
    page = browser.open(federation.urls["monespace"] + "/tableau-de-bord")
    assert "MON TABLEAU DE BORD" in page.text
    page = browser.open(labo.login_url())
    assert page.url == ACS and labo.accept().authn_context == L500


@pytest.mark.parametrize("contexts, comparison", [
    (("urn:be:fedict:iam:fas:Level999",), "exact"),  # unknown to Cerbère
    ((L500,), "better"),                              # nothing is stronger than Level500
])
def test_level_no_mapping_can_meet_is_refused_without_going_to_csam(
        federation: Federation, browser: Browser, labo: DownstreamSP, jean: Persona,
        contexts: tuple[str, ...], comparison: str) -> None:
    log_into_monespace(browser, federation, jean)
    since = len(browser.history)
    page = browser.open(labo.login_url(contexts=contexts, comparison=comparison))
    assert page.url == ACS, page.text[:300]
    assert not went_to_csam(browser, since, federation)
    assert_signed_no_authn_context(labo, federation)


def test_the_level_asserted_downstream_is_the_mapped_one(federation: Federation, browser: Browser,
                                                         labo: DownstreamSP, jean: Persona,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Map CSAM's Level500 to Level450 for Cerbère: the SP sees Level450, and
    a request for Level500 downstream can no longer be met."""
    monkeypatch.setitem(identity.LEVELS, L500, L450)
    log_into_monespace(browser, federation, jean)
    page = browser.open(labo.login_url(contexts=(L450,), comparison="exact"))
    assert page.url == ACS, page.text[:300]
    login = labo.accept()
    assert login.authn_context == L450
    root = etree.fromstring(base64.b64decode(labo.posted[-1]["SAMLResponse"]))
    assert root.xpath("string(//saml:AuthnContextClassRef)", namespaces=NS) == L450
    assert root.xpath("string(//saml:AuthenticatingAuthority)", namespaces=NS) == \
        entities(federation.settings)["csam-idp"].entity_id

    page = browser.open(labo.login_url(contexts=(L500,), comparison="minimum"))
    assert page.url == ACS
    assert_signed_no_authn_context(labo, federation)


def test_no_authn_context_from_csam_outside_a_step_up_is_a_clear_page(
        federation: Federation, browser: Browser, labo: DownstreamSP, jean: Persona) -> None:
    """CSAM's NoAuthnContext reaching Mon Espace when the Cerbère request it
    was for is gone (answered in another tab): an error page, not a 500."""
    log_into_monespace(browser, federation, jean)
    # a step-up toward CSAM, stopped before its answer is posted back
    url, method = labo.login_url(contexts=(L200,), comparison="exact"), "GET"
    for _ in range(10):
        page = browser.transport.request(method, url)
        if page.status in (302, 303):
            url = urljoin(url, page.headers["Location"])
            continue
        break
    forms = page.tree.xpath("//form[@data-autosubmit]")
    assert forms and forms[0].get("action") == federation.urls["monespace"] + "/saml/sp/acs", page.text[:300]
    held = {i.get("name"): i.get("value") for i in forms[0].xpath(".//input[@name]")}
    # meanwhile, another Cerbère request is answered from the session
    assert browser.open(labo.login_url()).url == ACS
    page = browser.transport.request("POST", federation.urls["monespace"] + "/saml/sp/acs", held)
    assert page.status == 400, page.status
    assert "Le niveau d'authentification demandé n'est pas disponible" in page.text
    assert "Traceback" not in page.body


def test_csam_honours_requested_authn_context(federation: Federation, browser: Browser,
                                              labo: DownstreamSP, jean: Persona) -> None:
    """CSAM itself: « minimum Level400 » leads to the eID; « maximum Level400 »
    offers only the keys at or below Level400 (the e-mail code, Level300),
    never the eID (Level500)."""
    page = browser.open(labo.login_url(contexts=(L400,), comparison="maximum"))
    # no session: Cerbère asks CSAM exactly for Level100..Level400 (Level300: the e-mail code)
    assert page.url == federation.urls["idp_csam"] + "/", page.text[:300]
    assert "IDENTIFICATION avec un code de sécurité envoyé par e-mail" in page.text
    assert "IDENTIFICATION avec un lecteur de cartes eID" not in page.text
    assert requested(upstream_requests(browser, federation)[-1]) == (
        "exact", ["urn:be:fedict:iam:fas:Level100", L200, "urn:be:fedict:iam:fas:Level300", L400])
    # the e-mail code answers the pending request at Level300
    browser.click("IDENTIFICATION avec un code de sécurité envoyé par e-mail")
    browser.submit({"username": jean.csam.username, "password": jean.csam.password}, button="Suivant")
    [mail] = federation.mailbox.test_client().get(
        "/api/messages", query_string={"to": jean.email, "limit": 1}).get_json()["messages"]
    page = browser.submit({"code": re.search(r"\d{6}", mail["text"]).group()}, button="Se connecter")
    assert page.url == ACS, page.text[:300]
    assert labo.accept().authn_context == "urn:be:fedict:iam:fas:Level300"
