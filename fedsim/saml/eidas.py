"""Typed attribute values of the eIDAS SAML Attribute Profile (v1.2).

The eIDAS SAML Attribute Profile, version 1.2 (eIDAS Technical Sub-group),
defines each natural-person attribute by its URI
(``http://eidas.europa.eu/attributes/naturalperson/<Name>``, NameFormat uri,
FriendlyName the short name) *and* by the XML type of its
``saml:AttributeValue``, given as ``xsi:type`` in the namespace
``http://eidas.europa.eu/attributes/naturalperson`` (prefix
``eidas-natural``), whose schema (``saml_eidas_natural_person.xsd``) pysaml2
ships and ``fedsim.saml.schema`` validates against:

    PersonIdentifier   eidas-natural:PersonIdentifierType   (xsd:string)
    CurrentFamilyName  eidas-natural:CurrentFamilyNameType  (xsd:string)
    CurrentGivenName   eidas-natural:CurrentGivenNameType   (xsd:string)
    DateOfBirth        eidas-natural:DateOfBirthType        (xsd:date, YYYY-MM-DD)

and, for the optional ones, BirthNameType, PlaceOfBirthType,
CurrentAddressType, GenderType.

- A node (IdP) types its values with ``type_values``, on the unsigned
  assertion, before it is signed (``IdentityProvider.respond(shape_assertion=…)``).
- A connector (SP) checks them with ``check_types`` on what
  ``fedsim.saml.profile`` read from the verified tree
  (``SamlLogin.attribute_types``: each value's ``xsi:type`` resolved to
  ``{namespace}local``): an absent or other type, or a DateOfBirth that is
  not a YYYY-MM-DD date, is refused, naming the attribute.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

from lxml import etree

from fedsim.saml.texts import said

NATURAL_PERSON_NS = "http://eidas.europa.eu/attributes/naturalperson"
PREFIX = "eidas-natural"
ATTRIBUTE_PREFIX = NATURAL_PERSON_NS + "/"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_A = "{" + SAML + "}"
_XSI_TYPE = "{" + XSI + "}type"
# eIDAS SAML Attribute Profile v1.2, natural person: friendly name -> xsi:type (local part)
VALUE_TYPES: dict[str, str] = {
    "PersonIdentifier": "PersonIdentifierType",
    "CurrentFamilyName": "CurrentFamilyNameType",
    "CurrentGivenName": "CurrentGivenNameType",
    "DateOfBirth": "DateOfBirthType",
    "BirthName": "BirthNameType",
    "PlaceOfBirth": "PlaceOfBirthType",
    "CurrentAddress": "CurrentAddressType",
    "Gender": "GenderType",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def expected_type(name: str) -> str:
    """The ``{namespace}local`` type the profile gives attribute ``name``."""
    return "{" + NATURAL_PERSON_NS + "}" + VALUE_TYPES[name]


def type_values(assertion: etree._Element) -> None:
    """Give every natural-person AttributeValue of ``assertion`` (unsigned)
    its eIDAS ``xsi:type``, the ``eidas-natural`` prefix declared on the
    value itself (where the QName is used, as ``xs`` is)."""
    for attribute in assertion.iterfind(f"{_A}AttributeStatement/{_A}Attribute"):
        name = attribute.get("Name", "")
        local = name[len(ATTRIBUTE_PREFIX):] if name.startswith(ATTRIBUTE_PREFIX) else ""
        if local not in VALUE_TYPES:
            continue
        for old in attribute.findall(f"{_A}AttributeValue"):
            # lxml cannot declare a prefix on an existing element: a new value takes its place
            new = etree.Element(_A + "AttributeValue", nsmap={PREFIX: NATURAL_PERSON_NS})
            new.set(_XSI_TYPE, f"{PREFIX}:{VALUE_TYPES[local]}")
            new.text = "".join(old.itertext())
            attribute.replace(old, new)


def check_types(attributes: Mapping[str, Sequence[str]], attribute_types: Mapping[str, Sequence[str]]) -> None:
    """Each natural-person attribute received (by friendly name) has the
    profile's ``xsi:type`` on every value, and a DateOfBirth is an
    xsd:date written YYYY-MM-DD; ValueError naming the attribute otherwise."""
    for name, values in attributes.items():
        if name not in VALUE_TYPES:
            continue
        wanted = expected_type(name)
        shown = f"{PREFIX}:{VALUE_TYPES[name]}"
        types = list(attribute_types.get(name) or ())
        if len(types) != len(values):
            types += [""] * (len(values) - len(types))
        for value, found in zip(values, types):
            if not found:
                raise ValueError(said("Attribut eIDAS %(name)s sans type (xsi:type absent) : le profil "
                                      "d'attributs SAML eIDAS (v1.2) exige %(wanted)s.", name=name, wanted=shown))
            if found != wanted:
                raise ValueError(said("Attribut eIDAS %(name)s de type %(found)s : le profil d'attributs SAML "
                                      "eIDAS (v1.2) exige %(wanted)s.", name=name, found=_show(found), wanted=shown))
            if name == "DateOfBirth" and not is_date(value):
                raise ValueError(said("Attribut eIDAS DateOfBirth invalide (%(value)s) : une date xsd:date "
                                      "au format AAAA-MM-JJ est exigée.", value=repr(value[:40])))


def is_date(value: str) -> bool:
    """A calendar date written YYYY-MM-DD (no time zone, no other form)."""
    if not _DATE.match(value or ""):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _show(clark: str) -> str:
    """``{ns}local`` as people read it: the eidas-natural or xs prefix when known."""
    namespace, _, local = clark[1:].partition("}") if clark.startswith("{") else ("", "", clark)
    known = {NATURAL_PERSON_NS: PREFIX, "http://www.w3.org/2001/XMLSchema": "xs"}
    if namespace in known:
        return f"{known[namespace]}:{local}"
    return clark[:200]
