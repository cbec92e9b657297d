"""The hostile IdP's encryption: what the encryption cases post really is
what they say (AES-CBC, 3DES, RSA PKCS#1 v1.5, a tampered GCM ciphertext),
decryptable by the SP's key with that algorithm."""
from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fedsim.saml import encryption as enc
from fedsim_harness.attack.encrypt import Sealing, seal

XENC = "{" + enc.XENC + "}"
PLAINTEXT = b'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"/>'


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _open(encrypted, key: rsa.RSAPrivateKey) -> tuple[str, str, bytes, bytes]:
    """(content algorithm, key transport, content key, ciphertext) as posted."""
    data = encrypted.find(XENC + "EncryptedData")
    encrypted_key = data.find(f"{{{enc.DS}}}KeyInfo/{XENC}EncryptedKey")
    transport = encrypted_key.find(XENC + "EncryptionMethod").get("Algorithm")
    wrapped = base64.b64decode(encrypted_key.findtext(f"{XENC}CipherData/{XENC}CipherValue"))
    pad = padding.PKCS1v15() if transport == enc.RSA_1_5 else \
        padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return (data.find(XENC + "EncryptionMethod").get("Algorithm"), transport, key.decrypt(wrapped, pad),
            base64.b64decode(data.findtext(f"{XENC}CipherData/{XENC}CipherValue")))


@pytest.mark.parametrize(("algorithm", "size"), [(enc.AES128_CBC, 16), (enc.AES256_CBC, 32),
                                                 (enc.TRIPLEDES_CBC, 24)])
def test_cbc_content_is_real_cbc(key, algorithm: str, size: int) -> None:
    announced, transport, content_key, cipher = _open(seal(PLAINTEXT, key.public_key(), Sealing(data=algorithm)), key)
    assert (announced, transport, len(content_key)) == (algorithm, enc.RSA_OAEP, size)
    block = TripleDES(content_key) if algorithm == enc.TRIPLEDES_CBC else algorithms.AES(content_key)
    iv_size = block.block_size // 8
    decryptor = Cipher(block, modes.CBC(cipher[:iv_size])).decryptor()
    padded = decryptor.update(cipher[iv_size:]) + decryptor.finalize()
    unpadder = block_padding.PKCS7(block.block_size).unpadder()
    assert unpadder.update(padded) + unpadder.finalize() == PLAINTEXT


def test_rsa_1_5_transports_the_key_with_pkcs1_v15(key) -> None:
    announced, transport, content_key, cipher = _open(seal(PLAINTEXT, key.public_key(),
                                                           Sealing(transport=enc.RSA_1_5)), key)
    assert (announced, transport) == (enc.AES256_GCM, enc.RSA_1_5)
    assert AESGCM(content_key).decrypt(cipher[:12], cipher[12:], None) == PLAINTEXT


def test_a_tampered_ciphertext_fails_the_gcm_tag(key) -> None:
    _, _, content_key, cipher = _open(seal(PLAINTEXT, key.public_key(), Sealing(tamper=True)), key)
    with pytest.raises(InvalidTag):
        AESGCM(content_key).decrypt(cipher[:12], cipher[12:], None)


def test_the_correct_form_is_what_the_sp_decrypts(key) -> None:
    assert enc.Decrypter(key).decrypt(seal(PLAINTEXT, key.public_key())) == PLAINTEXT
