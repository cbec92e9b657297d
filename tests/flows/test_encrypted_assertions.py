"""Encrypted assertions end to end, in a federation built for each test:
the SPs opt in through their environment variables (read by the metadata
every process writes and by the apps' ``from_prefixed_env``), the IdPs
then encrypt for them, and what crosses the browser carries no plaintext
Assertion and no national register number in clear."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from downstream_sp import eid_login
from lxml import etree

from fedsim.personas import by_id
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.stack import Federation, start_in_process

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
XENC = "http://www.w3.org/2001/04/xmlenc#"
MODIGIA_ENV = "MODIGIA_WANT_ASSERTIONS_ENCRYPTED"
MONESPACE_ENV = "MONESPACE_SAML_SP_WANT_ASSERTIONS_ENCRYPTED"


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    built: list[Federation] = []

    def make(env: dict[str, str], overrides: dict | None = None) -> Federation:
        for name in (MODIGIA_ENV, MONESPACE_ENV):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        federation = start_in_process(tmp_path, overrides=overrides)
        built.append(federation)
        return federation

    yield make
    for federation in built:
        federation.close()


def log_into_modigia(federation: Federation) -> Browser:
    browser = Browser(WsgiTransport(federation.wsgi_by_netloc()))
    browser.open(federation.urls["modigia_sp"] + "/saml/login?next=/")
    eid_login(browser, by_id("jean"))
    return browser


def responses_to(browser: Browser, federation: Federation, app: str) -> list[bytes]:
    """The SAML Responses posted to ``app``, as they crossed the browser."""
    base = federation.urls[app]
    found = [m.raw.encode() for m in browser.saml_trace if m.kind == "SAMLResponse" and m.url.startswith(base)]
    assert found, f"no SAML Response was posted to {app}"
    return found


def encrypted_only(wire: bytes) -> None:
    root = etree.fromstring(wire)
    assert not list(root.iter(f"{{{SAML}}}Assertion")), "a plaintext Assertion crossed the browser"
    assert len(root.findall(f"{{{SAML}}}EncryptedAssertion")) == 1
    assert root.find(f"{{{SAML}}}EncryptedAssertion/{{{XENC}}}EncryptedData/{{{XENC}}}EncryptionMethod").get(
        "Algorithm") == "http://www.w3.org/2009/xmlenc11#aes256-gcm"
    assert by_id("jean").nrn.encode() not in wire


def test_both_legs_encrypted_end_to_end(build) -> None:
    federation = build({MODIGIA_ENV: "true", MONESPACE_ENV: "true"})
    browser = log_into_modigia(federation)
    assert "/politiques/" in browser.page.url, (browser.page.url, browser.page.text[:300])
    for app in ("monespace", "modigia_sp"):  # CSAM -> Mon Espace's SP, Cerbère -> Modigia
        for wire in responses_to(browser, federation, app):
            encrypted_only(wire)


def test_only_mon_espace_demands_encryption(build) -> None:
    """CSAM encrypts for Mon Espace's SP; Cerbère still answers Modigia in clear (its default)."""
    federation = build({MONESPACE_ENV: "1"})
    browser = log_into_modigia(federation)
    assert "/politiques/" in browser.page.url, (browser.page.url, browser.page.text[:300])
    for wire in responses_to(browser, federation, "monespace"):
        encrypted_only(wire)
    for wire in responses_to(browser, federation, "modigia_sp"):
        assert etree.fromstring(wire).find(f"{{{SAML}}}Assertion") is not None


def test_a_plain_assertion_to_a_demanding_sp_is_refused(build) -> None:
    """Modigia demands encryption by its app configuration only: Cerbère,
    started before it, read its metadata without the encryption key and
    answers in clear; Modigia refuses, says why, and opens no session."""
    federation = build({}, overrides={"modigia_sp": {"WANT_ASSERTIONS_ENCRYPTED": True}})
    browser = log_into_modigia(federation)
    wire = responses_to(browser, federation, "modigia_sp")[-1]
    assert etree.fromstring(wire).find(f"{{{SAML}}}Assertion") is not None
    assert browser.page.status == 400, (browser.page.status, browser.page.text[:300])
    assert "Assertion en clair refusée" in browser.page.text
    assert "/politiques/" not in browser.page.url
    # Modigia now publishes its key: an IdP started from here on encrypts for it.
    metadata = (federation.settings.certs_dir / "modigia-sp.xml").read_text()
    assert 'use="encryption"' in metadata
