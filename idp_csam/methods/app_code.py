"""Security code via a mobile app (G06): the CSAM username + password, then
a TOTP code (RFC 6238) from an authenticator app. An account without a TOTP
secret is first enrolled: a QR code of the provisioning URI (and the secret
in text), confirmed with a first code, so a real app can be used in demos."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import ForeignKey, String, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired

from fedsim import attempts, clock
from fedsim.db import Database
from idp_csam import authn
from idp_csam.credentials import PasswordRefused
from idp_csam.fields import CODE_MAX, PASSWORD_MAX, USERNAME_MAX, MaxLength
from idp_csam.i18n import N_, ngettext
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.methods import Method
from idp_csam.models import Base

bp = Blueprint("app_code", __name__)

ISSUER = "CSAM (simulateur)"
MAX_TRIES = 5  # wrong codes per login; app config APP_CODE_MAX_TRIES overrides
STATE = "app_code"  # the session key of a login in progress


class AppCodeKey(Base):
    """An account's authenticator app: its TOTP secret (unconfirmed until the
    first correct code) and the last time step used, which cannot be reused."""
    __tablename__ = "csam_app_code"

    username: Mapped[str] = mapped_column(ForeignKey("csam_account.username"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    confirmed: Mapped[bool] = mapped_column(default=False)
    last_step: Mapped[int | None]


class AppCodeLogin(Base):
    """The wrong codes of one login in progress (its id is kept in the CSAM
    session): claimed in the database before each check (``fedsim.attempts``)."""
    __tablename__ = "csam_app_code_login"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("csam_account.username"))
    created_at: Mapped[datetime]
    tries: Mapped[int] = mapped_column(default=0)


# A login still in progress after this long was abandoned: its CSAM session
# (which alone knows the row's id) has expired too (SESSION_MAX_AGE, 24 h).
ABANDONED_AFTER = timedelta(hours=24)


def purge(db: Session, now: datetime) -> int:
    """Delete the try counters of logins abandoned for ``ABANDONED_AFTER``."""
    deleted = db.execute(delete(AppCodeLogin).where(AppCodeLogin.created_at < now - ABANDONED_AFTER)).rowcount
    db.commit()
    return deleted


class CodeRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


WRONG_FORMAT = N_("Le code de sécurité se compose de 6 chiffres : tapez-le tel qu'il s'affiche dans l'application.")
WRONG_CODE = N_("Code de sécurité incorrect. Vérifiez l'heure de votre téléphone et tapez le code affiché maintenant.")
REUSED = N_("Ce code de sécurité a déjà été utilisé. Attendez le code suivant dans l'application.")


def check_code(secret: str, code: str, last_step: int | None, at: datetime | None = None) -> int:
    """The time step of a valid, unused ``code`` at ``at`` (default: the shared
    clock), one step of skew either way; else CodeRefused."""
    at = at or clock.now()
    code = "".join((code or "").split())
    if len(code) != 6 or not code.isdigit():
        raise CodeRefused(_(WRONG_FORMAT))
    totp = pyotp.TOTP(secret)
    if not totp.verify(code, for_time=at, valid_window=1):
        raise CodeRefused(_(WRONG_CODE))
    step = next(totp.timecode(at + timedelta(seconds=d * totp.interval)) for d in (0, -1, 1)
                if totp.at(at + timedelta(seconds=d * totp.interval)) == code)
    if last_step is not None and step <= last_step:
        raise CodeRefused(_(REUSED))
    return step


def provisioning_uri(key: AppCodeKey) -> str:
    return pyotp.TOTP(key.secret).provisioning_uri(name=key.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    return Markup(segno.make(uri, error="m").svg_inline(scale=5, title=_("Code QR à scanner avec l'application")))


class PasswordForm(FlaskForm):
    username = StringField(_l("Nom d'utilisateur"), validators=[InputRequired(_l("Tapez votre nom d'utilisateur.")),
                                                            MaxLength(USERNAME_MAX)])
    password = PasswordField(_l("Mot de passe"), validators=[InputRequired(_l("Tapez votre mot de passe.")),
                                                         MaxLength(PASSWORD_MAX)])


class CodeForm(FlaskForm):
    code = StringField(_l("Code de sécurité"), validators=[InputRequired(_l("Tapez le code de sécurité.")), MaxLength(CODE_MAX)])


@dataclass
class Login:
    """The login in progress, kept in the CSAM session."""
    username: str
    nrn: str
    id: str

    @classmethod
    def current(cls) -> Login | None:
        state = session.get(STATE)
        return cls(**state) if state and state.get("id") else None

    def save(self) -> None:
        session[STATE] = {"username": self.username, "nrn": self.nrn, "id": self.id}


def _errors(form: FlaskForm) -> str:
    return " ".join(str(e) for errs in form.errors.values() for e in errs)


def _max_tries() -> int:
    return int(current_app.config.get("APP_CODE_MAX_TRIES", MAX_TRIES))


@bp.route("/code-app", methods=["GET", "POST"])
def start():
    form = PasswordForm()
    error, status = None, 200
    if form.validate_on_submit():
        db = Database.session()
        try:
            citizen = current_app.extensions["idp_csam.credentials"].verify(db, form.username.data,
                                                                            form.password.data)
        except PasswordRefused as refused:
            error, status = refused.message, 400
        else:
            login = Login(username=form.username.data.strip(), nrn=citizen.nrn, id=secrets.token_urlsafe(32))
            db.add(AppCodeLogin(id=login.id, username=login.username, created_at=clock.naive_utc_now()))
            db.commit()
            login.save()
            key = db.get(AppCodeKey, login.username)
            return redirect(url_for("app_code.code" if key and key.confirmed else "app_code.enrol"))
    elif form.is_submitted():
        error, status = _errors(form), 400
    return render_template("idp_csam/app_code/password.html", form=form, error=error), status


def _attempt(db: Session, login: Login, key: AppCodeKey, form: CodeForm):
    """Check the submitted code; a response when the login ends (success or
    too many tries), else the error message to show."""
    outcome = attempt(db, login, key, form.code.data, _max_tries())
    if outcome is None:
        session.pop(STATE, None)
        return authn.complete(login.nrn, METHOD)
    if outcome.left <= 0:
        session.pop(STATE, None)
        return render_template("idp_csam/app_code/too_many.html", tries=_max_tries()), 429
    return outcome.message


@dataclass(frozen=True)
class Refusal:
    message: str
    left: int


def attempt(db: Session, login: Login, key: AppCodeKey, code: str, max_tries: int) -> Refusal | None:
    """None when ``code`` logs in, else why not and how many tries are left.

    The try is claimed in the database before the code is checked, and the
    time step is spent with a conditional update: guesses sent at once check
    at most ``max_tries`` codes, and one valid code logs in once."""
    if not attempts.claim(db, AppCodeLogin.tries, max_tries, AppCodeLogin.id == login.id):
        return Refusal("", 0)
    try:
        step = check_code(key.secret, code, key.last_step)
    except CodeRefused as refused:
        left = max_tries - db.scalar(select(AppCodeLogin.tries).where(AppCodeLogin.id == login.id))
        return Refusal(f"{refused.message} " + ngettext("Il vous reste %(num)d essai.", "Il vous reste %(num)d essais.",
                                                        left), left)
    spent = db.execute(update(AppCodeKey).where(
        AppCodeKey.username == key.username, or_(AppCodeKey.last_step.is_(None), AppCodeKey.last_step < step),
    ).values(confirmed=True, last_step=step).execution_options(synchronize_session=False)).rowcount == 1
    if spent:
        db.execute(delete(AppCodeLogin).where(AppCodeLogin.id == login.id))
    db.commit()
    db.refresh(key)
    if not spent:
        left = max_tries - db.scalar(select(AppCodeLogin.tries).where(AppCodeLogin.id == login.id))
        return Refusal(f"{_(REUSED)} " + ngettext("Il vous reste %(num)d essai.", "Il vous reste %(num)d essais.", left),
                       left)
    return None


def _code_page(template: str, enrolling: bool):
    login = Login.current()
    if login is None:
        return redirect(url_for("app_code.start"))
    db = Database.session()
    key = db.get(AppCodeKey, login.username)
    if enrolling and key is None:
        key = AppCodeKey(username=login.username, secret=pyotp.random_base32())
        db.add(key)
        db.commit()
    elif key is None or key.confirmed == enrolling:
        return redirect(url_for("app_code.code" if enrolling else "app_code.enrol"))
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        outcome = _attempt(db, login, key, form)
        if not isinstance(outcome, str):
            return outcome
        error, status = outcome, 400
    elif form.is_submitted():
        error, status = _errors(form), 400
    extra = {}
    if enrolling:
        uri = provisioning_uri(key)
        extra = {"qr": qr_svg(uri), "secret": key.secret, "uri": uri, "issuer": ISSUER}
    return render_template(template, form=form, error=error, username=login.username, **extra), status


@bp.route("/code-app/enrolement", methods=["GET", "POST"])
def enrol():
    return _code_page("idp_csam/app_code/enrol.html", enrolling=True)


@bp.route("/code-app/code", methods=["GET", "POST"])
def code():
    return _code_page("idp_csam/app_code/code.html", enrolling=False)


METHOD = Method(code="app-code", group="code",
                label=_l("IDENTIFICATION avec un code de sécurité via une application mobile"),
                level="urn:be:fedict:iam:fas:Level400", blueprint=bp, entry="app_code.start")
