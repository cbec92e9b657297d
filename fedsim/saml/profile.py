"""The SAML Web Browser SSO profile, as a service provider must enforce it.

``read_response`` takes the bytes of a posted ``samlp:Response`` and either
returns what it asserts (``CheckedAssertion``) or raises ``SamlRefused``
naming the one rule that was broken. Everything happens on one lxml tree:
it is parsed once (hardened, UTF-8, no DOCTYPE), validated against the SAML
schemas, its Response and Assertion signatures are verified in place with
keys from metadata, and every rule below is read from that same tree. No
re-parse, no pysaml2 object model: what was verified is what is checked.

Rules (SAML 2.0 Core, Profiles §4.1.4, Bindings §3.5.5.2):
- one ``samlp:Response``, Version 2.0, signed by the expected IdP, with a
  ``Destination`` equal to this ACS URL, ``InResponseTo`` the outstanding
  request's ID, an ``Issuer`` that is the expected IdP, an ``IssueInstant``
  neither before the request nor in the future;
- a non-Success status: refused with that status (``IdpStatus`` and its
  kinds), and refused outright if it carries an assertion anyway;
- exactly one ``saml:Assertion`` in the whole document (no nested ones, no
  Advice), signed, Version 2.0, issued by the expected IdP; or, for an SP
  with an encryption key, exactly one ``saml:EncryptedAssertion`` (and no
  plain one), a direct child of the Response: once the Response's signature
  holds, it is decrypted (AES-GCM, RSA-OAEP only: ``fedsim.saml.encryption``)
  and the Assertion replaces it in the same tree, where every rule below
  applies to it (schema, no comment, unique IDs, its own signature by the
  IdP's metadata key). An SP that demands encryption
  (``Expected.assertions_encrypted``) refuses a plain Assertion;
- a ``Subject`` with a non-empty ``NameID`` of an accepted format whose
  qualifiers, when present, name the IdP and this SP; only bearer
  ``SubjectConfirmation``s, each with a ``SubjectConfirmationData`` that has
  ``NotOnOrAfter`` (not passed), ``Recipient`` (this ACS), ``InResponseTo``
  (the request) and no ``NotBefore``;
- ``Conditions`` with a validity window that holds and at least one
  ``AudienceRestriction``, every one of which lists this SP; no condition of
  a type this SP does not understand;
- at least one ``AuthnStatement``, whose ``SessionNotOnOrAfter`` (if any)
  has not passed and whose ``AuthnInstant`` is not in the future;
- no comments or processing instructions anywhere (the 2018 comment
  truncation class), no ``EncryptedAttribute``.
Clock skew: ``Expected.skew`` either way, on every instant.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lxml import etree

from fedsim import clock
from fedsim.saml.errors import AuthnContextUnavailable, IdpStatus, NameIdPolicyRefused, PassiveUnavailable, SamlRefused
from fedsim.saml.texts import said
from fedsim.saml import schema
from fedsim.saml.encryption import Decrypter
from fedsim.saml.xmlsec_backend import SignatureRefused, parse_document, verify_enveloped

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
ENTITY_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
STATUS_PREFIX = "urn:oasis:names:tc:SAML:2.0:status:"
SUCCESS = STATUS_PREFIX + "Success"
MAX_ENCODED = 512 * 1024  # bytes of base64: a real Response is a few kB
_STATUS_KINDS: dict[str, tuple[type[IdpStatus], str]] = {
    STATUS_PREFIX + "NoAuthnContext": (AuthnContextUnavailable,
                                       said("Le niveau d'authentification demandé n'est pas disponible.")),
    STATUS_PREFIX + "NoPassive": (PassiveUnavailable, said("Le fournisseur d'identité ne peut pas répondre "
                                                           "sans interaction (IsPassive) : aucune session "
                                                           "ouverte chez lui.")),
    STATUS_PREFIX + "InvalidNameIDPolicy": (NameIdPolicyRefused, said("Le fournisseur d'identité ne prend pas en "
                                                                      "charge le format d'identifiant demandé.")),
}
_ASSERTION, _ENCRYPTED_ASSERTION, _SIGNATURE = f"{{{SAML}}}Assertion", f"{{{SAML}}}EncryptedAssertion", f"{{{DS}}}Signature"
_XSI_TYPE = f"{{{XSI}}}type"
_UNDERSTOOD_CONDITIONS = {f"{{{SAML}}}AudienceRestriction", f"{{{SAML}}}OneTimeUse", f"{{{SAML}}}ProxyRestriction"}


@dataclass(frozen=True)
class Expected:
    """What this SP expects of the answer to one of its requests."""
    sp_entity_id: str
    acs_url: str
    idp_entity_id: str
    request_id: str
    requested_at: datetime  # aware UTC: when the AuthnRequest was made
    skew: timedelta = timedelta(seconds=60)
    name_id_formats: frozenset[str] = frozenset({PERSISTENT, TRANSIENT})
    assertions_encrypted: bool = False  # a plain Assertion is refused


@dataclass(frozen=True)
class CheckedAssertion:
    """What a Response that passed every rule asserts."""
    assertion_id: str
    issuer: str
    name_id: str
    name_id_format: str
    attributes: dict[str, list[str]]
    authn_context: str | None
    authn_instant: datetime
    session_index: str | None
    session_not_on_or_after: datetime | None
    valid_until: datetime  # the earliest NotOnOrAfter: the replay cache keeps the ID at least until then
    authenticating_authorities: tuple[str, ...] = field(default=())
    # each value's xsi:type resolved to {namespace}local ("" when absent), by attribute (typed profiles: eIDAS)
    attribute_types: dict[str, list[str]] = field(default_factory=dict)


def refuse(reason: str, detail: str = "") -> SamlRefused:
    return SamlRefused(reason, detail)


def decode(saml_response: str) -> bytes:
    """The XML bytes of an HTTP-POST ``SAMLResponse`` value."""
    if len(saml_response) > MAX_ENCODED:
        raise refuse(said("Réponse SAML trop volumineuse (%(size)s octets encodés, "
                          "maximum %(maximum)s).",
                          size=len(saml_response), maximum=MAX_ENCODED))
    try:
        return base64.b64decode("".join(saml_response.split()), validate=True)
    except (binascii.Error, ValueError):
        raise refuse(said("Message SAML illisible : SAMLResponse n'est pas du base64 valide.")) from None


def parse(data: bytes) -> etree._ElementTree:
    """Parsed once, hardened, and schema-valid; or refused."""
    tree = _read(data, said("message SAML"), said("Message SAML"))
    _valid(tree, said("Message SAML"))
    return tree


def _read(data: bytes, what: str, capitalised: str) -> etree._ElementTree:
    """Parsed, hardened, without DOCTYPE, comment or processing instruction.
    ``capitalised``: ``what`` beginning a sentence."""
    try:
        tree = parse_document(data)
    except SignatureRefused as exc:
        text = str(exc)
        if "DOCTYPE" in text:
            raise refuse(said("Message refusé : les déclarations DOCTYPE (et donc les entités) "
                              "sont interdites dans un %(what)s.",
                              what=what), text) from None
        raise refuse(said("%(what)s illisible : ce n'est pas un document XML bien formé en UTF-8.",
                          what=capitalised), text) from None
    _no_comment(tree.getroot(), what)
    return tree


def _no_comment(element: etree._Element, what: str) -> None:
    for node in element.iter(etree.Comment, etree.ProcessingInstruction):
        raise refuse(said("Message refusé : un commentaire ou une instruction de traitement se "
                          "trouve dans le %(what)s (ils peuvent tronquer un identifiant signé).",
                          what=what), f"line {node.sourceline}")


def _valid(tree: etree._ElementTree, what: str) -> None:
    """``what`` begins a sentence."""
    try:
        schema.validate_tree(tree)
    except schema.XMLSchemaError as exc:
        first = str(exc).split(" | ")[0].rpartition(": ")[2]  # libxml2's first complaint, without position
        raise refuse(said("%(what)s non conforme au schéma SAML 2.0 : %(problem)s", what=what, problem=first[:300]),
                     str(exc)[:500]) from None


def instant(value: str | None, what: str) -> datetime:
    """An xs:dateTime as an aware UTC datetime (SAML Core §1.3.3: UTC)."""
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise refuse(said("%(what)s illisible : %(value)s n'est pas une date-heure xs:dateTime.",
                          what=what, value=repr(value))) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _one(parent: etree._Element, path: str) -> etree._Element | None:
    found = parent.findall(path, NS)
    return found[0] if len(found) == 1 else None


def _issuer(parent: etree._Element, expected: Expected, where: str) -> str:
    issuer = parent.find("saml:Issuer", NS)
    if issuer is None:
        raise refuse(said("Issuer absent de %(where)s : l'émetteur doit être nommé (SAML Profiles "
                          "§4.1.4.2).",
                          where=where))
    name = issuer.text or ""
    if issuer.get("Format") not in (None, ENTITY_FORMAT):
        raise refuse(said("Issuer de %(where)s au format %(format)s : le format entity est exigé "
                          "(SAML Profiles §4.1.4.2).",
                          where=where, format=repr(issuer.get("Format"))))
    if name != name.strip():
        raise refuse(said("Émetteur de %(where)s entouré d'espaces (%(name)s) : un identifiant "
                          "d'entité (URI) se compare à l'identique, sans normalisation (SAML Core "
                          "§1.3.2, §8.3.6).",
                          where=where, name=repr(name[:200])))
    if name != expected.idp_entity_id:
        raise refuse(said("Émetteur inattendu dans %(where)s : %(name)s n'est pas le fournisseur "
                          "d'identité attendu (%(idp_entity_id)s).",
                          where=where, name=repr(name[:200]), idp_entity_id=expected.idp_entity_id))
    return name


def _signed(element: etree._Element, keys: list, where: str, ids_checked: bool = False) -> None:
    if element.find("ds:Signature", NS) is None:
        raise refuse(said("Signature absente : %(where)s doit être signée par le fournisseur "
                          "d'identité.",
                          where=where))
    try:
        verify_enveloped(element, keys, ids_checked=ids_checked)
    except SignatureRefused as exc:
        raise refuse(said("Signature invalide sur %(where)s : elle n'est pas faite par une clé de "
                          "l'émetteur publiée dans ses métadonnées, ou le message a été modifié.",
                          where=where), str(exc)[:500]) from None


def _not_future(moment: datetime, now: datetime, expected: Expected, what: str) -> None:
    if moment > now + expected.skew:
        raise refuse(said("%(what)s dans le futur (%(moment)s) : horloge de l'émetteur décalée ou "
                          "message forgé.",
                          what=what, moment=format(moment, "%Y-%m-%dT%H:%M:%SZ")))


def check_response(root: etree._Element, expected: Expected, keys: list, now: datetime) -> None:
    """The rules of the Response element itself, its signature and its status."""
    if root.tag != f"{{{SAMLP}}}Response":
        raise refuse(said("Message inattendu : %(localname)s reçu là où une samlp:Response est "
                          "attendue.",
                          localname=etree.QName(root).localname))
    if root.get("Version") != "2.0":
        raise refuse(said("Version SAML %(version)s refusée : seule la version 2.0 est acceptée.",
                          version=repr(root.get("Version"))))
    _issuer(root, expected, said("la Response"))
    _signed(root, keys, said("la Response"))
    destination = root.get("Destination")
    if destination is None:
        raise refuse(said("Destination absente : une Response signée envoyée par HTTP-POST doit porter l'attribut "
                          "Destination (SAML Bindings §3.5.5.2, Profiles §4.1.4.3)."))
    if destination != expected.acs_url:
        raise refuse(said("Destination incorrecte : la Response est adressée à %(destination)s, "
                          "pas à ce service (%(acs_url)s).",
                          destination=repr(destination[:200]), acs_url=expected.acs_url))
    in_response_to = root.get("InResponseTo")
    if in_response_to != expected.request_id:
        raise refuse(said("Réponse non sollicitée : InResponseTo de la Response "
                          "(%(in_response_to)s) ne correspond pas à la demande en cours (SAML "
                          "Profiles §4.1.4.2).",
                          in_response_to=repr((in_response_to or "absent")[:100])))
    issued = instant(root.get("IssueInstant"), said("IssueInstant de la Response"))
    _not_future(issued, now, expected, said("IssueInstant de la Response"))
    if issued < expected.requested_at - expected.skew:
        raise refuse(said("IssueInstant de la Response antérieur à la demande d'authentification : "
                          "ce n'est pas la réponse à cette demande."))
    _status(root)


def _status(root: etree._Element) -> None:
    codes = [code.get("Value", "") for code in root.iterfind("samlp:Status//samlp:StatusCode", NS)]
    if codes[:1] == [SUCCESS]:
        return
    message = (root.findtext("samlp:Status/samlp:StatusMessage", default="", namespaces=NS) or "").strip()
    assertions = root.findall("saml:Assertion", NS) + root.findall("saml:EncryptedAssertion", NS)
    if assertions:
        raise refuse(said("Statut d'erreur (%(status)s) accompagné d'une assertion : une réponse en"
                          " échec ne peut pas porter d'assertion.",
                          status=codes[0] if codes else "?"))
    specific = codes[-1] if codes else ""
    kind, reason = _STATUS_KINDS.get(specific, (IdpStatus, said(
        "Le fournisseur d'identité a répondu par une erreur (%(status)s).",
        status=specific.removeprefix(STATUS_PREFIX) or "?")))
    raise kind(said("%(reason)s Message : %(message)s", reason=reason, message=message[:300]) if message else reason,
               " / ".join(codes)[:500], status=specific, message=message)


def decrypt_assertion(root: etree._Element, expected: Expected, decrypter: Decrypter | None) -> bool:
    """Put the decrypted Assertion in place of the Response's one
    EncryptedAssertion, in this same tree (run once the Response's signature
    holds: it covers the encrypted form); whether there was one. A plain
    Assertion to an SP that demands encryption is refused here."""
    encrypted = root.findall("saml:EncryptedAssertion", NS)
    if not encrypted:
        if expected.assertions_encrypted and root.find("saml:Assertion", NS) is not None:
            raise refuse(said("Assertion en clair refusée : ce service exige des assertions chiffrées "
                              "(EncryptedAssertion) pour la clé de chiffrement publiée dans ses métadonnées."))
        return False
    if decrypter is None:
        raise refuse(said("Assertion chiffrée reçue : ce service n'a publié aucune clé de chiffrement et n'en "
                          "accepte pas."))
    if len(encrypted) > 1 or root.find("saml:Assertion", NS) is not None:
        raise refuse(said("%(n_encrypted)s assertion(s) chiffrée(s) et %(n_plain)s en clair dans la"
                          " Response : exactement une assertion est acceptée (SAML Profiles "
                          "§4.1.4.2).",
                          n_encrypted=len(encrypted), n_plain=len(root.findall("saml:Assertion", NS))))
    plaintext = decrypter.decrypt(encrypted[0])  # or SamlRefused: algorithm refused, undecryptable
    # hardened, no DOCTYPE, comment or processing instruction
    assertion = _read(plaintext, said("contenu déchiffré de l'assertion"),
                      said("Contenu déchiffré de l'assertion")).getroot()
    if assertion.tag != _ASSERTION:
        raise refuse(said("Assertion chiffrée refusée : son contenu déchiffré est un élément "
                          "%(localname)s, pas une saml:Assertion.",
                          localname=etree.QName(assertion).localname[:100]))
    root.replace(encrypted[0], assertion)
    _valid(root.getroottree(), said("Message SAML déchiffré"))  # the assertion, now in its place
    return True


def the_assertion(root: etree._Element) -> etree._Element:
    """The one assertion of the document, a direct child of the Response."""
    everywhere, signatures, encrypted = [], 0, False
    for element in root.iter(_ASSERTION, _ENCRYPTED_ASSERTION, _SIGNATURE):  # one walk of the document
        if element.tag == _ASSERTION:
            everywhere.append(element)
        elif element.tag == _SIGNATURE:
            signatures += 1
        else:
            encrypted = True
    if encrypted:
        raise refuse(said("Assertion chiffrée imbriquée ou supplémentaire : seule une EncryptedAssertion enfant "
                          "direct de la Response est déchiffrée, et l'assertion déchiffrée ne peut pas en "
                          "contenir."))
    direct = [element for element in everywhere if element.getparent() is root]
    if not everywhere:
        raise refuse(said("Aucune assertion dans la Response."))
    if len(everywhere) > 1 or len(direct) != 1:
        raise refuse(said("%(n_everywhere)s assertions dans le message : exactement une assertion,"
                          " enfant direct de la Response, est acceptée (SAML Profiles §4.1.4.2).",
                          n_everywhere=len(everywhere)))
    if signatures > 2:
        raise refuse(said("%(signatures)s signatures dans le message : seules celles de la "
                          "Response et de l'assertion sont admises.",
                          signatures=signatures))
    return direct[0]


def check_assertion(assertion: etree._Element, expected: Expected, keys: list, now: datetime,
                    attribute_name: Callable[[str | None, str], str], *, ids_checked: bool = False) -> CheckedAssertion:
    """``ids_checked``: ``check_response`` verified the Response's signature
    on this same tree (and with it that its IDs are unique)."""
    if assertion.get("Version") != "2.0":
        raise refuse(said("Version d'assertion %(version)s refusée : seule la version 2.0 est "
                          "acceptée.",
                          version=repr(assertion.get("Version"))))
    issuer = _issuer(assertion, expected, said("l'assertion"))
    _signed(assertion, keys, said("l'assertion"), ids_checked)
    issued = instant(assertion.get("IssueInstant"), said("IssueInstant de l'assertion"))
    _not_future(issued, now, expected, said("IssueInstant de l'assertion"))
    if assertion.find("saml:Advice", NS) is not None:
        raise refuse(said("Élément Advice refusé dans l'assertion : ce service n'en accepte pas."))
    conditions_end = _conditions(assertion, expected, now)
    name_id, name_format = _name_id(assertion, expected)
    delivery_deadline = _subject_confirmations(assertion, expected, now)
    statement = _authn_statement(assertion, expected, now)
    attributes, attribute_types = _attributes(assertion, attribute_name)
    return CheckedAssertion(
        assertion_id=assertion.get("ID", ""), issuer=issuer, name_id=name_id, name_id_format=name_format,
        attributes=attributes, attribute_types=attribute_types,
        authn_context=statement["context"], authn_instant=statement["instant"],
        session_index=statement["session_index"], session_not_on_or_after=statement["session_end"],
        valid_until=min(d for d in (delivery_deadline, conditions_end) if d is not None),
        authenticating_authorities=statement["authorities"],
    )


def _name_id(assertion: etree._Element, expected: Expected) -> tuple[str, str]:
    subject = _one(assertion, "saml:Subject")
    if subject is None:
        raise refuse(said("Sujet absent : l'assertion doit avoir un Subject (SAML Profiles §4.1.4.2)."))
    name_id = subject.find("saml:NameID", NS)
    if name_id is None:
        other = "EncryptedID" if subject.find("saml:EncryptedID", NS) is not None else \
            "BaseID" if subject.find("saml:BaseID", NS) is not None else None
        raise refuse(said("NameID absent du sujet de l'assertion (%(other)s n'est pas accepté) : la personne ne "
                          "peut pas être identifiée.", other=other) if other else
                     said("NameID absent du sujet de l'assertion : la personne ne peut pas être identifiée."))
    text = (name_id.text or "").strip()
    if not text:
        raise refuse(said("NameID vide : la personne ne peut pas être identifiée."))
    name_format = name_id.get("Format") or "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    if name_format not in expected.name_id_formats:
        raise refuse(said("Format de NameID inattendu : %(name_format)s (acceptés : %(accepted)s).",
                          name_format=repr(name_format[:150]), accepted=", ".join(sorted(expected.name_id_formats))))
    if name_id.get("NameQualifier") not in (None, expected.idp_entity_id):
        raise refuse(said("NameQualifier du NameID (%(qualifier)s) n'est pas le fournisseur "
                          "d'identité attendu.",
                          qualifier=repr(name_id.get("NameQualifier")[:150])))
    if name_id.get("SPNameQualifier") not in (None, expected.sp_entity_id):
        raise refuse(said("SPNameQualifier du NameID (%(qualifier)s) désigne un autre service : cet "
                          "identifiant n'est pas destiné à ce service.",
                          qualifier=repr(name_id.get("SPNameQualifier")[:150])))
    return text, name_format


def _subject_confirmations(assertion: etree._Element, expected: Expected, now: datetime) -> datetime:
    confirmations = assertion.findall("saml:Subject/saml:SubjectConfirmation", NS)
    if not confirmations:
        raise refuse(said("Aucune SubjectConfirmation bearer dans l'assertion (SAML Profiles §4.1.4.2)."))
    deadlines = []
    for confirmation in confirmations:
        method = confirmation.get("Method", "")
        if method != BEARER:
            raise refuse(said("Méthode de confirmation du sujet refusée : %(method)s ; seule la "
                              "méthode bearer est acceptée par ce profil (SAML Profiles §4.1.4.2).",
                              method=repr(method[:150])))
        data = confirmation.find("saml:SubjectConfirmationData", NS)
        if data is None:
            raise refuse(said("SubjectConfirmationData absent de la confirmation bearer (SAML Profiles §4.1.4.2)."))
        if data.get("NotBefore") is not None:
            raise refuse(said("SubjectConfirmationData porte NotBefore, interdit pour une confirmation bearer "
                              "(SAML Profiles §4.1.4.2)."))
        if data.get("NotOnOrAfter") is None:
            raise refuse(said("SubjectConfirmationData sans NotOnOrAfter : la fenêtre de remise de l'assertion doit "
                              "être bornée (SAML Profiles §4.1.4.2)."))
        deadline = instant(data.get("NotOnOrAfter"), said("NotOnOrAfter de SubjectConfirmationData"))
        if now - expected.skew >= deadline:
            raise refuse(said("L'assertion a expiré : le NotOnOrAfter de SubjectConfirmationData "
                              "(%(deadline)s) est passé.",
                              deadline=format(deadline, "%Y-%m-%dT%H:%M:%SZ")))
        recipient = data.get("Recipient")
        if recipient is None:
            raise refuse(said("SubjectConfirmationData sans Recipient (SAML Profiles §4.1.4.2)."))
        if recipient != expected.acs_url:
            raise refuse(said("Recipient incorrect : l'assertion est destinée à %(recipient)s, pas"
                              " à ce service (%(acs_url)s).",
                              recipient=repr(recipient[:200]), acs_url=expected.acs_url))
        if data.get("InResponseTo") != expected.request_id:
            raise refuse(said("InResponseTo de SubjectConfirmationData (%(in_response_to)s) ne correspond "
                              "pas à la demande en cours (SAML Profiles §4.1.4.2).",
                              in_response_to=repr((data.get("InResponseTo") or "absent")[:100])))
        deadlines.append(deadline)
    return min(deadlines)


def _conditions(assertion: etree._Element, expected: Expected, now: datetime) -> datetime | None:
    conditions = _one(assertion, "saml:Conditions")
    if conditions is None:
        raise refuse(said("Conditions absentes de l'assertion : une restriction d'audience est exigée "
                          "(SAML Profiles §4.1.4.2)."))
    not_before = conditions.get("NotBefore")
    if not_before is not None and instant(not_before, said("NotBefore des Conditions")) > now + expected.skew:
        raise refuse(said("L'assertion n'est pas encore valide (NotBefore dans le futur)."))
    end = None
    if conditions.get("NotOnOrAfter") is not None:
        end = instant(conditions.get("NotOnOrAfter"), said("NotOnOrAfter des Conditions"))
        if now - expected.skew >= end:
            raise refuse(said("L'assertion a expiré (NotOnOrAfter des Conditions, %(end)s, est "
                              "passé).",
                              end=format(end, "%Y-%m-%dT%H:%M:%SZ")))
    restrictions = conditions.findall("saml:AudienceRestriction", NS)
    if not restrictions:
        raise refuse(said("Aucune AudienceRestriction dans les Conditions : l'assertion doit nommer ce service "
                          "(SAML Profiles §4.1.4.2)."))
    for restriction in restrictions:
        audiences = [(a.text or "").strip() for a in restriction.findall("saml:Audience", NS)]
        if expected.sp_entity_id not in audiences:
            raise refuse(said("Audience incorrecte : une AudienceRestriction (%(audiences)s) ne nomme "
                              "pas ce service ; toutes doivent le nommer (SAML Core §2.5.1.4).",
                              audiences=", ".join(a[:100] for a in audiences)))
    for condition in conditions:
        if isinstance(condition.tag, str) and condition.tag not in _UNDERSTOOD_CONDITIONS:
            kind = condition.get(f"{{{XSI}}}type") or etree.QName(condition).localname
            raise refuse(said("Condition inconnue dans l'assertion (%(kind)s) : sa validité ne "
                              "peut pas être établie (SAML Core §2.5.1).",
                              kind=kind[:100]))
    return end


def _authn_statement(assertion: etree._Element, expected: Expected, now: datetime) -> dict:
    statements = assertion.findall("saml:AuthnStatement", NS)
    if not statements:
        raise refuse(said("Aucun AuthnStatement dans l'assertion : elle ne dit pas que la personne s'est "
                          "authentifiée (SAML Profiles §4.1.4.2)."))
    statement = statements[0]
    authn_instant = instant(statement.get("AuthnInstant"), "AuthnInstant")
    _not_future(authn_instant, now, expected, "AuthnInstant")
    session_end = None
    for other in statements:
        if other.get("SessionNotOnOrAfter") is not None:
            end = instant(other.get("SessionNotOnOrAfter"), "SessionNotOnOrAfter")
            if now - expected.skew >= end:
                raise refuse(said("La session du fournisseur d'identité a expiré "
                                  "(SessionNotOnOrAfter %(end)s est passé).",
                                  end=format(end, "%Y-%m-%dT%H:%M:%SZ")))
            if other is statement:
                session_end = end
    ref = statement.findtext("saml:AuthnContext/saml:AuthnContextClassRef", namespaces=NS)
    authorities = tuple((a.text or "").strip() for a in
                        statement.findall("saml:AuthnContext/saml:AuthenticatingAuthority", NS))
    return {"instant": authn_instant, "session_end": session_end, "context": ref.strip() if ref else None,
            "session_index": statement.get("SessionIndex"), "authorities": authorities}


def _attributes(assertion: etree._Element, attribute_name: Callable[[str | None, str], str]
                ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The values of each attribute, by local name, and, in one walk with
    them, the xsi:type of each value, its prefix resolved on the value
    element (``{namespace}local``; a prefix not in scope is kept as written)."""
    if assertion.findall("saml:AttributeStatement/saml:EncryptedAttribute", NS):
        raise refuse(said("Attribut chiffré reçu : ce service n'accepte pas d'EncryptedAttribute."))
    found: dict[str, list[str]] = {}
    typed: dict[str, list[str]] = {}
    for attribute in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NS):
        name = attribute_name(attribute.get("NameFormat"), attribute.get("Name", ""))
        values = found.setdefault(name, [])
        types = typed.setdefault(name, [])
        for value in attribute.iterfind("saml:AttributeValue", NS):
            values.append("".join(value.itertext()))
            prefix, _, local = (value.get(_XSI_TYPE) or "").strip().rpartition(":")
            namespace = value.nsmap.get(prefix or None) if local else None
            types.append(f"{{{namespace}}}{local}" if namespace else (f"{prefix}:{local}" if prefix else local))
    return found, typed


def read_response(data: bytes, expected: Expected, keys: list,
                  attribute_name: Callable[[str | None, str], str], *,
                  decrypter: Decrypter | None = None) -> CheckedAssertion:
    """Every rule of the module docstring, on one tree; SamlRefused otherwise.
    ``decrypter``: this SP's encryption key (None: it accepts no
    EncryptedAssertion)."""
    tree = parse(data)
    now = clock.now()
    root = tree.getroot()
    check_response(root, expected, keys, now)
    decrypted = decrypt_assertion(root, expected, decrypter)
    # A decrypted assertion joined the tree after the Response's check: its IDs are checked again.
    return check_assertion(the_assertion(root), expected, keys, now, attribute_name, ids_checked=not decrypted)
