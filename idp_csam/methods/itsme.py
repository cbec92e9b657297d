"""itsme (G04): CSAM as an OpenID Connect relying party of the (simulated)
itsme OP of idp_csam.itsme_op. The person types their phone number, CSAM
sends a signed request object, the person confirms on the phone, CSAM
exchanges the code with a private_key_jwt client assertion and accepts the
ID token only signed by the OP then encrypted for CSAM.

The token exchange and the OP's JWKS are fetched through
``itsme_op.Backchannel`` (in-process WSGI here; HTTP in a real deployment).
"""
from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask_wtf import FlaskForm
from jose import jwe, jwt
from jose.exceptions import JOSEError
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from fedsim import clock, protocol_log
from fedsim.db import Database
from idp_csam import authn, itsme_op
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.methods import Method
from idp_csam.models import Citizen

log = logging.getLogger(__name__)

bp = Blueprint("itsme", __name__)

SIG_KEY, ENC_KEY = "csam-itsme-rp-sig", "csam-itsme-rp-enc"
ACR = itsme_op.ACR_ADVANCED  # Level450 needs itsme's advanced level
ASSERTION_LIFETIME = 60  # seconds
MESSAGES = {
    "unknown_user": _l("Ce numéro de téléphone n'est lié à aucun compte itsme. Vérifiez le numéro "
                    "ou créez votre compte itsme."),
    "user_cancelled": _l("Vous avez refusé la demande de connexion dans l'application itsme. "
                      "Vous n'êtes pas connecté."),
    "timeout": _l("Le délai pour confirmer sur votre téléphone est dépassé (3 minutes). "
               "Recommencez la connexion."),
    "too_many_codes": _l("La demande itsme a été refusée après %(max)d codes itsme erronés "
                         "sur le téléphone. Vous n'êtes pas connecté : recommencez la connexion.",
                         max=itsme_op.MAX_TRIES),
}


class IdTokenRefused(Exception):
    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message, self.detail = message, detail


@dataclass(frozen=True)
class Expected:
    issuer: str
    client_id: str
    nonce: str
    acr_values: tuple[str, ...]


def verify_id_token(id_token: str, *, enc_key_pem: str, op_jwks: dict, expected: Expected) -> dict:
    """The claims of an ID token that itsme signed (RS256) then encrypted
    for CSAM (RSA-OAEP + A256GCM); anything else is refused."""
    tampered = _("La réponse d'itsme a été modifiée ou n'est pas signée par itsme : connexion refusée.")
    if id_token.count(".") != 4:
        raise IdTokenRefused(_("La réponse d'itsme n'est pas chiffrée pour CSAM : connexion refusée."),
                             "ID token is not a compact JWE")
    try:
        header = jwe.get_unverified_header(id_token)
        if header.get("alg") != "RSA-OAEP" or header.get("enc") != "A256GCM":
            raise JOSEError(f"JWE {header.get('alg')}/{header.get('enc')} refused")
        signed = jwe.decrypt(id_token, enc_key_pem).decode()
        claims = itsme_op.verify_jws(signed, op_jwks)
    except (JOSEError, ValueError, UnicodeDecodeError) as exc:
        raise IdTokenRefused(tampered, str(exc)) from None
    try:
        itsme_op.check_times(claims)
    except itsme_op.ExpiredToken:
        raise IdTokenRefused(_("La réponse d'itsme a expiré : recommencez la connexion."), "exp passed") from None
    except JOSEError as exc:
        raise IdTokenRefused(tampered, str(exc)) from None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if claims.get("iss") != expected.issuer:
        raise IdTokenRefused(tampered, f"iss {claims.get('iss')!r}")
    if expected.client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != expected.client_id):
        raise IdTokenRefused(_("La réponse d'itsme n'est pas destinée à CSAM : connexion refusée."),
                             f"aud {audience!r}")
    if claims.get("nonce") != expected.nonce:
        raise IdTokenRefused(_("La réponse d'itsme ne correspond pas à cette connexion (nonce)."), "nonce")
    if claims.get("acr") not in expected.acr_values:
        raise IdTokenRefused(_("itsme n'a pas confirmé le niveau de sécurité demandé."), f"acr {claims.get('acr')!r}")
    if not str(claims.get(itsme_op.NRN_CLAIM, "")).isdigit():
        raise IdTokenRefused(_("itsme n'a pas communiqué votre numéro de registre national."), "no NRN claim")
    return claims


def client_assertion(sig_pem: str, client_id: str, token_endpoint: str) -> str:
    now = int(clock.now().timestamp())
    return jwt.encode({"iss": client_id, "sub": client_id, "aud": token_endpoint, "iat": now,
                       "exp": now + ASSERTION_LIFETIME, "jti": str(uuid.uuid4())},
                      sig_pem, algorithm="RS256",
                      headers={"kid": itsme_op.public_jwk(sig_pem, "RS256", "sig")["kid"]})


def rp_jwks(app) -> dict:
    return {"keys": [itsme_op.public_jwk(itsme_op.private_key(app, SIG_KEY), "RS256", "sig"),
                     itsme_op.public_jwk(itsme_op.private_key(app, ENC_KEY), "RSA-OAEP", "enc")]}


class PhoneForm(FlaskForm):
    phone = StringField(_l("Numéro de téléphone mobile"), validators=[
        InputRequired(_l("Tapez votre numéro de téléphone.")),
        Length(max=30, message=_l("Ce numéro de téléphone est trop long : tapez par exemple 0470 12 34 56."))])


def _redirect_uri() -> str:
    return itsme_op.clients()[itsme_op.CLIENT_ID].redirect_uris[0]


def _page(error: str | None = None, status: int = 200, form: PhoneForm | None = None):
    return render_template("idp_csam/itsme/start.html", form=form or PhoneForm(), error=error), status


@bp.route("/itsme", methods=["GET", "POST"])
def start():
    form = PhoneForm()
    if not form.validate_on_submit():
        if form.is_submitted():
            return _page(" ".join(str(e) for errs in form.errors.values() for e in errs), 400, form)
        return _page(form=form)
    phone = itsme_op.normalize_phone(form.phone.data)
    if phone is None:
        return _page(_("Ce numéro de téléphone n'est pas valide : tapez par exemple 0470 12 34 56."), 400, form)
    app = current_app._get_current_object()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    session["itsme_rp"] = {"state": state, "nonce": nonce}
    now = int(clock.now().timestamp())
    request_object = jwt.encode({
        "iss": itsme_op.CLIENT_ID, "aud": itsme_op.issuer(), "client_id": itsme_op.CLIENT_ID,
        "response_type": "code", "scope": "openid service:CSAM_LOGIN",
        "redirect_uri": _redirect_uri(), "state": state, "nonce": nonce,
        "acr_values": ACR, "login_hint": phone, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()),
        "claims": {"id_token": {itsme_op.NRN_CLAIM: {"essential": True}, "given_name": None, "family_name": None}},
    }, itsme_op.private_key(app, SIG_KEY), algorithm="RS256",
        headers={"kid": itsme_op.public_jwk(itsme_op.private_key(app, SIG_KEY), "RS256", "sig")["kid"]})
    query = urlencode({"client_id": itsme_op.CLIENT_ID, "response_type": "code", "scope": "openid service:CSAM_LOGIN",
                       "request": request_object})
    return redirect(f"{itsme_op.endpoint_url('authorize')}?{query}")


def _log_id_token(outcome: str, reason: str) -> None:
    """CSAM's side of the ID token, in the protocol log (the trainer console's trace)."""
    protocol_log.log_step("IDToken", message_id=request.args.get("state", "")[:64], issuer=itsme_op.issuer(),
                          destination=itsme_op.CLIENT_ID, binding=itsme_op.BACK, outcome=outcome, reason=reason)


@bp.get("/itsme/callback")
def callback():
    pending = session.pop("itsme_rp", None)
    if pending is None or request.args.get("state") != pending["state"]:
        return _page(_("Cette réponse d'itsme ne correspond à aucune connexion en cours (state) : recommencez."), 400)
    if request.args.get("error"):
        reason = request.args.get("error_description", "")
        log.info("itsme: authorization refused: %s (%s)", request.args["error"], reason)
        return _page(MESSAGES.get(reason, _("itsme a refusé la connexion. Recommencez.")), 400)
    app = current_app._get_current_object()
    channel = itsme_op.backchannel()
    token_endpoint = itsme_op.endpoint_url("token")
    status, answer = channel.post_form(token_endpoint, {
        "grant_type": "authorization_code", "code": request.args.get("code", ""),
        "redirect_uri": _redirect_uri(), "client_id": itsme_op.CLIENT_ID,
        "client_assertion_type": itsme_op.ASSERTION_TYPE,
        "client_assertion": client_assertion(itsme_op.private_key(app, SIG_KEY), itsme_op.CLIENT_ID, token_endpoint),
    })
    if status != 200 or "id_token" not in answer:
        log.warning("itsme: token endpoint refused: %s %s", status, json.dumps(answer))
        return _page(_("itsme n'a pas accepté l'échange du code d'autorisation (code expiré ou déjà utilisé) : "
                     "recommencez la connexion."), 400)
    jwks_status, op_keys = channel.get_json(itsme_op.endpoint_url("jwks"))
    if jwks_status != 200:
        return _page(_("Les clés publiques d'itsme sont indisponibles : réessayez dans un instant."), 502)
    try:
        claims = verify_id_token(answer["id_token"], enc_key_pem=itsme_op.private_key(app, ENC_KEY), op_jwks=op_keys,
                                 expected=Expected(itsme_op.issuer(), itsme_op.CLIENT_ID, pending["nonce"], (ACR,)))
    except IdTokenRefused as refused:
        log.warning("itsme: ID token refused: %s", refused.detail)
        _log_id_token("refused", f"{refused.message} ({refused.detail})")
        return _page(refused.message, 400)
    _log_id_token("accepted", f"acr {claims.get('acr')}")
    citizen = Database.session().get(Citizen, claims[itsme_op.NRN_CLAIM])
    if citizen is None:
        return _page(_("Votre numéro de registre national n'est pas connu de CSAM."), 400)
    return authn.complete(citizen.nrn, METHOD)


@bp.get("/itsme/jwks.json")
def jwks():
    return jsonify(rp_jwks(current_app))


METHOD = Method(code="itsme", group="eid", label=_l("IDENTIFICATION via itsme"),
                level="urn:be:fedict:iam:fas:Level450", blueprint=bp, entry="itsme.start",
                extra_links=((_l("Créez votre compte itsme"), "itsme_op.create_account"),))
