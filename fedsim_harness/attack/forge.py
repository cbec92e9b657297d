"""Forging the Responses an IdP of the federation would send, and tampering
with them.

``Forge`` answers one real AuthnRequest (its ID, ACS URL, SP entity ID) as
the IdP the SP trusts would — Cerbère or CSAM, with that IdP's own key and
certificate — for an ``Identity`` (NameID and attributes as that IdP sends
them). ``Forge.response`` gives the unsigned lxml tree; ``sign`` signs an
element of it (enveloped, exc-c14n, RSA-SHA256 over SHA-256 by default,
any other algorithm when a case asks for one); ``Forge.baseline`` is the
correct message: signed Assertion inside a signed Response. The tampering
helpers at the end work on those trees.
"""
from __future__ import annotations

import base64
import copy
import functools
import secrets
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import xmlsec
from lxml import etree

from fedsim import certs

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
NSMAP = {"samlp": SAMLP, "saml": SAML, "ds": DS, "xsi": XSI, "xs": XS}
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
LEVEL500 = "urn:be:fedict:iam:fas:Level500"
_C = xmlsec.constants


def q(prefix: str, local: str) -> str:
    """Clark name: ``q("saml", "Assertion")``."""
    return f"{{{NSMAP[prefix]}}}{local}"


def new_id() -> str:
    return "_" + secrets.token_hex(16)


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Identity:
    """A person as an IdP describes them to an SP, and the text that shows
    them on the SP's pages (``markers``: a logged-in page naming one of
    them is that person's)."""
    label: str
    name_id: str
    attributes: dict[str, list[str]]
    markers: tuple[str, ...]

    def with_suffix(self, suffix: str) -> Identity:
        """A look-alike that the IdP would really issue to an attacker: every
        value of this identity followed by ``suffix`` (the comment-truncation
        cases cut the suffix off with a comment)."""
        return Identity(f"{self.label}{suffix}", self.name_id + suffix,
                        {k: [v + suffix for v in vs] for k, vs in self.attributes.items()},
                        tuple(m + suffix for m in self.markers))


@dataclass(frozen=True)
class SeenRequest:
    """The AuthnRequest an SP sent the browser to its IdP with (HTTP-Redirect)."""
    request_id: str
    issuer: str
    acs_url: str
    destination: str
    relay_state: str
    sso_url: str
    xml: str

    @classmethod
    def from_redirect(cls, url: str) -> SeenRequest:
        args = dict(parse_qsl(urlsplit(url).query))
        xml = zlib.decompress(base64.b64decode(args["SAMLRequest"]), -15)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(xml, parser)
        return cls(request_id=root.get("ID", ""), issuer=(root.findtext(q("saml", "Issuer")) or "").strip(),
                   acs_url=root.get("AssertionConsumerServiceURL", ""), destination=root.get("Destination", ""),
                   relay_state=args.get("RelayState", ""), sso_url=url.split("?")[0],
                   xml=xml.decode("utf-8", "replace"))


@dataclass(frozen=True)
class Signer:
    """An IdP's signing key with its certificate (KeyInfo carries it)."""
    entity_id: str
    key: xmlsec.Key
    cert_pem: bytes

    @classmethod
    def from_files(cls, entity_id: str, key_file: Path, cert_file: Path) -> Signer:
        key = xmlsec.Key.from_file(str(key_file), xmlsec.KeyFormat.PEM)
        key.load_cert_from_file(str(cert_file), xmlsec.KeyFormat.PEM)
        return cls(entity_id, key, Path(cert_file).read_bytes())

    @property
    def cert_der(self) -> bytes:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        return x509.load_pem_x509_certificate(self.cert_pem).public_bytes(serialization.Encoding.DER)


@functools.lru_cache(maxsize=4)
def rogue_signer(entity_id: str) -> Signer:
    """A key pair the attacker made, its certificate claiming ``entity_id``
    (not the one in metadata). Made once per process."""
    import tempfile

    key_pem, cert_pem = certs.self_signed(entity_id, years=1)
    with tempfile.TemporaryDirectory() as folder:
        key_file, cert_file = Path(folder, "k.pem"), Path(folder, "c.pem")
        key_file.write_bytes(key_pem)
        cert_file.write_bytes(cert_pem)
        return Signer.from_files(entity_id, key_file, cert_file)


# -- signing ---------------------------------------------------------------

SHA256 = (_C.TransformSha256, _C.TransformRsaSha256)
SHA1 = (_C.TransformSha1, _C.TransformRsaSha1)


def sign(element: etree._Element, signer: Signer, *, digest=_C.TransformSha256,
         method=_C.TransformRsaSha256, c14n=_C.TransformExclC14N, uri: str | None = None,
         transforms: tuple | None = None, key: xmlsec.Key | None = None, key_info: bool = True,
         id_attribute: str = "ID") -> etree._Element:
    """Sign ``element`` in place with an enveloped ds:Signature placed after
    its Issuer (or first); returns the Signature. ``uri`` defaults to
    ``#ID``; ``transforms`` to (enveloped, exc-c14n); ``key`` to the signer's."""
    signature = xmlsec.template.create(element, c14n, method, ns="ds")
    reference = xmlsec.template.add_reference(
        signature, digest, uri=("#" + element.get(id_attribute, "")) if uri is None else uri)
    for transform in transforms if transforms is not None else (_C.TransformEnveloped, _C.TransformExclC14N):
        xmlsec.template.add_transform(reference, transform)
    if key_info:
        xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    issuer = element.find(q("saml", "Issuer"))
    element.insert(element.index(issuer) + 1 if issuer is not None else 0, signature)
    ctx = xmlsec.SignatureContext()
    values = [node.get(id_attribute) for node in element.getroottree().getroot().iter(etree.Element)]
    for node in element.getroottree().getroot().iter(etree.Element):
        value = node.get(id_attribute)
        if value and (node is element or values.count(value) == 1):
            ctx.register_id(node, id_attribute)
    ctx.key = key or signer.key
    ctx.sign(signature)
    return signature


def hmac_key(signer: Signer) -> xmlsec.Key:
    """The key-confusion HMAC key: the IdP's public certificate bytes."""
    return xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataHmac, signer.cert_der)


def verify(element: etree._Element, cert_pem: bytes) -> None:
    """Check ``element``'s enveloped signature with a certificate (tests)."""
    signature = element.find(q("ds", "Signature"))
    ctx = xmlsec.SignatureContext()
    ctx.register_id(element, "ID")
    ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.KeyFormat.CERT_PEM)
    ctx.verify(signature)


# -- building --------------------------------------------------------------

@dataclass
class Forge:
    """Answers one AuthnRequest as the IdP ``signer`` would."""
    signer: Signer
    sp_entity_id: str
    acs_url: str
    request_id: str
    identity: Identity
    victim: Identity
    now: datetime
    authn_context: str = LEVEL500
    authority: str | None = None   # AuthenticatingAuthority (Cerbère names CSAM)
    lifetime: timedelta = timedelta(minutes=5)
    session_lifetime: timedelta = timedelta(minutes=30)
    extra: dict = field(default_factory=dict)

    def for_request(self, request_id: str) -> Forge:
        return replace(self, request_id=request_id)

    def response(self, identity: Identity | None = None, *, status: str = SUCCESS,
                 assertions: int = 1) -> etree._Element:
        """The unsigned Response tree with ``assertions`` assertion(s)."""
        root = etree.Element(q("samlp", "Response"), nsmap=NSMAP)
        root.set("ID", new_id())
        root.set("InResponseTo", self.request_id)
        root.set("Version", "2.0")
        root.set("IssueInstant", instant(self.now))
        root.set("Destination", self.acs_url)
        root.append(self._issuer())
        status_element = etree.SubElement(root, q("samlp", "Status"))
        etree.SubElement(status_element, q("samlp", "StatusCode")).set("Value", status)
        for _ in range(assertions):
            root.append(self.assertion(identity or self.identity))
        return root

    def _issuer(self, value: str | None = None) -> etree._Element:
        issuer = etree.Element(q("saml", "Issuer"))
        issuer.set("Format", ENTITY)
        issuer.text = value or self.signer.entity_id
        return issuer

    def assertion(self, identity: Identity) -> etree._Element:
        now, sp = self.now, self.sp_entity_id
        assertion = etree.Element(q("saml", "Assertion"), nsmap=NSMAP)
        assertion.set("Version", "2.0")
        assertion.set("ID", new_id())
        assertion.set("IssueInstant", instant(now))
        assertion.append(self._issuer())
        subject = etree.SubElement(assertion, q("saml", "Subject"))
        name_id = etree.SubElement(subject, q("saml", "NameID"))
        name_id.set("NameQualifier", self.signer.entity_id)
        name_id.set("SPNameQualifier", sp)
        name_id.set("Format", PERSISTENT)
        name_id.text = identity.name_id
        confirmation = etree.SubElement(subject, q("saml", "SubjectConfirmation"), Method=BEARER)
        data = etree.SubElement(confirmation, q("saml", "SubjectConfirmationData"))
        data.set("NotOnOrAfter", instant(now + self.lifetime))
        data.set("Recipient", self.acs_url)
        data.set("InResponseTo", self.request_id)
        conditions = etree.SubElement(assertion, q("saml", "Conditions"))
        conditions.set("NotBefore", instant(now))
        conditions.set("NotOnOrAfter", instant(now + self.lifetime))
        restriction = etree.SubElement(conditions, q("saml", "AudienceRestriction"))
        etree.SubElement(restriction, q("saml", "Audience")).text = sp
        statement = etree.SubElement(assertion, q("saml", "AuthnStatement"))
        statement.set("AuthnInstant", instant(now))
        statement.set("SessionIndex", new_id())
        statement.set("SessionNotOnOrAfter", instant(now + self.session_lifetime))
        context = etree.SubElement(statement, q("saml", "AuthnContext"))
        etree.SubElement(context, q("saml", "AuthnContextClassRef")).text = self.authn_context
        if self.authority:
            etree.SubElement(context, q("saml", "AuthenticatingAuthority")).text = self.authority
        attributes = etree.SubElement(assertion, q("saml", "AttributeStatement"))
        for name, values in identity.attributes.items():
            attribute = etree.SubElement(attributes, q("saml", "Attribute"), Name=name, NameFormat=BASIC,
                                         FriendlyName=name)
            for value in values:
                element = etree.SubElement(attribute, q("saml", "AttributeValue"))
                element.set(q("xsi", "type"), "xs:string")
                element.text = value
        return assertion

    def sign(self, element: etree._Element, **options) -> etree._Element:
        return sign(element, self.signer, **options)

    def signed(self, root: etree._Element, *, assertion: bool = True, response: bool = True) -> etree._Element:
        """Sign every assertion, then the Response (in that order: the
        Response's signature covers the assertions')."""
        if assertion:
            for element in root.findall(q("saml", "Assertion")):
                self.sign(element)
        if response:
            self.sign(root)
        return root

    def baseline(self, identity: Identity | None = None) -> etree._Element:
        """The correct answer: signed Assertion in a signed Response."""
        return self.signed(self.response(identity))


# -- tampering helpers -------------------------------------------------------

def assertion_of(root: etree._Element) -> etree._Element:
    return root.find(".//" + q("saml", "Assertion"))


def find(root: etree._Element, path: str) -> etree._Element:
    """The first element at an XPath with samlp/saml/ds prefixes."""
    found = root.xpath(path, namespaces=NS)
    if not found:
        raise LookupError(path)
    return found[0]


def remove(element: etree._Element) -> None:
    element.getparent().remove(element)


def signature_of(element: etree._Element) -> etree._Element | None:
    found = element.xpath("ds:Signature", namespaces=NS)  # lxml's find misses some xmlsec-made nodes
    return found[0] if found else None


def without_signature(element: etree._Element) -> etree._Element:
    """A deep copy of ``element`` with its enveloped signature removed."""
    clone = copy.deepcopy(element)
    signature = signature_of(clone)
    if signature is not None:
        clone.remove(signature)
    return clone


def set_identity(assertion: etree._Element, identity: Identity) -> None:
    """Make an assertion speak of ``identity`` (breaks its signature, if any)."""
    assertion.find(f"{q('saml', 'Subject')}/{q('saml', 'NameID')}").text = identity.name_id
    statement = assertion.find(q("saml", "AttributeStatement"))
    for attribute in statement.findall(q("saml", "Attribute")):
        values = identity.attributes.get(attribute.get("Name"))
        if values:
            for element, value in zip(attribute.findall(q("saml", "AttributeValue")), values):
                element.text = value


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
