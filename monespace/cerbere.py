"""Cerbère Citoyen, the FWB identity provider hosted by Mon Espace. It answers
downstream SPs (Modigia, and every SP of its registry) from the Mon Espace
session, sending the person to CSAM first when needed: when nobody is logged
in, or when the SP asks for a level of assurance (RequestedAuthnContext) the
session does not meet."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Flask, current_app, redirect, request, session, url_for
from saml2 import BINDING_HTTP_REDIRECT

from fedsim.db import Database
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider, pairwise_id
from fedsim.trust import MetadataUnavailable
from fedsim.web import plain, post_form
from monespace import session as who_is
from monespace.identity import satisfies, upstream_levels_for

bp = Blueprint("cerbere", __name__, url_prefix="/cerbere")


# Session keys shared with monespace.auth: what to ask CSAM for on the next
# /connexion, and which pending request CSAM answered NoAuthnContext for.
CSAM_AUTHN_CONTEXT = "csam_authn_context"
ASKED_CSAM = "cerbere_asked_csam"
CSAM_REFUSED = "cerbere_csam_refused"


def _idp() -> IdentityProvider:
    return current_app.extensions["monespace.cerbere"]


def sp_registry(app: Flask) -> tuple[list[Path], list[str]]:
    """The downstream SPs Cerbère trusts besides the built-in ones: every
    ``*.xml`` metadata file in CERBERE_SP_METADATA_DIR (env
    MONESPACE_SP_METADATA_DIR, default ``<instance>/sp-metadata``, made if
    missing) and every URL in CERBERE_SP_METADATA_URLS (env
    MONESPACE_SP_METADATA_URLS, comma-separated)."""
    configured = app.config.get("CERBERE_SP_METADATA_DIR") or os.environ.get("MONESPACE_SP_METADATA_DIR")
    folder = Path(configured) if configured else Path(app.instance_path) / "sp-metadata"
    if not configured:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise MetadataUnavailable(f"Le dossier de métadonnées des services de Cerbère n'existe pas : {folder} "
                                  "(CERBERE_SP_METADATA_DIR / MONESPACE_SP_METADATA_DIR).")
    urls = app.config.get("CERBERE_SP_METADATA_URLS") or os.environ.get("MONESPACE_SP_METADATA_URLS", "")
    if isinstance(urls, str):
        urls = urls.split(",")
    return sorted(folder.glob("*.xml")), [u.strip() for u in urls if u.strip()]


@bp.get("/metadata")
def metadata():
    return plain(current_app.extensions["monespace.cerbere_metadata"], mimetype="application/samlmetadata+xml")


@bp.get("/sso")
def single_sign_on():
    info = _idp().parse_redirect(request.args)
    session["cerbere_pending"] = _idp().remember(Database.session(), info)
    return redirect(url_for("cerbere.answer"))


@bp.get("/answer")
def answer():
    db = Database.session()
    key = session.get("cerbere_pending")
    info = _idp().recall(db, key)
    if info.requested_contexts:
        if not upstream_levels_for(info.requested_contexts, info.comparison):
            return _no_authn_context(key, info, "Aucun niveau d'authentification connu de Cerbère ne répond à "
                                                "la demande.")
        if session.get(CSAM_REFUSED) == key:
            return _no_authn_context(key, info, "CSAM ne peut pas authentifier la personne au niveau demandé.")
    account = who_is.current_account(db)
    who = who_is.upstream()
    if account is None or who is None:
        return _to_csam(key, info)
    if not satisfies(who.downstream_level, info.requested_contexts, info.comparison):
        if session.get(ASKED_CSAM) == key:  # CSAM was asked for the level and answered below it
            return _no_authn_context(key, info, "CSAM a répondu à un niveau d'authentification insuffisant.")
        return _to_csam(key, info)
    context = who_is.context(account)
    if context is None:  # G10: the person says in which context before going on
        return redirect(url_for("portal.choose_context", next=url_for("cerbere.answer")))
    form_subject = pairwise_id(current_app.config["SECRET_KEY"].encode(), account.cerbere_username,
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
        authn_context=who.downstream_level, authenticating_authority=who.authority)
    _idp().mark_answered(db, key)
    for name in ("cerbere_pending", ASKED_CSAM, CSAM_REFUSED):
        session.pop(name, None)
    # Remember where Cerbère opened a session, for Single Logout (an SP of the
    # registry without a logout endpoint cannot be told: it is left out).
    opened = [s for s in session.get("cerbere_sps", []) if s["sp"] != info.sp_entity_id]
    if _has_logout_endpoint(info.sp_entity_id):
        opened.append({"sp": info.sp_entity_id, "name_id": form_subject})
    session["cerbere_sps"] = opened
    return post_form(form)


def _has_logout_endpoint(sp_entity_id: str) -> bool:
    """Does the SP's metadata declare an HTTP-Redirect SingleLogoutService?
    (Read from the metadata directly: pysaml2's lookup logs an error when not.)"""
    descriptors = _idp().server.metadata[sp_entity_id].get("spsso_descriptor", [])
    return any(service.get("binding") == BINDING_HTTP_REDIRECT
               for descriptor in descriptors for service in descriptor.get("single_logout_service", []))


def _to_csam(key: str, info: AuthnRequestInfo):  # noqa: ANN202 - a redirect
    """Log in (again) at CSAM, asking for exactly the CSAM levels that map to
    what the downstream SP asked for, then come back to ``answer``."""
    if info.requested_contexts:
        session[CSAM_AUTHN_CONTEXT] = {
            "contexts": list(upstream_levels_for(info.requested_contexts, info.comparison)),
            "comparison": "exact"}
        session[ASKED_CSAM] = key
    else:
        session.pop(CSAM_AUTHN_CONTEXT, None)
        session.pop(ASKED_CSAM, None)
    return redirect(url_for("auth.login", next=url_for("cerbere.answer")))


def _no_authn_context(key: str, info: AuthnRequestInfo, message: str):  # noqa: ANN202 - a page
    """Tell the downstream SP, with a signed error Response, that the level it
    asked for cannot be provided."""
    form = _idp().respond_error(info, message=message)
    _idp().mark_answered(Database.session(), key)
    for name in ("cerbere_pending", ASKED_CSAM, CSAM_REFUSED):
        session.pop(name, None)
    return post_form(form)
