"""The encryption group against the federation's SPs configured to want
encrypted assertions (Modigia: MODIGIA_WANT_ASSERTIONS_ENCRYPTED, Mon
Espace's SP: MONESPACE_SAML_SP_WANT_ASSERTIONS_ENCRYPTED), in a federation
of their own built with those variables set: every process writes the SPs'
metadata with their encryption key, the driver reads it from there. Both
baselines log in; every other case is refused, for its own reason."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from lxml import etree

from fedsim import certs
from fedsim.saml.encryption import AES256_GCM, ENCRYPTED_ASSERTION, Decrypter
from fedsim_harness.attack import driver, sp
from fedsim_harness.attack.catalogue import select
from fedsim_harness.stack import start_in_process

SPS = {"modigia": "modigia-sp", "monespace": "monespace-sp"}
ENV = ("MODIGIA_WANT_ASSERTIONS_ENCRYPTED", "MONESPACE_SAML_SP_WANT_ASSERTIONS_ENCRYPTED")
CASES = select(groups=["encryption"])
LOGINS = {"baseline", "encrypted-baseline"}
# What our SPs say when they refuse each case (their French reason, in the
# page the driver records): a case refused for another reason than the one
# it probes is a broken case, not a passing one.
REASONS = {
    "encrypted-aes128-cbc": "(aes128-cbc)",
    "encrypted-aes256-cbc": "(aes256-cbc)",
    "encrypted-tripledes-cbc": "(tripledes-cbc)",
    "encrypted-key-rsa-1_5": "interdit",
    "encrypted-cbc-and-rsa-1_5": "interdit",
    "encrypted-key-length-mismatch": "clé de contenu de 16 octets",
    "encrypted-cipher-reference": "CipherReference",
    "encrypted-type-content": "type de contenu chiffré",
    "encrypted-assertion-unsigned": "l'assertion doit être signée",
    "encrypted-nothing-signed-victim": "Signature absente",
    "encrypted-response-unsigned": "la Response doit être signée",
    "encrypted-rogue-signed-victim": "Signature invalide sur l'assertion",
    "encrypted-rogue-key-both-victim": "Signature invalide",
    "encrypted-plain-victim-first": "1 en clair",
    "encrypted-plain-victim-after": "1 en clair",
    "encrypted-two-victim-second": "2 assertion(s) chiffrée(s)",
    "encrypted-swapped-after-signing-victim": "Signature invalide sur la Response",
    "encrypted-to-foreign-key": "la clé de contenu ne se déchiffre",
    "encrypted-ciphertext-tampered": "étiquette AES-GCM invalide",
    "encrypted-content-response-victim": "élément Response",
    "encrypted-content-nested-assertion-victim": "2 assertions dans le message",
    "encrypted-content-two-assertions-victim": "illisible",
    "encrypted-content-doctype-victim": "DOCTYPE",
    "encrypted-content-comment-victim": "commentaire",
    "encrypted-plain-to-demanding-sp": "Assertion en clair refusée",
}


@pytest.fixture(scope="module")
def encrypting():
    """(the federation, ``attacked(sp) -> {case id: Result}``): the
    encryption group run once per SP, both SPs demanding encryption."""
    root = Path(tempfile.mkdtemp(prefix="fedsim-attack-enc-"))
    with pytest.MonkeyPatch.context() as patch:
        for name in ENV:
            patch.setenv(name, "true")
        federation = start_in_process(root)
        done: dict[str, dict[str, driver.Result]] = {}

        def attacked(name: str) -> dict[str, driver.Result]:
            if name not in done:
                federation.reset()
                setup = sp.in_process(federation, name)
                assert setup.target.demands_encryption and setup.target.encryption_cert, name
                done[name] = {r.case.id: r for r in driver.run(setup, CASES)}
            return done[name]

        try:
            yield federation, attacked
        finally:
            federation.close()
            shutil.rmtree(root, ignore_errors=True)


def test_every_case_has_its_reason() -> None:
    assert set(REASONS) | LOGINS == {case.id for case in CASES}


@pytest.mark.parametrize(("sp_name", "case_id"), [pytest.param(n, c.id, id=f"{n}-{c.id}") for n in SPS for c in CASES])
def test_an_sp_that_wants_encryption_refuses_the_case(encrypting, sp_name: str, case_id: str) -> None:
    _, attacked = encrypting
    result = attacked(sp_name)[case_id]
    if case_id in LOGINS:
        assert result.verdict == driver.LOGGED_IN, f"{result.verdict}: {result.detail}"
    else:
        assert result.verdict == driver.REFUSED, f"{result.verdict}: {result.detail} ({result.case.title})"
        assert REASONS[case_id] in result.detail, result.detail


@pytest.mark.parametrize("sp_name", SPS)
def test_the_baselines_are_encrypted_for_the_key_in_the_sps_metadata(encrypting, sp_name: str) -> None:
    """What logged in hid its assertion: AES-256-GCM, for the SP's own
    encryption key (the one its metadata publishes), and nothing in clear."""
    federation, attacked = encrypting
    key = certs.key_pair(federation.settings.certs_dir, certs.encryption_name(SPS[sp_name])).key_file
    for case_id in LOGINS:
        posted = etree.fromstring(attacked(sp_name)[case_id].response_xml.encode())
        assert posted.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion") is None
        encrypted = posted.find(ENCRYPTED_ASSERTION)
        assert encrypted.find(".//{http://www.w3.org/2001/04/xmlenc#}EncryptionMethod").get("Algorithm") == AES256_GCM
        plaintext = Decrypter.from_file(key).decrypt(encrypted)
        assert etree.fromstring(plaintext).tag == "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"
