"""What CSAM's card verifier remembers between logins (the signatures of the
chain and of the CRL over the same bytes) never spares a check that can
change: the dates, the revocation, another chain's signatures."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fedsim import clock
from fedsim.personas import by_id
from idp_csam import cardpki
from idp_csam.cardpki import CardPki, CardVerifier, CertificateRefused

NAIMA = by_id("naima")
CHALLENGE = b"\x02" * 32
NUMBER = "592-0000001-01"


@pytest.fixture
def pki(tmp_path: Path) -> CardPki:
    pki = CardPki(tmp_path / "eid")
    pki.ensure_authorities()
    pki.publish_crl([])
    pki.ensure_card(NUMBER, NAIMA.given_name, NAIMA.surname, NAIMA.nrn)
    return pki


def _login(verifier: CardVerifier, pki: CardPki, chip: cardpki.Chip | None = None) -> str:
    chip = chip or pki.chip(NUMBER)
    return verifier.verify(chip.certificate, chip.ca_certificate, CHALLENGE, chip.sign(CHALLENGE), pki.crl())


def _reason(call, *args) -> str:
    with pytest.raises(CertificateRefused) as info:
        call(*args)
    return info.value.reason


def test_the_same_verifier_logs_in_again(pki: CardPki) -> None:
    verifier = pki.verifier()
    assert _login(verifier, pki) == NAIMA.nrn
    assert _login(verifier, pki) == NAIMA.nrn


def test_a_card_revoked_after_a_login_is_refused_at_the_next(pki: CardPki) -> None:
    verifier = pki.verifier()
    assert _login(verifier, pki) == NAIMA.nrn
    pki.publish_crl([(pki.chip(NUMBER).certificate.serial_number, clock.now())])
    assert _reason(_login, verifier, pki) == "revoked"
    pki.publish_crl([])  # taken off the list again: a new CRL, checked again
    assert _login(verifier, pki) == NAIMA.nrn


def test_a_card_that_expired_after_a_login_is_refused_at_the_next(pki: CardPki,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = pki.verifier()
    assert _login(verifier, pki) == NAIMA.nrn
    monkeypatch.setenv("FEDSIM_CLOCK_OFFSET", str(timedelta(days=365 * 9).total_seconds()))
    assert _reason(_login, verifier, pki) == "expired"


def test_a_crl_signed_by_another_ca_is_refused_after_good_ones(pki: CardPki, tmp_path: Path) -> None:
    verifier = pki.verifier()
    assert _login(verifier, pki) == NAIMA.nrn
    other = CardPki(tmp_path / "other")
    other.ensure_authorities()
    chip = pki.chip(NUMBER)
    assert _reason(verifier.verify, chip.certificate, chip.ca_certificate, CHALLENGE, chip.sign(CHALLENGE),
                   other.publish_crl([])) == "crl"


def test_a_foreign_chain_stays_refused_after_good_logins(pki: CardPki, tmp_path: Path) -> None:
    verifier = pki.verifier()
    assert _login(verifier, pki) == NAIMA.nrn
    other = CardPki(tmp_path / "other")
    other.ensure_authorities()
    other.ensure_card(NUMBER, NAIMA.given_name, NAIMA.surname, NAIMA.nrn)
    foreign = other.chip(NUMBER)
    for _ in range(2):  # a refusal is not remembered as anything
        # the foreign card under CSAM's own citizen CA (same name, other key)
        assert _reason(verifier.verify, foreign.certificate, pki.chip(NUMBER).ca_certificate, CHALLENGE,
                       foreign.sign(CHALLENGE), pki.crl()) == "chain"
    assert _login(verifier, pki) == NAIMA.nrn


def test_a_certificate_issued_again_is_read_again(pki: CardPki) -> None:
    """A chip's certificate written again (new serial) is what the reader and
    the verifier see next, not the one read before."""
    before = pki.card_certificate(NUMBER)
    after = pki.ensure_card(NUMBER, NAIMA.given_name, NAIMA.surname, NAIMA.nrn, reissue=True)
    assert after.serial_number != before.serial_number
    assert pki.card_certificate(NUMBER).serial_number == after.serial_number
    assert pki.chip(NUMBER).certificate.serial_number == after.serial_number
    assert pki.card_certificate("592-9999999-99") is None and pki.chip("592-9999999-99") is None
