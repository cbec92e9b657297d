"""Creating and activating a Mon Espace account (G09, G22-G26)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, EqualTo, InputRequired, Length

from fedsim.db import Database
from fedsim.web import UserError
from monespace import session as who_is
from monespace.accounts import AccountService, LinkRefused
from monespace.models import Account

bp = Blueprint("account", __name__, url_prefix="/compte")

LANGUAGES = [SelectChoice("fr", "Français"), SelectChoice("nl", "Nederlands"),
             SelectChoice("de", "Deutsch"), SelectChoice("en", "English")]


class CreateForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired("Indiquez votre adresse e-mail."),
                                             Email("Cette adresse e-mail n'est pas valide."), Length(max=320)])
    email_confirm = EmailField("Confirmation de l'e-mail", validators=[
        InputRequired("Confirmez votre adresse e-mail."),
        EqualTo("email", "Les deux adresses e-mail ne sont pas identiques.")])
    language = SelectField("Langue", choices=LANGUAGES)


class ResendForm(FlaskForm):
    email = EmailField("E-mail", validators=[InputRequired("Indiquez votre adresse e-mail."),
                                             Email("Cette adresse e-mail n'est pas valide.")])


class PasswordForm(FlaskForm):
    password = PasswordField("Mot de passe Cerbère Citoyen", validators=[
        InputRequired("Choisissez un mot de passe."),
        Length(min=12, max=128, message="Le mot de passe compte de 12 à 128 caractères.")])
    password_confirm = PasswordField("Confirmation du mot de passe", validators=[
        InputRequired("Confirmez le mot de passe."),
        EqualTo("password", "Les deux mots de passe ne sont pas identiques.")])


def _service() -> AccountService:
    return current_app.extensions["monespace.accounts"]


def _form_errors(form: FlaskForm) -> str:
    return " ".join(e for errs in form.errors.values() for e in errs)


@bp.route("/creation", methods=["GET", "POST"])
def create():
    who = who_is.upstream()
    if who is None:
        return redirect(url_for("auth.login"))
    db = Database.session()
    existing = AccountService.by_nrn(db, who.nrn)
    if existing is not None:
        return redirect(url_for("portal.dashboard" if existing.is_active else "account.pending"))
    form = CreateForm(data=None if request.method == "POST" else
                      {"email": who.email, "email_confirm": who.email, "language": who.language})
    if form.validate_on_submit():
        _service().create_pending(db, who, form.email.data, form.language.data)
        return redirect(url_for("account.pending"))
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


@bp.get("/activer")
def activate():
    db = Database.session()
    try:
        account = _service().activate(db, request.args.get("jeton"))
    except LinkRefused as refused:
        raise UserError(refused.message, code=refused.status, title="Lien d'activation refusé") from None
    who = who_is.upstream()
    if who is not None and who.nrn == account.nrn:
        who_is.log_in(who, account)
    session["may_set_password"] = account.id  # whoever holds the e-mailed link
    next_url = session.pop("after_activation", url_for("portal.dashboard"))
    session["after_password"] = next_url
    return render_template("monespace/account/activated.html", account=account, next_url=next_url,
                           form=PasswordForm(formdata=None))


@bp.route("/mot-de-passe", methods=["GET", "POST"])
def password():
    """G26: the password of the Cerbère Citoyen identifier, for direct logins."""
    db = Database.session()
    account = who_is.current_account(db)
    if account is None and session.get("may_set_password"):
        account = db.get(Account, session["may_set_password"])
    if account is None or not account.is_active:
        return redirect(url_for("auth.login", next=url_for("account.password")))
    form = PasswordForm()
    if form.validate_on_submit():
        AccountService.set_password(db, account, form.password.data)
        session.pop("may_set_password", None)
        return render_template("monespace/account/password_set.html", account=account,
                               next_url=session.pop("after_password", url_for("portal.dashboard")))
    error = _form_errors(form) if form.is_submitted() else None
    return render_template("monespace/account/password.html", account=account, form=form,
                           error=error), 400 if error else 200


@bp.get("/annuler")
def cancel():
    try:
        name = _service().cancel(Database.session(), request.args.get("jeton"))
    except LinkRefused as refused:
        raise UserError(refused.message, code=refused.status, title="Lien d'annulation refusé") from None
    session.clear()
    return render_template("monespace/account/cancelled.html", name=name)
