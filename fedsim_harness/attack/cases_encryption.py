"""Cases on encrypted assertions (SAML Core §2.3.4, XML Encryption 1.1):
content and key-transport algorithms an SP must refuse (AES-CBC and 3DES:
the padding-oracle attacks; RSA PKCS#1 v1.5: Bleichenbacher), encryption
taken for authentication (an assertion unsigned inside, or signed by a
foreign key, then encrypted correctly: anyone can encrypt for the SP's
public key), a plain assertion beside or instead of the encrypted one,
ciphertexts that do not decrypt, and plaintexts that are not one signed
Assertion (a Response, nested assertions, a DOCTYPE, comment truncation).

Every case but one needs the SP's encryption key from its metadata and is
skipped, with the reason, for an SP that publishes none. The exception,
``encrypted-to-foreign-key``, runs everywhere: an SP must refuse an
EncryptedAssertion it cannot decrypt, whether it has a key or not.
``encrypted-plain-to-demanding-sp`` runs only against an SP known to
demand encryption (ours do exactly when they publish a key)."""
from __future__ import annotations

from lxml import etree

from fedsim.saml import encryption as enc
from fedsim_harness.attack import encrypt
from fedsim_harness.attack.catalogue import (
    Attack,
    Case,
    Forged,
    doc,
    encrypted_baseline,
)
from fedsim_harness.attack.encrypt import Sealing, element_bytes, seal
from fedsim_harness.attack.forge import assertion_of, q, rogue_signer, sign

XMLENC = "W3C XML Encryption Syntax and Processing 1.1"
SAML_ENC = "SAML Core §2.3.4 (EncryptedAssertion); " + XMLENC
JAGER = ("Jager & Somorovsky, « How to Break XML Encryption », ACM CCS 2011 (CBC padding oracle); "
         "XML Encryption 1.1 §5.2 (security considerations)")
BLEICHENBACHER = ("Bleichenbacher, « Chosen Ciphertext Attacks Against Protocols Based on the RSA Encryption "
                  "Standard PKCS #1 », CRYPTO 1998; Jager, Schinzel & Somorovsky, « Bleichenbacher's Attack "
                  "Strikes Again: Breaking PKCS#1 v1.5 in XML Encryption », ESORICS 2012")
SOMOROVSKY = ("Somorovsky et al., « On Breaking SAML: Be Whoever You Want to Be », USENIX Security 2012 "
              "(XML Signature Wrapping, encrypted assertions)")
PROFILES = "SAML Profiles §4.1.4.2 (exactly one assertion)"
NO_KEY = ('the SP publishes no encryption key (KeyDescriptor use="encryption") in its metadata: nothing can be '
          "encrypted for it")


def _needs_key(target) -> str | None:
    return None if target.encryption_cert else NO_KEY


def _needs_demand(target) -> str | None:
    if target.demands_encryption:
        return None
    if target.encryption_cert:
        return ("the SP publishes an encryption key but is not known to demand encrypted assertions (only our "
                "SPs, which publish one exactly when they demand it, are)")
    return NO_KEY + ", nor demands encrypted assertions"


def _key(a: Attack):
    if a.recipient is None:
        raise LookupError(NO_KEY)
    return a.recipient


def _signed_assertion(a: Attack, identity=None, signer=None) -> tuple[etree._Element, etree._Element]:
    """(the unsigned Response, its Assertion signed as in the IdP's answer)."""
    f = a.forge
    root = f.response(identity)
    assertion = assertion_of(root)
    sign(assertion, signer or f.signer)
    return root, assertion


def _finish(a: Attack, root: etree._Element, signer=None) -> Forged:
    """Sign the Response over the encrypted form (as our IdPs do)."""
    sign(root, signer or a.forge.signer)
    return doc(root)


def _sealed(how: Sealing):
    """The signed attacker assertion, encrypted ``how``; the Response signed."""
    def build(a: Attack) -> Forged:
        root, assertion = _signed_assertion(a)
        root.replace(assertion, seal(element_bytes(assertion), _key(a).public_key, how))
        return _finish(a, root)
    return build


def _inner_unsigned(a: Attack) -> Forged:
    f = a.forge
    root = f.response()
    encrypt.encrypt(assertion_of(root), _key(a))
    return _finish(a, root)


def _nothing_signed(a: Attack) -> Forged:
    root = a.forge.response(a.victim)
    encrypt.encrypt(assertion_of(root), _key(a))
    return doc(root)


def _response_unsigned(a: Attack) -> Forged:
    root, assertion = _signed_assertion(a)
    encrypt.encrypt(assertion, _key(a))
    return doc(root)


def _rogue(both: bool):
    def build(a: Attack) -> Forged:
        rogue = rogue_signer(a.forge.signer.entity_id)
        root, assertion = _signed_assertion(a, a.victim, rogue)
        encrypt.encrypt(assertion, _key(a))
        return _finish(a, root, rogue if both else None)
    return build


def _plain_beside(victim_first: bool):
    def build(a: Attack) -> Forged:
        root, assertion = _signed_assertion(a)
        encrypted = encrypt.encrypt(assertion, _key(a))
        plain = a.forge.assertion(a.victim)
        sign(plain, a.forge.signer)
        index = root.index(encrypted)
        root.insert(index if victim_first else index + 1, plain)
        return _finish(a, root)
    return build


def _two_encrypted(a: Attack) -> Forged:
    root, assertion = _signed_assertion(a)
    encrypted = encrypt.encrypt(assertion, _key(a))
    other = a.forge.assertion(a.victim)
    sign(other, a.forge.signer)
    root.insert(root.index(encrypted) + 1, encrypt.encrypt(other, _key(a)))
    return _finish(a, root)


def _foreign_key(a: Attack) -> Forged:
    root, assertion = _signed_assertion(a)
    root.replace(assertion, seal(element_bytes(assertion), encrypt.foreign_key()))
    return _finish(a, root)


def _swapped_after_signing(a: Attack) -> Forged:
    """The Response signed over the attacker's EncryptedAssertion, which is
    then replaced by one hiding the victim's (validly signed) assertion."""
    root, assertion = _signed_assertion(a)
    encrypted = encrypt.encrypt(assertion, _key(a))
    sign(root, a.forge.signer)
    victim = a.forge.assertion(a.victim)
    sign(victim, a.forge.signer)
    root.replace(encrypted, encrypt.encrypt(victim, _key(a)))
    return doc(root)


def _type_content(a: Attack) -> Forged:
    root, assertion = _signed_assertion(a)
    encrypted = encrypt.encrypt(assertion, _key(a))
    encrypted.find(f"{{{enc.XENC}}}EncryptedData").set("Type", enc.XENC + "Content")
    return _finish(a, root)


def _hiding(plaintext):
    """An EncryptedAssertion correctly made (AES-256-GCM, RSA-OAEP) whose
    plaintext ``plaintext(attack)`` gives; the Response signed."""
    def build(a: Attack) -> Forged:
        root = a.forge.response()
        root.replace(assertion_of(root), seal(plaintext(a), _key(a).public_key))
        return _finish(a, root)
    return build


def _content_response(a: Attack) -> bytes:
    return element_bytes(a.forge.baseline(a.victim))


def _content_nested(a: Attack) -> bytes:
    f = a.forge
    outer = f.assertion(f.identity)
    inner = f.assertion(a.victim)
    sign(inner, f.signer)
    advice = etree.Element(q("saml", "Advice"))
    outer.insert(outer.index(outer.find(q("saml", "Conditions"))) + 1, advice)
    advice.append(inner)
    sign(outer, f.signer)
    return element_bytes(outer)


def _content_two(a: Attack) -> bytes:
    f = a.forge
    first, second = f.assertion(a.victim), f.assertion(f.identity)
    sign(first, f.signer)
    sign(second, f.signer)
    return element_bytes(first) + element_bytes(second)


SUFFIX = ".attacker"


def _content_comment(a: Attack) -> bytes:
    """The victim's look-alike, signed, then a comment cutting the suffix
    off (exclusive c14n drops comments: the signature still holds)."""
    f = a.forge
    assertion = f.assertion(a.victim.with_suffix(SUFFIX))
    sign(assertion, f.signer)
    for element in (assertion.find(f".//{q('saml', 'NameID')}"), *assertion.iter(q("saml", "AttributeValue"))):
        text = element.text or ""
        if text.endswith(SUFFIX):
            element.text = text[:-len(SUFFIX)]
            comment = etree.Comment("")
            comment.tail = SUFFIX
            element.insert(0, comment)
    return element_bytes(assertion)


def _content_doctype(a: Attack) -> bytes:
    """The victim's look-alike, signed, its suffix turned into an entity
    reference declared in a DOCTYPE before the decrypted Assertion."""
    f = a.forge
    lookalike = a.victim.with_suffix(SUFFIX)
    assertion = f.assertion(lookalike)
    sign(assertion, f.signer)
    text = element_bytes(assertion).decode("utf-8")
    text = text.replace(f">{lookalike.name_id}<", f">{a.victim.name_id}&s;<")
    for values in lookalike.attributes.values():
        for value in values:
            text = text.replace(f">{value}<", f">{value[:-len(SUFFIX)]}&s;<")
    return f'<!DOCTYPE saml:Assertion [<!ENTITY s "{SUFFIX}">]>{text}'.encode()


def _plain_to_demanding(a: Attack) -> Forged:
    return doc(a.forge.baseline())


def _case(case_id: str, title: str, reference: str, build, *, victim: bool = False, skip=_needs_key,
          expect: str = "refused") -> Case:
    return Case(case_id, "encryption", title, reference, build, victim=victim, expect=expect, skip=skip)


CASES = (
    _case("encrypted-baseline", "The group's baseline: a signed assertion encrypted (AES-256-GCM, RSA-OAEP) for the "
          "SP's published key, then the Response signed: the SP must log the person in", SAML_ENC,
          encrypted_baseline, expect="login"),
    _case("encrypted-aes128-cbc", "Content encrypted with AES-128-CBC (unauthenticated: a padding oracle)", JAGER,
          _sealed(Sealing(data=enc.AES128_CBC))),
    _case("encrypted-aes256-cbc", "Content encrypted with AES-256-CBC (unauthenticated: a padding oracle)", JAGER,
          _sealed(Sealing(data=enc.AES256_CBC))),
    _case("encrypted-tripledes-cbc", "Content encrypted with 3DES-CBC (64-bit block, unauthenticated)",
          JAGER + "; NIST SP 800-131A Rev. 2 (3DES disallowed)", _sealed(Sealing(data=enc.TRIPLEDES_CBC))),
    _case("encrypted-key-rsa-1_5", "Content key transported with RSA PKCS#1 v1.5 (a Bleichenbacher oracle)",
          BLEICHENBACHER, _sealed(Sealing(transport=enc.RSA_1_5))),
    _case("encrypted-cbc-and-rsa-1_5", "AES-128-CBC content with its key in RSA PKCS#1 v1.5 (both downgrades)",
          JAGER + "; " + BLEICHENBACHER, _sealed(Sealing(data=enc.AES128_CBC, transport=enc.RSA_1_5))),
    _case("encrypted-key-length-mismatch", "AES-256-GCM announced, a 128-bit content key transported",
          XMLENC + " §5.2.4 (AES-GCM key sizes)", _sealed(Sealing(content_key=bytes(range(16))))),
    _case("encrypted-cipher-reference", "Ciphertext given as a CipherReference to the attacker's URL (the SP "
          "would fetch it)", XMLENC + " §3.3.1 (CipherReference)",
          _sealed(Sealing(cipher_reference="https://evil.example/ciphertext"))),
    _case("encrypted-type-content", "EncryptedData of Type xenc#Content, not xenc#Element", SAML_ENC + " §3.1",
          _type_content),
    _case("encrypted-assertion-unsigned", "Assertion not signed inside the encryption, only the Response signed",
          "SAML Profiles §4.1.3.5, §4.1.4.2 (the assertion must be signed); " + SAML_ENC, _inner_unsigned),
    _case("encrypted-nothing-signed-victim", "The victim's unsigned assertion encrypted for the SP's public key, "
          "nothing signed (encryption is not authentication: anyone can encrypt)", SOMOROVSKY, _nothing_signed,
          victim=True),
    _case("encrypted-response-unsigned", "Signed assertion encrypted, Response not signed (this federation wants "
          "both signed)", "SAML Profiles §4.1.3.5; " + SAML_ENC, _response_unsigned),
    _case("encrypted-rogue-signed-victim", "Victim's assertion signed by a key not in metadata, then encrypted "
          "correctly (Response signed by the IdP)", SOMOROVSKY, _rogue(False), victim=True),
    _case("encrypted-rogue-key-both-victim", "Victim's assertion and the Response signed by the attacker's own key, "
          "the assertion encrypted correctly", SOMOROVSKY, _rogue(True), victim=True),
    _case("encrypted-plain-victim-first", "A signed plain assertion for the victim before a valid "
          "EncryptedAssertion", PROFILES + "; " + SOMOROVSKY, _plain_beside(True), victim=True),
    _case("encrypted-plain-victim-after", "A valid EncryptedAssertion followed by a signed plain assertion for "
          "the victim", PROFILES + "; " + SOMOROVSKY, _plain_beside(False), victim=True),
    _case("encrypted-two-victim-second", "Two valid EncryptedAssertions, the second hiding the victim's",
          PROFILES, _two_encrypted, victim=True),
    _case("encrypted-swapped-after-signing-victim", "EncryptedAssertion replaced after the Response was signed "
          "over it, by one hiding the victim's signed assertion", SOMOROVSKY + "; " + SAML_ENC,
          _swapped_after_signing, victim=True),
    _case("encrypted-to-foreign-key", "An EncryptedAssertion whose key is encrypted for a key that is not the "
          "SP's (undecryptable: refused, by an SP with or without a key)", SAML_ENC, _foreign_key, skip=None),
    _case("encrypted-ciphertext-tampered", "One byte of the AES-GCM ciphertext flipped (the tag fails)",
          XMLENC + " §5.2.4 (AES-GCM); " + JAGER, _sealed(Sealing(tamper=True))),
    _case("encrypted-content-response-victim", "Decrypted content is a whole signed Response for the victim, not "
          "an Assertion", SAML_ENC, _hiding(_content_response), victim=True),
    _case("encrypted-content-nested-assertion-victim", "Decrypted Assertion wraps the victim's signed assertion in "
          "its Advice", "SAML Core §2.6.1 (Advice); " + PROFILES, _hiding(_content_nested), victim=True),
    _case("encrypted-content-two-assertions-victim", "Decrypted content is two signed assertions, the victim's "
          "first", PROFILES + "; " + SAML_ENC, _hiding(_content_two), victim=True),
    _case("encrypted-content-doctype-victim", "Decrypted Assertion preceded by a DOCTYPE whose entity completes the "
          "victim's look-alike values", "CVE-2017-11427 class; " + SAML_ENC, _hiding(_content_doctype),
          victim=True),
    _case("encrypted-content-comment-victim", "Decrypted Assertion with comments truncating the signed look-alike "
          "values to the victim's", "CVE-2017-11427, CVE-2018-0489 (comment truncation); " + SAML_ENC,
          _hiding(_content_comment), victim=True),
    _case("encrypted-plain-to-demanding-sp", "A correct but plain (unencrypted) signed assertion to an SP that "
          "demands encrypted assertions", "SAML Metadata §2.4.1.1 (KeyDescriptor use=\"encryption\"); " + SAML_ENC,
          _plain_to_demanding, skip=_needs_demand),
)
