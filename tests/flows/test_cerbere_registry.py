"""Cerbère serves the SPs of its registry like Modigia: any SP whose metadata
file is dropped in the registry folder, or whose metadata URL is listed, with
no code change. An SP outside the registry is refused; a registry source that
cannot be used is skipped, reported with a reason naming it, and Mon Espace
starts all the same (tests/flows/test_sp_registry_live.py: changes while it
runs)."""
from __future__ import annotations

import base64
import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

import monespace
from downstream_sp import DownstreamSP, browser_with, log_in, publish, sp_entity
from fedsim import trust
from fedsim.federation import Settings, entities
from fedsim.personas import Persona, by_id
from fedsim.saml import config as saml_config
from fedsim.saml.registry import EXTENSION, SkippedSource
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation, start_in_process

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
LEVEL500 = "urn:be:fedict:iam:fas:Level500"


@pytest.fixture
def jean() -> Persona:
    return by_id("jean")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "sp-metadata"


@pytest.fixture
def sp_certs(tmp_path: Path) -> Path:
    return tmp_path / "test-sp-certs"


@pytest.fixture
def federation(tmp_path: Path, folder: Path, sp_certs: Path):
    publish(sp_entity("labo-sp"), sp_certs, folder)  # before Mon Espace starts
    fed = start_in_process(tmp_path, overrides={"monespace": {"CERBERE_SP_METADATA_DIR": str(folder)}})
    yield fed
    fed.close()


@pytest.fixture
def labo(federation: Federation, sp_certs: Path):
    sp = DownstreamSP(sp_entity("labo-sp"), sp_certs, federation.settings)
    yield sp
    sp.close()


def _xml(form: dict[str, str]) -> etree._Element:
    return etree.fromstring(base64.b64decode(form["SAMLResponse"]))


def _name_id_sent_to(browser: Browser, acs: str) -> str:
    answers = [m for m in browser.saml_trace if m.kind == "SAMLResponse" and m.url == acs]
    assert answers, f"no SAML response was posted to {acs}"
    return etree.fromstring(answers[-1].xml.encode()).xpath("string(//saml:Subject/saml:NameID)", namespaces=NS)


def test_sp_from_the_metadata_folder_gets_a_signed_answer(federation: Federation, labo: DownstreamSP,
                                                          jean: Persona) -> None:
    assert labo.entity.entity_id == "http://localhost:5999/saml/metadata"
    browser = browser_with(federation, labo)
    page = log_in(browser, labo, jean)
    assert page.url == "http://localhost:5999/saml/acs", (page.url, page.text[:300])
    assert len(labo.posted) == 1

    # the SP verifies it with its own, strict configuration
    login = labo.accept()
    cerbere = entities(federation.settings)["cerbere-idp"]
    assert login.issuer == cerbere.entity_id
    assert login.first("cerbereUsername") == jean.monespace.cerbere_username
    assert login.first("givenName") == jean.given_name and login.first("surname") == jean.surname
    assert login.first("mail") and login.first("PrefLanguage") and login.first("context") == "Citoyen"
    assert login.authn_context == LEVEL500

    # signed Response and signed Assertion, RSA-SHA256, pairwise persistent NameID for this SP
    root = _xml(labo.posted[-1])
    assert root.xpath("ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm", namespaces=NS) == [RSA_SHA256]
    assert root.xpath("saml:Assertion/ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm",
                      namespaces=NS) == [RSA_SHA256]
    name_id = root.xpath("saml:Assertion/saml:Subject/saml:NameID", namespaces=NS)[0]
    assert name_id.get("Format") == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert name_id.get("SPNameQualifier") == labo.entity.entity_id
    assert login.name_id == name_id.text and jean.monespace.cerbere_username not in login.name_id

    # the same person at Modigia, silently from the Mon Espace session: another NameID
    page = browser.open(federation.urls["modigia_sp"] + "/saml/login")
    assert page.status == 200 and page.url.startswith(federation.urls["modigia_sp"]), page.text[:300]
    modigia_name_id = _name_id_sent_to(browser, federation.urls["modigia_sp"] + "/saml/acs")
    assert modigia_name_id and modigia_name_id != login.name_id

    # and again at the new SP (a second, silent login): the same NameID as before
    page = browser.open(labo.login_url())
    assert page.url == "http://localhost:5999/saml/acs"
    assert labo.accept().name_id == login.name_id


def test_sp_outside_the_registry_is_refused(federation: Federation, labo: DownstreamSP, tmp_path: Path) -> None:
    stranger = DownstreamSP(sp_entity("stranger-sp", port=5998), tmp_path / "stranger-certs", federation.settings)
    try:
        trust_nothing = browser_with(federation, stranger)
        page = trust_nothing.transport.request("GET", stranger.login_url())
    finally:
        stranger.close()
    assert page.status == 400, (page.status, page.text[:300])
    assert "Message SAML refusé" in page.text and "Traceback" not in page.body
    assert f"Service inconnu : {stranger.entity.entity_id} n'est pas enregistré" in page.text, page.text[:500]
    assert not stranger.posted


def test_sp_in_the_registry_must_sign_with_its_registered_key(federation: Federation, labo: DownstreamSP,
                                                               tmp_path: Path) -> None:
    """Someone using the registered entity ID with other keys is refused."""
    impostor = DownstreamSP(sp_entity("labo-sp"), tmp_path / "impostor-certs", federation.settings)
    try:
        page = browser_with(federation, impostor).transport.request("GET", impostor.login_url())
    finally:
        impostor.close()
    assert page.status == 400 and "Signature absente ou invalide" in page.text, page.text[:500]
    # control: the genuine SP's request is accepted
    page = browser_with(federation, labo).transport.request("GET", labo.login_url())
    assert page.status == 302 and page.headers["Location"].endswith("/cerbere/answer")


# -- metadata by URL -------------------------------------------------------------


class _MetadataServer:
    """Serves one metadata document over HTTP on a free loopback port."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(status)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # noqa: ANN002 - quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sp/metadata"

    def __enter__(self) -> "_MetadataServer":
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_sp_from_a_metadata_url(tmp_path: Path, jean: Persona) -> None:
    entity = sp_entity("remote-sp", port=5997)
    document = publish(entity, tmp_path / "remote-certs", tmp_path / "elsewhere").read_bytes()
    with _MetadataServer(document) as served:
        fed = start_in_process(tmp_path, overrides={"monespace": {"CERBERE_SP_METADATA_URLS": served.url}})
    try:  # fetched once, at startup: the server is gone now
        remote = DownstreamSP(entity, tmp_path / "remote-certs", fed.settings)
        try:
            browser = browser_with(fed, remote)
            page = log_in(browser, remote, jean)
            assert page.url == "http://localhost:5997/saml/acs", page.text[:300]
            login = remote.accept()
            assert login.first("cerbereUsername") == jean.monespace.cerbere_username
        finally:
            remote.close()
    finally:
        fed.close()


def _settings(tmp_path: Path) -> Settings:
    settings = dataclasses.replace(Settings(), certs_dir=tmp_path / "certs", instance_dir=tmp_path / "instance")
    trust.ensure(settings)
    return settings


def _start_monespace(settings: Settings, **config) -> SkippedSource:  # noqa: ANN003
    """Mon Espace starts; the one source its registry skips, and why."""
    app = monespace.create_app({"FEDSIM_SETTINGS": settings, "TESTING": True, **config})
    state = app.extensions[EXTENSION].state
    modigia = entities(settings)["modigia-sp"].entity_id
    assert [sp.entity_id for sp in state.sps] == [modigia], "only the built-in SP is served"
    assert len(state.skipped) == 1, state.skipped
    return state.skipped[0]


def test_unreachable_metadata_url_is_skipped_naming_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with _MetadataServer(b"") as served:
        url = served.url
    # the server is closed: nothing listens on that port any more
    skipped = _start_monespace(settings, CERBERE_SP_METADATA_URLS=f" {url} ")
    assert skipped.source == url
    assert f"Impossible de charger l'URL de métadonnées {url} :" in skipped.reason
    assert "Connection" in skipped.reason


@pytest.mark.parametrize("status, body, expected", [
    (404, b"absent", "SourceNotFound"),
    (200, b"<html><body>pas du SAML", "Failed to parse remote metadata"),
    (200, b"<x>du XML, mais pas des metadonnees</x>", "ne décrit aucun fournisseur de services"),
])
def test_bad_metadata_url_is_skipped_naming_it(tmp_path: Path, status: int, body: bytes, expected: str) -> None:
    settings = _settings(tmp_path)
    with _MetadataServer(body, status) as served:
        skipped = _start_monespace(settings, CERBERE_SP_METADATA_URLS=served.url)
    assert skipped.source == served.url
    assert served.url in skipped.reason and expected in skipped.reason, skipped.reason


def test_bad_metadata_files_are_skipped_naming_them(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "notes.txt").write_text("ignored: only *.xml files are read")
    broken = folder / "broken.xml"
    broken.write_text("<md:EntityDescriptor")
    skipped = _start_monespace(settings, CERBERE_SP_METADATA_DIR=str(folder))
    assert skipped.source == str(broken) and f"le fichier de métadonnées {broken} :" in skipped.reason

    # a copy of Modigia's metadata: the entity is already known
    broken.unlink()
    modigia = saml_config.metadata_file(settings.certs_dir, entities(settings)["modigia-sp"])
    copy = folder / "copy.xml"
    copy.write_bytes(modigia.read_bytes())
    skipped = _start_monespace(settings, CERBERE_SP_METADATA_DIR=str(folder))
    assert "déjà déclarée par le fichier de métadonnées" in skipped.reason, skipped.reason

    # an IdP's metadata: no service provider in it
    copy.write_bytes(saml_config.metadata_file(settings.certs_dir, entities(settings)["csam-idp"]).read_bytes())
    skipped = _start_monespace(settings, CERBERE_SP_METADATA_DIR=str(folder))
    assert "ne décrit aucun fournisseur de services" in skipped.reason, skipped.reason

    skipped = _start_monespace(settings, CERBERE_SP_METADATA_DIR=str(tmp_path / "nowhere"))
    assert "n'existe pas" in skipped.reason and "MONESPACE_SP_METADATA_DIR" in skipped.reason


MD = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}


@pytest.mark.parametrize("change, expected", [
    ("//md:KeyDescriptor", "ne publie aucun certificat de signature"),
    ("//md:AssertionConsumerService", "aucun AssertionConsumerService avec le binding HTTP-POST"),
])
def test_sp_metadata_cerbere_cannot_use_is_skipped(tmp_path: Path, change: str, expected: str) -> None:
    settings = _settings(tmp_path)
    folder = tmp_path / "sp-metadata"
    path = publish(sp_entity("labo-sp"), tmp_path / "sp-certs", folder)
    root = etree.fromstring(path.read_bytes())
    for element in root.xpath(change, namespaces=MD):
        if element.tag.endswith("AssertionConsumerService"):
            element.set("Binding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact")
        else:
            element.getparent().remove(element)
    path.write_bytes(etree.tostring(root))
    skipped = _start_monespace(settings, CERBERE_SP_METADATA_DIR=str(folder))
    assert expected in skipped.reason, skipped.reason
    assert str(path) in skipped.reason and "http://localhost:5999/saml/metadata" in skipped.reason


def test_default_registry_folder_is_made_in_the_instance(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = monespace.create_app({"FEDSIM_SETTINGS": settings, "TESTING": True})
    assert (settings.instance_dir / "monespace" / "sp-metadata").is_dir()
    assert app.extensions[EXTENSION].state.skipped == ()


def test_sp_listing_requested_attributes_gets_those_it_lists(tmp_path: Path, jean: Persona) -> None:
    """Metadata with RequestedAttribute elements: Cerbère releases only the
    listed attributes it has, and a required one it does not have is left
    out (the SP decides), never an internal error."""
    from saml2.metadata import entity_descriptor

    entity = sp_entity("picky-sp", port=5996)
    certs_dir, folder = tmp_path / "picky-certs", tmp_path / "sp-metadata"
    publish(entity, certs_dir, folder)
    conf = saml_config.config_dict(entity, certs_dir)
    conf["service"]["sp"]["required_attributes"] = ["givenName", "mail", "egovNRN"]
    conf["service"]["sp"]["optional_attributes"] = ["PrefLanguage"]
    (folder / "picky-sp.xml").write_text(str(entity_descriptor(saml_config.load(conf))), encoding="utf-8")
    fed = start_in_process(tmp_path, overrides={"monespace": {"CERBERE_SP_METADATA_DIR": str(folder)}})
    try:
        picky = DownstreamSP(entity, certs_dir, fed.settings)
        try:
            page = log_in(browser_with(fed, picky), picky, jean)
            assert page.url == "http://localhost:5996/saml/acs", page.text[:300]
            login = picky.accept()
        finally:
            picky.close()
    finally:
        fed.close()
    assert sorted(login.attributes) == ["PrefLanguage", "givenName", "mail"]
    assert login.first("givenName") == jean.given_name


def test_sp_without_single_logout_does_not_block_logout(tmp_path: Path, jean: Persona) -> None:
    """Logging out of Mon Espace ends the sessions Cerbère opened where it
    can: an SP whose metadata has no SingleLogoutService is skipped, and the
    logout still reaches Modigia and CSAM."""
    entity = sp_entity("no-slo-sp", port=5995)
    folder = tmp_path / "sp-metadata"
    path = publish(entity, tmp_path / "no-slo-certs", folder)
    root = etree.fromstring(path.read_bytes())
    for element in root.xpath("//md:SingleLogoutService", namespaces=MD):
        element.getparent().remove(element)
    path.write_bytes(etree.tostring(root))
    fed = start_in_process(tmp_path, overrides={"monespace": {"CERBERE_SP_METADATA_DIR": str(folder)}})
    try:
        sp = DownstreamSP(entity, tmp_path / "no-slo-certs", fed.settings)
        try:
            browser = browser_with(fed, sp)
            assert log_in(browser, sp, jean).url == "http://localhost:5995/saml/acs"
            assert browser.open(fed.urls["modigia_sp"] + "/saml/login").url.startswith(fed.urls["modigia_sp"])
            browser.open(fed.urls["monespace"] + "/deconnexion")  # asks; the button logs out
            page = browser.click("Me déconnecter")
            assert page.status == 200 and "Vous êtes déconnecté" in page.text, (page.status, page.text[:300])
            assert any("/saml/slo" in hop and fed.urls["modigia_sp"] in hop for hop in browser.history)
            page = browser.open(fed.urls["monespace"] + "/tableau-de-bord")
            assert "MON TABLEAU DE BORD" not in page.text
        finally:
            sp.close()
    finally:
        fed.close()
