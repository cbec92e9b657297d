"""The page « S'identifier à l'administration en ligne » (G02) and the eID
card reader method (G03)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from fedsim import clock
from fedsim.db import Database
from idp_csam.config import LEVEL_EID
from idp_csam.eid import CardReader, PinRefused

bp = Blueprint("login", __name__)

# The three groups of the guide, in its order and with its labels.
METHOD_GROUPS = [
    ("Clé(s) numérique(s) avec l'eID ou identité numérique:", [
        ("eid", "IDENTIFICATION avec un lecteur de cartes eID"),
        ("itsme", "IDENTIFICATION via itsme"),
    ]),
    ("Clé(s) numérique(s) avec code de sécurité et nom d'utilisateur + mot de passe:", [
        ("email-code", "IDENTIFICATION avec un code de sécurité envoyé par e-mail"),
        ("app-code", "IDENTIFICATION avec un code de sécurité via une application mobile"),
    ]),
    ("Authentification européenne:", [
        ("eidas", "IDENTIFICATION avec une identification électronique reconnue au plan européen"),
    ]),
]
METHOD_LABELS = {code: label for _, methods in METHOD_GROUPS for code, label in methods}


class PinForm(FlaskForm):
    # validate_choice=False: an unknown card is refused by the reader, in French
    # (WTForms would say "Not a valid choice.").
    card = SelectField("Carte eID dans le lecteur", validators=[InputRequired("Choisissez une carte.")],
                       validate_choice=False)
    pin = PasswordField("Code PIN", validators=[InputRequired("Tapez votre code PIN.")])


def _reader() -> CardReader:
    return current_app.extensions["idp_csam.reader"]


@bp.get("/")
def choose():
    return render_template("idp_csam/choose.html", groups=METHOD_GROUPS,
                           pending=bool(session.get("pending_authn")))


@bp.route("/eid", methods=["GET", "POST"])
def eid():
    db = Database.session()
    cards = _reader().cards(db)
    form = PinForm()
    form.card.choices = [SelectChoice(c.number, f"{c.holder.given_name} {c.holder.surname} — carte {c.number}")
                         for c in cards]
    error, status = None, 200
    if form.validate_on_submit():
        try:
            citizen = _reader().verify_pin(db, form.card.data, form.pin.data)
        except PinRefused as refused:
            error, status = refused.message, 400
        else:
            session["authenticated"] = {"nrn": citizen.nrn, "method": "eid", "level": LEVEL_EID,
                                        "at": clock.now().isoformat()}
            return redirect(url_for("sso.answer"))
    elif form.is_submitted():
        error, status = " ".join(e for errs in form.errors.values() for e in errs), 400
    return render_template("idp_csam/eid.html", form=form, error=error), status


@bp.get("/methode/<code>")
def unavailable(code: str):
    label = METHOD_LABELS.get(code)
    if label is None:
        return render_template("idp_csam/unavailable.html", label=None), 404
    return render_template("idp_csam/unavailable.html", label=label)
