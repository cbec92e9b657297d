"""Cerbère Citoyen, the FWB identity provider hosted by Mon Espace. It answers
downstream SPs (Modigia, and every SP of its registry, fedsim.saml.registry,
which may change while it runs) from the Mon Espace session, sending the
person to CSAM first when needed: when nobody is logged in, when the SP asks
for a level of assurance (RequestedAuthnContext) the session does not
meet, or when it asks for a new authentication (ForceAuthn: CSAM is asked
with ForceAuthn too, and Cerbère answers only from that fresh login).
IsPassive: no page is shown; without a Mon Espace session CSAM is asked
passively, and whatever would need a page is answered NoPassive."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, redirect, request, session, url_for
from saml2 import BINDING_HTTP_REDIRECT
from sqlalchemy.orm import Session

from fedsim import clock, keys
from fedsim.db import Database
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider, pairwise_id
from fedsim.web import plain, post_form
from monespace import session as who_is
from monespace.identity import satisfies, upstream_levels_for

bp = Blueprint("cerbere", __name__, url_prefix="/cerbere")


# Session keys shared with monespace.auth: what to ask CSAM for on the next
# /connexion (levels, ForceAuthn, IsPassive), for which pending request CSAM
# was asked a level / asked passively, and which pending request CSAM
# answered NoAuthnContext / NoPassive for.
CSAM_AUTHN_CONTEXT = "csam_authn_context"
ASKED_CSAM = "cerbere_asked_csam"
CSAM_REFUSED = "cerbere_csam_refused"
ASKED_PASSIVELY = "cerbere_asked_passively"
CSAM_NO_PASSIVE = "cerbere_csam_no_passive"
# The upstream login sent for a pending request (its relay state), and the
# pending request a forced CSAM login has just answered.
UPSTREAM_LOGIN = "cerbere_upstream_login"
CSAM_FRESH = "cerbere_csam_fresh"
FLOW_KEYS = ("cerbere_pending", ASKED_CSAM, CSAM_REFUSED, ASKED_PASSIVELY, CSAM_NO_PASSIVE, UPSTREAM_LOGIN,
             CSAM_FRESH)


def _idp() -> IdentityProvider:
    return current_app.extensions["monespace.cerbere"]


@bp.get("/metadata")
def metadata():
    return plain(current_app.extensions["monespace.cerbere_metadata"], mimetype="application/samlmetadata+xml")


@bp.get("/sso")
def single_sign_on():
    info = _idp().parse_redirect(request.query_string.decode("latin-1"))
    key = _idp().remember(Database.session(), info)  # records its ID first: a replay is refused, even of a refused one
    refused = _idp().refuse_policy(info)  # InvalidNameIDPolicy
    if refused is not None:
        return post_form(refused)
    session["cerbere_pending"] = key
    # Answered in this same request when it can be (a live session: no page,
    # no second round trip); /answer is where the person comes back after a
    # page (CSAM, account creation, the context choice).
    return _answer(Database.session(), key, info)


@bp.get("/answer")
def answer():
    db = Database.session()
    key = session.get("cerbere_pending")
    return _answer(db, key, _idp().recall(db, key))


def _answer(db: Session, key: str, info: AuthnRequestInfo):  # noqa: ANN202 - a page or a redirect
    if info.requested_contexts:
        if not upstream_levels_for(info.requested_contexts, info.comparison):
            return _no_authn_context(key, info, "Aucun niveau d'authentification connu de Cerbère ne répond à "
                                                "la demande.")
        if session.get(CSAM_REFUSED) == key:
            return _no_authn_context(key, info, "CSAM ne peut pas authentifier la personne au niveau demandé.")
    if session.get(CSAM_NO_PASSIVE) == key:
        return _no_passive(key, info, "CSAM ne peut pas authentifier la personne sans interaction.")
    account = who_is.current_account_row(db)  # read only: a row
    who = who_is.upstream()
    if info.force_authn and session.get(CSAM_FRESH) != key:
        if info.is_passive:  # a new authentication is a page: IsPassive wins
            return _no_passive(key, info, "Une nouvelle authentification (ForceAuthn) demande une interaction.")
        return _to_csam(key, info, force_authn=True)
    if account is None or who is None:
        if info.is_passive and who is not None:  # a Mon Espace account to create or activate first
            return _no_passive(key, info, "La personne n'a pas de compte Mon Espace actif.")
        return _to_csam(key, info, is_passive=info.is_passive)
    if not satisfies(who.downstream_level, info.requested_contexts, info.comparison):
        if session.get(ASKED_CSAM) == key:  # CSAM was asked for the level and answered below it
            return _no_authn_context(key, info, "CSAM a répondu à un niveau d'authentification insuffisant.")
        return _to_csam(key, info, is_passive=info.is_passive)
    context = who_is.context(account)
    if context is None:  # G10: the person says in which context before going on
        if info.is_passive:
            return _no_passive(key, info, "La personne doit d'abord choisir son contexte dans Mon Espace.")
        return redirect(url_for("portal.choose_context", next=url_for("cerbere.answer")))
    form_subject = pairwise_id(keys.key("pairwise"), account.cerbere_username,
                               info.sp_entity_id)
    attributes = {
        "cerbereUsername": [account.cerbere_username], "givenName": [account.given_name],
        "surname": [account.surname], "mail": [account.email], "PrefLanguage": [account.language],
        "context": [context],
    }
    if session.get("demarche"):
        attributes["demarche"] = [session["demarche"]]
    form = _idp().respond(
        info, subject=form_subject, attributes=attributes,
        authn_context=who.downstream_level, authenticating_authority=who.authority,
        authn_instant=_upstream_authn_instant(),
        session_not_on_or_after=clock.now() + current_app.config["IDLE_TIMEOUT"])
    _finish(key)
    # Remember where Cerbère opened a session, for Single Logout (an SP of the
    # registry without a logout endpoint cannot be told: it is left out).
    opened = [s for s in session.get("cerbere_sps", []) if s["sp"] != info.sp_entity_id]
    if _has_logout_endpoint(info.sp_entity_id):
        opened.append({"sp": info.sp_entity_id, "name_id": form.name_id, "format": form.name_id_format,
                       "session_index": form.session_index})
    session["cerbere_sps"] = opened
    return post_form(form)


def _upstream_authn_instant() -> datetime | None:
    """When the person really authenticated at CSAM (None: unknown, now)."""
    try:
        return datetime.fromisoformat((session.get("csam") or {}).get("authn_instant") or "")
    except ValueError:
        return None


def _has_logout_endpoint(sp_entity_id: str) -> bool:
    """Does the SP's metadata declare an HTTP-Redirect SingleLogoutService?
    (Read from the metadata directly: pysaml2's lookup logs an error when not.)"""
    try:
        descriptors = _idp().server.metadata[sp_entity_id].get("spsso_descriptor", [])
    except KeyError:  # removed from the registry meanwhile
        return False
    return any(service.get("binding") == BINDING_HTTP_REDIRECT
               for descriptor in descriptors for service in descriptor.get("single_logout_service", []))


def _to_csam(key: str, info: AuthnRequestInfo, *, force_authn: bool = False,
             is_passive: bool = False):  # noqa: ANN202 - a redirect
    """Log in (again) at CSAM, asking for exactly the CSAM levels that map to
    what the downstream SP asked for, with ForceAuthn / IsPassive when
    needed, then come back to ``answer``."""
    contexts = list(upstream_levels_for(info.requested_contexts, info.comparison)) if info.requested_contexts else []
    session[CSAM_AUTHN_CONTEXT] = {"contexts": contexts, "comparison": "exact", "force_authn": force_authn,
                                   "is_passive": is_passive, "for": key}
    for name, asked in ((ASKED_CSAM, bool(contexts)), (ASKED_PASSIVELY, is_passive)):
        if asked:
            session[name] = key
        else:
            session.pop(name, None)
    return redirect(url_for("auth.login", next=url_for("cerbere.answer")))


def sent_upstream(wanted: dict, relay_state: str) -> None:
    """monespace.auth sent the login ``wanted`` (what ``_to_csam`` asked
    for) to CSAM under ``relay_state``."""
    if wanted.get("for"):
        session[UPSTREAM_LOGIN] = {"for": wanted["for"], "relay_state": relay_state,
                                   "force_authn": bool(wanted.get("force_authn")),
                                   "is_passive": bool(wanted.get("is_passive"))}


def csam_logged_in(relay_state: str) -> bool:
    """CSAM answered the login under ``relay_state``. If it is the one sent
    for the pending request, a forced login makes that request's answer
    possible; True when it was passive: back to ``answer`` with no page
    (account creation, activation) in between."""
    sent = session.get(UPSTREAM_LOGIN)
    if not sent or sent["relay_state"] != relay_state or sent["for"] != session.get("cerbere_pending"):
        return False
    session.pop(UPSTREAM_LOGIN, None)
    if sent["force_authn"]:
        session[CSAM_FRESH] = sent["for"]
    return sent["is_passive"]


def _finish(key: str) -> None:
    _idp().mark_answered(Database.session(), key)
    for name in FLOW_KEYS:
        session.pop(name, None)


def _no_authn_context(key: str, info: AuthnRequestInfo, message: str):  # noqa: ANN202 - a page
    """Tell the downstream SP, with a signed error Response, that the level it
    asked for cannot be provided."""
    form = _idp().respond_error(info, message=message)
    _finish(key)
    return post_form(form)


def _no_passive(key: str, info: AuthnRequestInfo, message: str):  # noqa: ANN202 - a page
    """Tell the downstream SP, with a signed NoPassive Response, that it
    cannot be answered without showing the person a page."""
    form = _idp().respond_no_passive(info, message)
    _finish(key)
    return post_form(form)
