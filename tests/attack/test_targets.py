"""Naming the SP to attack: our SPs, a metadata file, a registered entity ID."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fedsim.federation import Settings
from fedsim.saml.registry import PLACES
from fedsim_harness.attack import targets

METADATA = b"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/md">
<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
 Location="https://sp.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return dataclasses.replace(Settings(), certs_dir=tmp_path / "certs", instance_dir=tmp_path / "instance")


def test_our_sps_have_defaults(settings: Settings) -> None:
    modigia, portal = targets.builtin(settings, "modigia"), targets.builtin(settings, "monespace")
    assert (modigia.idp, portal.idp) == ("cerbere", "csam")
    assert targets.builtin(settings, modigia.sp_entity_id) == modigia
    assert targets.builtin(settings, "someone-else") is None


def test_a_metadata_file_names_the_sp_and_its_acs(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "sp.xml"
    path.write_bytes(METADATA)
    target = targets.resolve(settings, str(path), login_url="https://sp.example/login",
                             protected_url="https://sp.example/me")
    assert (target.sp_entity_id, target.acs_url, target.idp) == ("https://sp.example/md", "https://sp.example/acs",
                                                                 "cerbere")


def test_an_entity_id_registered_at_csam_is_attacked_as_csam(settings: Settings, monkeypatch) -> None:
    monkeypatch.delenv(PLACES["csam"].dir_env, raising=False)
    folder, _ = PLACES["csam"].folder(settings.instance_dir)
    folder.mkdir(parents=True)
    (folder / "sp.xml").write_bytes(METADATA)
    target = targets.resolve(settings, "https://sp.example/md", login_url="https://sp.example/login",
                             protected_url="https://sp.example/me")
    assert (target.idp, target.acs_url) == ("csam", "https://sp.example/acs")


def test_an_unknown_sp_needs_its_urls(settings: Settings) -> None:
    with pytest.raises(targets.TargetError, match="--login"):
        targets.resolve(settings, "https://nowhere.example/md", login_url=None, protected_url=None)


def test_metadata_without_an_sp_is_refused() -> None:
    with pytest.raises(targets.TargetError, match="SPSSODescriptor"):
        targets.from_metadata(b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
                              b'entityID="x"/>', idp="cerbere", login_url="a", protected_url="b")


def _metadata_with_encryption_key(cert_pem: bytes, methods: tuple[str, ...]) -> bytes:
    body = "".join(cert_pem.decode().split("-----")[2].split())
    listed = "".join(f'<md:EncryptionMethod Algorithm="{m}"/>' for m in methods)
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example/md">'
            f'<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA'
            f'</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
            f'<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}'
            f'</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{listed}</md:KeyDescriptor>'
            f'<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="https://sp.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>').encode()


def test_the_encryption_key_comes_from_the_metadata() -> None:
    """The driver encrypts for the key the SP publishes with use="encryption",
    with the algorithms our IdPs would choose from its EncryptionMethods; a
    third-party SP is not assumed to refuse plain assertions."""
    from cryptography import x509

    from fedsim import certs
    from fedsim.saml import encryption

    _, cert_pem = certs.self_signed("sp enc")
    xml = _metadata_with_encryption_key(cert_pem, (encryption.AES128_GCM, encryption.RSA_OAEP))
    target = targets.from_metadata(xml, idp="cerbere", login_url="a", protected_url="b")
    recipient = target.recipient()
    assert recipient.public_key.public_numbers() == \
        x509.load_pem_x509_certificate(cert_pem).public_key().public_numbers()
    assert (recipient.key_transport, recipient.data) == (encryption.RSA_OAEP, encryption.AES128_GCM)
    assert not target.demands_encryption
    assert targets.from_metadata(METADATA, idp="cerbere", login_url="a", protected_url="b").recipient() is None
    older = targets.from_metadata(_metadata_with_encryption_key(cert_pem, ()), idp="cerbere", login_url="a",
                                  protected_url="b").recipient()
    assert (older.key_transport, older.data) == (encryption.RSA_OAEP_MGF1P, encryption.AES256_GCM)


def test_an_unreadable_encryption_certificate_is_a_target_error() -> None:
    target = dataclasses.replace(targets.Target("x", "cerbere", "a", "b"), encryption_cert="bm90IGEgY2VydA==")
    with pytest.raises(targets.TargetError, match="encryption certificate"):
        target.recipient()


def test_our_sp_demands_encryption_when_its_metadata_publishes_a_key(settings: Settings) -> None:
    from fedsim import certs, trust
    from fedsim.federation import entities

    entity = entities(settings)["modigia-sp"]
    certs.ensure(settings.certs_dir, entity.name, entity.entity_id)
    assert trust.write_metadata(settings, entity.name, trust.metadata_xml(entity, settings.certs_dir, True))
    modigia = targets.builtin(settings, "modigia")
    assert modigia.demands_encryption and modigia.recipient() is not None
    assert not targets.builtin(settings, "monespace").demands_encryption
