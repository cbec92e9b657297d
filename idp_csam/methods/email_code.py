"""Security code by e-mail (G05, G21): username + password, then a 6-digit
code CSAM sends to the citizen's e-mail address.

Level of assurance: the FAS publishes no level for this key (it lists
Level200 for username + password and Level400 for the code from a mobile
app). ``urn:be:fedict:iam:fas:Level300`` is the simulator's choice: more
than a password alone, less than an app bound to a device.

The code is stored as a keyed hash, bound to this browser's pending login
(its id lives in the CSAM session), valid ``EMAIL_CODE_LIFETIME`` on the
shared clock, ``EMAIL_CODE_MAX_ATTEMPTS`` tries, single use. « Renvoyer le
code » makes a new code and invalidates the previous one, at most once per
``EMAIL_CODE_RESEND_DELAY``.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired

from fedsim import attempts, clock, keys
from fedsim.db import Database
from fedsim.mail import Mailer
from fedsim.purge import GRACE
from idp_csam import authn
from idp_csam.credentials import PasswordRefused
from idp_csam.fields import CODE_MAX, PASSWORD_MAX, USERNAME_MAX, MaxLength
from idp_csam.i18n import N_, ngettext
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.methods import Method
from idp_csam.models import Base, Citizen

bp = Blueprint("email_code", __name__)

SESSION_KEY = "email_code_challenge"
SUBJECT = N_("CSAM — votre code de sécurité")
TITLE = _l("IDENTIFICATION avec un code de sécurité envoyé par e-mail")


class EmailCodeChallenge(Base):
    """One code sent by e-mail for one pending login."""
    __tablename__ = "email_code_challenge"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)  # also kept in the browser's session
    nrn: Mapped[str] = mapped_column(ForeignKey("citizen.nrn"))
    code_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
    replaced_at: Mapped[datetime | None]  # « Renvoyer le code » made a newer one


class CodeRefused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def mailer() -> Mailer:
    """CSAM's mailer (also used by the BEL activation e-mails)."""
    config = current_app.config
    return Mailer(config["SMTP_HOST"], int(config["SMTP_PORT"]), "CSAM", config["MAIL_SENDER"])


def _digest(challenge_id: str, code: str) -> str:
    return hmac.new(keys.key("code"), f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def purge(db: Session, now: datetime) -> int:
    """Delete challenges expired more than ``GRACE`` ago (until then a late
    code is told it expired)."""
    deleted = db.execute(delete(EmailCodeChallenge).where(EmailCodeChallenge.expires_at < now - GRACE)).rowcount
    db.commit()
    return deleted


def _plural(n: int) -> str:
    return f"{n} essai" if n == 1 else f"{n} essais"


def send_code(db: Session, citizen: Citizen) -> EmailCodeChallenge:
    """A new code for this browser's login: the previous one stops working."""
    now = clock.naive_utc_now()
    previous = _current(db)
    if previous is not None and previous.used_at is None and previous.replaced_at is None:
        previous.replaced_at = now
    code = f"{secrets.randbelow(10**6):06d}"
    challenge = EmailCodeChallenge(id=secrets.token_urlsafe(32), nrn=citizen.nrn, created_at=now,
                                   expires_at=now + current_app.config["EMAIL_CODE_LIFETIME"])
    challenge.code_digest = _digest(challenge.id, code)
    db.add(challenge)
    minutes = int(current_app.config["EMAIL_CODE_LIFETIME"].total_seconds() // 60)
    text = render_template("idp_csam/email_code/mail.txt", citizen=citizen, code=code, minutes=minutes)
    html = render_template("idp_csam/email_code/mail.html", citizen=citizen, code=code, minutes=minutes)
    mailer().send(citizen.email, _(SUBJECT), text, html)  # MailNotSent: nothing committed
    db.commit()
    session[SESSION_KEY] = challenge.id
    return challenge


def _current(db: Session) -> EmailCodeChallenge | None:
    challenge_id = session.get(SESSION_KEY)
    return db.get(EmailCodeChallenge, challenge_id) if challenge_id else None


def check_code(db: Session, typed: str) -> Citizen:
    """The citizen whose pending code (this browser's) this is, else CodeRefused (in French)."""
    return check_challenge(db, _current(db), typed)


def check_challenge(db: Session, challenge: EmailCodeChallenge | None, typed: str) -> Citizen:
    """Each guess first claims one of the ``EMAIL_CODE_MAX_ATTEMPTS`` tries in
    the database (``fedsim.attempts``), so guesses sent at once cannot check
    more codes than the limit; the single use is claimed the same way."""
    resend = _("Cliquez sur « Renvoyer le code » pour en recevoir un nouveau.")
    used = CodeRefused(_("Ce code de sécurité a déjà été utilisé : il ne sert qu'une fois. Identifiez-vous "
                       "à nouveau avec votre nom d'utilisateur et votre mot de passe."), 409)
    if challenge is None:
        raise CodeRefused(_("Aucun code de sécurité n'est en attente pour cette connexion : identifiez-vous "
                          "d'abord avec votre nom d'utilisateur et votre mot de passe."), 409)
    if challenge.used_at is not None:
        raise used
    max_attempts = current_app.config["EMAIL_CODE_MAX_ATTEMPTS"]
    too_many = CodeRefused(_("Trop d'essais erronés (%(max)d) : ce code de sécurité n'est plus valable. ",
                             max=max_attempts) + resend, 429)
    if challenge.attempts >= max_attempts:
        raise too_many
    if challenge.expires_at <= clock.naive_utc_now():
        minutes = int(current_app.config["EMAIL_CODE_LIFETIME"].total_seconds() // 60)
        raise CodeRefused(_("Ce code de sécurité a expiré (il est valable %(minutes)d minutes). ", minutes=minutes)
                          + resend, 410)
    if not attempts.claim(db, EmailCodeChallenge.attempts, max_attempts, EmailCodeChallenge.id == challenge.id,
                          EmailCodeChallenge.used_at.is_(None)):
        db.refresh(challenge)
        raise used if challenge.used_at is not None else too_many
    db.refresh(challenge)
    code = "".join((typed or "").split())
    if not hmac.compare_digest(challenge.code_digest, _digest(challenge.id, code)):
        left = max_attempts - challenge.attempts
        if left <= 0:
            raise CodeRefused(_("Code de sécurité incorrect. Trop d'essais erronés (%(max)d) : ce code "
                                "n'est plus valable. ", max=max_attempts) + resend, 429)
        return_hint = _(" Utilisez le code du dernier e-mail reçu.") if _was_replaced(db, challenge) else ""
        raise CodeRefused(ngettext("Code de sécurité incorrect. Il vous reste %(num)d essai.",
                                    "Code de sécurité incorrect. Il vous reste %(num)d essais.", left) + return_hint)
    spent = db.execute(update(EmailCodeChallenge).where(
        EmailCodeChallenge.id == challenge.id, EmailCodeChallenge.used_at.is_(None),
    ).values(used_at=clock.naive_utc_now()).execution_options(synchronize_session=False)).rowcount == 1
    db.commit()
    if not spent:  # a parallel submission of the same code won
        raise used
    db.refresh(challenge)
    return db.get(Citizen, challenge.nrn)


def _was_replaced(db: Session, challenge: EmailCodeChallenge) -> bool:
    """Did this login already receive an earlier code (the person may type the old one)?"""
    return db.scalars(select(EmailCodeChallenge.id).where(
        EmailCodeChallenge.nrn == challenge.nrn, EmailCodeChallenge.replaced_at.is_not(None),
        EmailCodeChallenge.created_at >= challenge.created_at - current_app.config["EMAIL_CODE_LIFETIME"],
    )).first() is not None


class PasswordForm(FlaskForm):
    username = StringField(_l("Nom d'utilisateur"), validators=[InputRequired(_l("Tapez votre nom d'utilisateur.")),
                                                            MaxLength(USERNAME_MAX)])
    password = PasswordField(_l("Mot de passe"), validators=[InputRequired(_l("Tapez votre mot de passe.")),
                                                         MaxLength(PASSWORD_MAX)])


class CodeForm(FlaskForm):
    code = StringField(_l("Code de sécurité"),
                       validators=[InputRequired(_l("Tapez le code de sécurité reçu par e-mail.")), MaxLength(CODE_MAX)])


class ResendForm(FlaskForm):
    pass


def _errors(form: FlaskForm) -> str:
    return " ".join(str(e) for errs in form.errors.values() for e in errs)


@bp.route("/email-code", methods=["GET", "POST"])
def start():
    form = PasswordForm()
    error, status = None, 200
    if form.validate_on_submit():
        db = Database.session()
        try:
            citizen = current_app.extensions["idp_csam.credentials"].verify(db, form.username.data, form.password.data)
        except PasswordRefused as refused:
            error, status = refused.message, 400
        else:
            send_code(db, citizen)
            return redirect(url_for("email_code.code"))
    elif form.is_submitted():
        error, status = _errors(form), 400
    return render_template("idp_csam/email_code/password.html", form=form, error=error, title=TITLE), status


@bp.route("/email-code/code", methods=["GET", "POST"])
def code():
    db = Database.session()
    form = CodeForm()
    error, status = None, 200
    challenge = _current(db)
    if form.validate_on_submit():
        try:
            citizen = check_code(db, form.code.data)
        except CodeRefused as refused:
            error, status = refused.message, refused.status
        else:
            return authn.complete(citizen.nrn, METHOD)
    elif form.is_submitted():
        error, status = _errors(form), 400
    elif challenge is None:
        error, status = check_refusal(db), 409
    email = _masked(db.get(Citizen, challenge.nrn).email) if challenge else None
    return render_template("idp_csam/email_code/code.html", form=form, resend=ResendForm(), error=error,
                           email=email, title=TITLE, notice=session.pop("email_code_notice", None)), status


def check_refusal(db: Session) -> str:
    try:
        check_code(db, "")
    except CodeRefused as refused:
        return refused.message
    return ""  # pragma: no cover - an empty code never matches


@bp.post("/email-code/renvoyer")
def resend():
    db = Database.session()
    form = ResendForm()
    if not form.validate_on_submit():
        return redirect(url_for("email_code.code"))
    challenge = _current(db)
    if challenge is None or challenge.used_at is not None:
        message = (_("Aucune connexion par code de sécurité n'est en cours : identifiez-vous d'abord avec votre "
                   "nom d'utilisateur et votre mot de passe."))
        return render_template("idp_csam/email_code/password.html", form=PasswordForm(formdata=None),
                               error=message, title=TITLE), 409
    wait = challenge.created_at + current_app.config["EMAIL_CODE_RESEND_DELAY"] - clock.naive_utc_now()
    if wait.total_seconds() > 0:
        seconds = int(wait.total_seconds()) + 1
        message = _("Un code vient d'être envoyé : vous pourrez en demander un nouveau dans %(seconds)d "
                    "secondes. Vérifiez aussi vos courriers indésirables.", seconds=seconds)
        email = _masked(db.get(Citizen, challenge.nrn).email)
        return render_template("idp_csam/email_code/code.html", form=CodeForm(formdata=None), resend=form,
                               error=message, email=email, title=TITLE, notice=None), 429
    send_code(db, db.get(Citizen, challenge.nrn))
    session["email_code_notice"] = (_("Un nouveau code de sécurité vous a été envoyé ; "
                                    "le précédent n'est plus valable."))
    return redirect(url_for("email_code.code"))


def _masked(email: str) -> str:
    local, _at, domain = email.partition("@")
    return f"{local[:2]}{'•' * max(len(local) - 2, 1)}@{domain}"


METHOD = Method(code="email-code", group="code", label=TITLE, level="urn:be:fedict:iam:fas:Level300",
                blueprint=bp, entry="email_code.start")
