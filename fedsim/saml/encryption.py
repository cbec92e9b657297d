"""Encrypted assertions (SAML Core §2.3.4, XML Encryption 1.1) with the
``cryptography`` primitives, on the lxml trees of ``fedsim.saml.build`` and
``fedsim.saml.profile``.

An IdP encrypts for an SP whose metadata publishes a KeyDescriptor with
``use="encryption"`` (an unqualified KeyDescriptor, which the metadata
specification reads as "both", is not enough: encrypting is opt-in, so that
the SPs of today keep getting what they get). The signed Assertion is
serialised, encrypted with a fresh AES-256-GCM key
(``xmlenc11#aes256-gcm``: IV ‖ ciphertext ‖ tag, base64), and that key is
transported to the SP with RSA-OAEP in an EncryptedKey inside the
EncryptedData's KeyInfo: ``xmlenc11#rsa-oaep`` (SHA-256 digest, MGF1 with
SHA-256) when the SP's metadata lists it among its EncryptionMethods (the
SPs of this federation do), else ``xmlenc#rsa-oaep-mgf1p`` (SHA-1 digest
and MGF1, the one every implementation knows). An SP whose EncryptionMethods
name neither AES-256-GCM nor RSA-OAEP gets no answer (``NoCommonAlgorithm``).
Never 3DES, AES-CBC or RSA PKCS#1 v1.5.

An SP decrypts only what it can trust to be unmalleable and not an oracle:
content encrypted with AES-GCM (an authenticated mode; CBC is refused — the
"How to break XML Encryption" padding-oracle attacks of 2011 — and so is
3DES), keys transported with RSA-OAEP (RSA PKCS#1 v1.5 is refused:
Bleichenbacher). Every refusal is a ``SamlRefused`` with a French reason.
"""
from __future__ import annotations

import base64
import binascii
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lxml import etree

from fedsim.saml.errors import SamlRefused
from fedsim.saml.texts import said

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
ELEMENT_TYPE = XENC + "Element"

AES128_GCM = XENC11 + "aes128-gcm"
AES192_GCM = XENC11 + "aes192-gcm"
AES256_GCM = XENC11 + "aes256-gcm"
RSA_OAEP = XENC11 + "rsa-oaep"
RSA_OAEP_MGF1P = XENC + "rsa-oaep-mgf1p"
MGF1_SHA1, MGF1_SHA224 = XENC11 + "mgf1sha1", XENC11 + "mgf1sha224"
MGF1_SHA256, MGF1_SHA384, MGF1_SHA512 = XENC11 + "mgf1sha256", XENC11 + "mgf1sha384", XENC11 + "mgf1sha512"
SHA1 = DS + "sha1"
SHA256 = XENC + "sha256"
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
SHA512 = XENC + "sha512"
# Algorithms refused, and why (the reasons an SP gives when it refuses them).
TRIPLEDES_CBC = XENC + "tripledes-cbc"
AES128_CBC, AES192_CBC, AES256_CBC = XENC + "aes128-cbc", XENC + "aes192-cbc", XENC + "aes256-cbc"
RSA_1_5 = XENC + "rsa-1_5"
REFUSED = {
    TRIPLEDES_CBC: said("3DES (tripledes-cbc) : chiffrement obsolète, bloc de 64 bits"),
    AES128_CBC: said("AES-CBC (aes128-cbc) : mode non authentifié, sujet aux attaques par oracle de remplissage"),
    AES192_CBC: said("AES-CBC (aes192-cbc) : mode non authentifié, sujet aux attaques par oracle de remplissage"),
    AES256_CBC: said("AES-CBC (aes256-cbc) : mode non authentifié, sujet aux attaques par oracle de remplissage"),
    RSA_1_5: said("RSA PKCS#1 v1.5 (rsa-1_5) : transport de clé sujet à l'attaque de Bleichenbacher"),
}

# What an SP of this federation accepts, and publishes (md:EncryptionMethod).
DATA_ALGORITHMS = {AES128_GCM: 16, AES192_GCM: 24, AES256_GCM: 32}  # URI -> key length
KEY_TRANSPORT_ALGORITHMS = (RSA_OAEP, RSA_OAEP_MGF1P)
PUBLISHED_METHODS = (AES256_GCM, AES128_GCM, RSA_OAEP, RSA_OAEP_MGF1P)
_DIGESTS = {SHA1: hashes.SHA1, SHA256: hashes.SHA256, SHA384: hashes.SHA384, SHA512: hashes.SHA512}
_MGFS = {MGF1_SHA1: hashes.SHA1, MGF1_SHA224: hashes.SHA224, MGF1_SHA256: hashes.SHA256,
         MGF1_SHA384: hashes.SHA384, MGF1_SHA512: hashes.SHA512}
_KNOWN_TRANSPORT = set(KEY_TRANSPORT_ALGORITHMS) | {RSA_1_5}
MAX_ENCRYPTED_KEYS = 4
_X, _X11, _D, _S = "{" + XENC + "}", "{" + XENC11 + "}", "{" + DS + "}", "{" + SAML + "}"
ENCRYPTED_ASSERTION = _S + "EncryptedAssertion"


# -- IdP side -------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """An SP's encryption key (from its metadata) and the algorithms to use for it."""
    public_key: RSAPublicKey
    key_transport: str            # RSA_OAEP or RSA_OAEP_MGF1P
    data: str = AES256_GCM        # AES256_GCM, or AES128_GCM for an SP that lists only that one


class NoCommonAlgorithm(SamlRefused):
    """The SP's metadata lists encryption methods, none of which this IdP uses."""


def recipient_for(entity: dict | None) -> Recipient | None:
    """The encryption key of an SP, from its pysaml2 metadata entry (the
    store's ``metadata[entity_id]``): the first KeyDescriptor with an explicit
    ``use="encryption"`` of its SPSSODescriptor; None when it publishes none.
    Raises SamlRefused when that key is unusable, or when its
    EncryptionMethods name no algorithm this IdP uses."""
    for descriptor in (entity or {}).get("spsso_descriptor", []):
        for key in descriptor.get("key_descriptor", []):
            if key.get("use") != "encryption":
                continue
            certificates = [data.get("x509_certificate", {}).get("text", "")
                            for data in (key.get("key_info") or {}).get("x509_data", [])]
            methods = tuple(m.get("algorithm", "") for m in key.get("encryption_method", []) or [])
            return _recipient("".join((certificates or [""])[0].split()), methods)
    return None


@functools.lru_cache(maxsize=128)
def _recipient(certificate_b64: str, methods: tuple[str, ...]) -> Recipient:
    """Parsed once per (certificate, methods): the hot path only looks it up."""
    try:
        public = x509.load_der_x509_certificate(base64.b64decode(certificate_b64, validate=True)).public_key()
    except (ValueError, binascii.Error) as exc:
        raise SamlRefused(said("Certificat de chiffrement du service illisible dans ses métadonnées : aucune "
                               "assertion ne peut lui être chiffrée."), str(exc)[:300]) from None
    if not isinstance(public, RSAPublicKey) or public.key_size < 2048:
        raise SamlRefused(said("Clé de chiffrement du service refusée : une clé RSA d'au moins 2048 bits "
                               "est exigée."))
    transport = [m for m in methods if m in _KNOWN_TRANSPORT or "rsa" in m.rsplit("#", 1)[-1]]
    data = [m for m in methods if m not in transport]
    if data and AES256_GCM not in data and AES128_GCM not in data:
        raise NoCommonAlgorithm(said("Le service n'accepte aucun algorithme de chiffrement du "
                                     "contenu que ce fournisseur d'identité utilise (AES-256-GCM, "
                                     "AES-128-GCM) : il annonce %(methods)s.",
                                     methods=", ".join(data)[:300]))
    if transport and not set(transport) & set(KEY_TRANSPORT_ALGORITHMS):
        raise NoCommonAlgorithm(said("Le service n'accepte aucun transport de clé que ce "
                                     "fournisseur d'identité utilise (RSA-OAEP) : il annonce "
                                     "%(methods)s.",
                                     methods=", ".join(transport)[:300]))
    # XML Enc 1.1's rsa-oaep (SHA-256, MGF1-SHA-256) to an SP that says it
    # takes it; otherwise rsa-oaep-mgf1p, which every implementation knows
    # (python3-saml 1.16, for one, refuses the xenc11:MGF element: its
    # schemas do not include XML Encryption 1.1).
    chosen = RSA_OAEP if RSA_OAEP in transport else RSA_OAEP_MGF1P
    return Recipient(public, chosen, AES256_GCM if not data or AES256_GCM in data else AES128_GCM)


def encrypt_assertion(assertion: etree._Element, recipient: Recipient) -> etree._Element:
    """Replace ``assertion`` (signed, in its Response) by a
    saml:EncryptedAssertion for ``recipient``; return the latter."""
    plaintext = etree.tostring(assertion)
    key = AESGCM.generate_key(bit_length=8 * DATA_ALGORITHMS[recipient.data])
    iv = os.urandom(12)
    cipher = iv + AESGCM(key).encrypt(iv, plaintext, None)
    encrypted = etree.Element(ENCRYPTED_ASSERTION, nsmap={"saml": SAML})
    data = etree.SubElement(encrypted, _X + "EncryptedData", nsmap={"xenc": XENC}, Type=ELEMENT_TYPE)
    etree.SubElement(data, _X + "EncryptionMethod", Algorithm=recipient.data)
    key_info = etree.SubElement(data, _D + "KeyInfo", nsmap={"ds": DS})
    encrypted_key = etree.SubElement(key_info, _X + "EncryptedKey")
    method = etree.SubElement(encrypted_key, _X + "EncryptionMethod", Algorithm=recipient.key_transport)
    if recipient.key_transport == RSA_OAEP:
        etree.SubElement(method, _D + "DigestMethod", Algorithm=SHA256)
        etree.SubElement(method, _X11 + "MGF", nsmap={"xenc11": XENC11}, Algorithm=MGF1_SHA256)
        wrapped = recipient.public_key.encrypt(key, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    else:  # rsa-oaep-mgf1p: MGF1 with SHA-1 by definition; the digest SHA-256, said so
        etree.SubElement(method, _D + "DigestMethod", Algorithm=SHA256)
        wrapped = recipient.public_key.encrypt(key, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA256(), None))
    _cipher_value(encrypted_key, wrapped)
    _cipher_value(data, cipher)
    parent = assertion.getparent()
    parent.replace(assertion, encrypted)
    return encrypted


def _cipher_value(parent: etree._Element, value: bytes) -> None:
    cipher_data = etree.SubElement(parent, _X + "CipherData")
    etree.SubElement(cipher_data, _X + "CipherValue").text = base64.b64encode(value).decode("ascii")


# -- SP side --------------------------------------------------------------------


@dataclass(frozen=True)
class Decrypter:
    """An SP's private encryption key (not its signing key: one key per purpose)."""
    private_key: RSAPrivateKey

    @classmethod
    def from_file(cls, key_file: str | Path) -> Decrypter:
        key = load_pem_private_key(Path(key_file).read_bytes(), password=None)
        if not isinstance(key, RSAPrivateKey):
            raise TypeError(f"{key_file}: an RSA private key is needed to decrypt assertions")
        return cls(key)

    def decrypt(self, encrypted: etree._Element) -> bytes:
        """The plaintext of a saml:EncryptedAssertion (the XML of what it
        hides), or SamlRefused naming what was wrong."""
        data = _only(encrypted, _X + "EncryptedData", "EncryptedData")
        if data.get("Type") not in (None, ELEMENT_TYPE):
            raise _refuse(said("type de contenu chiffré %(type)s refusé : un élément XML "
                               "(%(element_type)s) est attendu",
                               type=repr(data.get("Type")[:150]), element_type=ELEMENT_TYPE))
        algorithm = _algorithm(data, said("le chiffrement du contenu"))
        if algorithm not in DATA_ALGORITHMS:
            raise _refuse(_not_allowed(algorithm, said("chiffrement du contenu"), "AES-GCM"))
        keys = data.findall(f"{_D}KeyInfo/{_X}EncryptedKey") + encrypted.findall(_X + "EncryptedKey")
        if not keys:
            raise _refuse(said("aucune clé chiffrée (EncryptedKey) ne l'accompagne"))
        if len(keys) > MAX_ENCRYPTED_KEYS:
            raise _refuse(said("%(count)s clés chiffrées (EncryptedKey) : %(maximum)s "
                               "au plus",
                               count=len(keys), maximum=MAX_ENCRYPTED_KEYS))
        paddings = [self._padding(key) for key in keys]  # every algorithm checked before any decryption
        content_key = None
        for key, oaep in zip(keys, paddings):
            try:
                content_key = self.private_key.decrypt(_cipher(key, said("la clé chiffrée")), oaep)
                break
            except ValueError:
                continue
        if content_key is None:
            raise _refuse(said("la clé de contenu ne se déchiffre avec la clé de chiffrement de ce service "
                               "(chiffrée pour une autre clé, ou altérée)"))
        if len(content_key) != DATA_ALGORITHMS[algorithm]:
            raise _refuse(said("clé de contenu de %(size)s octets pour %(algorithm)s",
                               size=len(content_key), algorithm=algorithm.rsplit("#", 1)[-1]))
        cipher = _cipher(data, said("le contenu"))
        if len(cipher) < 12 + 16:
            raise _refuse(said("contenu chiffré trop court pour AES-GCM (vecteur d'initialisation et étiquette)"))
        try:
            return AESGCM(content_key).decrypt(cipher[:12], cipher[12:], None)
        except InvalidTag:
            raise _refuse(said("le contenu ne se déchiffre pas (étiquette AES-GCM invalide : altéré ou mal "
                               "chiffré)")) from None

    @staticmethod
    def _padding(key: etree._Element) -> padding.OAEP:
        algorithm = _algorithm(key, said("le transport de la clé"))
        if algorithm not in KEY_TRANSPORT_ALGORITHMS:
            raise _refuse(_not_allowed(algorithm, said("transport de clé"), "RSA-OAEP"))
        method = key.find(_X + "EncryptionMethod")
        digest_uri = method.find(_D + "DigestMethod")
        digest = _DIGESTS.get(SHA1 if digest_uri is None else digest_uri.get("Algorithm", ""))
        if digest is None:
            raise _refuse(said("fonction de hachage OAEP %(algorithm)s non prise en charge",
                               algorithm=repr(digest_uri.get("Algorithm", "")[:150])))
        mgf_uri = method.find(_X11 + "MGF")
        if algorithm == RSA_OAEP_MGF1P and mgf_uri is not None:
            raise _refuse(said("rsa-oaep-mgf1p ne prend pas d'élément MGF (MGF1 avec SHA-1 par définition)"))
        mgf = _MGFS.get(MGF1_SHA1 if mgf_uri is None else mgf_uri.get("Algorithm", ""))
        if mgf is None:
            raise _refuse(said("fonction de génération de masque %(algorithm)s non prise en charge",
                               algorithm=repr(mgf_uri.get("Algorithm", "")[:150])))
        label = method.findtext(_X + "OAEPparams")
        try:
            label_bytes = base64.b64decode("".join(label.split()), validate=True) if label else None
        except (ValueError, binascii.Error):
            raise _refuse(said("OAEPparams n'est pas du base64 valide")) from None
        return padding.OAEP(padding.MGF1(mgf()), digest(), label_bytes)


def _refuse(why: str) -> SamlRefused:
    return SamlRefused(said("Assertion chiffrée refusée : %(why)s.", why=why))


def _not_allowed(algorithm: str, what: str, allowed: str) -> str:
    known = REFUSED.get(algorithm)
    if known:
        return said("algorithme de %(what)s interdit, %(why)s ; seul %(allowed)s est accepté",
                    what=what, why=known, allowed=allowed)
    return said("algorithme de %(what)s %(algorithm)s non accepté ; seul %(allowed)s est accepté",
                what=what, algorithm=repr(algorithm[:150]), allowed=allowed)


def _only(parent: etree._Element, tag: str, what: str) -> etree._Element:
    found = parent.findall(tag)
    if len(found) != 1:
        raise _refuse(said("%(count)s éléments %(what)s : exactement un est attendu",
                           count=len(found), what=what))
    return found[0]


def _algorithm(parent: etree._Element, what: str) -> str:
    methods = parent.findall(_X + "EncryptionMethod")
    if len(methods) != 1 or not methods[0].get("Algorithm"):
        raise _refuse(said("l'algorithme pour %(what)s n'est pas indiqué (EncryptionMethod)",
                           what=what))
    return methods[0].get("Algorithm")


def _cipher(parent: etree._Element, what: str) -> bytes:
    values = parent.findall(f"{_X}CipherData/{_X}CipherValue")
    if len(values) != 1 or parent.find(f"{_X}CipherData/{_X}CipherReference") is not None:
        raise _refuse(said("%(what)s doit être donné(e) dans une seule CipherValue "
                           "(CipherReference refusée)",
                           what=what))
    try:
        return base64.b64decode("".join((values[0].text or "").split()), validate=True)
    except (ValueError, binascii.Error):
        raise _refuse(said("%(what)s n'est pas du base64 valide",
                           what=what)) from None
