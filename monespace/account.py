"""Creating and activating a Mon Espace account (G09, G22-G26).

Every form here may be posted twice (a double click) or several times at
once: the service claims what must happen once in the database
(``monespace.accounts``), and the repeats land on the same page as the
first or on a clear refusal, never on an error. The cancel link of the
e-mail opens a confirmation page; only its form (POST, CSRF token) cancels."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Email, EqualTo, InputRequired, Length

from fedsim.db import Database
from fedsim.web import UserError
from monespace import session as who_is
from monespace.accounts import AccountService, LinkRefused
from monespace.models import ACTIVE

bp = Blueprint("account", __name__, url_prefix="/compte")

LANGUAGES = [SelectChoice("fr", "Français"), SelectChoice("nl", "Nederlands"),
             SelectChoice("de", "Deutsch"), SelectChoice("en", "English")]
EMAIL_MAX = 320  # RFC 5321's longest address, and the column's size
PASSWORD_MAX = 128
TOKEN_MAX = 100  # an e-mailed token is 43 characters


def _email_field(label: str, *validators) -> EmailField:  # noqa: ANN002 - wtforms validators
    return EmailField(label, validators=[*validators, Length(
        max=EMAIL_MAX, message=f"L'adresse e-mail compte au plus {EMAIL_MAX} caractères.")])


class CreateForm(FlaskForm):
    email = _email_field("E-mail", InputRequired("Indiquez votre adresse e-mail."),
                         Email("Cette adresse e-mail n'est pas valide."))
    email_confirm = _email_field("Confirmation de l'e-mail", InputRequired("Confirmez votre adresse e-mail."),
                                 EqualTo("email", "Les deux adresses e-mail ne sont pas identiques."))
    language = SelectField("Langue", choices=LANGUAGES, validate_choice=False, validators=[
        AnyOf([c.value for c in LANGUAGES], "Choisissez le français, le néerlandais, l'allemand ou l'anglais.")])


class ResendForm(FlaskForm):
    email = _email_field("E-mail", InputRequired("Indiquez votre adresse e-mail."),
                         Email("Cette adresse e-mail n'est pas valide."))


class PasswordForm(FlaskForm):
    password = PasswordField("Mot de passe Cerbère Citoyen", validators=[
        InputRequired("Choisissez un mot de passe."),
        Length(min=12, max=PASSWORD_MAX, message=f"Le mot de passe compte de 12 à {PASSWORD_MAX} caractères.")])
    password_confirm = PasswordField("Confirmation du mot de passe", validators=[
        InputRequired("Confirmez le mot de passe."),
        Length(max=PASSWORD_MAX, message=f"Le mot de passe compte de 12 à {PASSWORD_MAX} caractères."),
        EqualTo("password", "Les deux mots de passe ne sont pas identiques.")])


class CancelForm(FlaskForm):
    jeton = HiddenField(validators=[InputRequired("Le lien d'annulation est incomplet."),
                                    Length(max=TOKEN_MAX, message="Ce lien n'est pas valide.")])


def _service() -> AccountService:
    return current_app.extensions["monespace.accounts"]


def _form_errors(form: FlaskForm) -> str:
    return " ".join(dict.fromkeys(e for errs in form.errors.values() for e in errs))


@bp.route("/creation", methods=["GET", "POST"])
def create():
    who = who_is.upstream()
    if who is None:
        return redirect(url_for("auth.login"))
    db = Database.session()
    status = AccountService.status_by_nrn(db, who.nrn)
    if status is not None:  # also the second of two posts of the form
        return redirect(url_for("portal.dashboard" if status == ACTIVE else "account.pending"))
    form = CreateForm(data=None if request.method == "POST" else
                      {"email": who.email, "email_confirm": who.email, "language": who.language})
    if form.validate_on_submit():
        account = _service().create_pending(db, who, form.email.data, form.language.data)
        return redirect(url_for("portal.dashboard" if account.is_active else "account.pending"))
    error = _form_errors(form) if form.is_submitted() else None
    return render_template("monespace/account/create.html", form=form, who=who,
                           error=error), 400 if error else 200


@bp.get("/validation")
def pending():
    return render_template("monespace/account/pending.html")


@bp.route("/renvoyer", methods=["GET", "POST"])
def resend():
    form = ResendForm()
    if form.validate_on_submit():
        _service().resend(Database.session(), form.email.data)
        return render_template("monespace/account/resent.html", email=form.email.data)
    error = _form_errors(form) if form.is_submitted() else None
    return render_template("monespace/account/resend.html", form=form, error=error), 400 if error else 200


def _refused(refused: LinkRefused, title: str) -> UserError:
    return UserError(refused.message, code=refused.status, title=title)


@bp.get("/activer")
def activate():
    """The e-mailed activation link (a GET: mail clients open links). It
    works once: of several opens, even at once, one activates."""
    db = Database.session()
    token = request.args.get("jeton")
    try:
        account = _service().activate(db, token)
    except LinkRefused as refused:
        raise _refused(refused, "Lien d'activation refusé") from None
    who = who_is.upstream()
    if who is not None and who.nrn == account.nrn:
        who_is.log_in(who, account)
    # whoever holds the e-mailed link may choose the first password, for a while
    session["may_set_password"] = AccountService.password_right(account, token)
    next_url = session.pop("after_activation", url_for("portal.dashboard"))
    session["after_password"] = next_url
    return render_template("monespace/account/activated.html", account=account, next_url=next_url,
                           form=PasswordForm(formdata=None))


@bp.route("/mot-de-passe", methods=["GET", "POST"])
def password():
    """G26: the password of the Cerbère Citoyen identifier, for direct logins.
    A logged-in person sets it; so may, once and for a few minutes after the
    activation, whoever opened the activation link (``may_set_password``)."""
    db = Database.session()
    account = who_is.current_account(db)
    right = None if account is not None else session.get("may_set_password")
    if account is None and right is None:
        return redirect(url_for("auth.login", next=url_for("account.password")))
    try:
        if right is not None:
            account = _service().may_choose_password(db, right)
        form = PasswordForm()
        if form.validate_on_submit():
            if right is not None:
                account = _service().set_first_password(db, right, form.password.data)
            else:
                AccountService.set_password(db, account, form.password.data)
            return render_template("monespace/account/password_set.html", account=account,
                                   next_url=session.pop("after_password", url_for("portal.dashboard")))
    except LinkRefused as refused:
        raise _refused(refused, "Choix du mot de passe refusé") from None
    error = _form_errors(form) if form.is_submitted() else None
    return render_template("monespace/account/password.html", account=account, form=form,
                           error=error), 400 if error else 200


@bp.get("/annuler")
def cancel():
    """The e-mailed cancel link: a page asking to confirm (opening a link,
    or a page fetching it, deletes nothing)."""
    token = request.args.get("jeton")
    try:
        account = _service().cancel_preview(Database.session(), token)
    except LinkRefused as refused:
        raise _refused(refused, "Lien d'annulation refusé") from None
    return render_template("monespace/account/cancel.html", name=account.full_name,
                           form=CancelForm(formdata=None, data={"jeton": token}))


@bp.post("/annuler")
def cancel_confirmed():
    form = CancelForm()
    if not form.validate_on_submit():
        raise UserError(_form_errors(form), code=400, title="Lien d'annulation refusé")
    try:
        name = _service().cancel(Database.session(), form.jeton.data)
    except LinkRefused as refused:
        raise _refused(refused, "Lien d'annulation refusé") from None
    session.clear()
    return render_template("monespace/account/cancelled.html", name=name)
