"""Mon Espace, the FWB e-government portal: SP toward CSAM, Cerbère Citoyen
IdP toward FWB applications, accounts and démarches."""
from __future__ import annotations

from flask import Flask
from flask_wtf import CSRFProtect

from fedsim import health, keys, personas, purge, sessions
from fedsim.db import Database
from fedsim.federation import Settings, entities
from fedsim.mail import Mailer
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.sp import ServiceProvider
from fedsim.saml import registry as sp_registry
from fedsim.saml import state as saml_state
from fedsim.saml.state import SamlStateBase
from fedsim.trust import entity_config, metadata_xml, sp_config, write_metadata
from fedsim.web import configure_shared
from fedsim.saml.slo import LogoutService
from monespace import account, auth, cerbere, config, helpcentre, identity, logout, portal
from monespace.accounts import AccountService
from monespace.demarches import Registry
from monespace.models import Base

db = Database(Base, SamlStateBase, sessions.SessionBase)
csrf = CSRFProtect()


def create_app(test_config: dict | None = None) -> Flask:
    settings = (test_config or {}).get("FEDSIM_SETTINGS") or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_dir / "monespace"))
    app.config.from_mapping(config.defaults(settings))
    app.config.from_prefixed_env("MONESPACE")
    app.config.update(test_config or {})
    keys.init_app(app, ("pairwise",))  # Cerbère's pairwise NameIDs
    app.config.setdefault("DEMARCHE_TARGETS", {"modigia": settings.base_url("modigia_sp") + "/saml/login"})

    db.init_app(app)
    sessions.init_app(app)
    purge.install(app, (sessions.purge, saml_state.purge))
    csrf.init_app(app)
    csrf.exempt(auth.assertion_consumer)
    csrf.exempt(logout.start)  # checks its token itself: a forged POST gets the confirmation page
    configure_shared(app, layout="monespace/layout.html")
    configure_saml(app, settings)
    configure_services(app, settings)
    logout.install_idle_timeout(app)
    for blueprint in (portal.bp, auth.bp, account.bp, cerbere.bp, logout.bp, helpcentre.bp):
        app.register_blueprint(blueprint)
    health.init_app(app)  # GET /health, for `fedsim wait` and CI
    return app


def configure_saml(app: Flask, settings: Settings) -> None:
    table = entities(settings)
    encrypted = bool(app.config["SAML_SP_WANT_ASSERTIONS_ENCRYPTED"])
    # CSAM by default; another IdP by MONESPACE_CSAM_METADATA + MONESPACE_CSAM_ENTITY_ID,
    # its attribute names and levels by MONESPACE_CSAM_MAPPING (fedsim.saml.mapping).
    sp_conf, idp_entity_id = sp_config(settings, "monespace-sp", app.config["CSAM_METADATA"],
                                       app.config["CSAM_ENTITY_ID"], encryption=encrypted)
    csam_mapping = identity.load_mapping(app.config["CSAM_MAPPING"])
    sp = ServiceProvider(csam_mapping.install(sp_conf), idp_entity_id=idp_entity_id,
                         want_assertions_encrypted=encrypted)
    app.extensions["monespace.csam_mapping"] = csam_mapping
    cerbere_config = entity_config(settings, "cerbere-idp")
    sp_registry.init_app(app, "cerbere", cerbere_config, settings.instance_dir)  # Modigia + the folder, followed
    cerbere_idp = IdentityProvider(cerbere_config)
    app.extensions["monespace.sp"] = sp
    app.extensions["monespace.sp_slo"] = LogoutService(sp.client)
    app.extensions["monespace.cerbere"] = cerbere_idp
    app.extensions["monespace.cerbere_slo"] = LogoutService(cerbere_idp.server)
    app.extensions["monespace.sp_metadata"] = metadata_xml(table["monespace-sp"], settings.certs_dir, encrypted)
    write_metadata(settings, "monespace-sp", app.extensions["monespace.sp_metadata"])  # for CSAM started later
    app.extensions["monespace.cerbere_metadata"] = metadata_xml(table["cerbere-idp"], settings.certs_dir)


def configure_services(app: Flask, settings: Settings) -> None:
    mailer = Mailer(app.config["SMTP_HOST"], app.config["SMTP_PORT"], "Mon Espace", app.config["MAIL_SENDER"])
    service = AccountService(mailer, settings.base_url("monespace"), app.config["ACTIVATION_LINK_LIFETIME"])
    app.extensions["monespace.accounts"] = service
    app.extensions["monespace.demarches"] = Registry.load(app.config["DEMARCHES_FILE"])
    people = personas.load(app.config["PERSONAS_FILE"])
    with Database.factory(app)() as session:
        service.seed(session, people)
