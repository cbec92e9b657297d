"""eIDAS SAML Attribute Profile (v1.2) value types (fedsim.saml.eidas): the
node's Response types each natural-person value (xsi:type
eidas-natural:…Type, DateOfBirth an xsd:date YYYY-MM-DD), and the
connector refuses a Response whose values are not typed so — each tampered
Response here is made and signed by the node itself (its own key, as in its
metadata), so only the typing is wrong."""
from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from fedsim import trust
from fedsim.federation import Settings, entities
from fedsim.saml import eidas, schema
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.sp import SamlLogin, ServiceProvider
from fedsim.saml.state import OutstandingRequest

NATURAL = "http://eidas.europa.eu/attributes/naturalperson"
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
LOA = "http://eidas.europa.eu/LoA/substantial"
PERSON = {"PersonIdentifier": ["NL/BE/123456782"], "CurrentFamilyName": ["de Vries"],
          "CurrentGivenName": ["Sanne"], "DateOfBirth": ["1991-04-17"]}
Shape = Callable[[etree._Element], None]


@pytest.fixture(scope="module")
def node(settings: Settings) -> IdentityProvider:
    return IdentityProvider(trust.entity_config(settings, "eidas-node-idp", eidas=True))


@pytest.fixture(scope="module")
def connector(settings: Settings) -> ServiceProvider:
    return ServiceProvider(trust.entity_config(settings, "csam-eidas-sp", eidas=True),
                           idp_entity_id=entities(settings)["eidas-node-idp"].entity_id)


def answered(node: IdentityProvider, connector: ServiceProvider, db: Session, shape: Shape,
             person: dict[str, list[str]] = PERSON) -> tuple[str, str]:
    """(SAMLResponse, RelayState) of a login the connector started and the node answered, ``shape``
    applied to the node's assertion before the node signs it."""
    url, relay_state = connector.start_login(db, "/suite", authn_contexts=(LOA,))
    args = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    info = node.parse_redirect(args)
    form = node.respond(info, subject=person["PersonIdentifier"][0], attributes=dict(person), authn_context=LOA,
                        shape_assertion=shape)
    return form.fields["SAMLResponse"], relay_state


def accept(connector: ServiceProvider, db: Session, saml_response: str, relay_state: str) -> SamlLogin:
    return connector.accept(db, saml_response, relay_state, [relay_state],
                            check=lambda login: eidas.check_types(login.attributes, login.attribute_types))


def values(root: etree._Element, name: str) -> list[etree._Element]:
    return root.findall(f".//saml:Attribute[@Name='{NATURAL}/{name}']/saml:AttributeValue", NS)


def retype(name: str, xsi_type: str | None, text: str | None = None,
           nsmap: dict[str | None, str] | None = None) -> Shape:
    """After the node's own typing: attribute ``name``'s value gets ``xsi_type`` (None: no type), and
    ``text`` if given."""
    def shape(assertion: etree._Element) -> None:
        eidas.type_values(assertion)
        (old,) = values(assertion, name)
        new = etree.Element(old.tag, nsmap=nsmap or {"xs": "http://www.w3.org/2001/XMLSchema"})
        if xsi_type is not None:
            new.set(XSI_TYPE, xsi_type)
        new.text = old.text if text is None else text
        old.getparent().replace(old, new)
    return shape


def nothing_recorded(db: Session) -> bool:
    return db.scalars(select(OutstandingRequest).where(OutstandingRequest.answered_at.is_not(None))).first() is None


# -- the node's XML -------------------------------------------------------------------------------


def test_the_node_types_every_value_as_the_profile_says(node, connector, db) -> None:
    saml_response, relay_state = answered(node, connector, db, eidas.type_values)
    root = etree.fromstring(base64.b64decode(saml_response))
    for name, local in (("PersonIdentifier", "PersonIdentifierType"), ("CurrentFamilyName", "CurrentFamilyNameType"),
                        ("CurrentGivenName", "CurrentGivenNameType"), ("DateOfBirth", "DateOfBirthType")):
        attribute = root.find(f".//saml:Attribute[@Name='{NATURAL}/{name}']", NS)
        assert (attribute.get("NameFormat"), attribute.get("FriendlyName")) == (URI, name)
        (value,) = values(root, name)
        assert value.get(XSI_TYPE) == f"eidas-natural:{local}"
        assert value.nsmap["eidas-natural"] == NATURAL
        assert value.text == PERSON[name][0]
    assert values(root, "DateOfBirth")[0].text == "1991-04-17"  # xsd:date, YYYY-MM-DD
    assert b'xmlns:eidas-natural="http://eidas.europa.eu/attributes/naturalperson"' in base64.b64decode(saml_response)
    schema.validate_tree(root.getroottree())  # the eIDAS natural-person schema knows these types
    login = accept(connector, db, saml_response, relay_state)  # signed after the typing: it verifies
    assert login.attribute_types["DateOfBirth"] == ["{" + NATURAL + "}DateOfBirthType"]
    assert login.first("CurrentFamilyName") == "de Vries"


def test_untyped_values_are_what_an_idp_sends_without_the_profile(node, connector, db) -> None:
    """The positive control of the refusals below: without type_values, xs:string — refused."""
    saml_response, relay_state = answered(node, connector, db, lambda assertion: None)
    root = etree.fromstring(base64.b64decode(saml_response))
    assert values(root, "PersonIdentifier")[0].get(XSI_TYPE) == "xs:string"
    with pytest.raises(SamlRefused, match="PersonIdentifier de type xs:string"):
        accept(connector, db, saml_response, relay_state)
    assert nothing_recorded(db)


# -- the connector refuses, naming the attribute --------------------------------------------------


@pytest.mark.parametrize(("shape", "reason"), [
    (retype("DateOfBirth", "xs:string"), "DateOfBirth de type xs:string"),
    (retype("CurrentGivenName", "xs:string"), "CurrentGivenName de type xs:string"),
    (retype("PersonIdentifier", None), "PersonIdentifier sans type"),
    (retype("CurrentFamilyName", None, nsmap={}), "CurrentFamilyName sans type"),
    # the right prefix bound to another namespace: the prefix is resolved, not compared (the schema
    # set knows no such type: refused there, naming it)
    (retype("PersonIdentifier", "eidas-natural:PersonIdentifierType",
            nsmap={"eidas-natural": "http://example.org/pas-eidas"}),
     "{http://example.org/pas-eidas}PersonIdentifierType"),
    # a type the schema set knows (eIDAS legal person) under the natural-person prefix
    (retype("PersonIdentifier", "eidas-natural:LegalPersonIdentifierType",
            nsmap={"eidas-natural": "http://eidas.europa.eu/attributes/legalperson"}),
     "PersonIdentifier de type {http://eidas.europa.eu/attributes/legalperson}LegalPersonIdentifierType"),
    # another eIDAS type on the wrong attribute
    (retype("CurrentFamilyName", "eidas-natural:CurrentGivenNameType", nsmap={"eidas-natural": NATURAL}),
     "CurrentFamilyName de type eidas-natural:CurrentGivenNameType"),
    # a date that is no date: the eIDAS schema (xsd:date) refuses it, naming DateOfBirthType
    (retype("DateOfBirth", "eidas-natural:DateOfBirthType", "17/04/1991", nsmap={"eidas-natural": NATURAL}),
     "DateOfBirthType"),
    (retype("DateOfBirth", "eidas-natural:DateOfBirthType", "1991-02-30", nsmap={"eidas-natural": NATURAL}),
     "DateOfBirthType"),
], ids=["date-as-string", "given-name-as-string", "no-type", "no-type-no-xs", "unknown-namespace",
        "legal-person-type", "other-eidas-type", "date-not-a-date", "date-30-february"])
def test_the_connector_refuses_a_wrongly_typed_value(node, connector, db, shape, reason) -> None:
    saml_response, relay_state = answered(node, connector, db, shape)
    with pytest.raises(SamlRefused) as refused:
        accept(connector, db, saml_response, relay_state)
    assert reason in refused.value.reason
    assert nothing_recorded(db)


@pytest.mark.parametrize("value", ["1991-02-30", "17/04/1991", "1991-4-17", "1991-04-17Z", "19910417", ""])
def test_a_date_of_birth_must_be_a_yyyy_mm_dd_date(value: str) -> None:
    """What the schema lets through (a time zone) or a node without the schema: check_types still refuses."""
    with pytest.raises(ValueError, match="DateOfBirth invalide"):
        eidas.check_types({"DateOfBirth": [value]}, {"DateOfBirth": [eidas.expected_type("DateOfBirth")]})


def test_every_value_is_checked_and_other_attributes_are_left_alone() -> None:
    typed = eidas.expected_type("PersonIdentifier")
    eidas.check_types({"PersonIdentifier": ["NL/BE/1"], "autre": ["x"]}, {"PersonIdentifier": [typed], "autre": [""]})
    with pytest.raises(ValueError, match="PersonIdentifier sans type"):
        eidas.check_types({"PersonIdentifier": ["NL/BE/1", "NL/BE/2"]}, {"PersonIdentifier": [typed]})
