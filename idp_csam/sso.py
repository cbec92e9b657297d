"""CSAM as a SAML IdP: metadata, the SSO endpoint, and the answer once the
person has authenticated with one of the methods."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session, url_for

from fedsim.db import Database
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider, pairwise_id
from fedsim.saml.slo import LogoutService
from fedsim.web import UserError, plain, post_form
from idp_csam.authn import meets
from idp_csam.models import Citizen

bp = Blueprint("sso", __name__)


def _levels() -> set[str]:
    """The levels CSAM's available methods reach."""
    return {m.level for m in current_app.extensions["idp_csam.methods"] if m.available}


def _no_authn_context(info: AuthnRequestInfo) -> str:
    """A signed error Response NoAuthnContext: no method of CSAM reaches the
    level of assurance the SP asked for."""
    asked = f"{info.comparison} {' '.join(info.requested_contexts)}"
    return post_form(_idp().respond_error(
        info, message=f"CSAM ne propose aucune méthode d'authentification de niveau {asked}."))


def _idp() -> IdentityProvider:
    return current_app.extensions["idp_csam.idp"]


@bp.get("/saml/metadata")
def metadata():
    return plain(current_app.extensions["idp_csam.metadata"], mimetype="application/samlmetadata+xml")


@bp.get("/saml/sso")
def single_sign_on():
    idp = _idp()
    info = idp.parse_redirect(request.args)
    if not any(meets(level, info) for level in _levels()):
        return _no_authn_context(info)
    session["pending_authn"] = idp.remember(Database.session(), info)
    if session.get("authenticated") and not info.force_authn:
        return redirect(url_for("sso.answer"))
    return redirect(url_for("login.choose"))


@bp.get("/saml/answer")
def answer():
    db = Database.session()
    idp = _idp()
    key = session.get("pending_authn")
    info = idp.recall(db, key)
    auth = session.get("authenticated")
    if not auth:
        return redirect(url_for("login.choose"))
    citizen = db.get(Citizen, auth["nrn"])
    if citizen is None:
        session.pop("authenticated", None)
        raise UserError("La personne authentifiée n'est plus connue de CSAM.", code=409)
    if not meets(auth["level"], info):
        idp.mark_answered(db, key)
        session.pop("pending_authn", None)
        return _no_authn_context(info)
    form = idp.respond(
        info, subject=pairwise_id(current_app.config["SECRET_KEY"].encode(), citizen.fedid, info.sp_entity_id),
        attributes={
            "egovNRN": [citizen.nrn], "givenName": [citizen.given_name], "surname": [citizen.surname],
            "mail": [citizen.email], "PrefLanguage": [citizen.language],
            "urn:be:fedict:iam:attr:fedid": [citizen.fedid],
            "urn:be:fedict:iam:attr:authenticationmethod": [auth["method"]],
        },
        authn_context=auth["level"])
    idp.mark_answered(db, key)
    session.pop("pending_authn", None)
    return post_form(form)



@bp.get("/saml/slo")
def single_logout():
    """A service provider asks to end the person's CSAM session."""
    slo: LogoutService = current_app.extensions["idp_csam.slo"]
    received = slo.receive(request.query_string.decode("latin-1"))
    if received.kind != "request":
        raise SamlRefused("Réponse de déconnexion inattendue : CSAM n'a demandé aucune déconnexion.")
    session.clear()
    return redirect(slo.respond(received))
