"""CSAM, the federal authentication service, as a SAML identity provider."""
from __future__ import annotations

from flask import Flask
from flask_wtf import CSRFProtect

from fedsim import health, keys, personas, purge, sessions
from fedsim.db import Database
from fedsim.federation import Settings, entities
from fedsim.saml.idp import IdentityProvider
from fedsim.saml import registry as sp_registry
from fedsim.saml.slo import LogoutService
from fedsim.saml import state as saml_state
from fedsim.saml.state import SamlStateBase
from fedsim.trust import entity_config, metadata_xml
from fedsim.web import configure_shared
from idp_csam import bel, config, i18n, itsme_op, login, oidc, sso
from idp_csam import eidas_node, quick_login
from idp_csam.credentials import Credentials
from idp_csam.methods import all_methods, app_code, email_code
from idp_csam.cardpki import CardPki
from idp_csam.eid import CardReader
from idp_csam.models import Base

db = Database(Base, SamlStateBase, sessions.SessionBase)
csrf = CSRFProtect()


def create_app(test_config: dict | None = None) -> Flask:
    settings = (test_config or {}).get("FEDSIM_SETTINGS") or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_dir / "idp_csam"))
    app.config.from_mapping(config.defaults(settings))
    app.config.from_prefixed_env("IDP_CSAM")
    app.config.update(test_config or {})
    keys.init_app(app, ("pin", "code", "pairwise", "identity"))

    methods = all_methods()  # imported before the tables are made: methods may bring models
    db.init_app(app)
    configure_state(app)
    csrf.init_app(app)
    i18n.init_app(app)  # nl/fr/de/en, the cookie banner and /aide (G02)
    configure_shared(app, layout="idp_csam/layout.html")
    configure_saml(app, settings)
    configure_people(app)
    configure_methods(app, methods)
    app.register_blueprint(sso.bp)
    app.register_blueprint(login.bp)
    app.register_blueprint(eidas_node.bp)  # the simulated foreign eIDAS node (G07)
    csrf.exempt("idp_csam.methods.eidas.assertion_consumer")  # the eIDAS node's cross-site SAML POST
    app.register_blueprint(itsme_op.bp)
    app.register_blueprint(bel.bp)  # foreign nationals at a Bureau d'Enregistrement Local (G20)
    quick_login.init_app(app)  # /connexion-rapide, only when QUICK_LOGIN is on (never in trainer mode)
    oidc.init_app(app)  # CSAM as an OpenID Provider too (idp_csam.oidc)
    health.init_app(app)  # GET /health, for `fedsim wait` and CI
    return app


def configure_state(app: Flask) -> None:
    """Server-side sessions, and the periodic purge of every expired record."""
    sessions.init_app(app)
    purge.install(app, (sessions.purge, saml_state.purge, email_code.purge, app_code.purge, itsme_op.purge,
                        oidc.purge))


def configure_methods(app: Flask, methods) -> None:  # noqa: ANN001 - tuple[Method, ...]
    """Every digital key of idp_csam.methods; available ones bring their pages."""
    app.extensions["idp_csam.methods"] = methods
    for method in methods:
        if method.blueprint is not None:
            app.register_blueprint(method.blueprint)


def configure_saml(app: Flask, settings: Settings) -> None:
    idp_config = entity_config(settings, "csam-idp")
    sp_registry.init_app(app, "csam", idp_config, settings.instance_dir)  # Mon Espace + the folder, followed
    idp = IdentityProvider(idp_config)
    app.extensions["idp_csam.idp"] = idp
    app.extensions["idp_csam.slo"] = LogoutService(idp.server)
    app.extensions["idp_csam.metadata"] = metadata_xml(entities(settings)["csam-idp"], settings.certs_dir)
    from idp_csam.methods import eidas
    app.extensions["idp_csam.eidas_sp"] = eidas.build(settings)  # CSAM's eIDAS connector (SP)
    app.extensions["idp_csam.eidas_node"] = eidas_node.build(settings)  # the simulated foreign node (IdP)


def configure_people(app: Flask) -> None:
    """Citizens, their eID cards (the personas' own and other ones, with
    their chips under certs/eid/, each in the state the personas file says,
    at every start), CSAM credentials and BEL agents, seeded from the
    personas (fedsim/data/personas.yaml and FEDSIM_PERSONAS)."""
    pki = CardPki(app.config["FEDSIM_SETTINGS"].certs_dir / "eid")
    pki.ensure_authorities()
    keyring: keys.Keyring = app.extensions["fedsim.keys"]
    reader = CardReader(secret=keyring.key("pin"), identity=keyring.key("identity"),
                        max_tries=app.config["PIN_MAX_TRIES"], pki=pki)
    credentials = Credentials()
    app.extensions["idp_csam.reader"] = reader
    app.extensions["idp_csam.card_verifier"] = pki.verifier()  # CSAM trusts the simulated root CA only
    app.extensions["idp_csam.credentials"] = credentials
    people = personas.load(app.config["PERSONAS_FILE"])
    with Database.factory(app)() as session:
        reader.insert_cards(session, people)
        credentials.seed(session, people)
        bel.seed_office(session, people)
