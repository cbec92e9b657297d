"""Mon Espace's SP toward CSAM: « Me connecter », the assertion consumer and
logout."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from fedsim.db import Database
from fedsim.saml.errors import AuthnContextUnavailable, PassiveUnavailable
from fedsim.saml.sp import ServiceProvider
from fedsim.web import plain
from monespace import cerbere
from monespace import session as who_is
from monespace.accounts import AccountService, LoginRefused
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
    wanted = session.pop(cerbere.CSAM_AUTHN_CONTEXT, None) or {}  # a step-up, ForceAuthn, IsPassive for Cerbère
    location, relay_state = _sp().start_login(Database.session(), next_url, tuple(wanted.get("contexts", ())),
                                              wanted.get("comparison", "minimum"),
                                              force_authn=wanted.get("force_authn", False),
                                              is_passive=wanted.get("is_passive", False))
    cerbere.sent_upstream(wanted, relay_state)
    session["sp_relay_states"] = (session.get("sp_relay_states", []) + [relay_state])[-5:]
    return redirect(location)


@bp.post("/saml/sp/acs")
def assertion_consumer():
    db = Database.session()
    try:
        login = _sp().accept(db, request.form.get("SAMLResponse"), request.form.get("RelayState"),
                             session.get("sp_relay_states", []), check=UpstreamIdentity.from_saml)
    except (AuthnContextUnavailable, PassiveUnavailable) as status:
        # CSAM cannot reach the level, or answer passively, for a request
        # Cerbère made on behalf of a downstream SP: Cerbère tells that SP
        # (NoAuthnContext / NoPassive); otherwise an error page.
        asked, answered = ((cerbere.ASKED_CSAM, cerbere.CSAM_REFUSED) if isinstance(status, AuthnContextUnavailable)
                           else (cerbere.ASKED_PASSIVELY, cerbere.CSAM_NO_PASSIVE))
        pending = session.get("cerbere_pending")
        if pending is None or session.get(asked) != pending:
            raise
        session[answered] = pending
        return redirect(url_for("cerbere.answer"))
    who = UpstreamIdentity.from_saml(login)
    session["sp_relay_states"] = [r for r in session.get("sp_relay_states", []) if r != login.relay_state]
    authn_instant = login.authn_instant  # when the person really authenticated at CSAM
    session["csam"] = {"idp": login.issuer, "name_id": login.name_id, "session_index": login.session_index,
                       "authn_instant": authn_instant.isoformat() if authn_instant else None}
    account = AccountService.by_nrn(db, who.nrn)
    who_is.log_in(who, account)
    if cerbere.csam_logged_in(login.relay_state):  # passive, for Cerbère: no page in between
        return redirect(login.next_url)
    if account is None:
        session["after_activation"] = login.next_url
        return redirect(url_for("account.create"))
    if not account.is_active:
        return redirect(url_for("account.pending"))
    return redirect(login.next_url)


USERNAME_MAX = 64  # the column's size
PASSWORD_MAX = 128  # the longest password one can choose (monespace.account)


class CerbereLoginForm(FlaskForm):
    username = StringField("Nom d'utilisateur Cerbère Citoyen", validators=[
        InputRequired("Indiquez votre nom d'utilisateur."),
        Length(max=USERNAME_MAX, message=f"Le nom d'utilisateur compte au plus {USERNAME_MAX} caractères.")])
    password = PasswordField("Mot de passe", validators=[
        InputRequired("Indiquez votre mot de passe."),
        Length(max=PASSWORD_MAX, message=f"Le mot de passe compte au plus {PASSWORD_MAX} caractères.")])


@bp.route("/connexion/cerbere", methods=["GET", "POST"])
def cerbere_login():
    """A direct login with the Cerbère Citoyen identifier (G26), without CSAM:
    five tries, counted in the database, then a lockout; the same refusal
    for every username (``AccountService.password_login``)."""
    next_url = who_is.safe_next(request.values.get("next"))
    form = CerbereLoginForm()
    error = None
    if form.validate_on_submit():
        db = Database.session()
        try:
            account = AccountService.password_login(db, form.username.data, form.password.data)
        except LoginRefused as refused:
            error = refused.message
        else:
            cerbere_id = current_app.extensions["monespace.cerbere"].entity_id
            who_is.log_in(UpstreamIdentity.from_cerbere_password(account, cerbere_id), account)
            return redirect(next_url)
    elif form.is_submitted():
        error = " ".join(e for errs in form.errors.values() for e in errs)
    return render_template("monespace/cerbere_login.html", form=form, next_url=next_url,
                           error=error), 400 if error else 200
