"""Attribute names carried on the wire as-is (NameFormat basic), as CSAM and
Cerbère send them. pysaml2 loads every ``MAP`` in this folder."""

NAMES = [
    "egovNRN", "givenName", "surname", "mail", "PrefLanguage",
    "urn:be:fedict:iam:attr:fedid", "urn:be:fedict:iam:attr:authenticationmethod",
    "cerbereUsername", "context", "demarche",
]

MAP = {
    "identifier": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
    "fro": {name: name for name in NAMES},
    "to": {name: name for name in NAMES},
}
