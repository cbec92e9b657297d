"""A brand-new downstream SAML SP made inside a test, as a developer would
add one to Cerbère: its own keys, pysaml2 configuration and metadata file,
and a tiny WSGI app on its own host:port that records what is posted to its
assertion consumer service, and answers Single Logout (Success, or the
status a test sets). Verification uses fedsim.saml.sp.ServiceProvider.
(Not a test module: imported by tests of this folder, with the fixtures
at the end: a federation that has labo-sp in Cerbère's registry.)"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask, redirect, request
from saml2 import BINDING_HTTP_REDIRECT
from saml2.samlp import STATUS_SUCCESS, NameIDPolicy
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from sqlalchemy.orm import Session

from fedsim import certs, clock
from fedsim.db import make_engine
from fedsim.federation import Entity, Settings, entities
from fedsim.personas import Persona, by_id
from fedsim.saml import config as saml_config
from fedsim.saml.slo import LogoutService, ReceivedLogout
from fedsim.saml.sp import SamlLogin, ServiceProvider
from fedsim.saml.state import OutstandingRequest, SamlStateBase
from fedsim_harness.scenario.browser import Browser, Page, WsgiTransport
from fedsim_harness.stack import Federation
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
    logout_requests: list[ReceivedLogout] = field(default_factory=list)
    logout_status: str = STATUS_SUCCESS  # what it answers LogoutRequests with
    idp_name: str = "cerbere-idp"  # "csam-idp" with entity monespace-sp: a stand-in for Mon Espace

    def __post_init__(self) -> None:
        certs.ensure(self.certs_dir, self.entity.name, self.entity.entity_id)  # kept if published
        idp = entities(self.settings)[self.idp_name]
        idp_metadata = saml_config.metadata_file(self.settings.certs_dir, idp)
        conf = saml_config.load(saml_config.config_dict(self.entity, self.certs_dir, [idp_metadata]))
        self.sp = ServiceProvider(conf, idp_entity_id=idp.entity_id)
        self.slo = LogoutService(self.sp.client)
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

    @property
    def acs_url(self) -> str:
        return self.entity.url("acs")

    def login_url(self, contexts: tuple[str, ...] = (), comparison: str = "minimum", *,
                  force_authn: bool = False, is_passive: bool = False,
                  name_id_policy: NameIDPolicy | None = None) -> str:
        """A signed AuthnRequest to Cerbère (HTTP-Redirect), as a URL."""
        if name_id_policy is None:
            location, relay_state = self.sp.start_login(self.db, "/", contexts, comparison,
                                                        force_authn=force_authn, is_passive=is_passive)
        else:
            location, relay_state = self._start_with_policy(name_id_policy, force_authn, is_passive)
        self.relay_states.append(relay_state)
        return location

    def _start_with_policy(self, policy: NameIDPolicy, force_authn: bool, is_passive: bool) -> tuple[str, str]:
        """What ServiceProvider.start_login does, with a NameIDPolicy."""
        relay_state = secrets.token_urlsafe(24)
        extra = {"force_authn": "true"} if force_authn else {}
        if is_passive:
            extra["is_passive"] = "true"
        request_id, info = self.sp.client.prepare_for_authenticate(
            entityid=self.sp.idp_entity_id, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT, sign=True,
            sigalg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256, name_id_policy=policy, **extra)
        self.db.add(OutstandingRequest(request_id=request_id, relay_state=relay_state, next_url="/",
                                       expires_at=clock.naive_utc_now() + timedelta(minutes=15)))
        self.db.commit()
        return dict(info["headers"])["Location"], relay_state

    def accept(self, form: dict[str, str] | None = None) -> SamlLogin:
        """Verify the last (or the given) POSTed Response; SamlRefused if bad."""
        form = form if form is not None else self.posted[-1]
        return self.sp.accept(self.db, form.get("SAMLResponse"), form.get("RelayState"), self.relay_states)

    def wsgi(self) -> Flask:
        app = Flask(f"downstream-{self.entity.name}")

        @app.post(urlsplit(self.entity.url("acs")).path)
        def acs():  # noqa: ANN202
            self.posted.append(dict(request.form))
            return "<html><body><main>Réponse SAML reçue par le service de test</main></body></html>"

        @app.get(urlsplit(self.entity.url("slo")).path)
        def slo():  # noqa: ANN202
            received = self.slo.receive(request.query_string.decode("latin-1"), self.db)
            self.logout_requests.append(received)
            if self.logout_status == STATUS_SUCCESS:
                return redirect(self.slo.respond(received))
            return redirect(self.slo.respond(received, status=self.logout_status,
                                             message="Le service de test n'a pas pu fermer la session."))

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


# -- fixtures: a federation built with labo-sp in Cerbère's registry --------------


@pytest.fixture
def jean() -> Persona:
    return by_id("jean")


@pytest.fixture
def federation(federation: Federation, tmp_path: Path) -> Federation:
    """The session's federation (the plugin's fixture, reset), with labo-sp
    registered at Cerbère on the fly, with keys of this test."""
    from fedsim.saml.registry import EXTENSION
    from fedsim_harness import sp_folder

    path = publish(sp_entity("labo-sp"), tmp_path / "sp-certs", tmp_path / "sp-metadata")
    sp_folder.add(federation.apps["monespace"].extensions[EXTENSION], path.read_bytes(), path)
    return federation


@pytest.fixture
def labo(federation: Federation, tmp_path: Path):
    sp = DownstreamSP(sp_entity("labo-sp"), tmp_path / "sp-certs", federation.settings)
    yield sp
    sp.close()


@pytest.fixture
def browser(federation: Federation, labo: DownstreamSP) -> Browser:
    return browser_with(federation, labo)
