"""Modigia as a strict SAML SP of Cerbère Citoyen (or of the IdP configured: MODIGIA_IDP_*)."""
from __future__ import annotations

from functools import partial

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from fedsim import sessions
from fedsim.db import Database
from fedsim.federation import display_name
from fedsim.saml.errors import SamlRefused
from fedsim.saml.slo import LogoutService
from fedsim.saml.sp import ServiceProvider
from fedsim.web import plain, safe_next
from modigia_sp.gate import current_user
from modigia_sp.services import check_login, user_from_login

bp = Blueprint("sso", __name__)


def _sp() -> ServiceProvider:
    return current_app.extensions["modigia.sp"]


@bp.get("/saml/metadata")
def metadata():
    return plain(current_app.extensions["modigia.sp_metadata"], mimetype="application/samlmetadata+xml")


@bp.get("/saml/login")
def login():
    location, relay_state = _sp().start_login(Database.session(), safe_next(request.args.get("next"), "/"))
    session["sp_relay_states"] = (session.get("sp_relay_states", []) + [relay_state])[-5:]
    return redirect(location)


@bp.post("/saml/acs")
def assertion_consumer():
    db = Database.session()
    idp_mapping = current_app.extensions["modigia.idp_mapping"]
    login = _sp().accept(db, request.form.get("SAMLResponse"), request.form.get("RelayState"),
                         session.get("sp_relay_states", []), check=partial(check_login, idp_mapping=idp_mapping))
    mapped = check_login(login, idp_mapping)  # passed already, in accept
    user = user_from_login(db, login, mapped.fields)
    session.clear()
    sessions.regenerate()  # a new session id at every login
    session["user_id"] = user.id
    session["demarche"] = mapped.fields.get("demarche", "")
    session["context"] = mapped.fields.get("context", "")
    session["level"] = mapped.level
    session["saml"] = {"idp": login.issuer, "name_id": login.name_id, "session_index": login.session_index}
    return redirect(login.next_url)


def _slo() -> LogoutService:
    return current_app.extensions["modigia.slo"]


@bp.get("/deconnexion")
def confirm_logout():
    """A page that asks: a link or an image on another site cannot log
    the person out (the logout itself is a POST with the CSRF token)."""
    return render_template("modigia_sp/logout.html", user=current_user())


@bp.post("/deconnexion")
def logout():
    """Leave Modigia, and through Single Logout, Mon Espace and CSAM too
    (a form of this site: CSRFProtect checks its token)."""
    saml = session.get("saml")
    sessions.destroy()  # on the server: a copy of the cookie opens nothing any more
    if not saml:
        return redirect(url_for("courses.signed_out"))
    location, request_id = _slo().request(saml["idp"], saml["name_id"], saml.get("session_index"))
    session["slo_request"] = request_id
    return redirect(location)


@bp.get("/saml/slo")
def single_logout():
    received = _slo().receive(request.query_string.decode("latin-1"), Database.session())
    if received.kind == "request":  # the logout started at Mon Espace
        saml = session.get("saml")
        if saml:  # no Modigia session: nothing to end, Success
            mismatch = _slo().mismatch(received, saml["name_id"], saml.get("session_index"))
            if mismatch:  # not this session's person or session: it stays open
                return redirect(_slo().respond_unknown(received, mismatch))
            sessions.destroy()
        return redirect(_slo().respond(received))
    expected = session.pop("slo_request", None)
    if expected is None or received.in_response_to != expected:
        raise SamlRefused("Réponse de déconnexion non sollicitée : elle ne répond à aucune demande de ce navigateur.")
    if not received.complete:  # the signed-out page names who did not confirm, and what it said
        service = display_name(current_app.config["FEDSIM_SETTINGS"], received.issuer)
        session["slo_unconfirmed"] = {"service": service or _slo().peer_name(received.issuer),
                                      "message": received.status_message}
    return redirect(url_for("courses.signed_out", complete="1" if received.complete else "0"))
