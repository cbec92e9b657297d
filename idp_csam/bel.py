"""Foreign nationals (G20, G21): the Bureau d'Enregistrement Local (BEL).

An office agent registers a person without a Belgian identity card: CSAM
creates a citizen with a new BIS number, the agent hands out a one-time
code on paper, and CSAM e-mails an activation link. The person follows the
link, types the paper code, chooses the only key offered (« code de sécurité
envoyé par e-mail »), sets a CSAM username and password, and then logs in by
username + password + e-mail code. The link and the code are valid
``BEL_ACTIVATION_LIFETIME`` (on the shared clock) and work once; both are
stored hashed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from wtforms import PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, EqualTo, InputRequired, Length, Regexp

from fedsim import attempts, clock, keys, nrn, sessions
from fedsim.db import Database
from fedsim.federation import Settings
from fedsim.web import UserError
from idp_csam import bel_agent, fields
from idp_csam.credentials import CsamAccount
from idp_csam.eid import fedid
from idp_csam.fields import FrenchDateField, MaxLength
from idp_csam.i18n import N_, ngettext, when
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.methods.email_code import METHOD as EMAIL_CODE
from idp_csam.methods.email_code import mailer
from idp_csam.models import Base, Citizen

bp = Blueprint("bel", __name__, url_prefix="/bel")

SUBJECT = N_("CSAM — activez votre clé numérique")
LINK_TEXT = N_("Activer ma clé numérique")
PAPER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read from paper
PAPER_CODE_MAX_ATTEMPTS = 5
SESSION_KEY = "bel_activation"


class BelRegistration(Base):
    """A person registered at a BEL, until their digital key is activated."""
    __tablename__ = "bel_registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    nrn: Mapped[str] = mapped_column(ForeignKey("citizen.nrn"))  # the BIS number
    nationality: Mapped[str] = mapped_column(String(80))
    birth_date: Mapped[date]
    link_digest: Mapped[str] = mapped_column(String(64), unique=True)
    paper_code_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    code_attempts: Mapped[int] = mapped_column(default=0)
    activated_at: Mapped[datetime | None]
    registered_by: Mapped[str | None] = mapped_column(String(80))  # the BEL agent's username


def _digest(kind: str, value: str) -> str:
    return hmac.new(keys.key("code"), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _normalise_paper_code(text: str) -> str:
    return re.sub(r"[\s-]", "", text or "").upper()


def _new_bis(db: Session, birth_date: date) -> str:
    """The first free BIS number (sex unknown) for this birth date. Two
    registrations at once may both find it: the citizen table's primary key
    lets one have it, and :func:`register_person` tries again."""
    for serial in range(1, 999):
        candidate = nrn.make(birth_date, serial, bis="sex-unknown")
        if db.get(Citizen, candidate) is None:
            return candidate
    raise UserError(_("Plus aucun numéro BIS libre pour cette date de naissance."), code=409)


# -- the office agent (G20) ------------------------------------------------------

DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)
REGISTER_TRIES = 20


class BelSubmission(Base):
    """One sent registration form (this browser, this person): the same form
    sent again within ``DOUBLE_SUBMIT_WINDOW`` (a double click, a reload)
    shows the same registration, and two sent at once make one, the primary
    key deciding. The paper code and the link token are derived from
    ``salt`` with CSAM's key, so the page can show the same code again."""
    __tablename__ = "bel_submission"

    request_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("bel_registration.id"))
    salt: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class Person:
    """What the agent typed about the person."""
    given_name: str
    surname: str
    birth_date: date
    nationality: str
    email: str

    def fingerprint(self) -> str:
        return "\x1f".join(" ".join(part.split()).casefold() for part in (
            self.given_name, self.surname, self.birth_date.isoformat(), self.nationality, self.email))


@dataclass(frozen=True)
class Registered:
    citizen: Citizen
    registration: BelRegistration
    paper_code: str
    again: bool  # the same form sent a second time


def _codes(salt: str) -> tuple[str, str]:
    """The paper code and the link token of a registration."""
    paper = hmac.new(keys.key("code"), f"bel-paper:{salt}".encode(), hashlib.sha256).digest()
    link = hmac.new(keys.key("code"), f"bel-link:{salt}".encode(), hashlib.sha256).digest()
    alphabet = PAPER_CODE_ALPHABET  # 32 letters: a byte modulo 32 is uniform
    return "".join(alphabet[b % len(alphabet)] for b in paper[:8]), \
        base64.urlsafe_b64encode(link).rstrip(b"=").decode()


def register_person(db: Session, person: Person, browser: str = "", agent: str | None = None) -> Registered:
    """A new citizen with a BIS number and their registration, the activation
    e-mail sent; or the registration this browser made of this person less
    than ``DOUBLE_SUBMIT_WINDOW`` ago. Concurrent registrations never share
    a BIS number (the citizen's primary key) nor duplicate a form (the
    submission's): the loser of either race rolls back and looks again."""
    key = _digest("request", f"{browser}\x1e{person.fingerprint()}")
    for _attempt in range(REGISTER_TRIES):
        now = clock.naive_utc_now()
        earlier = db.get(BelSubmission, key)
        if earlier is not None and earlier.created_at > now - DOUBLE_SUBMIT_WINDOW:
            registration = db.get(BelRegistration, earlier.registration_id)
            db.rollback()
            return Registered(db.get(Citizen, registration.nrn), registration, _codes(earlier.salt)[0], again=True)
        if earlier is not None:  # long ago: the person may come back for a new registration
            db.execute(delete(BelSubmission).where(BelSubmission.request_digest == key,
                                                   BelSubmission.created_at <= now - DOUBLE_SUBMIT_WINDOW))
        bis = _new_bis(db, person.birth_date)
        salt = secrets.token_hex(16)
        paper_code, token = _codes(salt)
        citizen = Citizen(nrn=bis, persona_id=f"bel-{bis}", given_name=person.given_name.strip(),
                          surname=person.surname.strip(), email=person.email.strip(), language="fr",
                          fedid=fedid(keys.key("identity"), bis))
        registration = BelRegistration(nrn=bis, nationality=person.nationality.strip(), registered_by=agent,
                                       birth_date=person.birth_date, link_digest=_digest("link", token),
                                       paper_code_digest=_digest("paper", paper_code), created_at=now,
                                       expires_at=now + current_app.config["BEL_ACTIVATION_LIFETIME"])
        try:
            db.add(citizen)
            db.flush()  # the citizen row first: the registration refers to it
            db.add(registration)
            db.flush()
            db.add(BelSubmission(request_digest=key, registration_id=registration.id, salt=salt, created_at=now))
            db.flush()
        except IntegrityError:  # another registration took this BIS number, or sent this very form
            db.rollback()
            continue
        try:
            _send_activation(citizen, registration, token)
        except Exception:
            db.rollback()  # MailNotSent: nothing recorded
            raise
        db.commit()
        return Registered(citizen, registration, paper_code, again=False)
    raise UserError(_("Le bureau enregistre beaucoup de personnes en ce moment : réessayez dans un instant."),
                    code=503, title=_("Enregistrement impossible"))


def _send_activation(citizen: Citizen, registration: BelRegistration, token: str) -> None:
    settings: Settings = current_app.config["FEDSIM_SETTINGS"]
    link = settings.base_url("idp_csam") + url_for("bel.activate", token=token)
    context = {"citizen": citizen, "link": link, "link_text": _(LINK_TEXT), "expires_at": registration.expires_at}
    mailer().send(citizen.email, _(SUBJECT), render_template("idp_csam/bel/mail.txt", **context),
                  render_template("idp_csam/bel/mail.html", **context))


class RegisterForm(FlaskForm):
    given_name = StringField(_l("Prénom"), validators=[InputRequired(_l("Tapez le prénom.")), MaxLength(fields.NAME_MAX)])
    surname = StringField(_l("Nom"), validators=[InputRequired(_l("Tapez le nom.")), MaxLength(fields.NAME_MAX)])
    birth_date = FrenchDateField(_l("Date de naissance"),
                                 validators=[InputRequired(_l("Tapez la date de naissance (AAAA-MM-JJ).")),
                                             MaxLength(fields.DATE_MAX)])
    nationality = StringField(_l("Nationalité"), validators=[InputRequired(_l("Tapez la nationalité.")),
                                                         MaxLength(fields.NATIONALITY_MAX)])
    email = StringField(_l("Adresse e-mail"), validators=[InputRequired(_l("Tapez l'adresse e-mail.")),
                                                      MaxLength(fields.EMAIL_MAX),
                                                      Email(_l("Cette adresse e-mail n'est pas valable."))])


def seed_office(db: Session, people) -> None:  # noqa: ANN001 - tuple[fedsim.personas.Persona, ...]
    """The personas' BEL agents (``bel_agent``; missing ones only). A persona
    with a BIS number and a CSAM username is a foreign national whose key a
    BEL activated: the citizen and the credentials are seeded as such
    (idp_csam.eid, idp_csam.credentials), no registration is pending."""
    bel_agent.seed(db, people)


class AgentLoginForm(FlaskForm):
    username = StringField(_l("Nom d'utilisateur de l'agent"), validators=[
        InputRequired(_l("Tapez votre nom d'utilisateur d'agent.")), MaxLength(fields.USERNAME_MAX)])
    password = PasswordField(_l("Mot de passe"), validators=[
        InputRequired(_l("Tapez votre mot de passe.")), MaxLength(fields.PASSWORD_MAX)])


class LogoutForm(FlaskForm):
    """The logout button: a POST with the form token."""


def _agent():
    """The logged-in agent and the person, or None."""
    return bel_agent.current(Database.session(), session)


@bp.route("/agent/connexion", methods=["GET", "POST"])
def agent_login():
    form = AgentLoginForm()
    error = None
    if form.validate_on_submit():
        db = Database.session()
        try:
            agent = bel_agent.verify(db, form.username.data, form.password.data)
        except bel_agent.AgentRefused as refused:
            error = refused.message
        else:
            sessions.regenerate()  # a new session id at login
            session[bel_agent.SESSION_KEY] = agent.username
            return redirect(url_for("bel.register"), code=303)
    elif form.is_submitted():
        error = " ".join(str(e) for errs in form.errors.values() for e in errs)
    elif _agent() is not None:
        return redirect(url_for("bel.register"), code=303)
    return render_template("idp_csam/bel/agent_login.html", form=form, error=error,
                           notice=request.args.get("motif")), 400 if error else 200


@bp.post("/agent/deconnexion")
def agent_logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        raise UserError(_("Le formulaire de déconnexion a expiré : rechargez la page et réessayez."), code=400,
                        title=_("Déconnexion refusée"))
    session.pop(bel_agent.SESSION_KEY, None)
    sessions.regenerate()
    return redirect(url_for("bel.agent_login", motif="deconnecte"), code=303)


@bp.route("/", methods=["GET", "POST"])
def register():
    agent = _agent()
    if agent is None:  # the office's page: an agent logs in first
        return redirect(url_for("bel.agent_login"), code=303)
    form = RegisterForm()
    if form.validate_on_submit():
        born = form.birth_date.data
        if not date(1900, 1, 1) <= born <= clock.naive_utc_now().date():
            return _register_page(form, agent, _("La date de naissance n'est pas plausible."))
        person = Person(given_name=form.given_name.data, surname=form.surname.data, birth_date=born,
                        nationality=form.nationality.data, email=form.email.data)
        # the browser: Flask-WTF's session token, the same for every form of this session
        done = register_person(Database.session(), person, browser=str(session.get("csrf_token", "")),
                               agent=agent[0].username)
        paper_code = done.paper_code
        return render_template("idp_csam/bel/registered.html", citizen=done.citizen, registration=done.registration,
                               bis=nrn.parse(done.citizen.nrn).formatted, again=done.again,
                               paper_code=f"{paper_code[:4]}-{paper_code[4:]}", agent=agent,
                               logout=LogoutForm())
    if form.is_submitted():
        return _register_page(form, agent, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return _register_page(form, agent)


def _register_page(form: RegisterForm, agent, error: str | None = None):  # noqa: ANN001 - (BelAgent, Citizen)
    return render_template("idp_csam/bel/register.html", form=form, error=error, agent=agent,
                           logout=LogoutForm()), 400 if error else 200


# -- the person, from the activation e-mail (G20) -------------------------------

def _registration(db: Session, token: str) -> BelRegistration:
    """The registration behind a link still usable, else a clear refusal."""
    registration = db.scalars(select(BelRegistration)
                              .where(BelRegistration.link_digest == _digest("link", token))).first()
    if registration is None:
        raise UserError(_("Ce lien d'activation n'est pas valable : vérifiez que vous avez copié toute "
                        "l'adresse du dernier e-mail reçu de CSAM."), code=404, title=_("Lien inconnu"))
    if registration.activated_at is not None:
        raise UserError(_("Ce lien d'activation a déjà été utilisé : votre clé numérique est active. "
                        "Identifiez-vous avec votre nom d'utilisateur, votre mot de passe et le code "
                        "de sécurité envoyé par e-mail."), code=410, title=_("Lien déjà utilisé"))
    if registration.expires_at <= clock.naive_utc_now():
        raise UserError(_("Ce lien d'activation a expiré le %(when)s (heure UTC), et le code unique remis sur "
                          "papier avec lui. Retournez au Bureau d'Enregistrement Local pour en recevoir de "
                          "nouveaux.", when=when(registration.expires_at)), code=410, title=_("Lien expiré"))
    if registration.code_attempts >= PAPER_CODE_MAX_ATTEMPTS:
        raise _blocked()
    return registration


def _blocked() -> UserError:
    return UserError(_("Le code unique a été mal tapé %(max)d fois : cette activation est bloquée. "
                       "Retournez au Bureau d'Enregistrement Local pour en recevoir une nouvelle.",
                       max=PAPER_CODE_MAX_ATTEMPTS), code=429, title=_("Activation bloquée"))


class PaperCodeRefused(Exception):
    def __init__(self, message: str, blocked: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.blocked = blocked


def check_paper_code(db: Session, registration: BelRegistration, typed: str) -> None:
    """Returns when ``typed`` is the registration's paper code, else
    PaperCodeRefused. Each guess first claims one of the
    ``PAPER_CODE_MAX_ATTEMPTS`` tries in the database (``fedsim.attempts``):
    guesses sent at once check at most that many codes. The right code gives
    the tries back."""
    blocked = PaperCodeRefused(str(_blocked().description), blocked=True)
    if not attempts.claim(db, BelRegistration.code_attempts, PAPER_CODE_MAX_ATTEMPTS,
                          BelRegistration.id == registration.id):
        raise blocked
    db.refresh(registration)
    if hmac.compare_digest(registration.paper_code_digest, _digest("paper", _normalise_paper_code(typed))):
        db.execute(update(BelRegistration).where(BelRegistration.id == registration.id)
                   .values(code_attempts=0).execution_options(synchronize_session=False))
        db.commit()
        db.refresh(registration)
        return
    left = PAPER_CODE_MAX_ATTEMPTS - registration.code_attempts
    if left <= 0:  # this guess (or one sent with it) used the last try
        raise PaperCodeRefused(_("Code unique incorrect. ") + blocked.message, blocked=True)
    raise PaperCodeRefused(ngettext("Code unique incorrect. Il vous reste %(num)d essai.",
                                    "Code unique incorrect. Il vous reste %(num)d essais.", left))


class PaperCodeForm(FlaskForm):
    paper_code = StringField(_l("Code unique (remis sur papier)"),
                             validators=[InputRequired(_l("Tapez le code unique remis sur papier au bureau.")),
                                         MaxLength(fields.PAPER_CODE_MAX)])


@bp.route("/activation/<token>", methods=["GET", "POST"])
def activate(token: str):
    db = Database.session()
    registration = _registration(db, token)
    form = PaperCodeForm()
    error = None
    if form.validate_on_submit():
        try:
            check_paper_code(db, registration, form.paper_code.data)
        except PaperCodeRefused as refused:
            if refused.blocked:
                raise _blocked() from None
            error = refused.message
        else:
            session[SESSION_KEY] = registration.id
            return redirect(url_for("bel.choose_key", token=token))
    elif form.is_submitted():
        error = " ".join(str(e) for errs in form.errors.values() for e in errs)
    citizen = db.get(Citizen, registration.nrn)
    return render_template("idp_csam/bel/activate.html", form=form, error=error, citizen=citizen), \
        400 if error else 200


class KeyForm(FlaskForm):
    key = RadioField(_l("Clé numérique"), choices=[SelectChoice(EMAIL_CODE.code, EMAIL_CODE.label)],
                     default=EMAIL_CODE.code,  # the only key offered to a foreign national (G20)
                     validators=[InputRequired(_l("Choisissez votre clé numérique.")), MaxLength(fields.CODE_MAX)])
    username = StringField(_l("Nom d'utilisateur"), validators=[
        InputRequired(_l("Choisissez un nom d'utilisateur.")), MaxLength(fields.USERNAME_MAX),
        Regexp(r"^[A-Za-z0-9._-]{4,80}$", message=_l("Le nom d'utilisateur compte de 4 à 80 caractères : lettres "
                                                  "sans accent, chiffres, point, tiret ou souligné."))])
    password = PasswordField(_l("Mot de passe"), validators=[
        InputRequired(_l("Choisissez un mot de passe.")), MaxLength(fields.PASSWORD_MAX),
        Length(min=10, message=_l("Le mot de passe compte au moins 10 caractères."))])
    confirm = PasswordField(_l("Confirmez le mot de passe"), validators=[
        InputRequired(_l("Tapez le mot de passe une seconde fois.")), MaxLength(fields.PASSWORD_MAX),
        EqualTo("password", message=_l("Les deux mots de passe ne sont pas identiques."))])


@bp.route("/activation/<token>/cle", methods=["GET", "POST"])
def choose_key(token: str):
    db = Database.session()
    registration = _registration(db, token)
    if session.get(SESSION_KEY) != registration.id:
        raise UserError(_("Tapez d'abord le code unique remis sur papier au Bureau d'Enregistrement Local."),
                        code=403, title=_("Code unique requis"))
    form = KeyForm()
    error = None
    if form.validate_on_submit():
        username = form.username.data.strip()
        if db.get(CsamAccount, username) is not None:
            error = _("Ce nom d'utilisateur est déjà pris : choisissez-en un autre.")
        elif db.scalars(select(CsamAccount).where(CsamAccount.nrn == registration.nrn)).first() is not None:
            error = _("Une clé numérique est déjà activée pour cette personne.")
        else:
            current_app.extensions["idp_csam.credentials"].create(db, username, registration.nrn,
                                                                   form.password.data)
            registration.activated_at = clock.naive_utc_now()
            db.commit()
            session.pop(SESSION_KEY, None)
            citizen = db.get(Citizen, registration.nrn)
            portal = current_app.config["FEDSIM_SETTINGS"].base_url("monespace") + "/"
            return render_template("idp_csam/bel/activated.html", citizen=citizen, username=username,
                                   bis=nrn.parse(citizen.nrn).formatted, method=EMAIL_CODE, portal=portal)
    elif form.is_submitted():
        error = " ".join(str(e) for errs in form.errors.values() for e in errs)
    return render_template("idp_csam/bel/choose_key.html", form=form, error=error,
                           citizen=db.get(Citizen, registration.nrn)), 400 if error else 200
