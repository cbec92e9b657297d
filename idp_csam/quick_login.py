"""« Connexion rapide » — the simulator's shortcut for developers (issue #12),
OFF by default.

With ``QUICK_LOGIN`` on (``IDP_CSAM_QUICK_LOGIN=1``, or ``fedsim up
--quick-login`` / ``FEDSIM_QUICK_LOGIN=1``), CSAM's key chooser links to
``/connexion-rapide``: pick a persona, a level of assurance and the key to
claim, and CSAM authenticates that person as the key would have — through
``idp_csam.authn.complete``, so the signed SAML answer (idp_csam.sso) is
exactly the one of the real key. Only the levels that CSAM's available keys
reach and that the pending request accepts are offered; the claimed key must
be one of that level.

Never in trainer mode (``TRAINER_MODE`` given by the harness, or
``FEDSIM_TRAINER=1``): the shortcut then stays off, and the app logs why.
Off, the routes do not exist (404) and the chooser shows no link: the
blueprint is only registered when enabled. Each use is a protocol log line
(event ``QuickLogin``)."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, render_template, session
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField
from wtforms.validators import InputRequired

from fedsim import personas, protocol_log
from fedsim.db import Database
from fedsim.levels import FAS_ORDER
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider
from idp_csam import authn
from idp_csam.i18n import gettext as _
from idp_csam.i18n import lazy_gettext as _l
from idp_csam.methods import Method
from idp_csam.models import Citizen

log = logging.getLogger(__name__)

bp = Blueprint("quick_login", __name__)

CONFIG_KEY = "QUICK_LOGIN"           # idp_csam.config; IDP_CSAM_QUICK_LOGIN
TRAINER_KEY = "TRAINER_MODE"         # set by the harness (fedsim up --trainer)
TRAINER_VARIABLE = "FEDSIM_TRAINER"  # the trainer mode in the environment
CLAIMABLE = ("eid", "itsme", "email-code", "app-code")  # the keys a persona may be said to have used
EVENT = "QuickLogin"
_ON = ("1", "true", "yes", "on")
_OFF = ("", "0", "false", "no", "off", "none")


def flag(value: object, name: str) -> bool:
    """A yes/no setting (``True``, ``1``, ``"on"`` …); ``ValueError`` naming
    ``name`` for anything else, so that a typo never turns the shortcut on."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in _ON:
        return True
    if text in _OFF:
        return False
    raise ValueError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), not {value!r}")


def trainer_mode(app: Flask) -> bool:
    """The harness said so, or the environment does (any value but an off
    one counts: the trainer mode only ever turns things off)."""
    if app.config.get(TRAINER_KEY):
        return True
    return os.environ.get(TRAINER_VARIABLE, "").strip().lower() not in _OFF


def init_app(app: Flask) -> bool:
    """Register the shortcut when ``QUICK_LOGIN`` is on and the trainer mode
    is off; returns whether it is served."""
    wanted = flag(app.config.get(CONFIG_KEY), f"IDP_CSAM_{CONFIG_KEY}")
    if wanted and trainer_mode(app):
        log.warning("CSAM: quick login (IDP_CSAM_QUICK_LOGIN) is NOT enabled: the federation runs in trainer "
                    "mode (fedsim up --trainer / FEDSIM_TRAINER=1), where the simulator's shortcut is refused.")
        wanted = False
    app.config[CONFIG_KEY] = wanted
    if wanted:
        app.register_blueprint(bp)
        log.warning("CSAM: quick login is ON (/connexion-rapide): any persona can be logged in without a key. "
                    "For developers only.")
    return wanted


@bp.app_context_processor
def _chooser_link() -> dict:
    """Tells the key chooser (idp_csam/choose.html) to show the shortcut."""
    return {"quick_login_enabled": True}


# -- what may be chosen --------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """The personas, and the levels with their keys, that the page offers."""
    people: tuple[personas.Persona, ...]
    levels: tuple[tuple[str, tuple[Method, ...]], ...]  # (level, the claimable keys reaching exactly it)
    info: AuthnRequestInfo | None

    def claimable(self) -> tuple[Method, ...]:
        return tuple(m for _level, methods in self.levels for m in methods)


def _idp() -> IdentityProvider:
    return current_app.extensions["idp_csam.idp"]


def _pending() -> AuthnRequestInfo | None:
    """The pending SAML request, as the key chooser reads it (idp_csam.login)."""
    if not session.get("pending_authn"):
        return None
    try:
        return _idp().recall(Database.session(), session["pending_authn"])
    except SamlRefused:
        session.pop("pending_authn", None)
        return None


def _people() -> tuple[personas.Persona, ...]:
    path = current_app.config.get("PERSONAS_FILE")
    return personas.load(path)


def choices() -> Choices:
    info = _pending()
    available = [m for m in current_app.extensions["idp_csam.methods"] if m.available]
    reached = {m.level for m in available}  # what CSAM's keys reach (as idp_csam.sso)
    levels = []
    for level in sorted(reached, key=FAS_ORDER.index, reverse=True):
        keys = tuple(m for m in available if m.code in CLAIMABLE and m.level == level)
        if keys and authn.meets(level, info):
            levels.append((level, keys))
    return Choices(_people(), tuple(levels), info)


def short_level(level: str) -> str:
    return level.rsplit(":", 1)[-1]


class QuickLoginForm(FlaskForm):
    # validate_choice=False: an unknown persona, level or key gets our own
    # French message (WTForms would say "Not a valid choice.").
    persona = SelectField(_l("Persona"), validators=[InputRequired(_l("Choisissez une persona."))],
                          validate_choice=False)
    level = RadioField(_l("Niveau d'authentification"), validators=[InputRequired(_l("Choisissez un niveau."))],
                       validate_choice=False)
    method = SelectField(_l("Clé numérique déclarée"),
                         validators=[InputRequired(_l("Choisissez la clé numérique déclarée."))],
                         validate_choice=False)


def _fill(form: QuickLoginForm, offered: Choices) -> None:
    form.persona.choices = [(p.id, f"{p.full_name} — {p.nrn_formatted} ({p.language})") for p in offered.people]
    form.level.choices = [(level, short_level(level)) for level, _keys in offered.levels]
    form.method.choices = [(m.code, f"{m.label} ({short_level(m.level)})") for m in offered.claimable()]
    if not form.is_submitted() and offered.levels:
        form.level.data = offered.levels[0][0]
        form.method.data = offered.levels[0][1][0].code
        form.persona.data = offered.people[0].id if offered.people else ""


class Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check(form: QuickLoginForm, offered: Choices) -> tuple[personas.Persona, Method, str]:
    """The persona, key and level asked for, or ``Refused`` saying what is wrong."""
    if not form.validate():
        raise Refused(" ".join(str(e) for errors in form.errors.values() for e in errors))
    person = next((p for p in offered.people if p.id == form.persona.data), None)
    if person is None:
        raise Refused(_("Persona inconnue : « %(id)s ». Choisissez une persona de la liste.",
                        id=str(form.persona.data)[:50]))
    level = form.level.data
    if level not in FAS_ORDER:
        raise Refused(_("Niveau d'authentification inconnu : « %(level)s ».", level=str(level)[:80]))
    keys = dict(offered.levels).get(level)
    if keys is None:
        raise Refused(_("Le niveau %(level)s n'est pas accepté par la demande en cours (ou aucune clé de CSAM ne "
                        "l'atteint) : choisissez un des niveaux proposés.", level=short_level(level)))
    method = next((m for m in keys if m.code == form.method.data), None)
    if method is None:
        raise Refused(_("La clé « %(key)s » n'atteint pas le niveau %(level)s : choisissez une clé de ce niveau.",
                        key=str(form.method.data)[:50], level=short_level(level)))
    if Database.session().get(Citizen, person.nrn) is None:
        raise Refused(_("La persona « %(id)s » n'est pas connue de CSAM.", id=person.id))
    return person, method, level


def _log(info: AuthnRequestInfo | None, outcome: str, reason: str) -> None:
    protocol_log.log_step(EVENT, message_id=info.request_id if info else "", issuer=_idp().entity_id,
                          destination=info.sp_entity_id if info else "", binding="", outcome=outcome,
                          reason=f"Connexion rapide (raccourci du simulateur) : {reason}")


@bp.route("/connexion-rapide", methods=["GET", "POST"])
def choose():
    offered = choices()
    form = QuickLoginForm()
    _fill(form, offered)
    if not form.is_submitted():
        return render_template("idp_csam/quick_login.html", form=form, offered=offered)
    try:
        person, method, level = _check(form, offered)
    except Refused as refused:
        _log(offered.info, "refused", refused.message)
        return render_template("idp_csam/quick_login.html", form=form, offered=offered,
                               error=refused.message), 400
    _log(offered.info, "issued", f"persona {person.id}, clé {method.code}, niveau {short_level(level)}")
    return authn.complete(person.nrn, method, level)

