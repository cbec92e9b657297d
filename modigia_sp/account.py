"""The person's profile (what Cerbère sent) and the contact page (G17)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Regexp

from fedsim.db import Database
from modigia_sp.gate import entered_user

bp = Blueprint("account", __name__)


SUBJECT_MAX, BODY_MAX = 200, 5000  # characters; the subject's column is String(200)


class ContactForm(FlaskForm):
    subject = StringField("Objet", validators=[
        InputRequired("Indiquez l'objet de votre message."),
        Length(max=SUBJECT_MAX, message=f"L'objet est trop long : {SUBJECT_MAX} caractères au plus."),
        Regexp(r"^[^\r\n]*\Z", message="L'objet tient sur une ligne : retirez le saut de ligne.")])
    body = TextAreaField("Message", validators=[
        InputRequired("Écrivez votre message."),
        Length(max=BODY_MAX, message=f"Le message est trop long : {BODY_MAX} caractères au plus ; "
                                     "raccourcissez-le ou envoyez-en plusieurs.")])


@bp.get("/profil")
def profile():
    user, elsewhere = entered_user()
    if elsewhere:
        return elsewhere
    return render_template("modigia_sp/profile.html", user=user)


@bp.route("/contact", methods=["GET", "POST"])
def contact():
    user, elsewhere = entered_user()
    if elsewhere:
        return elsewhere
    form = ContactForm()
    if form.validate_on_submit():
        current_app.extensions["modigia.contact"].send(Database.session(), user, form.subject.data,
                                                       form.body.data)
        return render_template("modigia_sp/contact.html", user=user, form=None, sent=True)
    error = " ".join(e for errs in form.errors.values() for e in errs) if form.is_submitted() else None
    return render_template("modigia_sp/contact.html", user=user, form=form, sent=False,
                           error=error), 400 if error else 200
