"""A card's state follows the personas file at every start of CSAM, not
only when it is first seeded: revoked goes on the CRL, valid comes off it
with a new certificate, expired gets a certificate that has expired."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fedsim import clock, personas, trust
from fedsim.db import Database
from fedsim.federation import Settings
from idp_csam.cardpki import CertificateRefused
from idp_csam.models import EidCard

NUMBER = "593-7000001-42"
FILE = ('personas:\n  - {id: zoe, given_name: Zoé, surname: Martin, nrn: "90.06.01-042-%s", '
        'email: zoe.martin@example.be, cards: [{number: "%s", pin: "1234", puk: "123456", state: %s}]}\n')


def _check(nine: str) -> str:
    return f"{97 - int(nine) % 97:02d}"


def _start(settings: Settings):
    import idp_csam  # the harness's tests build the app, as fedsim_harness.stack does

    return idp_csam.create_app({"FEDSIM_SETTINGS": settings, "TESTING": True})


def _state(app) -> tuple[bool, bool, str]:
    """(on the CRL, certificate expired, serial) of the card, as CSAM sees it."""
    reader = app.extensions["idp_csam.reader"]
    with Database.factory(app)() as db:
        card = db.get(EidCard, NUMBER)
        chip = reader.pki.chip(NUMBER)
        try:
            app.extensions["idp_csam.card_verifier"].verify_chain(
                chip.certificate, chip.ca_certificate, reader.pki.crl(), now=clock.now())
            refused = ""
        except CertificateRefused as exc:
            refused = exc.reason
        listed = reader.pki.crl().get_revoked_certificate_by_serial_number(chip.certificate.serial_number)
        assert (card.revoked_at is not None) == (listed is not None)
        return refused, card.cert_serial, format(chip.certificate.serial_number, "x")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = dataclasses.replace(Settings(), certs_dir=tmp_path / "certs", instance_dir=tmp_path / "instance")
    trust.ensure(settings)
    (settings.instance_dir / "idp_csam").mkdir(parents=True, exist_ok=True)
    return settings


def test_the_card_follows_the_file_at_each_start(settings: Settings, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.yaml"
    monkeypatch.setenv(personas.ENV_VARIABLE, str(mine))

    def start_with(state: str):
        mine.write_text(FILE % (_check("900601042"), NUMBER, state), encoding="utf-8")
        return _state(_start(settings))

    refused, stored, serial = start_with("valid")
    assert refused == "" and stored == serial
    refused, stored, revoked_serial = start_with("revoked")  # an existing database: the card is now revoked
    assert refused == "revoked" and revoked_serial == serial  # the same certificate, on the CRL
    refused, stored, serial = start_with("valid")  # off the CRL, with a new certificate
    assert refused == "" and serial != revoked_serial and stored == serial
    refused, stored, serial = start_with("expired")
    assert refused == "expired" and stored == serial
    refused, stored, again = start_with("expired")  # nothing changes when the file does not
    assert refused == "expired" and again == serial == stored
    refused, _, renewed = start_with("valid")
    assert refused == "" and renewed != serial
