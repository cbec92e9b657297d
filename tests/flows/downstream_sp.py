"""A brand-new downstream SAML SP made inside a test, as a developer would
add one to Cerbère: its own keys, pysaml2 configuration and metadata file,
and a tiny WSGI app on its own host:port that records what is posted to its
assertion consumer service. Verification uses fedsim.saml.sp.ServiceProvider.
(Not a test module: imported by tests of this folder.)"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, request
from sqlalchemy.orm import Session

from fedsim import certs
from fedsim.db import make_engine
from fedsim.federation import Entity, Settings, entities
from fedsim.personas import Persona
from fedsim.saml import config as saml_config
from fedsim.saml.sp import SamlLogin, ServiceProvider
from fedsim.saml.state import SamlStateBase
from fedsim.scenario.browser import Browser, Page, WsgiTransport
from fedsim.stack import Federation
from fedsim.trust import metadata_xml

EID = "IDENTIFICATION avec un lecteur de cartes eID"


def sp_entity(name: str, port: int = 5999) -> Entity:
    return Entity(name, "sp", "test", f"http://localhost:{port}", f"Service de test {name}",
                  {"metadata": "/saml/metadata", "acs": "/saml/acs", "slo": "/saml/slo"})


def publish(entity: Entity, certs_dir: Path, folder: Path) -> Path:
    """Make the SP's keys and write its metadata into ``folder``."""
    certs.ensure(certs_dir, entity.name, entity.entity_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{entity.name}.xml"
    path.write_text(metadata_xml(entity, certs_dir), encoding="utf-8")
    return path


@dataclass
class DownstreamSP:
    """The SP side: starts logins toward Cerbère, receives the POSTed answers."""
    entity: Entity
    certs_dir: Path
    settings: Settings
    posted: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        certs.ensure(self.certs_dir, self.entity.name, self.entity.entity_id)  # kept if published
        cerbere = entities(self.settings)["cerbere-idp"]
        cerbere_metadata = saml_config.metadata_file(self.settings.certs_dir, cerbere)
        conf = saml_config.load(saml_config.config_dict(self.entity, self.certs_dir, [cerbere_metadata]))
        self.sp = ServiceProvider(conf, idp_entity_id=cerbere.entity_id)
        self.engine = make_engine("sqlite://")
        SamlStateBase.metadata.create_all(self.engine)
        self.db = Session(self.engine)
        self.relay_states: list[str] = []

    def close(self) -> None:
        self.db.close()
        self.engine.dispose()

    @property
    def netloc(self) -> str:
        return urlsplit(self.entity.base_url).netloc

    def login_url(self, contexts: tuple[str, ...] = (), comparison: str = "minimum") -> str:
        """A signed AuthnRequest to Cerbère (HTTP-Redirect), as a URL."""
        location, relay_state = self.sp.start_login(self.db, "/", contexts, comparison)
        self.relay_states.append(relay_state)
        return location

    def accept(self, form: dict[str, str] | None = None) -> SamlLogin:
        """Verify the last (or the given) POSTed Response; SamlRefused if bad."""
        form = form if form is not None else self.posted[-1]
        return self.sp.accept(self.db, form.get("SAMLResponse"), form.get("RelayState"), self.relay_states)

    def wsgi(self) -> Flask:
        app = Flask(f"downstream-{self.entity.name}")

        @app.post("/saml/acs")
        def acs():  # noqa: ANN202
            self.posted.append(dict(request.form))
            return "<html><body><main>Réponse SAML reçue par le service de test</main></body></html>"

        return app


def browser_with(federation: Federation, *sps: DownstreamSP) -> Browser:
    table = federation.wsgi_by_netloc()
    for sp in sps:
        table[sp.netloc] = sp.wsgi()
    return Browser(WsgiTransport(table))


def eid_login(browser: Browser, persona: Persona) -> Page:
    """At CSAM's choice page: the eID card reader, then the PIN."""
    browser.click(EID)
    return browser.submit({"card": persona.card.number, "pin": persona.card.pin}, button="Se connecter")


def log_in(browser: Browser, sp: DownstreamSP, persona: Persona, **request) -> Page:  # noqa: ANN003
    """Start a login at ``sp`` and, if CSAM asks, authenticate with the eID;
    end on the SP's ACS page (or wherever the journey stops)."""
    page = browser.open(sp.login_url(**request))
    if browser.has(EID):
        page = eid_login(browser, persona)
    return page
