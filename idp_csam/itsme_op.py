"""A simulated itsme OpenID Connect provider (G04), served by the CSAM app
under /itsme-op/ with its own keys and tables. CSAM's itsme method
(idp_csam.methods.itsme) is its only relying party.

Authorization-code flow only, as itsme: the authorization request is a
signed request object (RS256, checked against the client's JWKS), the client
authenticates at the token endpoint with private_key_jwt (RS256, aud = token
endpoint, short exp, single-use jti), and the ID token is signed (RS256, the
OP's key) then encrypted (JWE RSA-OAEP + A256GCM, the client's encryption
key). The person confirms on their phone: the waiting page of the browser
that started the login shows a link and its QR code, /itsme-op/telephone/
<token>, the phone's screen for that request only (a trainer opens it in a
second window). The token is unguessable and opens nothing else; the link
dies once the request is answered or expired. Pending requests are never
listed by phone number, and a request is refused after 3 wrong itsme codes,
counted on the server (``fedsim.attempts``: guesses sent at once check at
most 3).

Userinfo answers, as itsme's, with a JWT (application/jwt): the claims
signed (RS256) then encrypted for the client (RSA-OAEP + A256GCM), as the ID
token.

Back-channel calls (the OP fetching the client's JWKS, the client posting to
the token endpoint, fetching the OP's JWKS and userinfo) go through
idp_csam.itsme_backchannel: real HTTP (requests) when the federation is
served on ports (``ITSME_BACKCHANNEL = "http"``, set by fedsim_harness.serve),
else in-process through the app's test client (the same endpoints, without a
socket).

Its tables are in idp_csam.itsme_models, its keys and JOSE in
idp_csam.itsme_jose, the phone screen's service (codes, links) in
idp_csam.itsme_phone, its token and userinfo endpoints in
idp_csam.itsme_token, what those share (names, client, URLs, log lines) in
idp_csam.itsme_oidc; their names are re-exported here (``itsme_op.confirm``).
"""
from __future__ import annotations

import json
import logging
import re
import secrets
from datetime import timedelta
from urllib.parse import urlencode

import segno
from flask import (
    Blueprint,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from jose.exceptions import JOSEError
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import Length

from fedsim import clock, personas
from fedsim.db import Database
from fedsim.web import UserError
from idp_csam import itsme_token
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.i18n import ngettext
from idp_csam.itsme_backchannel import Unreachable, backchannel  # noqa: F401 - re-exported
from idp_csam.itsme_backchannel import check as check_backchannel
from idp_csam.itsme_jose import (  # keys, JWS and JWE, re-exported (itsme_op.verify_jws)
    ExpiredToken,  # noqa: F401 - re-exported
    check_times,
    op_jwks,
    pick_key,  # noqa: F401 - re-exported
    private_key,  # noqa: F401 - re-exported
    public_jwk,  # noqa: F401 - re-exported
    sign_then_encrypt,  # noqa: F401 - re-exported
    verify_jws,
)
from idp_csam.itsme_models import (  # the tables and their purge, re-exported (itsme_op.purge)
    ItsmeAccessToken,  # noqa: F401 - re-exported
    ItsmeAssertionJti,  # noqa: F401 - re-exported
    ItsmeAuthorization,
    ItsmePhone,
    purge,  # noqa: F401 - re-exported
)
from idp_csam.itsme_oidc import (  # the OP's names, client, URLs; re-exported (itsme_op.NRN_CLAIM)
    ACR_ADVANCED,
    ACR_BASIC,
    ASSERTION_TYPE,  # noqa: F401 - re-exported
    BACK,  # noqa: F401 - re-exported
    CLIENT_ID,  # noqa: F401 - re-exported
    FRONT,  # noqa: F401 - re-exported
    MAX_ASSERTION_LIFETIME,  # noqa: F401 - re-exported
    NRN_CLAIM,  # noqa: F401 - re-exported
    PREFIX,
    SUPPORTED_CLAIMS,
    TOKEN_LIFETIME,  # noqa: F401 - re-exported
    Client,
    ClientKeysUnavailable,
    OAuthError,  # noqa: F401 - re-exported
    client_jwks,
    clients,
    endpoint_url,
    issuer,
)
from idp_csam.itsme_oidc import log_step as _log
from idp_csam.itsme_phone import (  # the phone screen's service, re-exported (itsme_op.confirm)
    CODE_LIFETIME,  # noqa: F401 - re-exported
    MAX_TRIES,
    Confirmation,  # noqa: F401 - re-exported
    code_digest,
    confirm,
    link_digest,
    mask,
    normalize_phone,
    phone_link_token,
    reject,
)
from idp_csam.itsme_token import (  # noqa: F401 - re-exported (itsme_op.id_token_claims)
    authenticate_client,
    id_token_claims,
    requested_claims,
    userinfo_claims,
)
from idp_csam.models import Citizen

log = logging.getLogger(__name__)

bp = Blueprint("itsme_op", __name__, url_prefix=PREFIX)

REQUEST_LIFETIME = timedelta(minutes=3)   # the person has 3 minutes to confirm
CODE_FORMAT = re.compile(r"^\d{5}$")
LINK_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")  # a phone link's token: 32 bytes, base64url
STARTED = "itsme_op_request"              # the session key: the request this browser started


# -- registration, back channel, seeding ----------------------------------------

@bp.record_once
def _check_backchannel(state) -> None:
    check_backchannel(state.app)  # a bad ITSME_BACKCHANNEL(_TIMEOUT) stops the app at its creation, named


@bp.record_once
def _seed(state) -> None:
    """itsme accounts of the personas with a card: their ``itsme`` in the
    personas file (fedsim/data/personas.yaml, FEDSIM_PERSONAS)."""
    app = state.app
    # Back-channel endpoints: authenticated by the client assertion or the bearer token, not by a form token.
    app.extensions["csrf"].exempt(token)
    app.extensions["csrf"].exempt(userinfo)
    people = personas.load(app.config["PERSONAS_FILE"])
    with app.app_context(), Database.factory(app)() as db:
        for person in people:
            phone = normalize_phone(person.itsme.phone) if person.itsme and person.card else None
            if phone and db.get(ItsmePhone, phone) is None and db.get(Citizen, person.nrn) is not None:
                db.add(ItsmePhone(phone=phone, nrn=person.nrn, code_digest=code_digest(phone, person.itsme.code)))
        db.commit()


# -- the OP's pages -----------------------------------------------------------------

@bp.get("/.well-known/openid-configuration")
def discovery():
    return jsonify({
        "issuer": issuer(),
        "authorization_endpoint": endpoint_url("authorize"),
        "token_endpoint": endpoint_url("token"),
        "userinfo_endpoint": endpoint_url("userinfo"),
        "jwks_uri": endpoint_url("jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "profile", "email", "service:CSAM_LOGIN"],
        "acr_values_supported": [ACR_BASIC, ACR_ADVANCED],
        "claims_supported": list(SUPPORTED_CLAIMS),
        "claims_parameter_supported": True,
        "request_parameter_supported": True,
        "request_uri_parameter_supported": False,
        "request_object_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "id_token_encryption_alg_values_supported": ["RSA-OAEP"],
        "id_token_encryption_enc_values_supported": ["A256GCM"],
        "userinfo_signing_alg_values_supported": ["RS256"],
        "userinfo_encryption_alg_values_supported": ["RSA-OAEP"],
        "userinfo_encryption_enc_values_supported": ["A256GCM"],
        "code_challenge_methods_supported": [],
    })


@bp.get("/jwks.json")
def jwks_document():
    return jsonify(op_jwks(current_app))


def _client_jwks_or_page(client: Client) -> dict:
    try:
        return client_jwks(client)
    except ClientKeysUnavailable as exc:
        log.warning("itsme OP: %s", exc)
        raise UserError(_("itsme n'a pas pu lire les clés publiques du service en ligne."), code=502,
                        title=_("Erreur itsme")) from None


def _redirect_error(auth_or_uri, state: str, error: str, description: str) -> Response:
    uri = auth_or_uri if isinstance(auth_or_uri, str) else auth_or_uri.redirect_uri
    log.info("itsme OP: %s (%s)", error, description)
    return redirect(f"{uri}?{urlencode({'error': error, 'error_description': description, 'state': state})}")


@bp.get("/authorize")
def authorize():
    client = clients().get(request.args.get("client_id", ""))
    if client is None:
        raise UserError(_("Application cliente inconnue d'itsme."), title=_("Erreur itsme"))
    token = request.args.get("request", "")
    if not token:
        raise UserError(_("La demande d'authentification n'est pas signée (paramètre request absent)."),
                        title=_("Erreur itsme"))
    try:
        claims = verify_jws(token, _client_jwks_or_page(client))
        check_times(claims, max_lifetime=timedelta(minutes=10))
    except (JOSEError, ValueError) as exc:
        log.warning("itsme OP: request object refused: %s", exc)
        raise UserError(_("La demande d'authentification signée est invalide ou expirée."),
                        title=_("Erreur itsme")) from None
    if claims.get("iss") != client.client_id or claims.get("aud") != issuer() \
            or claims.get("client_id") != client.client_id:
        raise UserError(_("La demande d'authentification n'est pas adressée à itsme par ce client."),
                        title=_("Erreur itsme"))
    redirect_uri = claims.get("redirect_uri")
    if redirect_uri not in client.redirect_uris:
        raise UserError(_("Adresse de retour non enregistrée chez itsme."), title=_("Erreur itsme"))
    state = str(claims.get("state", ""))
    if claims.get("response_type") != "code" or "openid" not in str(claims.get("scope", "")).split():
        _log("AuthorizationRequest", state, client.client_id, "refused", "code_flow_only")
        return _redirect_error(redirect_uri, state, "unsupported_response_type", "code_flow_only")
    acr = (str(claims.get("acr_values", "")).split() or [ACR_BASIC])[0]
    nonce = str(claims.get("nonce", ""))
    if acr not in (ACR_BASIC, ACR_ADVANCED) or not 0 < len(nonce) <= 200 or not 0 < len(state) <= 200:
        _log("AuthorizationRequest", state, client.client_id, "refused", "bad_request_object")
        return _redirect_error(redirect_uri, state, "invalid_request", "bad_request_object")
    db = Database.session()
    phone = normalize_phone(str(claims.get("login_hint", "")))
    if phone is None or db.get(ItsmePhone, phone) is None:
        _log("AuthorizationRequest", state, client.client_id, "refused", "unknown_user")
        return _redirect_error(redirect_uri, state, "access_denied", "unknown_user")
    wanted = claims.get("claims") if isinstance(claims.get("claims"), dict) else {}
    now = clock.naive_utc_now()
    auth = ItsmeAuthorization(
        id=secrets.token_urlsafe(24), client_id=client.client_id, redirect_uri=redirect_uri, state=state,
        nonce=nonce, acr=acr, claims=json.dumps(requested_claims(wanted)),
        phone=phone, created_at=now, expires_at=now + REQUEST_LIFETIME, status="pending")
    auth.phone_link_digest = link_digest(phone_link_token(auth.id))
    db.add(auth)
    db.commit()
    session[STARTED] = auth.id  # only this browser's waiting page shows the phone link
    _log("AuthorizationRequest", auth.id, client.client_id, "accepted", f"acr {acr}")
    return redirect(url_for("itsme_op.waiting", request_id=auth.id))


def _expire_if_due(db: Session, auth: ItsmeAuthorization) -> None:
    if auth.status == "pending" and clock.naive_utc_now() >= auth.expires_at:
        auth.status = "expired"
        db.commit()


@bp.get("/attente/<request_id>")
def waiting(request_id: str):
    """« Confirmez sur votre téléphone »: refreshes itself until the phone answers."""
    db = Database.session()
    auth = db.get(ItsmeAuthorization, request_id)
    if auth is None:
        raise UserError(_("Cette demande itsme n'existe pas."), code=404, title=_("Erreur itsme"))
    _expire_if_due(db, auth)
    if auth.status == "sent":
        raise UserError(_("Cette demande itsme est déjà terminée."), code=410, title=_("Erreur itsme"))
    if auth.status != "pending":
        answered = auth.status
        auth.status = "sent"
        db.commit()
        if session.get(STARTED) == auth.id:
            session.pop(STARTED)
        if answered == "approved":
            return redirect(f"{auth.redirect_uri}?{urlencode({'code': auth.code, 'state': auth.state})}")
        reason = {"expired": "timeout", "rejected": "user_cancelled", "refused": "too_many_codes"}[answered]
        return _redirect_error(auth, auth.state, "access_denied", reason)
    phone_url = qr = None
    if session.get(STARTED) == auth.id:
        phone_url = f"{issuer()}/telephone/{phone_link_token(auth.id)}"
        qr = Markup(segno.make(phone_url, error="m").svg_inline(
            scale=4, title=_("Code QR : l'écran itsme de cette demande, à scanner avec le téléphone")))
    body = render_template("idp_csam/itsme/waiting.html", auth=auth, masked=mask(auth.phone),
                           phone_url=phone_url, qr=qr,
                           seconds=int((auth.expires_at - clock.naive_utc_now()).total_seconds()))
    response = make_response(body)  # text/html (G04: a bare werkzeug Response was text/plain)
    response.headers["Refresh"] = "3"
    return response


CODE_TOO_LONG = _l("Le code itsme se compose de 5 chiffres.")


class PhoneForm(FlaskForm):
    code = StringField(_l("Code itsme"), validators=[Length(max=5, message=CODE_TOO_LONG)])


LINK_DEAD = _l("Ce lien itsme n'est pas (ou plus) valable. Le lien du téléphone vaut pour une seule demande, "
               "le temps de la demande : recommencez la connexion sur l'ordinateur pour en obtenir un nouveau.")
ANSWERED = {
    "approved": _l("Cette demande a déjà été confirmée : ce lien ne sert plus."),
    "rejected": _l("Vous avez refusé cette demande : ce lien ne sert plus."),
    "expired": _l("Cette demande a expiré (3 minutes) : ce lien ne sert plus. "
                  "Recommencez la connexion sur l'ordinateur."),
    "refused": _l("Cette demande a été refusée après %(max)d codes itsme erronés : ce lien ne sert plus. "
                  "Recommencez la connexion sur l'ordinateur.", max=MAX_TRIES),
}


@bp.route("/telephone/<token>", methods=["GET", "POST"])
def telephone(token: str):
    """The phone's screen for one request, reached only through the link (or
    QR code) of its waiting page: approve with the itsme code, or reject."""
    db = Database.session()
    auth = db.scalars(select(ItsmeAuthorization).where(
        ItsmeAuthorization.phone_link_digest == link_digest(token))).first() if LINK_FORMAT.fullmatch(token) else None
    if auth is None:
        raise UserError(str(LINK_DEAD), code=404, title="itsme")
    _expire_if_due(db, auth)
    if auth.status != "pending":
        raise UserError(ANSWERED.get(auth.status, _("Cette demande itsme est terminée : ce lien ne sert plus.")),
                        code=410, title="itsme")
    form = PhoneForm()
    message, error, status = None, None, 200
    request_id = auth.id
    if form.validate_on_submit():
        if "reject" in request.form:
            if reject(db, request_id):
                message = _("Vous avez refusé la demande. Vous pouvez fermer cet écran.")
            else:
                error, status = _("Cette demande a expiré ou a déjà reçu une réponse."), 409
        elif not CODE_FORMAT.match(form.code.data or ""):
            error, status = CODE_TOO_LONG, 400
        else:
            answer = confirm(db, request_id, form.code.data)
            if answer.outcome == "approved":
                message = _("Confirmé. Vous pouvez retourner sur votre ordinateur.")
            elif answer.outcome == "wrong":
                error, status = ngettext("Code itsme erroné. Il vous reste %(num)d essai.",
                                         "Code itsme erroné. Il vous reste %(num)d essais.", answer.left), 400
            elif answer.outcome == "refused":
                error, status = _("Code itsme erroné pour la %(max)de fois : la demande est refusée. "
                                   "Recommencez la connexion sur l'ordinateur.", max=MAX_TRIES), 429
            else:
                error, status = _("Cette demande a expiré ou a déjà reçu une réponse."), 409
    elif form.is_submitted():
        if "csrf_token" in form.errors:
            error = _("Ce formulaire a expiré. Rechargez l'écran.")
        else:
            error = " ".join(str(e) for errs in form.errors.values() for e in errs)
        status = 400
    db.refresh(auth)
    return render_template("idp_csam/itsme/phone.html", phone=mask(auth.phone), auth=auth,
                           pending=auth.status == "pending", form=form, message=message, error=error,
                           advanced=ACR_ADVANCED, token=token), status


@bp.get("/phone/<number>")
def phone(number: str):  # the number is deliberately not looked at
    """Gone: pending requests are not listed by phone number (anyone knowing a
    number could see them and guess the code). The same answer for every number."""
    raise UserError(_("Les demandes itsme en attente ne sont pas affichées par numéro de téléphone. "
                      "Ouvrez sur le téléphone le lien (ou scannez le code QR) que montre la page d'attente "
                      "de l'ordinateur qui a commencé la connexion."), code=404, title="itsme")


@bp.get("/creer-un-compte")
def create_account():
    return render_template("idp_csam/itsme/create_account.html")


# -- token and userinfo (idp_csam.itsme_token) ------------------------------------------

@bp.post("/token")
def token():
    return itsme_token.token_endpoint()


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    return itsme_token.userinfo_endpoint()
