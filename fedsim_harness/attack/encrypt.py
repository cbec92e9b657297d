"""Encrypting as the hostile IdP: ``saml:EncryptedAssertion`` elements for
the encryption cases.

The correct form is ``fedsim.saml.encryption.encrypt_assertion`` (signed
Assertion, AES-256-GCM content, RSA-OAEP key transport), used as is. What
that module never makes — content in AES-CBC or 3DES, a key transported
with RSA PKCS#1 v1.5, a plaintext that is not one element, a tampered
ciphertext, a CipherReference — is built here with ``cryptography``, in
the same XML structure (XML Encryption 1.1 §3, SAML Core §2.3.4)."""
from __future__ import annotations

import base64
import copy
import functools
import os
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from fedsim.saml import encryption as enc
from fedsim_harness.attack.forge import NSMAP, q

XENC, XENC11, DS = enc.XENC, enc.XENC11, enc.DS
_KEY_SIZES = {enc.AES128_CBC: 16, enc.AES256_CBC: 32, enc.TRIPLEDES_CBC: 24, **enc.DATA_ALGORITHMS}


def _x(local: str) -> str:
    return f"{{{XENC}}}{local}"


def encrypt(assertion: etree._Element, recipient: enc.Recipient) -> etree._Element:
    """``assertion`` (already signed or not, in its Response or alone)
    replaced by the EncryptedAssertion our IdPs make; the latter."""
    if assertion.getparent() is None:
        etree.Element("holder").append(assertion)
    return enc.encrypt_assertion(assertion, recipient)


@dataclass(frozen=True)
class Sealing:
    """How to encrypt: the content algorithm, the key transport, and the
    structural liberties the cases take."""
    data: str = enc.AES256_GCM
    transport: str = enc.RSA_OAEP
    content_key: bytes | None = None        # None: a fresh key of the algorithm's size
    tamper: bool = False                    # flip one byte of the ciphertext (GCM tag fails)
    cipher_reference: str | None = None     # a CipherReference URI instead of a CipherValue


def seal(plaintext: bytes, public_key: RSAPublicKey, how: Sealing = Sealing()) -> etree._Element:
    """A saml:EncryptedAssertion hiding ``plaintext`` (any bytes), for ``public_key``."""
    key = how.content_key or os.urandom(_KEY_SIZES[how.data])
    if how.data in enc.DATA_ALGORITHMS:
        iv = os.urandom(12)
        cipher = iv + AESGCM(key).encrypt(iv, plaintext, None)
    else:
        block = TripleDES(key) if how.data == enc.TRIPLEDES_CBC else algorithms.AES(key)
        iv = os.urandom(block.block_size // 8)
        padder = block_padding.PKCS7(block.block_size).padder()  # the last byte says the length: XML Enc's padding
        encryptor = Cipher(block, modes.CBC(iv)).encryptor()
        cipher = iv + encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    if how.tamper:
        middle = 12 + (len(cipher) - 12 - 16) // 2
        cipher = cipher[:middle] + bytes([cipher[middle] ^ 0x01]) + cipher[middle + 1:]
    encrypted = etree.Element(q("saml", "EncryptedAssertion"), nsmap={"saml": NSMAP["saml"]})
    data = etree.SubElement(encrypted, _x("EncryptedData"), nsmap={"xenc": XENC}, Type=enc.ELEMENT_TYPE)
    etree.SubElement(data, _x("EncryptionMethod"), Algorithm=how.data)
    key_info = etree.SubElement(data, f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    encrypted_key = etree.SubElement(key_info, _x("EncryptedKey"))
    method = etree.SubElement(encrypted_key, _x("EncryptionMethod"), Algorithm=how.transport)
    if how.transport == enc.RSA_1_5:
        wrapped = public_key.encrypt(key, padding.PKCS1v15())
    else:
        etree.SubElement(method, f"{{{DS}}}DigestMethod", Algorithm=enc.SHA256)
        etree.SubElement(method, f"{{{XENC11}}}MGF", nsmap={"xenc11": XENC11}, Algorithm=enc.MGF1_SHA256)
        wrapped = public_key.encrypt(key, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
    _value(encrypted_key, wrapped)
    if how.cipher_reference is not None:
        etree.SubElement(etree.SubElement(data, _x("CipherData")), _x("CipherReference"), URI=how.cipher_reference)
    else:
        _value(data, cipher)
    return encrypted


def _value(parent: etree._Element, value: bytes) -> None:
    etree.SubElement(etree.SubElement(parent, _x("CipherData")), _x("CipherValue")).text = \
        base64.b64encode(value).decode("ascii")


def element_bytes(element: etree._Element) -> bytes:
    """An element serialised alone, as ``encrypt_assertion`` serialises it."""
    return etree.tostring(copy.deepcopy(element))


@functools.cache
def foreign_key() -> RSAPublicKey:
    """An RSA key that is not the SP's (made once per process)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
