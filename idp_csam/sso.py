"""CSAM as a SAML IdP: metadata, the SSO endpoint, the answer once the
person has authenticated with one of the methods (or silently from a live
single sign-on session, idp_csam.sso_session), and Single Logout.
ForceAuthn: the person authenticates after the request arrived; IsPassive:
no page is shown, a request that would need one is answered NoPassive.
CSAM answers Mon Espace and every SP of its registry (fedsim.saml.registry);
the national register number (egovNRN) only goes to SPs that request it."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session, url_for
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fedsim import keys, sessions
from fedsim.db import Database
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider, pairwise_id
from fedsim.saml.slo import LogoutService
from fedsim.web import UserError, plain, post_form
from idp_csam import sso_session
from idp_csam.authn import meets
from idp_csam.i18n import gettext as _
from idp_csam.models import Citizen

bp = Blueprint("sso", __name__)

NRN = "egovNRN"  # the national register number: only to SPs that request it
# What an answer releases of the person, read with SQLAlchemy Core (a row,
# not an ORM object: the unit of work cost more than the query on every SSO).
_CITIZEN = select(Citizen.nrn, Citizen.given_name, Citizen.surname, Citizen.email, Citizen.language,
                  Citizen.fedid, Citizen.attributes).where(Citizen.nrn == bindparam("nrn"))


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


def _lifetime() -> sso_session.Lifetime:
    return sso_session.Lifetime.from_config(current_app.config)


def _authenticate(key: str, info: AuthnRequestInfo):  # noqa: ANN202 - a redirect or a page
    """The person must (again) authenticate: the choice of keys, or, when the
    request is passive, a signed NoPassive answer."""
    if not info.is_passive:
        return redirect(url_for("login.choose"))
    _idp().mark_answered(Database.session(), key)
    session.pop("pending_authn", None)
    return post_form(_idp().respond_no_passive(
        info, "CSAM ne peut pas répondre sans que la personne s'authentifie (IsPassive)."))


@bp.get("/saml/metadata")
def metadata():
    return plain(current_app.extensions["idp_csam.metadata"], mimetype="application/samlmetadata+xml")


@bp.get("/saml/sso")
def single_sign_on():
    idp = _idp()
    info = idp.parse_redirect(request.query_string.decode("latin-1"))
    key = idp.remember(Database.session(), info)  # records its ID first: a replay is refused, even of a refused one
    refused = idp.refuse_policy(info)  # InvalidNameIDPolicy
    if refused is not None:
        return post_form(refused)
    if not any(meets(level, info) for level in _levels()):
        return _no_authn_context(info)
    session["pending_authn"] = key
    session.pop("after_authn", None)  # the newest request is the one the person answers (idp_csam.oidc)
    # Answered in this same request when a live session allows it (no second
    # round trip); /saml/answer is where a key's login comes back to.
    return _answer(Database.session(), idp, key, info)


@bp.get("/saml/answer")
def answer():
    db = Database.session()
    idp = _idp()
    key = session.get("pending_authn")
    return _answer(db, idp, key, idp.recall(db, key))


def _answer(db: Session, idp: IdentityProvider, key: str, info: AuthnRequestInfo):  # noqa: ANN202 - a page
    lifetime = _lifetime()
    auth = sso_session.current(session, lifetime)
    fresh = auth is not None and info.authenticated_since_received(sso_session.authenticated_at(auth))
    if auth is None or (info.force_authn and not fresh):
        return _authenticate(key, info)
    citizen = db.connection().execute(_CITIZEN, {"nrn": auth["nrn"]}).first()
    if citizen is None:
        sso_session.forget(session)
        raise UserError(_("La personne authentifiée n'est plus connue de CSAM."), code=409)
    if not meets(auth["level"], info):
        if not fresh:  # an earlier authentication, at another level: a new one
            return _authenticate(key, info)
        idp.mark_answered(db, key)
        session.pop("pending_authn", None)
        return _no_authn_context(info)
    form = idp.respond(
        info, subject=pairwise_id(keys.key("pairwise"), citizen.fedid, info.sp_entity_id),
        attributes=_released(idp, info.sp_entity_id, {
            **(citizen.attributes or {}),  # the persona's own (persona file), besides the standard ones
            "egovNRN": [citizen.nrn], "givenName": [citizen.given_name], "surname": [citizen.surname],
            "mail": [citizen.email], "PrefLanguage": [citizen.language],
            "urn:be:fedict:iam:attr:fedid": [citizen.fedid],
            "urn:be:fedict:iam:attr:authenticationmethod": [auth["method"]],
        }),
        authn_context=auth["level"], authn_instant=sso_session.authenticated_at(auth),
        session_index=sso_session.session_index(session),
        session_not_on_or_after=sso_session.ends_at(auth, lifetime))
    sso_session.answered(session, info.sp_entity_id, form.name_id, form.name_id_format)
    idp.mark_answered(db, key)
    session.pop("pending_authn", None)
    return post_form(form)


def _released(idp: IdentityProvider, sp_entity_id: str, attributes: dict[str, list[str]]) -> dict[str, list[str]]:
    """The national register number goes only to an SP whose metadata asks
    for it (a RequestedAttribute named egovNRN). The rest, as pysaml2's
    policy filters it: an SP listing RequestedAttributes gets those of them
    CSAM has; one listing none gets every attribute but egovNRN."""
    if NRN in idp.requested_attributes(sp_entity_id):
        return attributes
    return {name: values for name, values in attributes.items() if name != NRN}


@bp.get("/saml/slo")
def single_logout():
    """A service provider asks to end the person's CSAM session."""
    slo: LogoutService = current_app.extensions["idp_csam.slo"]
    received = slo.receive(request.query_string.decode("latin-1"), Database.session())
    if received.kind != "request":
        raise SamlRefused(_("Réponse de déconnexion inattendue : CSAM n'a demandé aucune déconnexion."))
    if session.get(sso_session.AUTHENTICATED):  # none: nothing to end, Success
        served = sso_session.served(session, received.issuer)
        if served is None:
            return redirect(slo.respond_unknown(received, "CSAM n'a authentifié personne pour ce service "
                                                          "dans cette session."))
        mismatch = slo.mismatch(received, served["name_id"], served["session_index"])
        if mismatch:
            return redirect(slo.respond_unknown(received, mismatch))
        # an eIDAS login: the foreign node's session ends too, before CSAM answers
        from idp_csam.methods import eidas
        onward = eidas.propagate_logout(received)
        if onward:
            return redirect(onward)
    sessions.destroy()  # on the server: a copy of the cookie opens nothing any more
    return redirect(slo.respond(received))
