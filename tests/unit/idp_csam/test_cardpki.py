"""The simulated Belgian eID PKI: root CA → citizen CA → card, as CSAM checks it."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fedsim import clock
from fedsim.personas import by_id
from idp_csam import cardpki
from idp_csam.cardpki import CardPki, CertificateRefused

NAIMA = by_id("naima")
CHALLENGE = b"\x01" * 32


@pytest.fixture
def pki(tmp_path: Path) -> CardPki:
    pki = CardPki(tmp_path / "eid")
    pki.ensure_authorities()
    pki.publish_crl([])
    return pki


def _card(pki: CardPki, number: str = "592-0000001-01", *, expired: bool = False) -> cardpki.Chip:
    pki.ensure_card(number, NAIMA.given_name, NAIMA.surname, NAIMA.nrn, expired=expired)
    return pki.chip(number)


def _verify(pki: CardPki, chip: cardpki.Chip, *, signature: bytes | None = None) -> str:
    return pki.verifier().verify(chip.certificate, chip.ca_certificate, CHALLENGE,
                                 signature or chip.sign(CHALLENGE), pki.crl())


def _refused(reason: str, call, *args, **kwargs) -> CertificateRefused:  # noqa: ANN001
    with pytest.raises(CertificateRefused) as info:
        call(*args, **kwargs)
    assert info.value.reason == reason, info.value.message
    return info.value


def test_the_chain_and_the_card_certificate_look_like_belgian_ones(pki: CardPki) -> None:
    chip = _card(pki)
    cert, ca, root = chip.certificate, chip.ca_certificate, pki.root
    assert root.subject.rfc4514_string() == "CN=Belgium Root CA4 (simulateur),C=BE"
    assert ca.issuer == root.subject and ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value \
        == "Citizen CA (simulateur)"
    assert cert.issuer == ca.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Naïma Mremi (Authentication)"
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == NAIMA.nrn
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_files_are_made_once_and_keys_kept_private(pki: CardPki) -> None:
    first = _card(pki).certificate
    root = pki.root
    pki.ensure_authorities()
    assert _card(pki).certificate == first and pki.root == root
    assert (pki.directory / "card-592-0000001-01.key").stat().st_mode & 0o077 == 0
    assert (pki.directory / "root-ca.key").stat().st_mode & 0o077 == 0


def test_a_good_card_gives_its_nrn(pki: CardPki) -> None:
    assert _verify(pki, _card(pki)) == NAIMA.nrn


def test_a_signature_over_another_challenge_is_refused(pki: CardPki) -> None:
    chip = _card(pki)
    _refused("signature", _verify, pki, chip, signature=chip.sign(b"another challenge"))


def test_an_expired_card_certificate_is_refused(pki: CardPki) -> None:
    refused = _refused("expired", _verify, pki, _card(pki, expired=True))
    assert refused.message.startswith("Le certificat de votre carte eID a expiré le ")


def test_a_valid_card_expires_after_ten_years(pki: CardPki, monkeypatch: pytest.MonkeyPatch) -> None:
    chip = _card(pki)
    monkeypatch.setenv("FEDSIM_CLOCK_OFFSET", str(timedelta(days=365 * 9).total_seconds()))
    _refused("expired", _verify, pki, chip)


def test_a_card_signed_by_another_ca_is_refused(pki: CardPki, tmp_path: Path) -> None:
    other = CardPki(tmp_path / "other")
    other.ensure_authorities()
    foreign = _card(other)
    # the other PKI's whole chain: its root is not CSAM's
    _refused("chain", pki.verifier().verify, foreign.certificate, foreign.ca_certificate, CHALLENGE,
             foreign.sign(CHALLENGE), pki.crl())
    # the other card with CSAM's citizen CA (same name, other key): bad signature
    _refused("chain", pki.verifier().verify, foreign.certificate, _card(pki).ca_certificate, CHALLENGE,
             foreign.sign(CHALLENGE), pki.crl())


def test_an_intermediate_that_is_not_a_ca_is_refused(pki: CardPki) -> None:
    """Signed by the real root, but its basicConstraints say it is no CA."""
    root_key = cardpki._read_key(pki.directory / "root-ca.key")
    key = ec.generate_private_key(ec.SECP384R1())
    now = clock.now()
    fake_ca = cardpki.issue_card(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Citizen CA (simulateur)")]),
                                 key.public_key(), pki.root, root_key,
                                 not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))
    card_key = ec.generate_private_key(ec.SECP384R1())
    card = cardpki.issue_card(cardpki.card_subject("Eve", "Faussaire", NAIMA.nrn), card_key.public_key(),
                              fake_ca, key, not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))
    refused = _refused("chain", pki.verifier().verify_chain, card, fake_ca, pki.crl(), now=now)
    assert "autorité de certification" in refused.message


def test_a_revoked_card_is_refused(pki: CardPki) -> None:
    chip = _card(pki)
    pki.publish_crl([(chip.certificate.serial_number, clock.now())])
    refused = _refused("revoked", _verify, pki, chip)
    assert "révoqué" in refused.message


def test_a_crl_not_signed_by_the_citizen_ca_is_refused(pki: CardPki, tmp_path: Path) -> None:
    other = CardPki(tmp_path / "other")
    other.ensure_authorities()
    chip = _card(pki)
    _refused("crl", pki.verifier().verify, chip.certificate, chip.ca_certificate, CHALLENGE,
             chip.sign(CHALLENGE), other.publish_crl([]))


@pytest.mark.parametrize("serial", ["12345", "85.03.12-154-31", "85031215432", "x"])
def test_a_certificate_without_a_valid_nrn_is_refused(pki: CardPki, serial: str) -> None:
    ca = x509.load_pem_x509_certificate((pki.directory / "citizen-ca.crt").read_bytes())
    ca_key = cardpki._read_key(pki.directory / "citizen-ca.key")
    key = ec.generate_private_key(ec.SECP384R1())
    now = clock.now()
    cert = cardpki.issue_card(cardpki.card_subject("Naïma", "Mremi", serial), key.public_key(), ca, ca_key,
                              not_before=now - timedelta(days=1), not_after=now + timedelta(days=30))
    signature = key.sign(CHALLENGE, ec.ECDSA(cardpki.HASH()))
    _refused("nrn", pki.verifier().verify, cert, ca, CHALLENGE, signature, pki.crl())
