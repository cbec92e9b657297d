"""Encrypted assertions (fedsim.saml.encryption) between CSAM's IdP and Mon
Espace's SP, with real keys under tmp_path: the SP publishes an encryption
key (its own pair, not its signing key) and demands encryption.

The SP is checked against EncryptedAssertions that our IdP code did not
make: built by hand in this file with ``cryptography`` (AES-256-GCM,
RSA-OAEP, the XML Encryption structure written out), and by libxmlsec
(python-xmlsec's EncryptionContext) — including with the algorithms the SP
must refuse (3DES, AES-CBC, RSA PKCS#1 v1.5), as real ciphertexts. After
every refusal the SP has stored nothing."""
from __future__ import annotations

import base64
import dataclasses
import os
from datetime import timedelta
from pathlib import Path

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_saml_sp import ATTRIBUTES, answer, start

from fedsim import certs, clock, trust
from fedsim.federation import Settings, entities
from fedsim.saml import build, encryption
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.state import SeenAssertion

NS = {"samlp": build.SAMLP, "saml": build.SAML, "ds": build.DS, "xenc": encryption.XENC,
      "xenc11": encryption.XENC11}
NRN = ATTRIBUTES["egovNRN"][0]
XENC_NS = "http://www.w3.org/2001/04/xmlenc#"


@pytest.fixture(scope="module")
def enc_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A federation whose Mon Espace SP publishes an encryption key."""
    root = tmp_path_factory.mktemp("encrypted")
    settings = dataclasses.replace(Settings(), certs_dir=root / "certs", instance_dir=root / "instance")
    trust.ensure(settings)
    entity = entities(settings)["monespace-sp"]
    trust.write_metadata(settings, "monespace-sp", trust.metadata_xml(entity, settings.certs_dir, encryption=True))
    return settings


@pytest.fixture(scope="module")
def enc_idp(enc_settings: Settings) -> IdentityProvider:
    return IdentityProvider(trust.entity_config(enc_settings, "csam-idp"))


@pytest.fixture(scope="module")
def enc_sp(enc_settings: Settings) -> ServiceProvider:
    return ServiceProvider(trust.entity_config(enc_settings, "monespace-sp", encryption=True),
                           idp_entity_id=entities(enc_settings)["csam-idp"].entity_id,
                           want_assertions_encrypted=True)


@pytest.fixture(scope="module")
def lenient_sp(enc_settings: Settings) -> ServiceProvider:
    """Has the encryption key but does not demand encryption."""
    return ServiceProvider(trust.entity_config(enc_settings, "monespace-sp", encryption=True),
                           idp_entity_id=entities(enc_settings)["csam-idp"].entity_id)


@pytest.fixture(scope="module")
def keyless_sp(enc_settings: Settings) -> ServiceProvider:
    """Configured without its encryption key: it has none to decrypt with."""
    return ServiceProvider(trust.entity_config(enc_settings, "monespace-sp"),
                           idp_entity_id=entities(enc_settings)["csam-idp"].entity_id)


def sp_encryption_cert(settings: Settings) -> x509.Certificate:
    pair = certs.key_pair(settings.certs_dir, certs.encryption_name("monespace-sp"))
    return x509.load_pem_x509_certificate(pair.cert_file.read_bytes())


def stored(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(SeenAssertion))


def xml_of(form_value: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(form_value))


def post(root: etree._Element) -> str:
    return base64.b64encode(etree.tostring(root)).decode("ascii")


def refused(sp: ServiceProvider, db: Session, login, saml_response: str) -> str:
    with pytest.raises(SamlRefused) as caught:
        sp.accept(db, saml_response, login.relay_state, [login.relay_state])
    assert stored(db) == 0
    return caught.value.reason


def signed_plain(idp: IdentityProvider, info: AuthnRequestInfo, *, sign_assertion: bool = True
                 ) -> tuple[etree._Element, etree._Element]:
    """A Response (unsigned yet) and its signed Assertion, as the IdP builds them."""
    now = clock.now()
    root = build.response(issuer=idp.entity_id, destination=info.acs_url, in_response_to=info.request_id,
                          issued_at=now, assertion_nsmap=True)
    assertion = build.add_assertion(
        root, issuer=idp.entity_id, issued_at=now, name_id="pairwise-subject",
        name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", name_qualifier=idp.entity_id,
        sp_name_qualifier=info.sp_entity_id, recipient=info.acs_url, in_response_to=info.request_id,
        not_on_or_after=now + timedelta(minutes=5), audience=info.sp_entity_id, authn_instant=now.replace(microsecond=0),
        session_index="_s1", authn_context="urn:be:fedict:iam:fas:Level500",
        attributes=[build.Attribute("egovNRN", (NRN,))])
    if sign_assertion:
        build.sign(assertion, idp.signer)
    return root, assertion


# -- by hand: XML Encryption written out, cryptography for the primitives --------


def hand_encrypted(plaintext: bytes, cert: x509.Certificate, *, key_inside: bool = True) -> etree._Element:
    """A saml:EncryptedAssertion for ``cert``: AES-256-GCM content
    (IV ‖ ciphertext ‖ tag), key transported with RSA-OAEP (XML Enc 1.1,
    SHA-256, MGF1-SHA-256), the EncryptedKey in the KeyInfo or (``key_inside``
    false) beside the EncryptedData, as SAML Core §2.3.4 also allows."""
    content_key, iv = os.urandom(32), os.urandom(12)
    cipher = iv + AESGCM(content_key).encrypt(iv, plaintext, None)
    wrapped = cert.public_key().encrypt(content_key, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(),
                                                                   None))
    b64 = lambda data: base64.b64encode(data).decode()
    encrypted_key = f"""<xenc:EncryptedKey Id="k1">
        <xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#rsa-oaep">
          <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
          <xenc11:MGF Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/>
        </xenc:EncryptionMethod>
        <xenc:CipherData><xenc:CipherValue>{b64(wrapped)}</xenc:CipherValue></xenc:CipherData>
      </xenc:EncryptedKey>"""
    text = f"""<saml:EncryptedAssertion xmlns:saml="{build.SAML}" xmlns:xenc="{XENC_NS}"
        xmlns:xenc11="http://www.w3.org/2009/xmlenc11#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
      <xenc:EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element">
        <xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
        {f"<ds:KeyInfo>{encrypted_key}</ds:KeyInfo>" if key_inside else ""}
        <xenc:CipherData><xenc:CipherValue>{b64(cipher)}</xenc:CipherValue></xenc:CipherData>
      </xenc:EncryptedData>
      {"" if key_inside else encrypted_key}
    </saml:EncryptedAssertion>"""
    return etree.fromstring(text)


def libxmlsec_encrypted(plaintext_element: etree._Element, cert_file: Path, data_method: int,
                        key_method: int, key_bits: int) -> etree._Element:
    """The same, encrypted by libxmlsec (python-xmlsec) with the given algorithms."""
    # libxmlsec serialises the element without the declarations of its
    # ancestors: it is encrypted in a holder that declares none.
    wrapper = etree.Element("holder")
    plaintext_element = etree.fromstring(etree.tostring(plaintext_element))
    wrapper.append(plaintext_element)
    template = xmlsec.template.encrypted_data_create(wrapper, data_method, type=xmlsec.EncryptionType.ELEMENT,
                                                     ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, key_method)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_file(str(cert_file), xmlsec.KeyFormat.CERT_PEM, None))
    ctx = xmlsec.EncryptionContext(manager)
    key_data = xmlsec.constants.KeyDataDes if data_method == xmlsec.constants.TransformDes3Cbc else \
        xmlsec.constants.KeyDataAes
    ctx.key = xmlsec.Key.generate(key_data, key_bits, xmlsec.constants.KeyDataTypeSession)
    ctx.encrypt_xml(template, plaintext_element)
    encrypted = etree.Element(f"{{{build.SAML}}}EncryptedAssertion", nsmap={"saml": build.SAML})
    encrypted.append(etree.fromstring(etree.tostring(wrapper[0])))
    return encrypted


def respond_with(idp: IdentityProvider, root: etree._Element, assertion: etree._Element,
                 encrypted: etree._Element) -> str:
    """``encrypted`` in place of ``assertion``, then the Response signed over it."""
    if assertion.getparent() is root:
        root.replace(assertion, encrypted)
    else:
        root.append(encrypted)
    build.sign(root, idp.signer)
    return post(root)


# -- our IdP toward an SP that publishes an encryption key ----------------------------


def test_the_idp_encrypts_for_an_sp_publishing_an_encryption_key(enc_sp, enc_idp, db) -> None:
    login = start(enc_sp, enc_idp, db)
    form = answer(enc_idp, login.info)
    wire = base64.b64decode(form.fields["SAMLResponse"])
    root = etree.fromstring(wire)
    assert root.findall("saml:Assertion", NS) == [] and len(list(root.iter(f"{{{build.SAML}}}Assertion"))) == 0
    assert NRN.encode() not in wire and b"pairwise-subject" not in wire  # nothing of the person in clear
    data = root.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    assert data.find("xenc:EncryptionMethod", NS).get("Algorithm") == encryption.AES256_GCM
    method = data.find("ds:KeyInfo/xenc:EncryptedKey/xenc:EncryptionMethod", NS)
    assert method.get("Algorithm") == encryption.RSA_OAEP
    assert method.find("ds:DigestMethod", NS).get("Algorithm") == encryption.SHA256
    assert method.find("xenc11:MGF", NS).get("Algorithm") == encryption.MGF1_SHA256
    assert root.find("ds:Signature", NS) is not None  # the Response stays signed, outside
    got = enc_sp.accept(db, form.fields["SAMLResponse"], login.relay_state, [login.relay_state])
    assert got.attributes["egovNRN"] == [NRN] and got.name_id == "pairwise-subject"
    assert stored(db) == 1


def test_the_decrypted_assertion_is_signed_by_the_idp(enc_sp, enc_idp, enc_settings, db) -> None:
    """What the IdP encrypted is its signed Assertion (signed first)."""
    login = start(enc_sp, enc_idp, db)
    root = xml_of(answer(enc_idp, login.info).fields["SAMLResponse"])
    plaintext = enc_sp.decrypter.decrypt(root.find("saml:EncryptedAssertion", NS))
    assertion = etree.fromstring(plaintext)
    assert assertion.tag == f"{{{build.SAML}}}Assertion" and assertion.find("ds:Signature", NS) is not None


def test_an_sp_without_encryption_key_gets_a_plain_assertion(idp, sp, db) -> None:
    """Default behaviour unchanged (the conftest federation publishes no encryption key)."""
    login = start(sp, idp, db)
    root = xml_of(answer(idp, login.info).fields["SAMLResponse"])
    assert root.find("saml:Assertion", NS) is not None and root.find("saml:EncryptedAssertion", NS) is None


def test_a_plain_assertion_is_refused_by_an_sp_demanding_encryption(enc_sp, enc_idp, db) -> None:
    login = start(enc_sp, enc_idp, db)
    root, _ = signed_plain(enc_idp, login.info)
    build.sign(root, enc_idp.signer)
    assert "Assertion en clair refusée" in refused(enc_sp, db, login, post(root))


def test_a_plain_assertion_is_accepted_by_an_sp_that_does_not_demand(lenient_sp, enc_idp, db) -> None:
    login = start(lenient_sp, enc_idp, db)
    root, _ = signed_plain(enc_idp, login.info)
    build.sign(root, enc_idp.signer)
    assert lenient_sp.accept(db, post(root), login.relay_state, [login.relay_state]).name_id == "pairwise-subject"


def test_an_encrypted_assertion_is_refused_by_an_sp_without_key(keyless_sp, enc_idp, enc_settings, db) -> None:
    login = start(keyless_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    encrypted = hand_encrypted(etree.tostring(assertion), sp_encryption_cert(enc_settings))
    assert "aucune clé de chiffrement" in refused(keyless_sp, db, login, respond_with(enc_idp, root, assertion, encrypted))


# -- EncryptedAssertions made without fedsim.saml.encryption ------------------------


@pytest.mark.parametrize("key_inside", [True, False], ids=["key-in-keyinfo", "key-beside-data"])
def test_a_hand_built_gcm_oaep_assertion_is_accepted(enc_sp, enc_idp, enc_settings, db, key_inside) -> None:
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    encrypted = hand_encrypted(etree.tostring(assertion), sp_encryption_cert(enc_settings), key_inside=key_inside)
    got = enc_sp.accept(db, respond_with(enc_idp, root, assertion, encrypted), login.relay_state,
                        [login.relay_state])
    assert got.attributes["egovNRN"] == [NRN]


def test_a_libxmlsec_gcm_oaep_mgf1p_assertion_is_accepted(enc_sp, enc_idp, enc_settings, db) -> None:
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    cert_file = certs.key_pair(enc_settings.certs_dir, certs.encryption_name("monespace-sp")).cert_file
    root.remove(assertion)
    encrypted = libxmlsec_encrypted(assertion, cert_file, xmlsec.constants.TransformAes256Gcm,
                                    xmlsec.constants.TransformRsaOaep, 256)
    got = enc_sp.accept(db, respond_with(enc_idp, root, assertion, encrypted), login.relay_state,
                        [login.relay_state])
    assert got.attributes["egovNRN"] == [NRN]


@pytest.mark.parametrize(("data", "transport", "bits", "why"), [
    ("TransformDes3Cbc", "TransformRsaOaep", 192, "3DES"),
    ("TransformAes256Cbc", "TransformRsaOaep", 256, "AES-CBC"),
    ("TransformAes128Cbc", "TransformRsaOaep", 128, "AES-CBC"),
    ("TransformAes256Gcm", "TransformRsaPkcs1", 256, "RSA PKCS#1 v1.5"),
    ("TransformDes3Cbc", "TransformRsaPkcs1", 192, "3DES"),
])
def test_weak_algorithms_are_refused(enc_sp, enc_idp, enc_settings, db, data, transport, bits, why) -> None:
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    cert_file = certs.key_pair(enc_settings.certs_dir, certs.encryption_name("monespace-sp")).cert_file
    root.remove(assertion)
    encrypted = libxmlsec_encrypted(assertion, cert_file, getattr(xmlsec.constants, data),
                                    getattr(xmlsec.constants, transport), bits)
    reason = refused(enc_sp, db, login, respond_with(enc_idp, root, assertion, encrypted))
    assert reason.startswith("Assertion chiffrée refusée") and why in reason and "interdit" in reason


def test_tampered_ciphertext_is_refused(enc_sp, enc_idp, enc_settings, db) -> None:
    """Changed before the IdP signs the Response (the IdP itself, or a bug):
    the GCM tag does not hold."""
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    encrypted = hand_encrypted(etree.tostring(assertion), sp_encryption_cert(enc_settings))
    value = encrypted.find("xenc:EncryptedData/xenc:CipherData/xenc:CipherValue", NS)
    raw = bytearray(base64.b64decode(value.text))
    raw[40] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    assert "étiquette AES-GCM invalide" in refused(enc_sp, db, login, respond_with(enc_idp, root, assertion,
                                                                                  encrypted))


def test_an_assertion_encrypted_for_another_key_is_refused(enc_sp, enc_idp, enc_settings, impostor_settings,
                                                           db) -> None:
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    other = x509.load_pem_x509_certificate(
        certs.key_pair(impostor_settings.certs_dir, "monespace-sp").cert_file.read_bytes())
    encrypted = hand_encrypted(etree.tostring(assertion), other)
    assert "ne se déchiffre" in refused(enc_sp, db, login, respond_with(enc_idp, root, assertion, encrypted))


def test_an_encrypted_unsigned_assertion_is_refused(enc_sp, enc_idp, enc_settings, db) -> None:
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info, sign_assertion=False)
    encrypted = hand_encrypted(etree.tostring(assertion), sp_encryption_cert(enc_settings))
    assert "Signature absente" in refused(enc_sp, db, login, respond_with(enc_idp, root, assertion, encrypted))


def test_an_assertion_signed_by_another_key_is_refused(enc_sp, enc_idp, enc_settings, impostor_settings,
                                                       db) -> None:
    """Decrypts fine, but the Assertion inside is the impostor's: its signature must be the IdP's."""
    login = start(enc_sp, enc_idp, db)
    impostor = IdentityProvider(trust.entity_config(impostor_settings, "csam-idp"))
    root, assertion = signed_plain(impostor, login.info)
    encrypted = hand_encrypted(etree.tostring(assertion), sp_encryption_cert(enc_settings))
    assert "Signature invalide sur l'assertion" in refused(enc_sp, db, login,
                                                          respond_with(enc_idp, root, assertion, encrypted))


def test_an_encrypted_and_a_plain_assertion_together_are_refused(lenient_sp, enc_idp, enc_settings, db) -> None:
    login = start(lenient_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    encrypted = hand_encrypted(etree.tostring(assertion).replace(assertion.get("ID").encode(), b"id-other"),
                               sp_encryption_cert(enc_settings))
    root.append(encrypted)  # the plain one stays
    build.sign(root, enc_idp.signer)
    assert "exactement une assertion" in refused(lenient_sp, db, login, post(root))


def test_decrypted_content_that_is_not_an_assertion_is_refused(enc_sp, enc_idp, enc_settings, db) -> None:
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    inner = build.response(issuer=enc_idp.entity_id, destination=login.info.acs_url,
                           in_response_to=login.info.request_id, issued_at=clock.now())
    encrypted = hand_encrypted(etree.tostring(inner), sp_encryption_cert(enc_settings))
    assert "pas une saml:Assertion" in refused(enc_sp, db, login, respond_with(enc_idp, root, assertion, encrypted))


def test_a_comment_in_the_decrypted_assertion_is_refused(enc_sp, enc_idp, enc_settings, db) -> None:
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info)
    text = etree.tostring(assertion).replace(b"pairwise-subject", b"pairwise<!-- x -->-subject")
    encrypted = hand_encrypted(text, sp_encryption_cert(enc_settings))
    assert "commentaire" in refused(enc_sp, db, login, respond_with(enc_idp, root, assertion, encrypted))


def test_a_decrypted_assertion_reusing_the_response_id_is_refused(enc_sp, enc_idp, enc_settings, db) -> None:
    """Its IDs are checked again once it joins the tree (no ID clash with the Response)."""
    login = start(enc_sp, enc_idp, db)
    root, assertion = signed_plain(enc_idp, login.info, sign_assertion=False)
    alone = etree.fromstring(etree.tostring(assertion))
    alone.set("ID", root.get("ID"))
    build.sign(alone, enc_idp.signer)  # a genuine signature, over an ID the Response also has
    encrypted = hand_encrypted(etree.tostring(alone), sp_encryption_cert(enc_settings))
    assert "xs:ID" in refused(enc_sp, db, login, respond_with(enc_idp, root, assertion, encrypted))


# -- the IdP's choice of algorithms from the SP's metadata ------------------------------


def _entity(cert_b64: str, methods: list[str], use: str | None = "encryption") -> dict:
    key = {"key_info": {"x509_data": [{"x509_certificate": {"text": cert_b64}}]},
           "encryption_method": [{"algorithm": m} for m in methods]}
    if use:
        key["use"] = use
    return {"spsso_descriptor": [{"key_descriptor": [key]}]}


@pytest.fixture(scope="module")
def cert_b64(enc_settings: Settings) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding
    return base64.b64encode(sp_encryption_cert(enc_settings).public_bytes(Encoding.DER)).decode()


def test_algorithm_choice_from_metadata(cert_b64: str) -> None:
    assert encryption.recipient_for(_entity(cert_b64, [])).key_transport == encryption.RSA_OAEP_MGF1P
    assert encryption.recipient_for(_entity(cert_b64, [encryption.AES256_GCM, encryption.RSA_OAEP_MGF1P])
                                    ).key_transport == encryption.RSA_OAEP_MGF1P
    assert encryption.recipient_for(_entity(cert_b64, [encryption.RSA_OAEP_MGF1P, encryption.RSA_OAEP])
                                    ).key_transport == encryption.RSA_OAEP
    assert encryption.recipient_for(_entity(cert_b64, [], use=None)) is None  # unqualified: not opted in
    assert encryption.recipient_for(_entity(cert_b64, [], use="signing")) is None
    assert encryption.recipient_for({}) is None
    only_128 = encryption.recipient_for(_entity(cert_b64, [encryption.AES128_GCM, encryption.AES256_CBC]))
    assert only_128.data == encryption.AES128_GCM
    assert encryption.recipient_for(_entity(cert_b64, [encryption.AES128_GCM, encryption.AES256_GCM])
                                    ).data == encryption.AES256_GCM
    for only_weak in ([encryption.AES128_CBC], [encryption.TRIPLEDES_CBC], [encryption.RSA_1_5],
                      [encryption.AES256_CBC, encryption.RSA_OAEP]):
        with pytest.raises(encryption.NoCommonAlgorithm):
            encryption.recipient_for(_entity(cert_b64, only_weak))


def test_an_sp_listing_only_aes128_gcm_and_mgf1p_gets_them_and_decrypts(enc_settings: Settings,
                                                                         cert_b64: str) -> None:
    recipient = encryption.recipient_for(_entity(cert_b64, [encryption.AES128_GCM, encryption.RSA_OAEP_MGF1P]))
    root = etree.fromstring(f'<r xmlns:saml="{build.SAML}"><saml:Assertion ID="a"/></r>'.encode())
    encrypted = encryption.encrypt_assertion(root[0], recipient)
    method = encrypted.find("xenc:EncryptedData/ds:KeyInfo/xenc:EncryptedKey/xenc:EncryptionMethod", NS)
    assert method.get("Algorithm") == encryption.RSA_OAEP_MGF1P
    assert encrypted.find("xenc:EncryptedData/xenc:EncryptionMethod", NS).get("Algorithm") == encryption.AES128_GCM
    key = certs.key_pair(enc_settings.certs_dir, certs.encryption_name("monespace-sp")).key_file
    assert b'ID="a"' in encryption.Decrypter.from_file(key).decrypt(encrypted)


def test_sp_metadata_publishes_a_separate_encryption_key_and_only_allowed_methods(enc_settings: Settings) -> None:
    tree = etree.fromstring((enc_settings.certs_dir / "monespace-sp.xml").read_bytes())
    md = "urn:oasis:names:tc:SAML:2.0:metadata"
    keys = {k.get("use"): k for k in tree.iter(f"{{{md}}}KeyDescriptor")}
    assert set(keys) == {"signing", "encryption"}
    cert_of = lambda k: k.findtext(".//ds:X509Certificate", namespaces=NS)
    assert cert_of(keys["signing"]) != cert_of(keys["encryption"])  # one key per purpose
    methods = [m.get("Algorithm") for m in keys["encryption"].iter(f"{{{md}}}EncryptionMethod")]
    assert methods and set(methods) <= {encryption.AES256_GCM, encryption.AES128_GCM, encryption.RSA_OAEP,
                                        encryption.RSA_OAEP_MGF1P}


def test_a_registered_sp_with_an_unusable_encryption_key_is_skipped(enc_settings: Settings, tmp_path: Path) -> None:
    """A metadata file of the IdP's registry whose encryption key cannot be
    used is reported at load time, not when a person is being answered."""
    from saml2.httpbase import HTTPBase

    from fedsim.saml.sp_metadata import load_source

    good = (enc_settings.certs_dir / "monespace-sp.xml").read_text(encoding="utf-8")
    (tmp_path / "good.xml").write_text(good, encoding="utf-8")
    loaded = load_source(tmp_path / "good.xml", [], HTTPBase())
    assert loaded.loaded is not None, loaded.problem
    weak = good.replace(encryption.AES256_GCM, encryption.AES128_CBC).replace(
        encryption.AES128_GCM, encryption.TRIPLEDES_CBC)
    (tmp_path / "weak.xml").write_text(weak, encoding="utf-8")
    outcome = load_source(tmp_path / "weak.xml", [], HTTPBase())
    assert outcome.loaded is None and "AES-256-GCM" in outcome.problem and "weak.xml" in outcome.problem


@pytest.mark.parametrize(("value", "wanted"), [("true", True), ("1", True), ("false", False), ("0", False),
                                               (None, False)])
def test_the_option_is_read_from_the_environment_as_flask_reads_it(value: str | None, wanted: bool) -> None:
    from fedsim.saml.config import wants_encryption

    environ = {} if value is None else {"MODIGIA_WANT_ASSERTIONS_ENCRYPTED": value}
    assert wants_encryption("modigia-sp", environ=environ) is wanted
    assert wants_encryption("modigia-sp", {"WANT_ASSERTIONS_ENCRYPTED": True}, environ) is True  # the app's config first
    assert wants_encryption("monespace-sp", environ=environ) is False  # another SP, another variable
    assert wants_encryption("csam-idp", environ={"MODIGIA_WANT_ASSERTIONS_ENCRYPTED": "true"}) is False
