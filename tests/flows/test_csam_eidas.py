"""eIDAS (G07, G08): CSAM's connector, the simulated foreign node, the
mapping of a foreign person to a CSAM citizen with a BIS number."""
from __future__ import annotations

import json

import pytest
from lxml import etree
from sqlalchemy import select

from fedsim import nrn, personas
from fedsim.db import Database
from fedsim.federation import entities
from fedsim.levels import LEVEL400, LEVEL450
from fedsim.saml.eidas import type_values
from fedsim.saml.sp import SamlLogin
from fedsim.saml.state import PendingAuthn
from idp_csam.eidas_node import LOA_HIGH, LOA_LOW, LOA_SUBSTANTIAL, load_personas
from idp_csam.methods.eidas import LevelRefused, check, citizen_for, fas_level, load_countries
from idp_csam.models import Citizen

EIDAS_LABEL = "IDENTIFICATION avec une identification électronique reconnue au plan européen"
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "eidas": "http://eidas.europa.eu/saml-extensions"}
NP = "http://eidas.europa.eu/attributes/naturalperson/"


def _xml(message) -> etree._Element:  # noqa: ANN001 - SamlMessage
    return etree.fromstring(message.xml.encode("utf-8"))


def _messages(browser, kind: str, url_part: str) -> list:
    return [m for m in browser.saml_trace if m.kind == kind and url_part in m.url]


def _attribute(root, name: str) -> list[str]:
    return [v.text for v in root.xpath(f"//saml:Attribute[@Name='{name}']/saml:AttributeValue", namespaces=NS)]


def _to_country(browser, federation, name: str):
    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click(EIDAS_LABEL)
    return browser.click(name)


# -- G07: a recognised country ------------------------------------------------

def test_netherlands_first_login_creates_a_bis_citizen(federation, browser):
    page = browser.open(federation.urls["monespace"] + "/connexion")
    assert EIDAS_LABEL in page.text
    page = browser.click(EIDAS_LABEL)
    assert "Choisissez votre pays" in page.text and "Pays-Bas" in page.text
    page = browser.click("Pays-Bas")
    assert "Authentification — Pays-Bas (nœud eIDAS simulé)" in page.text
    page = browser.click("Sanne de Vries")
    assert "VOTRE COMPTE MON ESPACE" in page.text and "première connexion" in page.text, page.main_text[:300]

    # the connector's request: eIDAS profile
    request = _xml(_messages(browser, "SAMLRequest", "/eidas-node/sso")[-1])
    assert request.findtext("samlp:Extensions/eidas:SPType", namespaces=NS) == "public"
    wanted = {ra.get("Name"): ra.get("isRequired") for ra in
              request.iterfind("samlp:Extensions/eidas:RequestedAttributes/eidas:RequestedAttribute", NS)}
    assert wanted == {NP + n: "true" for n in ("PersonIdentifier", "CurrentFamilyName",
                                              "CurrentGivenName", "DateOfBirth")}
    context = request.find("samlp:RequestedAuthnContext", NS)
    assert context.get("Comparison") == "minimum"
    assert [r.text for r in context.iterfind("saml:AuthnContextClassRef", NS)] == [LOA_SUBSTANTIAL]

    # the node's answer: natural-person attributes, PersonIdentifier NL/BE/…, the LoA
    answer = _xml(_messages(browser, "SAMLResponse", "/eidas/sp/acs")[-1])
    assert _attribute(answer, NP + "PersonIdentifier") == ["NL/BE/123456782"]
    assert _attribute(answer, NP + "DateOfBirth") == ["1991-04-17"]
    assert answer.xpath("//saml:AuthnContextClassRef/text()", namespaces=NS) == [LOA_SUBSTANTIAL]

    # CSAM to Mon Espace: a BIS number (sex unknown), Level400, method eidas
    upstream = _xml(_messages(browser, "SAMLResponse", "/saml/sp/acs")[-1])
    (number,) = _attribute(upstream, "egovNRN")
    parsed = nrn.parse(number)
    assert parsed.is_bis and parsed.sex is None and str(parsed.birth_date) == "1991-04-17"
    assert upstream.xpath("//saml:AuthnContextClassRef/text()", namespaces=NS) == [LEVEL400]
    assert _attribute(upstream, "urn:be:fedict:iam:attr:authenticationmethod") == ["eidas"]
    assert _attribute(upstream, "mail") == []  # no e-mail address known: the person types it
    with Database.factory(federation.apps["idp_csam"])() as db:
        citizen = db.get(Citizen, number)
        assert (citizen.given_name, citizen.surname, citizen.persona_id) == \
            ("Sanne", "de Vries", "eidas:NL/BE/123456782")


def test_germany_high_is_asserted_at_level450(federation, browser):
    _to_country(browser, federation, "Allemagne")
    page = browser.click("Lukas Müller")
    assert "VOTRE COMPTE MON ESPACE" in page.text
    upstream = _xml(_messages(browser, "SAMLResponse", "/saml/sp/acs")[-1])
    assert upstream.xpath("//saml:AuthnContextClassRef/text()", namespaces=NS) == [LEVEL450]


def test_the_question_mark_lists_the_recognised_countries(federation, browser):
    page = browser.open(federation.urls["idp_csam"] + "/")
    assert browser.has("Liste des pays reconnus")
    page = browser.open(federation.urls["idp_csam"] + "/eidas")
    recognised = page.tree.xpath("//details//li/@data-country")
    assert {"NL", "DE", "IT", "ES", "PT", "LU", "EE", "LV", "LT", "CZ", "SK", "HR"} <= set(recognised)
    assert "FR" not in recognised
    page = browser.open(federation.urls["idp_csam"] + "/eidas/pays-reconnus")
    assert "Pays-Bas" in page.text and "France" not in page.text


def test_countries_are_configurable(federation, tmp_path, browser, monkeypatch):
    custom = tmp_path / "countries.yaml"
    custom.write_text("recognised:\n  - {code: NL, name: Pays-Bas, scheme: DigiD}\n"
                      "not_recognised:\n  - {code: DE, name: Allemagne}\n", encoding="utf-8")
    monkeypatch.setitem(federation.apps["idp_csam"].config, "EIDAS_COUNTRIES_FILE", str(custom))
    page = browser.open(federation.urls["idp_csam"] + "/eidas")
    assert page.tree.xpath("//details//li/@data-country") == ["NL"]
    page = browser.open(federation.urls["idp_csam"] + "/eidas?pays=de")
    assert "Votre identification électronique n'est pas reconnue" in page.text
    assert load_countries(custom).find("NL")[1] is True


def test_returning_foreign_person_keeps_the_same_bis_number(federation):
    app = federation.apps["idp_csam"]
    login = SamlLogin(issuer="node", name_id="IT/BE/X", next_url="/", authn_context=LOA_SUBSTANTIAL,
                      session_index=None, attributes={
                          "PersonIdentifier": ["IT/BE/RSSGLI79H63H501X"], "CurrentFamilyName": ["Russo"],
                          "CurrentGivenName": ["Giulia"], "DateOfBirth": ["1979-06-23"]})
    with Database.factory(app)() as db:
        first = citizen_for(db, login, b"secret").nrn
        again = citizen_for(db, login, b"secret").nrn
        assert first == again and nrn.parse(first).is_bis


# -- G08: a country that is not recognised, an unknown one -----------------------

def test_france_points_to_the_foreign_national_procedure(federation, browser):
    page = _to_country(browser, federation, "France")
    assert page.status == 200
    assert "Votre identification électronique n'est pas reconnue" in page.text
    assert "Bureau d'Enregistrement Local (BEL)" in page.text and "code unique" in page.text
    assert "e-mail d'activation" in page.text
    assert not _messages(browser, "SAMLRequest", "/eidas-node/")  # no eIDAS leg started
    guide = federation.urls["monespace"] + "/centre-aide/guide?etranger=1"
    assert page.tree.xpath(f"//a[@href='{guide}']")
    page = browser.click("Consulter le guide de connexion")
    assert page.status == 200 and "etranger=1" in page.url


def test_unknown_country_code_is_404(federation, browser):
    page = browser.open(federation.urls["idp_csam"] + "/eidas?pays=XX")
    assert page.status == 404 and "Pays inconnu" in page.text
    page = browser.open(federation.urls["idp_csam"] + "/eidas?pays=" + "<script>" * 5)
    assert page.status == 404 and "<script>" not in page.body


# -- what the connector refuses ---------------------------------------------------

def _node_pending(federation):
    """The node's pending request, as the node would answer it."""
    app = federation.apps["idp_csam"]
    sp_id = entities(federation.settings)["csam-eidas-sp"].entity_id
    node = app.extensions["idp_csam.eidas_node"]
    with Database.factory(app)() as db:
        rows = [r for r in db.scalars(select(PendingAuthn)) if json.loads(r.payload)["sp_entity_id"] == sp_id]
        return node, node.recall(db, rows[-1].key)


def test_a_low_loa_answer_is_refused(federation, browser):
    _to_country(browser, federation, "Pays-Bas")
    node, info = _node_pending(federation)
    persona = load_personas()["NL"][0]
    form = node.respond(info, subject=persona.person_identifier, attributes=persona.attributes(),
                        authn_context=LOA_LOW, shape_assertion=type_values)
    page = browser.open(form.action, "POST", form.fields)
    assert page.status == 400
    assert "niveau de garantie eIDAS « faible »" in page.text and "substantiel" in page.text
    assert "Traceback" not in page.body
    with Database.factory(federation.apps["idp_csam"])() as db:  # nothing recorded
        assert db.scalars(select(Citizen).where(Citizen.persona_id.like("eidas:%"))).first() is None


def test_an_answer_from_another_country_is_refused(federation, browser):
    _to_country(browser, federation, "Italie")
    node, info = _node_pending(federation)
    persona = load_personas()["NL"][0]
    form = node.respond(info, subject=persona.person_identifier, attributes=persona.attributes(),
                        authn_context=LOA_SUBSTANTIAL, shape_assertion=type_values)
    page = browser.open(form.action, "POST", form.fields)
    assert page.status == 400 and "PersonIdentifier émis par le pays NL" in page.text


def test_cancel_at_the_node_is_a_clear_refusal(federation, browser):
    _to_country(browser, federation, "Pays-Bas")
    page = browser.click("Annuler")
    assert page.status == 400 and "Traceback" not in page.body


def test_bad_input_at_the_node_and_the_connector(federation, browser):
    csam = federation.urls["idp_csam"]
    for method, path, data in (("GET", "/eidas-node/sso", None), ("GET", "/eidas-node/sso?SAMLRequest=xx", None),
                               ("GET", "/eidas-node/authentification", None),
                               ("POST", "/eidas/sp/acs", {}), ("POST", "/eidas/sp/acs", {"SAMLResponse": "??",
                                                                                       "RelayState": "x"})):
        page = browser.open(csam + path, method, data)
        assert page.status == 400, (path, page.status)
        assert "Traceback" not in page.body
    for path in ("/eidas/sp/metadata", "/eidas-node/metadata"):
        page = browser.open(csam + path)
        assert page.status == 200 and "EntityDescriptor" in page.body


def test_the_node_refuses_a_request_outside_the_eidas_profile(federation, browser):
    """No eidas:SPType, no RequestedAttributes: a signed RequestDenied."""
    from fedsim.saml.sp import ServiceProvider
    from fedsim.trust import entity_config

    plain_sp = ServiceProvider(entity_config(federation.settings, "csam-eidas-sp"),
                               idp_entity_id=entities(federation.settings)["eidas-node-idp"].entity_id)
    with Database.factory(federation.apps["idp_csam"])() as db:
        url, _ = plain_sp.start_login(db, "/", authn_contexts=(LOA_SUBSTANTIAL,), comparison="minimum")
    page = browser.open(url + "&pays=NL")
    assert page.status == 400  # the connector: no such login started in this browser
    answer = _xml(_messages(browser, "SAMLResponse", "/eidas/sp/acs")[-1])
    assert answer.xpath("//samlp:StatusCode/samlp:StatusCode/@Value", namespaces=NS) == [
        "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"]
    assert "eidas:SPType" in answer.findtext("samlp:Status/samlp:StatusMessage", namespaces=NS)


# -- unit: the explicit level mapping ------------------------------------------------

def test_loa_mapping():
    assert fas_level(LOA_HIGH) == LEVEL450
    assert fas_level(LOA_SUBSTANTIAL) == LEVEL400
    with pytest.raises(LevelRefused, match="faible"):
        fas_level(LOA_LOW)
    for other in (None, "", "urn:be:fedict:iam:fas:Level500", "http://eidas.europa.eu/LoA/NotNotified/high"):
        with pytest.raises(LevelRefused):
            fas_level(other)


@pytest.mark.parametrize("identifier, country, ok", [
    ("NL/BE/123456782", "NL", True), ("NL/DE/123", "NL", False), ("NL/BE/", "NL", False),
    ("nl/BE/1", "NL", False), ("DE/BE/1", "NL", False), ("NL/BE/a b", "NL", False)])
def test_person_identifier_checks(identifier: str, country: str, ok: bool):
    login = SamlLogin(issuer="node", name_id="x", next_url="/", authn_context=LOA_SUBSTANTIAL, session_index=None,
                      attributes={"PersonIdentifier": [identifier], "CurrentFamilyName": ["F"],
                                  "CurrentGivenName": ["G"], "DateOfBirth": ["1990-01-01"]})
    if ok:
        check(login, country)
    else:
        with pytest.raises(ValueError):
            check(login, country)


def test_a_foreigner_of_the_personas_file_logs_in_as_that_persona(federation, browser):
    """daan has an ``eidas:`` identity in the personas file and a BIS number
    there: his eIDAS login is that person (number, e-mail), not a new BIS."""
    daan = personas.by_id("daan")
    _to_country(browser, federation, "Pays-Bas")
    page = browser.click(daan.full_name)
    assert "VOTRE COMPTE MON ESPACE" in page.text, page.main_text[:300]
    upstream = _xml(_messages(browser, "SAMLResponse", "/saml/sp/acs")[-1])
    assert _attribute(upstream, "egovNRN") == [daan.nrn]
    assert _attribute(upstream, "mail") == [daan.email]
    with Database.factory(federation.apps["idp_csam"])() as db:
        assert db.scalars(select(Citizen).where(Citizen.persona_id == f"eidas:NL/BE/{daan.eidas.national_id}")
                          ).first() is None  # no second record
