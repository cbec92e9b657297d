"""Modigia, the e-learning platform of the AGE, as a SAML SP of Cerbère."""
from __future__ import annotations

from flask import Flask
from flask_wtf import CSRFProtect

from fedsim import health, keys, purge, sessions
from fedsim.db import Database
from fedsim.federation import Settings, entities
from fedsim.saml.slo import LogoutService
from fedsim.saml.sp import ServiceProvider
from fedsim.saml import mapping, state as saml_state
from fedsim.saml.state import SamlStateBase
from fedsim.trust import metadata_xml, sp_config, write_metadata
from fedsim.web import configure_shared
from fedsim.mail import Mailer
from modigia_sp import account, catalogue, config, courses, policies, sso
from modigia_sp.models import Base
from modigia_sp.services import Contact, Courses, Policies

db = Database(Base, SamlStateBase, sessions.SessionBase)
csrf = CSRFProtect()


def create_app(test_config: dict | None = None) -> Flask:
    settings = (test_config or {}).get("FEDSIM_SETTINGS") or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_dir / "modigia_sp"))
    app.config.from_mapping(config.defaults(settings))
    app.config.from_prefixed_env("MODIGIA")
    app.config.update(test_config or {})
    keys.init_app(app, ())  # the session key only

    db.init_app(app)
    sessions.init_app(app)
    purge.install(app, (sessions.purge, saml_state.purge))
    csrf.init_app(app)
    csrf.exempt(sso.assertion_consumer)
    configure_shared(app, layout="modigia_sp/layout.html")
    configure_saml(app, settings)
    configure_services(app)
    for blueprint in (sso.bp, policies.bp, courses.bp, account.bp):
        app.register_blueprint(blueprint)
    health.init_app(app)  # GET /health, for `fedsim wait` and CI
    return app


def configure_services(app: Flask) -> None:
    app.extensions["modigia.policies"] = Policies(catalogue.load_policies(app.config["POLICIES_FILE"]))
    app.extensions["modigia.courses"] = Courses(catalogue.load_courses(app.config["COURSES_FILE"]))
    mailer = Mailer(app.config["SMTP_HOST"], app.config["SMTP_PORT"], "Modigia", app.config["MAIL_SENDER"])
    app.extensions["modigia.contact"] = Contact(mailer, app.config["CONTACT_MAILBOX"])


def configure_saml(app: Flask, settings: Settings) -> None:
    table = entities(settings)
    # Cerbère by default; another IdP by MODIGIA_IDP_METADATA + MODIGIA_IDP_ENTITY_ID,
    # its attribute names and levels by MODIGIA_IDP_MAPPING (fedsim.saml.mapping).
    saml_config, idp_entity_id = sp_config(settings, "modigia-sp", app.config["IDP_METADATA"],
                                           app.config["IDP_ENTITY_ID"],
                                           accepted_time_diff=app.config["ACCEPTED_TIME_DIFF"],
                                           encryption=bool(app.config["WANT_ASSERTIONS_ENCRYPTED"]))
    idp_mapping = mapping.load(app.config["IDP_MAPPING"] or catalogue.DATA / "idp_mapping.yaml") \
        .require_fields(("cerbereUsername",))  # who the user is, with the NameID
    sp = ServiceProvider(idp_mapping.install(saml_config), idp_entity_id=idp_entity_id,
                         want_assertions_encrypted=bool(app.config["WANT_ASSERTIONS_ENCRYPTED"]))
    app.extensions["modigia.sp"] = sp
    app.extensions["modigia.idp_mapping"] = idp_mapping
    app.extensions["modigia.slo"] = LogoutService(sp.client)
    app.extensions["modigia.sp_metadata"] = metadata_xml(table["modigia-sp"], settings.certs_dir,
                                                         bool(app.config["WANT_ASSERTIONS_ENCRYPTED"]))
    write_metadata(settings, "modigia-sp", app.extensions["modigia.sp_metadata"])  # for IdPs started later
