"""Modigia as a test SP for ANOTHER identity provider, configured by files
only: the IdP's metadata (a file, or its URL) and entity ID, and a mapping
file for its attribute names and levels (fedsim.saml.mapping) — no code
change. The other IdP is made here as a SimpleSAMLphp one looks from
outside: its own key and certificate, SimpleSAMLphp's endpoint paths,
attributes named by OID with NameFormat uri, and the level
PasswordProtectedTransport. It is built with fedsim.saml.idp.IdentityProvider
and served by a tiny Flask app (WSGI, and over real HTTP for its metadata URL)."""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from flask import Flask, request
from lxml import etree
from markupsafe import escape
from saml2.attribute_converter import AttributeConverter
from saml2.saml import NAME_FORMAT_URI
from sqlalchemy import select
from werkzeug.serving import make_server

import modigia_sp
import monespace
from fedsim import certs, sessions, trust
from fedsim.db import Database
from fedsim.personas import by_id
from fedsim.federation import Entity, Settings
from fedsim.saml import config as saml_config
from fedsim.saml.idp import IdentityProvider
from fedsim.trust import MetadataUnavailable, metadata_xml
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.serve import free_ports
from modigia_sp.models import User

PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
X509 = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
LEVEL200 = "urn:be:fedict:iam:fas:Level200"
OIDS = {  # what a SimpleSAMLphp IdP sends with its "name2oid" attribute map
    "uid": "urn:oid:0.9.2342.19200300.100.1.1",
    "givenName": "urn:oid:2.5.4.42",
    "sn": "urn:oid:2.5.4.4",
    "mail": "urn:oid:0.9.2342.19200300.100.1.3",
    "preferredLanguage": "urn:oid:2.16.840.1.113730.3.1.39",
    "eduPersonAffiliation": "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
    "schacPersonalUniqueID": "urn:oid:1.3.6.1.4.1.25178.1.2.15",
}
ADA = {"uid": ["ada.lovelace"], "givenName": ["Ada"], "sn": ["Lovelace"], "mail": ["ada@example.org"],
       "preferredLanguage": ["en"], "eduPersonAffiliation": ["member"]}


def _source(friendly: str) -> dict:
    return {"name": OIDS[friendly], "name_format": "uri", "friendly_name": friendly}


MAPPING = {  # Modigia's fields from the other IdP's attributes, and its level to a FAS level
    "idp_name": "IdP de test",
    "attributes": {
        "cerbereUsername": {"label": "identifiant", "required": True, "sources": [_source("uid")]},
        "givenName": {"label": "prénom", "required": True, "sources": [_source("givenName")]},
        "surname": {"label": "nom", "required": True, "sources": [_source("sn")]},
        "mail": {"label": "adresse e-mail", "sources": [_source("mail")]},
        "PrefLanguage": {"label": "langue", "sources": [_source("preferredLanguage")]},
        "context": {"label": "contexte", "sources": [_source("eduPersonAffiliation")]},
    },
    "levels": {PASSWORD: LEVEL200},
}


@dataclass
class OtherIdp:
    """A SAML IdP outside the federation, answering every AuthnRequest at
    once for one person (no login page), as ``attributes`` and ``level`` say."""
    entity: Entity
    certs_dir: Path
    sp_metadata: Path
    attributes: dict[str, list[str]] = field(default_factory=lambda: dict(ADA))
    level: str = PASSWORD

    def __post_init__(self) -> None:
        certs.ensure(self.certs_dir, self.entity.name, self.entity.entity_id)
        conf = saml_config.config_dict(self.entity, self.certs_dir, [self._releasing_everything()])
        conf["service"]["idp"]["policy"]["default"]["name_form"] = NAME_FORMAT_URI
        config = saml_config.load(conf)
        oids = AttributeConverter(NAME_FORMAT_URI)
        oids.from_dict({"identifier": NAME_FORMAT_URI, "to": OIDS, "fro": {v: k for k, v in OIDS.items()}})
        config.attribute_converters.insert(0, oids)
        self.idp = IdentityProvider(config)

    def _releasing_everything(self) -> Path:
        """The SP's metadata without its AttributeConsumingService: this IdP
        releases all its attributes, as SimpleSAMLphp does unless told otherwise
        (pysaml2's policy would keep only the attributes the SP requests, by name)."""
        tree = etree.parse(str(self.sp_metadata))
        for element in tree.iterfind(".//{urn:oasis:names:tc:SAML:2.0:metadata}AttributeConsumingService"):
            element.getparent().remove(element)
        path = self.certs_dir / "sp-metadata.xml"
        tree.write(str(path), xml_declaration=True, encoding="utf-8")
        return path

    @property
    def netloc(self) -> str:
        return urlsplit(self.entity.base_url).netloc

    def metadata_file(self, folder: Path) -> Path:
        path = folder / "other-idp.xml"
        path.write_text(self.metadata(), encoding="utf-8")
        return path

    def metadata(self) -> str:
        return metadata_xml(self.entity, self.certs_dir)

    def wsgi(self) -> Flask:
        app = Flask("other-idp")

        @app.get(urlsplit(self.entity.url("metadata")).path)
        def metadata():  # noqa: ANN202
            return self.metadata(), 200, {"Content-Type": "application/samlmetadata+xml"}

        @app.get(urlsplit(self.entity.url("sso")).path)
        def sso():  # noqa: ANN202
            info = self.idp.parse_redirect(request.query_string.decode("latin-1"))
            answer = self.idp.respond(info, subject="other-" + self.attributes.get("uid", ["x"])[0],
                                      attributes=self.attributes, authn_context=self.level)
            inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                             for k, v in answer.fields.items())
            return f'<html><body><form method="post" action="{escape(answer.action)}" data-autosubmit>' \
                   f"{inputs}</form></body></html>"

        return app


def other_entity(port: int) -> Entity:
    return Entity("other-idp", "idp", "test", f"http://localhost:{port}", "IdP de test (SimpleSAMLphp)",
                  {"metadata": "/simplesaml/saml2/idp/metadata.php", "sso": "/simplesaml/saml2/idp/SSOService.php",
                   "slo": "/simplesaml/saml2/idp/SingleLogoutService.php"})


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The federation's keys and metadata under a folder of this module
    (only Modigia is made here: the other apps play no part)."""
    root = tmp_path_factory.mktemp("any-idp")
    settings = dataclasses.replace(Settings(), certs_dir=root / "certs", instance_dir=root / "instance")
    trust.ensure(settings)
    return settings


def builtin_modigia(settings: Settings, folder: Path) -> Flask:
    return modigia_sp.create_app({"FEDSIM_SETTINGS": settings, "TESTING": True,
                                  "DATABASE_URL": f"sqlite:///{folder / 'builtin.sqlite3'}"})


def modigia_sp_metadata(settings: Settings, folder: Path) -> Path:
    """Modigia's metadata as served at its URL: what the other IdP is given."""
    page = builtin_modigia(settings, folder).test_client().get("/saml/metadata")
    assert page.status_code == 200 and b"SPSSODescriptor" in page.data
    path = folder / "modigia-sp.xml"
    path.write_bytes(page.data)
    return path


@dataclass
class Setup:
    settings: Settings
    other: OtherIdp
    folder: Path

    def write_mapping(self, mapping: dict | None = None, name: str = "mapping.yaml") -> Path:
        path = self.folder / name
        path.write_text(yaml.safe_dump(mapping or MAPPING, allow_unicode=True), encoding="utf-8")
        return path

    def modigia(self, **config) -> Flask:
        """Modigia behind the other IdP, configured by files only."""
        base = {"IDP_METADATA": str(self.other.metadata_file(self.folder)),
                "IDP_ENTITY_ID": self.other.entity.entity_id,
                "IDP_MAPPING": str(self.write_mapping(MAPPING, "default-mapping.yaml"))}
        return modigia_sp.create_app({"FEDSIM_SETTINGS": self.settings, "TESTING": True,
                                      "DATABASE_URL": f"sqlite:///{self.folder / 'modigia.sqlite3'}",
                                      **base, **config})

    @property
    def modigia_url(self) -> str:
        return self.settings.base_url("modigia_sp")

    def log_in(self, modigia: Flask) -> Browser:
        browser = Browser(WsgiTransport({urlsplit(self.modigia_url).netloc: modigia,
                                         self.other.netloc: self.other.wsgi()}))
        browser.open(self.modigia_url + "/saml/login?next=/")
        return browser


@pytest.fixture
def setup(settings: Settings, tmp_path: Path) -> Setup:
    other = OtherIdp(other_entity(free_ports(1)[0]), tmp_path / "other-certs",
                     modigia_sp_metadata(settings, tmp_path))
    return Setup(settings, other, tmp_path)


def _users(app: Flask) -> list[User]:
    with Database.factory(app)() as db:
        return list(db.scalars(select(User)))


def test_modigia_logs_in_behind_another_idp_with_its_own_names_and_level(setup: Setup) -> None:
    modigia = setup.modigia()
    browser = setup.log_in(modigia)

    assert "/politiques/" in browser.page.url, (browser.page.url, browser.page.text[:400])
    [user] = _users(modigia)
    assert user.idp_entity_id == setup.other.entity.entity_id
    assert (user.cerbere_username, user.given_name, user.surname, user.email, user.context) == (
        "ada.lovelace", "Ada", "Lovelace", "ada@example.org", "member")
    profile = browser.open(setup.modigia_url + "/profil")
    assert "Ada Lovelace" in profile.text  # the person is logged in, with the mapped name
    # The attribute went over the wire by OID, NameFormat uri, as SimpleSAMLphp sends it.
    response = next(m for m in browser.saml_trace if m.kind == "SAMLResponse")
    assert 'Name="urn:oid:2.5.4.42"' in response.xml and NAME_FORMAT_URI in response.xml


def test_a_missing_required_attribute_is_refused_by_name_and_nothing_is_recorded(setup: Setup) -> None:
    del setup.other.attributes["givenName"]
    modigia = setup.modigia()
    page = setup.log_in(modigia).page

    assert page.status == 400
    assert "L'attribut prénom (urn:oid:2.5.4.42 « givenName »)" in page.text
    assert f"manque dans l'assertion de IdP de test ({setup.other.entity.entity_id})" in page.text
    assert _users(modigia) == []


def test_an_attribute_in_another_name_format_does_not_count(setup: Setup) -> None:
    """The mapping says NameFormat uri: the same Name sent as basic is not the mapped attribute."""
    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    mapping["attributes"]["surname"]["sources"] = [{"name": OIDS["sn"], "name_format": "basic"}]
    modigia = setup.modigia(IDP_MAPPING=str(setup.write_mapping(mapping)))
    page = setup.log_in(modigia).page

    assert page.status == 400 and "L'attribut nom (urn:oid:2.5.4.4)" in page.text
    assert _users(modigia) == []


def test_an_unknown_level_is_refused_naming_the_level_and_the_idp(setup: Setup) -> None:
    setup.other.level = X509
    modigia = setup.modigia()
    page = setup.log_in(modigia).page

    assert page.status == 400
    assert f"Niveau d'authentification inconnu : « {X509} »" in page.text
    assert setup.other.entity.entity_id in page.text
    assert _users(modigia) == []


def test_the_idp_metadata_can_be_a_url(setup: Setup) -> None:
    """MODIGIA_IDP_METADATA as an http URL: fetched when the app is made."""
    server = make_server("127.0.0.1", int(setup.other.netloc.split(":")[1]), setup.other.wsgi())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        modigia = setup.modigia(IDP_METADATA=setup.other.entity.url("metadata"))
    finally:
        server.shutdown()
        thread.join(timeout=10)
    browser = setup.log_in(modigia)
    assert "/politiques/" in browser.page.url and [u.given_name for u in _users(modigia)] == ["Ada"]


def test_env_variables_configure_it_and_an_unreadable_metadata_file_stops_the_start(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = setup.folder / "absent" / "idp.xml"
    monkeypatch.setenv("MODIGIA_IDP_METADATA", str(missing))
    monkeypatch.setenv("MODIGIA_IDP_ENTITY_ID", setup.other.entity.entity_id)
    with pytest.raises(MetadataUnavailable, match=r"Impossible de charger le fichier de métadonnées .*absent/idp\.xml"):
        modigia_sp.create_app({"FEDSIM_SETTINGS": setup.settings, "TESTING": True,
                               "DATABASE_URL": f"sqlite:///{setup.folder / 'm.sqlite3'}"})


@pytest.mark.parametrize("entity_id, expected", [
    ("http://localhost:1/elsewhere", r"ne décrit pas le fournisseur d'identité http://localhost:1/elsewhere"),
    (None, r"sans l'entity ID du fournisseur d'identité"),
])
def test_metadata_without_the_idp_stops_the_start(setup: Setup, entity_id: str | None, expected: str) -> None:
    with pytest.raises(MetadataUnavailable, match=expected):
        setup.modigia(IDP_ENTITY_ID=entity_id)


def test_metadata_of_an_sp_only_names_the_missing_idp(setup: Setup) -> None:
    with pytest.raises(MetadataUnavailable, match=r"ne décrit aucun fournisseur d'identité \(IDPSSODescriptor\)"):
        setup.modigia(IDP_METADATA=str(setup.other.sp_metadata), IDP_ENTITY_ID=setup.other.entity.entity_id)


def test_an_idp_without_a_redirect_sso_endpoint_stops_the_start(setup: Setup) -> None:
    path = setup.other.metadata_file(setup.folder)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"http://localhost",
        "urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" Location=\"http://localhost"), encoding="utf-8")
    assert "HTTP-Redirect" not in path.read_text(encoding="utf-8")
    with pytest.raises(MetadataUnavailable, match="aucun SingleSignOnService avec le binding HTTP-Redirect"):
        modigia_sp.create_app({"FEDSIM_SETTINGS": setup.settings, "TESTING": True,
                               "DATABASE_URL": f"sqlite:///{setup.folder / 'm.sqlite3'}",
                               "IDP_METADATA": str(path), "IDP_ENTITY_ID": setup.other.entity.entity_id,
                               "IDP_MAPPING": str(setup.write_mapping())})


def test_a_bad_mapping_file_stops_the_start_naming_the_key(setup: Setup) -> None:
    from fedsim.saml.mapping import MappingError

    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    mapping["attributes"]["givenName"]["requierd"] = True
    with pytest.raises(MappingError, match=r"mapping\.yaml invalide — attributes\.givenName\.requierd"):
        setup.modigia(IDP_MAPPING=str(setup.write_mapping(mapping)))


def test_without_configuration_modigia_still_trusts_cerbere(settings: Settings, tmp_path: Path) -> None:
    modigia = builtin_modigia(settings, tmp_path)
    assert modigia.extensions["modigia.sp"].idp_entity_id == settings.base_url("monespace") + "/cerbere/metadata"
    assert modigia.extensions["modigia.idp_mapping"].source.name == "idp_mapping.yaml"


# -- Mon Espace's SP behind another IdP than CSAM ------------------------------------

CSAM_LIKE_MAPPING = {  # Mon Espace's fields (CSAM's names) from the other IdP's
    "idp_name": "IdP de test",
    "attributes": {
        "egovNRN": {"label": "numéro de registre national", "required": True,
                    "sources": [_source("schacPersonalUniqueID")]},
        "givenName": {"label": "prénom", "required": True, "sources": [_source("givenName")]},
        "surname": {"label": "nom", "sources": [_source("sn")]},
        "mail": {"sources": [_source("mail")]},
        "PrefLanguage": {"sources": [_source("preferredLanguage")]},
    },
    "levels": {PASSWORD: LEVEL200},
}


def monespace_behind(settings: Settings, folder: Path, other_port: int, **config) -> tuple[Flask, OtherIdp]:
    """Mon Espace, with the other IdP in CSAM's place (its SP metadata as served
    by a Mon Espace with the built-in wiring), configured by files only."""
    database = {"DATABASE_URL": f"sqlite:///{folder / 'monespace.sqlite3'}"}
    builtin = monespace.create_app({"FEDSIM_SETTINGS": settings, "TESTING": True, **database})
    served = builtin.test_client().get("/saml/sp/metadata")
    assert served.status_code == 200 and b"SPSSODescriptor" in served.data
    (folder / "monespace-sp.xml").write_bytes(served.data)
    other = OtherIdp(other_entity(other_port), folder / "other-certs", folder / "monespace-sp.xml")
    mapping_file = folder / "csam-mapping.yaml"
    mapping_file.write_text(yaml.safe_dump(CSAM_LIKE_MAPPING, allow_unicode=True), encoding="utf-8")
    app = monespace.create_app({"FEDSIM_SETTINGS": settings, "TESTING": True, **database,
                                "CSAM_METADATA": str(other.metadata_file(folder)),
                                "CSAM_ENTITY_ID": other.entity.entity_id, "CSAM_MAPPING": str(mapping_file),
                                **config})
    return app, other


def _monespace_login(settings: Settings, app: Flask, other: OtherIdp) -> Browser:
    netloc = urlsplit(settings.base_url("monespace")).netloc
    browser = Browser(WsgiTransport({netloc: app, other.netloc: other.wsgi()}))
    browser.open(settings.base_url("monespace") + "/connexion?next=/tableau-de-bord")
    return browser


def _jean_from_other_idp(other: OtherIdp) -> None:
    jean = by_id("jean")
    other.attributes = {"schacPersonalUniqueID": [jean.nrn], "givenName": [jean.given_name],
                        "sn": [jean.surname], "mail": [jean.email], "preferredLanguage": ["fr"]}


def test_monespace_logs_in_behind_another_idp_than_csam(settings: Settings, tmp_path: Path) -> None:
    app, other = monespace_behind(settings, tmp_path, free_ports(1)[0])
    _jean_from_other_idp(other)
    browser = _monespace_login(settings, app, other)

    assert browser.page.status == 200 and "/tableau-de-bord" in browser.page.url, browser.page.text[:400]
    assert by_id("jean").given_name in browser.page.text
    with Database.factory(app)() as db:  # the server-side session, as Mon Espace stored it
        [stored] = [sessions.SERIALIZER.loads(data) for data in db.scalars(select(sessions.StoredSession.data))]
    upstream = stored["upstream"]
    assert (upstream["nrn"], upstream["level"], upstream["authority"]) == (
        by_id("jean").nrn, LEVEL200, other.entity.entity_id)


def test_monespace_refuses_a_login_without_the_nrn_naming_it(settings: Settings, tmp_path: Path) -> None:
    app, other = monespace_behind(settings, tmp_path, free_ports(1)[0])
    _jean_from_other_idp(other)
    del other.attributes["schacPersonalUniqueID"]
    page = _monespace_login(settings, app, other).page

    assert page.status == 400
    assert ("L'attribut numéro de registre national (urn:oid:1.3.6.1.4.1.25178.1.2.15 « schacPersonalUniqueID ») "
            "manque dans l'assertion de IdP de test") in page.text


def test_monespace_refuses_a_mapping_to_a_level_cerbere_cannot_assert(settings: Settings, tmp_path: Path) -> None:
    from fedsim.saml.mapping import MappingError

    CSAM_LIKE_MAPPING["levels"][X509] = "urn:example:level:gold"
    try:
        with pytest.raises(MappingError, match=rf"levels\.{X509} : urn:example:level:gold n'est pas un niveau"):
            monespace_behind(settings, tmp_path, free_ports(1)[0])
    finally:
        del CSAM_LIKE_MAPPING["levels"][X509]


def test_without_configuration_monespace_still_trusts_csam(settings: Settings, tmp_path: Path) -> None:
    app = monespace.create_app({"FEDSIM_SETTINGS": settings, "TESTING": True,
                                "DATABASE_URL": f"sqlite:///{tmp_path / 'monespace.sqlite3'}"})
    assert app.extensions["monespace.sp"].idp_entity_id == settings.base_url("idp_csam") + "/saml/metadata"
    assert app.extensions["monespace.csam_mapping"].source.name == "csam_mapping.yaml"


def test_the_whole_chain_modigia_cerbere_then_another_idp(settings: Settings, tmp_path: Path) -> None:
    """Modigia (built-in wiring) -> Cerbère -> the other IdP in CSAM's place:
    Cerbère asserts the FAS level the mapping gives, and names that IdP."""
    app, other = monespace_behind(settings, tmp_path, free_ports(1)[0])
    _jean_from_other_idp(other)
    modigia = builtin_modigia(settings, tmp_path)
    browser = Browser(WsgiTransport({urlsplit(settings.base_url("monespace")).netloc: app,
                                     urlsplit(settings.base_url("modigia_sp")).netloc: modigia,
                                     other.netloc: other.wsgi()}))
    browser.open(settings.base_url("modigia_sp") + "/saml/login?next=/")

    assert "/politiques/" in browser.page.url, browser.page.text[:400]
    assert [(u.given_name, u.cerbere_username) for u in _users(modigia)] == [
        (by_id("jean").given_name, by_id("jean").monespace.cerbere_username)]
    to_modigia = [m for m in browser.saml_trace if m.kind == "SAMLResponse" and m.url.endswith("/saml/acs")][-1]
    assert f">{LEVEL200}</" in to_modigia.xml and other.entity.entity_id in to_modigia.xml


def test_cerbere_asks_the_other_idp_for_its_own_levels(settings: Settings, tmp_path: Path) -> None:
    from fedsim.saml import mapping
    from monespace.identity import upstream_levels_for

    path = tmp_path / "csam-mapping.yaml"
    path.write_text(yaml.safe_dump(CSAM_LIKE_MAPPING, allow_unicode=True), encoding="utf-8")
    other_levels = mapping.load(path)
    assert upstream_levels_for([LEVEL200], "minimum", other_levels) == (PASSWORD,)
    assert upstream_levels_for(["urn:be:fedict:iam:fas:Level400"], "minimum", other_levels) == ()
    assert upstream_levels_for([LEVEL200], "exact") == (LEVEL200,)  # CSAM's own, by default
