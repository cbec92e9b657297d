"""The eID card reader (G03): a virtual card in a simulated reader, its PIN."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from fedsim.db import Database
from idp_csam import authn
from idp_csam.eid import CardReader, PinRefused
from idp_csam.methods import Method

bp = Blueprint("eid", __name__)


class PinForm(FlaskForm):
    # validate_choice=False: an unknown card is refused by the reader, in French
    # (WTForms would say "Not a valid choice.").
    card = SelectField("Carte eID dans le lecteur", validators=[InputRequired("Choisissez une carte.")],
                       validate_choice=False)
    pin = PasswordField("Code PIN", validators=[InputRequired("Tapez votre code PIN.")])


def _reader() -> CardReader:
    return current_app.extensions["idp_csam.reader"]


@bp.route("/eid", methods=["GET", "POST"])
def start():
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
            return authn.complete(citizen.nrn, METHOD)
    elif form.is_submitted():
        error, status = " ".join(e for errs in form.errors.values() for e in errs), 400
    return render_template("idp_csam/eid.html", form=form, error=error), status


METHOD = Method(code="eid", group="eid", label="IDENTIFICATION avec un lecteur de cartes eID",
                level="urn:be:fedict:iam:fas:Level500", blueprint=bp, entry="eid.start")
