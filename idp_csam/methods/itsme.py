"""itsme (G04): CSAM as an OpenID Connect relying party of the (simulated)
itsme OP of idp_csam.itsme_op. The person types their phone number, CSAM
sends a signed request object, the person confirms on the phone, CSAM
exchanges the code with a private_key_jwt client assertion and accepts the
ID token only signed by the OP then encrypted for CSAM. It then asks
userinfo with the access token and accepts the answer only as a JWT signed by
the OP then encrypted for CSAM, from the OP, for CSAM, about the ID token's
subject, its claims (national number, names) equal to the ID token's.

The token exchange, the OP's JWKS and userinfo go through
idp_csam.itsme_backchannel: HTTP when the federation is served on ports,
in-process otherwise. An OP that does not answer refuses the login, saying so.
What CSAM accepts is checked in idp_csam.methods.itsme_checks, the
back-channel leg is idp_csam.methods.itsme_exchange.
"""
from __future__ import annotations

import logging
import secrets
import uuid
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
from jose import jwt
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from fedsim import clock
from fedsim.db import Database
from idp_csam import authn, itsme_op
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.methods import Method
from idp_csam.methods.itsme_checks import (  # re-exported (itsme.verify_id_token)
    ASSERTION_LIFETIME,  # noqa: F401 - re-exported
    SHARED_CLAIMS,  # noqa: F401 - re-exported
    Expected,  # noqa: F401 - re-exported
    IdTokenRefused,  # noqa: F401 - re-exported
    UserInfoRefused,  # noqa: F401 - re-exported
    client_assertion,  # noqa: F401 - re-exported
    verify_id_token,  # noqa: F401 - re-exported
    verify_userinfo,  # noqa: F401 - re-exported
)
from idp_csam.methods.itsme_exchange import Exchange, LoginRefused, RelyingParty
from idp_csam.models import Citizen

log = logging.getLogger(__name__)

bp = Blueprint("itsme", __name__)

SIG_KEY, ENC_KEY = "csam-itsme-rp-sig", "csam-itsme-rp-enc"
ACR = itsme_op.ACR_ADVANCED  # Level450 needs itsme's advanced level
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
        "claims": {target: {itsme_op.NRN_CLAIM: {"essential": True}, "given_name": None, "family_name": None}
                   for target in ("id_token", "userinfo")},
    }, itsme_op.private_key(app, SIG_KEY), algorithm="RS256",
        headers={"kid": itsme_op.public_jwk(itsme_op.private_key(app, SIG_KEY), "RS256", "sig")["kid"]})
    query = urlencode({"client_id": itsme_op.CLIENT_ID, "response_type": "code", "scope": "openid service:CSAM_LOGIN",
                       "request": request_object})
    return redirect(f"{itsme_op.endpoint_url('authorize')}?{query}")


def relying_party(app) -> RelyingParty:
    """CSAM as itsme's client: its keys and registration, the OP's URLs."""
    return RelyingParty(client_id=itsme_op.CLIENT_ID, redirect_uri=_redirect_uri(),
                        sig_pem=itsme_op.private_key(app, SIG_KEY), enc_pem=itsme_op.private_key(app, ENC_KEY),
                        issuer=itsme_op.issuer(), token_endpoint=itsme_op.endpoint_url("token"),
                        jwks_uri=itsme_op.endpoint_url("jwks"), userinfo_endpoint=itsme_op.endpoint_url("userinfo"),
                        acr_values=(ACR,))


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
    exchange = Exchange(relying_party(app), itsme_op.backchannel(), request.args.get("state", ""))
    try:
        info = exchange.run(request.args.get("code", ""), pending["nonce"])
    except LoginRefused as refused:
        return _page(refused.message, refused.status)
    citizen = Database.session().get(Citizen, info[itsme_op.NRN_CLAIM])
    if citizen is None:
        return _page(_("Votre numéro de registre national n'est pas connu de CSAM."), 400)
    return authn.complete(citizen.nrn, METHOD)


@bp.get("/itsme/jwks.json")
def jwks():
    return jsonify(rp_jwks(current_app))


METHOD = Method(code="itsme", group="eid", label=_l("IDENTIFICATION via itsme"),
                level="urn:be:fedict:iam:fas:Level450", blueprint=bp, entry="itsme.start",
                extra_links=((_l("Créez votre compte itsme"), "itsme_op.create_account"),))
