"""SAML messages built directly with lxml and signed with python-xmlsec: the
hot path of an IdP (Response + Assertion) and of an SP (AuthnRequest). No
pysaml2 object model here: building its classes, ``to_string`` and parsing
them back cost several times the RSA signatures themselves.

The XML is what pysaml2 emitted for the same input (same elements,
attributes and values, attribute values typed ``xs:string``), with the
standard prefixes ``samlp``, ``saml`` and ``ds``. Signatures: enveloped,
exclusive c14n, RSA-SHA256 over SHA-256, right after the Issuer (the schema
wants them there), the certificate in KeyInfo.
"""
from __future__ import annotations

import base64
import secrets
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote_plus

import xmlsec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from lxml import etree

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
_P = "{" + SAMLP + "}"
_A = "{" + SAML + "}"
_D = "{" + DS + "}"
_XSI_TYPE = "{" + XSI + "}type"
_C = xmlsec.constants


@dataclass(frozen=True)
class Signer:
    """An entity's signing key for XML signatures (python-xmlsec, without
    its certificate: duplicating a certificate into every signing context
    costs as much as a third of a signature) and its certificate (base64
    DER) for KeyInfo, added once the signature is made."""
    key: xmlsec.Key
    certificate_b64: str


@dataclass(frozen=True)
class Attribute:
    """A saml:Attribute as pysaml2's attribute converters name it."""
    name: str
    values: tuple[str, ...]
    name_format: str | None = None
    friendly_name: str | None = None


def signer(key_file: str, cert_file: str) -> Signer:
    """The Signer of an entity's key pair (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from fedsim.saml.xmlsec_backend import signing_key

    with open(cert_file, "rb") as handle:
        certificate = x509.load_pem_x509_certificate(handle.read())
    return Signer(signing_key(key_file), base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii"))


def new_id() -> str:
    """A message or assertion ID: an xs:ID (NCName) with 160 random bits."""
    return "id-" + secrets.token_hex(20)


def saml_instant(moment: datetime) -> str:
    """An xs:dateTime in UTC, to the second, as pysaml2 writes them."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _issuer(parent: etree._Element, entity_id: str) -> None:
    etree.SubElement(parent, _A + "Issuer", Format=ENTITY).text = entity_id


def response(*, issuer: str, destination: str, in_response_to: str, issued_at: datetime,
             status: str = SUCCESS, second_status: str = "", message: str = "",
             assertion_nsmap: bool = False) -> etree._Element:
    """A samlp:Response (unsigned) with its Issuer and Status."""
    nsmap = {"samlp": SAMLP, "saml": SAML, "ds": DS}  # ds at the top, as pysaml2 declared it
    if assertion_nsmap:
        nsmap["xsi"] = XSI
    root = etree.Element(_P + "Response", nsmap=nsmap)
    root.set("ID", new_id())
    root.set("InResponseTo", in_response_to)
    root.set("Version", "2.0")
    root.set("IssueInstant", saml_instant(issued_at))
    root.set("Destination", destination)
    _issuer(root, issuer)
    status_element = etree.SubElement(root, _P + "Status")
    code = etree.SubElement(status_element, _P + "StatusCode", Value=status)
    if second_status:
        etree.SubElement(code, _P + "StatusCode", Value=second_status)
    if message:
        etree.SubElement(status_element, _P + "StatusMessage").text = message
    return root


def add_assertion(response_root: etree._Element, *, issuer: str, issued_at: datetime, name_id: str,
                  name_id_format: str, name_qualifier: str | None, sp_name_qualifier: str | None,
                  recipient: str, in_response_to: str, not_on_or_after: datetime, audience: str,
                  authn_instant: datetime, session_index: str, authn_context: str | None,
                  authenticating_authority: str | None = None, session_not_on_or_after: datetime | None = None,
                  attributes: Sequence[Attribute] = ()) -> etree._Element:
    """Append a saml:Assertion (unsigned) to ``response_root``: Subject with a
    bearer SubjectConfirmation, Conditions with an AudienceRestriction,
    AuthnStatement, AttributeStatement (when there are attributes)."""
    issue = saml_instant(issued_at)
    until = saml_instant(not_on_or_after)
    assertion = etree.SubElement(response_root, _A + "Assertion", Version="2.0", ID=new_id(), IssueInstant=issue)
    _issuer(assertion, issuer)
    subject = etree.SubElement(assertion, _A + "Subject")
    name = etree.SubElement(subject, _A + "NameID")
    if name_qualifier:
        name.set("NameQualifier", name_qualifier)
    if sp_name_qualifier:
        name.set("SPNameQualifier", sp_name_qualifier)
    name.set("Format", name_id_format)
    name.text = name_id
    confirmation = etree.SubElement(subject, _A + "SubjectConfirmation", Method=BEARER)
    etree.SubElement(confirmation, _A + "SubjectConfirmationData", NotOnOrAfter=until, Recipient=recipient,
                     InResponseTo=in_response_to)
    conditions = etree.SubElement(assertion, _A + "Conditions", NotBefore=issue, NotOnOrAfter=until)
    restriction = etree.SubElement(conditions, _A + "AudienceRestriction")
    etree.SubElement(restriction, _A + "Audience").text = audience
    statement = etree.SubElement(assertion, _A + "AuthnStatement", AuthnInstant=saml_instant(authn_instant),
                                 SessionIndex=session_index)
    if session_not_on_or_after is not None:
        statement.set("SessionNotOnOrAfter", saml_instant(session_not_on_or_after))
    if authn_context:  # pysaml2 leaves AuthnContext out without a class (the schema then refuses it)
        context = etree.SubElement(statement, _A + "AuthnContext")
        etree.SubElement(context, _A + "AuthnContextClassRef").text = authn_context
        if authenticating_authority:
            etree.SubElement(context, _A + "AuthenticatingAuthority").text = authenticating_authority
    if attributes:
        attribute_statement = etree.SubElement(assertion, _A + "AttributeStatement")
        for attribute in attributes:
            element = etree.SubElement(attribute_statement, _A + "Attribute", Name=attribute.name)
            if attribute.name_format:
                element.set("NameFormat", attribute.name_format)
            if attribute.friendly_name:
                element.set("FriendlyName", attribute.friendly_name)
            for value in attribute.values:
                # xs declared where it is used, as pysaml2 does: the QName is in an attribute value.
                typed = etree.SubElement(element, _A + "AttributeValue", nsmap={"xs": XS})
                typed.set(_XSI_TYPE, "xs:string")
                typed.text = value
    return assertion


def sign(element: etree._Element, signer: Signer) -> None:
    """Sign ``element`` in place with python-xmlsec: an enveloped ds:Signature
    right after its Issuer, exc-c14n, RSA-SHA256 over a SHA-256 digest, then
    KeyInfo with the certificate (outside SignedInfo, so added once signed:
    duplicating the certificate into every xmlsec context would cost a third
    of a signature)."""
    signature = xmlsec.template.create(element, _C.TransformExclC14N, _C.TransformRsaSha256, ns="ds")
    reference = xmlsec.template.add_reference(signature, _C.TransformSha256, uri="#" + element.get("ID"))
    xmlsec.template.add_transform(reference, _C.TransformEnveloped)
    xmlsec.template.add_transform(reference, _C.TransformExclC14N)
    issuer = element.find(_A + "Issuer")
    element.insert(element.index(issuer) + 1 if issuer is not None else 0, signature)
    ctx = xmlsec.SignatureContext()
    ctx.register_id(element, "ID")
    ctx.key = signer.key
    ctx.sign(signature)
    x509_data = etree.SubElement(etree.SubElement(signature, _D + "KeyInfo"), _D + "X509Data")
    etree.SubElement(x509_data, _D + "X509Certificate").text = signer.certificate_b64
    etree.cleanup_namespaces(signature, top_nsmap={"ds": DS})


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def post_value(root: etree._Element) -> str:
    """The HTTP-POST binding's form value: the base64 of the document."""
    return base64.b64encode(serialize(root)).decode("ascii")


# -- the SP's AuthnRequest ---------------------------------------------------


def authn_request(*, request_id: str, issuer: str, destination: str, acs_url: str, issued_at: datetime,
                  provider_name: str | None = None, force_authn: bool = False, is_passive: bool = False,
                  authn_contexts: Iterable[str] = (), comparison: str = "minimum") -> etree._Element:
    """A samlp:AuthnRequest as pysaml2's ``create_authn_request`` writes it
    for the HTTP-POST response binding (no XML signature: the
    HTTP-Redirect binding signs the query string)."""
    root = etree.Element(_P + "AuthnRequest", nsmap={"samlp": SAMLP, "saml": SAML})
    root.set("ID", request_id)
    root.set("Version", "2.0")
    root.set("IssueInstant", saml_instant(issued_at))
    root.set("Destination", destination)
    if force_authn:
        root.set("ForceAuthn", "true")
    if is_passive:
        root.set("IsPassive", "true")
    root.set("ProtocolBinding", BINDING_HTTP_POST)
    root.set("AssertionConsumerServiceURL", acs_url)
    if provider_name:
        root.set("ProviderName", provider_name)
    _issuer(root, issuer)
    contexts = list(authn_contexts)
    if contexts:
        requested = etree.SubElement(root, _P + "RequestedAuthnContext", Comparison=comparison)
        for context in contexts:
            etree.SubElement(requested, _A + "AuthnContextClassRef").text = context
    return root


def redirect_query(message: etree._Element, relay_state: str, key: RSAPrivateKey,
                   kind: str = "SAMLRequest") -> str:
    """The HTTP-Redirect binding's signed query string (SAML Bindings
    §3.4.4.1): DEFLATE, base64, URL-encoded; RSA-SHA256 over
    ``SAMLRequest=…&RelayState=…&SigAlg=…`` as sent."""
    deflater = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    deflated = deflater.compress(etree.tostring(message, encoding="UTF-8")) + deflater.flush()
    query = f"{kind}={quote_base64(base64.b64encode(deflated).decode('ascii'))}"
    if relay_state:
        query += f"&RelayState={quote_plus(relay_state)}"
    query += f"&SigAlg={_SIG_ALG}"
    signature = key.sign(query.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return query + f"&Signature={quote_base64(base64.b64encode(signature).decode('ascii'))}"


_SIG_ALG = quote_plus(RSA_SHA256)


def quote_base64(text: str) -> str:
    """``quote_plus`` of base64 text (letters, digits, ``+``, ``/``, ``=``):
    the same upper-case escapes, without quoting character by character."""
    return text.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
