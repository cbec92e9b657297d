"""Cerbère Citoyen, the FWB identity provider hosted by Mon Espace. It answers
downstream SPs (Modigia…) from the Mon Espace session, sending the person to
CSAM first when needed."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session, url_for

from fedsim.db import Database
from fedsim.saml.idp import IdentityProvider, pairwise_id
from fedsim.web import plain, post_form
from monespace import session as who_is

bp = Blueprint("cerbere", __name__, url_prefix="/cerbere")


def _idp() -> IdentityProvider:
    return current_app.extensions["monespace.cerbere"]


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
    account = who_is.current_account(db)
    who = who_is.upstream()
    if account is None or who is None:
        return redirect(url_for("auth.login", next=url_for("cerbere.answer")))
    form_subject = pairwise_id(current_app.config["SECRET_KEY"].encode(), account.cerbere_username,
                               info.sp_entity_id)
    attributes = {
        "cerbereUsername": [account.cerbere_username], "givenName": [account.given_name],
        "surname": [account.surname], "mail": [account.email], "PrefLanguage": [account.language],
        "context": ["Citoyen"],
    }
    if session.get("demarche"):
        attributes["demarche"] = [session["demarche"]]
    form = _idp().respond(
        info, subject=form_subject, attributes=attributes,
        authn_context=who.downstream_level, authenticating_authority=who.authority)
    _idp().mark_answered(db, key)
    session.pop("cerbere_pending", None)
    # Remember where Cerbère opened a session, for Single Logout.
    opened = [s for s in session.get("cerbere_sps", []) if s["sp"] != info.sp_entity_id]
    session["cerbere_sps"] = [*opened, {"sp": info.sp_entity_id, "name_id": form_subject}]
    return post_form(form)
