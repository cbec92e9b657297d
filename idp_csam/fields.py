"""Length limits of CSAM's form fields (issue #9): every field a person
types in has a maximum, refused with a message naming the field
(a 400 page, never a 500)."""
from __future__ import annotations

from flask import request
from wtforms import DateField, Field, Form
from wtforms.validators import Length, StopValidation

from fedsim.web import UserError
from idp_csam.i18n import gettext as _

USERNAME_MAX = 80  # CsamAccount.username; the BEL lets a person choose up to 80 characters
PASSWORD_MAX = 128
CODE_MAX = 12  # a 6-digit security code, typed with spaces
PIN_MAX = 12  # PIN and PUK: 4 (6) to 12 digits
CARD_MAX = 20  # EidCard.number
NAME_MAX = 100
NATIONALITY_MAX = 80
EMAIL_MAX = 254  # RFC 5321 path limit
PAPER_CODE_MAX = 16  # 8 characters, typed with a dash or spaces
DATE_MAX = 10  # AAAA-MM-JJ
PERSONA_MAX = 50  # Citizen.persona_id; an eIDAS node's person
ACTION_MAX = 20  # a button's value
RELAY_STATE_MAX = 80  # SAML 2.0 bindings, 3.4.3 and 3.5.3


def too_long(label: str, maximum: int) -> str:
    return _("Le champ « %(label)s » compte au plus %(maximum)d caractères.", label=label, maximum=maximum)


class MaxLength(Length):
    """``Length(max=…)`` on what was submitted, whose message names the
    field; it stops the field's other validators (no regex over 1 MB)."""

    def __init__(self, maximum: int) -> None:
        super().__init__(max=maximum)

    def __call__(self, form: Form, field: Field) -> None:
        if any(isinstance(value, str) and len(value) > self.max for value in field.raw_data or ()):
            field.errors[:] = []  # « not a date », « not a valid choice »: this says more
            raise StopValidation(too_long(str(field.label.text), self.max))


class FrenchDateField(DateField):
    """A date typed AAAA-MM-JJ, refused in French."""

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_("Tapez une date valable, au format AAAA-MM-JJ.")) from None


def form_value(name: str, label: str, maximum: int) -> str:
    """A field of a form read without WTForms (``request.form``): at most
    ``maximum`` characters, else a 400 page naming it."""
    value = request.form.get(name) or ""
    if len(value) > maximum:
        raise UserError(too_long(label, maximum), title=_("Champ trop long"))
    return value
