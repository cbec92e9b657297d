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

Back-channel calls (the OP fetching the client's JWKS, the client posting to
the token endpoint) go through ``Backchannel``: in this simulator every app
runs as WSGI, so they are made in-process through the app's test client —
the real HTTP endpoints, without a socket. A real deployment would make them
with an HTTP client (requests) instead.

Its tables are in idp_csam.itsme_models, its keys and JOSE in
idp_csam.itsme_jose, the phone screen's service (codes, links) in
idp_csam.itsme_phone; their names are re-exported here (``itsme_op.confirm``).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import segno
import yaml
from flask import (
    Blueprint,
    Flask,
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
from jose import jwt
from jose.exceptions import JOSEError
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import Length

from fedsim import clock, personas, protocol_log
from fedsim.db import Database
from fedsim.web import UserError
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.i18n import ngettext
from idp_csam.itsme_jose import (  # keys, JWS and JWE, re-exported (itsme_op.verify_jws)
    ExpiredToken,  # noqa: F401 - re-exported
    check_times,
    op_jwks,
    pick_key,
    private_key,
    public_jwk,  # noqa: F401 - re-exported
    sign_then_encrypt,
    verify_jws,
)
from idp_csam.itsme_models import (  # the tables and their purge, re-exported (itsme_op.purge)
    ItsmeAccessToken,
    ItsmeAssertionJti,
    ItsmeAuthorization,
    ItsmePhone,
    purge,  # noqa: F401 - re-exported
)
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
from idp_csam.models import Citizen

log = logging.getLogger(__name__)

bp = Blueprint("itsme_op", __name__, url_prefix="/itsme-op")

USERS_FILE = Path(__file__).parent / "data" / "itsme_users.yaml"
ACR_BASIC = "http://itsme.services/v2/claim/acr_basic"
ACR_ADVANCED = "http://itsme.services/v2/claim/acr_advanced"
NRN_CLAIM = "http://itsme.services/v2/claim/BENationalNumber"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_ID = "csam-fas"
REQUEST_LIFETIME = timedelta(minutes=3)   # the person has 3 minutes to confirm
TOKEN_LIFETIME = timedelta(minutes=5)     # ID and access tokens
MAX_ASSERTION_LIFETIME = timedelta(minutes=5)
CODE_FORMAT = re.compile(r"^\d{5}$")
LINK_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")  # a phone link's token: 32 bytes, base64url
STARTED = "itsme_op_request"              # the session key: the request this browser started
SUPPORTED_CLAIMS = ("sub", NRN_CLAIM, "given_name", "family_name", "email")


# -- registration, back channel, seeding ----------------------------------------

@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    jwks_uri: str


def issuer() -> str:
    return current_app.config["FEDSIM_SETTINGS"].base_url("idp_csam") + bp.url_prefix


def endpoint_url(name: str) -> str:
    return issuer() + {"authorize": "/authorize", "token": "/token", "userinfo": "/userinfo",
                       "jwks": "/jwks.json"}[name]


def clients() -> dict[str, Client]:
    """The relying parties registered with this OP: CSAM only."""
    csam = current_app.config["FEDSIM_SETTINGS"].base_url("idp_csam")
    return {CLIENT_ID: Client(CLIENT_ID, (csam + "/itsme/callback",), csam + "/itsme/jwks.json")}


class Backchannel:
    """Server-to-server calls, in-process through the app's WSGI test client
    (a real deployment would use requests against the same URLs)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _open(self, method: str, url: str, **kwargs) -> tuple[int, dict]:
        parts = urlsplit(url)
        with self.app.test_client() as client:
            response = client.open(parts.path, method=method, query_string=parts.query,
                                   base_url=f"{parts.scheme}://{parts.netloc}", **kwargs)
        try:
            return response.status_code, json.loads(response.get_data())
        except ValueError:
            return response.status_code, {}

    def get_json(self, url: str) -> tuple[int, dict]:
        return self._open("GET", url)

    def post_form(self, url: str, data: dict[str, str]) -> tuple[int, dict]:
        return self._open("POST", url, data=data)


def backchannel() -> Backchannel:
    return Backchannel(current_app._get_current_object())


@bp.record_once
def _seed(state) -> None:
    """itsme accounts of the personas with a card, from data/itsme_users.yaml."""
    app = state.app
    # Back-channel endpoints: authenticated by the client assertion or the bearer token, not by a form token.
    app.extensions["csrf"].exempt(token)
    app.extensions["csrf"].exempt(userinfo)
    users = yaml.safe_load(Path(app.config.get("ITSME_USERS_FILE") or USERS_FILE).read_text())["users"]
    people = personas.load(app.config["PERSONAS_FILE"]) if app.config["PERSONAS_FILE"] else personas.load()
    with app.app_context(), Database.factory(app)() as db:
        for person in people:
            entry = users.get(person.id)
            phone = normalize_phone(str(entry["phone"])) if entry and person.card else None
            if phone and db.get(ItsmePhone, phone) is None and db.get(Citizen, person.nrn) is not None:
                db.add(ItsmePhone(phone=phone, nrn=person.nrn, code_digest=code_digest(phone, str(entry["code"]))))
        db.commit()


# -- the OP's pages -----------------------------------------------------------------

class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _json_error(exc: OAuthError) -> Response:
    log.warning("itsme OP refused: %s (%s)", exc.error, exc.description)
    response = jsonify(error=exc.error, error_description=exc.description)
    response.status_code = exc.status
    return response


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
        "code_challenge_methods_supported": [],
    })


@bp.get("/jwks.json")
def jwks_document():
    return jsonify(op_jwks(current_app))


def _client_jwks(client: Client) -> dict:
    status, document = backchannel().get_json(client.jwks_uri)
    if status != 200 or not isinstance(document.get("keys"), list):
        raise UserError(_("itsme n'a pas pu lire les clés publiques du service en ligne."), code=502,
                        title=_("Erreur itsme"))
    return document


def _redirect_error(auth_or_uri, state: str, error: str, description: str) -> Response:
    uri = auth_or_uri if isinstance(auth_or_uri, str) else auth_or_uri.redirect_uri
    log.info("itsme OP: %s (%s)", error, description)
    return redirect(f"{uri}?{urlencode({'error': error, 'error_description': description, 'state': state})}")


FRONT, BACK = "OIDC front-channel", "OIDC back-channel"


def _log(event: str, message_id: str, client_id: str, outcome: str, reason: str = "", *,
         binding: str = FRONT, to_client: bool = False) -> None:
    """One protocol-log line for an OpenID Connect step (as fedsim.protocol_log
    writes one per SAML step): the trainer console's trace shows both."""
    ends = (issuer(), client_id) if to_client else (client_id, issuer())
    protocol_log.log_step(event, message_id=message_id, issuer=ends[0], destination=ends[1], binding=binding,
                          outcome=outcome, reason=reason)


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
        claims = verify_jws(token, _client_jwks(client))
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
    wanted = claims.get("claims", {}).get("id_token", {}) if isinstance(claims.get("claims"), dict) else {}
    now = clock.naive_utc_now()
    auth = ItsmeAuthorization(
        id=secrets.token_urlsafe(24), client_id=client.client_id, redirect_uri=redirect_uri, state=state,
        nonce=nonce, acr=acr, claims=json.dumps([c for c in wanted if c in SUPPORTED_CLAIMS]),
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


# -- token and userinfo --------------------------------------------------------------

def authenticate_client(db: Session, form) -> Client:
    """private_key_jwt: an RS256 assertion by the client, aud = the token
    endpoint, short-lived, its jti used once."""
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        raise OAuthError("invalid_client", "private_key_jwt client assertion required", 401)
    try:
        unverified = jwt.get_unverified_claims(form["client_assertion"])
    except JOSEError:
        raise OAuthError("invalid_client", "malformed client assertion", 401) from None
    client = clients().get(str(unverified.get("iss", "")))
    if client is None or form.get("client_id", client.client_id) != client.client_id:
        raise OAuthError("invalid_client", "unknown client", 401)
    try:
        claims = verify_jws(form["client_assertion"], _client_jwks(client))
        check_times(claims, max_lifetime=MAX_ASSERTION_LIFETIME)
    except (JOSEError, ValueError) as exc:
        raise OAuthError("invalid_client", f"client assertion refused: {exc}", 401) from None
    if claims.get("sub") != client.client_id or claims.get("aud") != endpoint_url("token"):
        raise OAuthError("invalid_client", "client assertion: wrong sub or aud", 401)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise OAuthError("invalid_client", "client assertion without jti", 401)
    if db.get(ItsmeAssertionJti, jti) is not None:
        raise OAuthError("invalid_client", "client assertion replayed (jti already used)", 401)
    db.add(ItsmeAssertionJti(jti=jti, expires_at=datetime.fromtimestamp(claims["exp"], UTC)
                             .replace(tzinfo=None)))
    return client


def id_token_claims(db: Session, auth: ItsmeAuthorization) -> dict:
    citizen = db.get(Citizen, db.get(ItsmePhone, auth.phone).nrn)
    now = int(clock.now().timestamp())
    values = {"sub": hashlib.sha256(f"{auth.client_id}:{citizen.nrn}".encode()).hexdigest(),
              NRN_CLAIM: citizen.nrn, "given_name": citizen.given_name, "family_name": citizen.surname,
              "email": citizen.email}
    claims = {"iss": issuer(), "aud": auth.client_id, "iat": now, "exp": now + int(TOKEN_LIFETIME.total_seconds()),
              "nonce": auth.nonce, "acr": auth.acr, "amr": ["mobile-app"], "sub": values["sub"]}
    claims.update({name: values[name] for name in json.loads(auth.claims) if name in values})
    return claims


@bp.post("/token")
def token():
    db = Database.session()
    try:
        client = authenticate_client(db, request.form)
        if request.form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "authorization_code only")
        code = request.form.get("code", "")
        auth = db.scalars(select(ItsmeAuthorization).where(ItsmeAuthorization.code == code)).first() if code else None
        if auth is None or auth.client_id != client.client_id:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if auth.code_used_at is not None:
            # A replayed code: refuse it and revoke what the first use obtained.
            for access in db.scalars(select(ItsmeAccessToken).where(ItsmeAccessToken.authorization_id == auth.id)):
                access.revoked = True
            db.commit()
            raise OAuthError("invalid_grant", "authorization code already used")
        if clock.naive_utc_now() >= auth.code_expires_at:
            raise OAuthError("invalid_grant", "authorization code expired")
        if request.form.get("redirect_uri") != auth.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        try:
            enc_key = pick_key(_client_jwks(client), None, "enc", "RSA-OAEP")
        except JOSEError:
            raise OAuthError("invalid_client", "the client publishes no RSA-OAEP encryption key") from None
        auth.code_used_at = clock.naive_utc_now()
        access_token = secrets.token_urlsafe(32)
        db.add(ItsmeAccessToken(digest=hashlib.sha256(access_token.encode()).hexdigest(), authorization_id=auth.id,
                                expires_at=clock.naive_utc_now() + TOKEN_LIFETIME))
        id_token = sign_then_encrypt(id_token_claims(db, auth), private_key(current_app, "itsme-op-sig"), enc_key)
        db.commit()
    except OAuthError as exc:
        db.rollback()
        _log("TokenRequest", "", request.form.get("client_id", "?")[:100], "refused",
             f"{exc.error}: {exc.description}", binding=BACK)
        return _json_error(exc)
    _log("IDToken", auth.id, client.client_id, "issued", "signed (RS256) then encrypted (RSA-OAEP, A256GCM)",
         binding=BACK, to_client=True)
    response = jsonify(access_token=access_token, token_type="Bearer",
                       expires_in=int(TOKEN_LIFETIME.total_seconds()), id_token=id_token)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    db = Database.session()
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header.startswith("Bearer ") else ""
    access = db.get(ItsmeAccessToken, hashlib.sha256(bearer.encode()).hexdigest()) if bearer else None
    if access is None or access.revoked or clock.naive_utc_now() >= access.expires_at:
        response = _json_error(OAuthError("invalid_token", "unknown, revoked or expired access token", 401))
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    claims = id_token_claims(db, db.get(ItsmeAuthorization, access.authorization_id))
    return jsonify({k: v for k, v in claims.items() if k in SUPPORTED_CLAIMS})
