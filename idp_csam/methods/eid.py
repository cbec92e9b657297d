"""The eID card reader (G03): a virtual card in a simulated reader, its PIN,
the card signing a fresh challenge, and the PUK when the card is blocked.

``?logiciel=absent`` simulates a computer without the eID software (the
guide's prerequisite): the page then tells the person to install it."""
from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_wtf import FlaskForm
from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from fedsim import clock
from fedsim.db import Database
from idp_csam import authn
from idp_csam.cardpki import CardVerifier
from idp_csam.eid import CardReader, PinRefused, sign_in
from idp_csam.fields import CARD_MAX, PIN_MAX, MaxLength
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.methods import Method
from idp_csam.models import Base

bp = Blueprint("eid", __name__)

CHALLENGE_KEY = "eid_challenge"
CHALLENGE_LIFETIME = timedelta(minutes=5)


class PinForm(FlaskForm):
    # validate_choice=False: an unknown card is refused by the reader, in French
    # (WTForms would say "Not a valid choice.").
    card = SelectField(_l("Carte eID dans le lecteur"), validators=[InputRequired(_l("Choisissez une carte.")),
                                                                    MaxLength(CARD_MAX)], validate_choice=False)
    pin = PasswordField(_l("Code PIN"), validators=[InputRequired(_l("Tapez votre code PIN.")), MaxLength(PIN_MAX)])


class PukForm(FlaskForm):
    card = SelectField(_l("Carte eID dans le lecteur"), validators=[InputRequired(_l("Choisissez une carte.")),
                                                                    MaxLength(CARD_MAX)], validate_choice=False)
    puk = PasswordField(_l("Code PUK"), validators=[InputRequired(_l("Tapez votre code PUK.")), MaxLength(PIN_MAX)])
    new_pin = PasswordField(_l("Nouveau code PIN"), validators=[InputRequired(_l("Choisissez un nouveau code PIN.")),
                                                                MaxLength(PIN_MAX)])
    new_pin_confirm = PasswordField(_l("Confirmez le nouveau code PIN"),
                                    validators=[InputRequired(_l("Confirmez le nouveau code PIN.")),
                                                MaxLength(PIN_MAX)])


def _reader() -> CardReader:
    return current_app.extensions["idp_csam.reader"]


def _verifier() -> CardVerifier:
    return current_app.extensions["idp_csam.card_verifier"]


def _card_choices(form: PinForm | PukForm) -> list[str]:
    """Fill the reader's list; returns the numbers of the cards that can sign in
    (not blocked, not revoked, certificate not expired), in list order."""
    cards = _reader().listing(Database.session())
    label = gettext("carte %(number)s")  # translated once, filled for each card (as gettext(…, number=…))
    form.card.choices = [SelectChoice(c.number, f"{c.given_name} {c.surname} — " + label % {"number": c.number})
                         for c in cards]
    now = clock.now()
    return [c.number for c in cards if _usable(c, now)]


def _usable(card, now: datetime) -> bool:
    if card.blocked_at is not None or card.revoked_at is not None:
        return False
    pki = _reader().pki
    certificate = pki.card_certificate(card.number) if pki is not None else None
    return certificate is None or certificate.not_valid_after_utc >= now


def _software_missing() -> bool:
    return request.args.get("logiciel") == "absent"


class SpentChallenge(Base):
    """Nonces already presented. The challenge leaves the session when it is
    read, but two requests of one session may read it at the same time: this
    table makes each nonce single use."""
    __tablename__ = "eid_spent_challenge"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]


def _spend(nonce: str, expires: datetime) -> bool:
    """True the first time ``nonce`` is presented."""
    db = Database.session()
    now = clock.naive_utc_now()
    db.execute(delete(SpentChallenge).where(SpentChallenge.expires_at < now))
    key = hashlib.sha256(nonce.encode()).hexdigest()
    if db.get(SpentChallenge, key) is not None:
        db.commit()
        return False
    db.add(SpentChallenge(nonce_hash=key, expires_at=expires.astimezone(UTC).replace(tzinfo=None)))
    try:
        db.commit()
    except IntegrityError:  # presented twice at the same moment
        db.rollback()
        return False
    return True


def _new_challenge() -> None:
    """A fresh nonce for the card to sign, kept in the CSAM session."""
    session[CHALLENGE_KEY] = {"nonce": secrets.token_hex(32), "at": clock.now().isoformat()}


def _take_challenge() -> bytes | None:
    """The pending nonce, used once: gone from the session whatever happens."""
    pending = session.pop(CHALLENGE_KEY, None)
    if not isinstance(pending, dict):
        return None
    try:
        expires = datetime.fromisoformat(pending["at"]) + CHALLENGE_LIFETIME
        nonce = bytes.fromhex(pending["nonce"])
    except (KeyError, TypeError, ValueError):
        return None
    if clock.now() > expires:
        return None
    return nonce


def _errors(form: FlaskForm) -> str:
    return " ".join(str(e) for errs in form.errors.values() for e in errs)


@bp.route("/eid", methods=["GET", "POST"])
def start():
    if _software_missing():
        return render_template("idp_csam/eid/install.html")
    form = PinForm()
    usable = _card_choices(form)
    if not form.is_submitted():  # preselect a card that can sign in, never an expired one
        form.card.data = usable[0] if usable else ""
    error, status, unblock = None, 200, None
    if form.is_submitted():
        challenge = _take_challenge()
        if not form.validate():
            error, status = _errors(form), 400
        elif challenge is None:
            error, status = gettext("La lecture de la carte eID a expiré : recommencez l'identification."), 400
        else:
            try:
                nrn = sign_in(Database.session(), _reader(), _verifier(), form.card.data, form.pin.data, challenge)
            except PinRefused as refused:
                error, status, unblock = refused.message, 400, refused.unblock
            else:
                # Recorded only now, so refused attempts store nothing; two
                # requests racing with one challenge cannot both log in.
                if _spend(challenge.hex(), datetime.now(UTC) + CHALLENGE_LIFETIME):
                    return authn.complete(nrn, METHOD)
                error, status = gettext("La lecture de la carte eID a déjà servi : recommencez l'identification."), 400
    _new_challenge()
    return render_template("idp_csam/eid.html", form=form, error=error, unblock=unblock), status


@bp.route("/eid/puk", methods=["GET", "POST"])
def unblock():
    form = PukForm()
    _card_choices(form)
    if not form.is_submitted() and request.args.get("carte"):
        form.card.data = request.args["carte"]
    error, status = None, 200
    if form.validate_on_submit():
        try:
            _reader().unblock(Database.session(), form.card.data, form.puk.data, form.new_pin.data,
                              form.new_pin_confirm.data)
        except PinRefused as refused:
            error, status = refused.message, 400
        else:
            flash(gettext("Votre carte eID est débloquée : identifiez-vous avec votre nouveau code PIN."))
            return redirect(url_for("eid.start"))
    elif form.is_submitted():
        error, status = _errors(form), 400
    return render_template("idp_csam/eid/puk.html", form=form, error=error), status


METHOD = Method(code="eid", group="eid", label=_l("IDENTIFICATION avec un lecteur de cartes eID"),
                level="urn:be:fedict:iam:fas:Level500", blueprint=bp, entry="eid.start")
