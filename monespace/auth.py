"""Mon Espace's SP toward CSAM: « Me connecter », the assertion consumer and
logout."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session, url_for

from fedsim.db import Database
from fedsim.saml.errors import AuthnContextUnavailable
from fedsim.saml.sp import ServiceProvider
from fedsim.web import plain
from monespace import cerbere
from monespace import session as who_is
from monespace.accounts import AccountService
from monespace.identity import UpstreamIdentity

bp = Blueprint("auth", __name__)


def _sp() -> ServiceProvider:
    return current_app.extensions["monespace.sp"]


@bp.get("/saml/sp/metadata")
def metadata():
    return plain(current_app.extensions["monespace.sp_metadata"], mimetype="application/samlmetadata+xml")


@bp.get("/connexion")
def login():
    next_url = who_is.safe_next(request.args.get("next"))
    wanted = session.pop(cerbere.CSAM_AUTHN_CONTEXT, None) or {}  # a step-up asked by Cerbère
    location, relay_state = _sp().start_login(Database.session(), next_url, tuple(wanted.get("contexts", ())),
                                              wanted.get("comparison", "minimum"))
    session["sp_relay_states"] = (session.get("sp_relay_states", []) + [relay_state])[-5:]
    return redirect(location)


@bp.post("/saml/sp/acs")
def assertion_consumer():
    db = Database.session()
    try:
        login = _sp().accept(db, request.form.get("SAMLResponse"), request.form.get("RelayState"),
                             session.get("sp_relay_states", []), check=UpstreamIdentity.from_saml)
    except AuthnContextUnavailable:
        # CSAM cannot reach the level Cerbère asked for on behalf of a
        # downstream SP: Cerbère tells that SP; otherwise an error page.
        pending = session.get("cerbere_pending")
        if pending is None or session.get(cerbere.ASKED_CSAM) != pending:
            raise
        session[cerbere.CSAM_REFUSED] = pending
        return redirect(url_for("cerbere.answer"))
    who = UpstreamIdentity.from_saml(login)
    session["sp_relay_states"] = [r for r in session.get("sp_relay_states", []) if r != login.relay_state]
    session["csam"] = {"idp": login.issuer, "name_id": login.name_id, "session_index": login.session_index}
    account = AccountService.by_nrn(db, who.nrn)
    who_is.log_in(who, account)
    if account is None:
        session["after_activation"] = login.next_url
        return redirect(url_for("account.create"))
    if not account.is_active:
        return redirect(url_for("account.pending"))
    return redirect(login.next_url)
