"""CSAM in four languages (G02): nl, fr, de, en, with Flask-Babel.

French is the source language: the msgids ARE the French texts, so a string
without a translation falls back to French and the French pages stay
byte-identical to the untranslated ones. The language comes from ``?lang=xx``
(remembered in the cookie ``csam_lang`` for a year), else from that cookie,
else French — never from the browser's Accept-Language, so tests and French
demos stay French. An unknown ``?lang`` is ignored.

Also here: the cookie-consent banner (``csam_cookie_consent``: accepted or
refused, one year; POST /cookies with a CSRF token, no JavaScript) and the
help page « Besoin d'aide? » (/aide).

Every text a person reads is wrapped: ``_()``/``_l()`` in Python (``N_()``
for a constant translated where shown), ``{{ _('…') }}`` or ``{% trans %}``
in templates; tests/unit/idp_csam/test_translations.py fails on French prose
left outside gettext in idp_csam (log lines and SAML status messages for the
SP excepted) and on a message without its nl/de/en translation.

Translations live in idp_csam/translations/<lang>/LC_MESSAGES/messages.po;
the compiled messages.mo files are committed, and
tests/flows/test_csam_i18n.py compiles each .po in memory and compares it
with the committed .mo, so they cannot drift.

The catalogues also hold the reasons of SAML refusals: the library
fedsim/saml imports no app and speaks French, but marks each reason shown to
a person with ``said("… %(name)s …", name=value)`` (fedsim/saml/texts.py: a
``str`` whose value is the French text, keeping its template and variables);
fedsim.web's error page translates that template here (``shown_reason``),
variables inserted as they are. So fedsim/saml is a source of the
extraction, with the keyword ``said``. To re-extract and update::

    .venv/bin/pybabel extract -F idp_csam/babel.cfg -k lazy_gettext -k _l -k said \\
        -o /tmp/messages.pot idp_csam fedsim/saml
    .venv/bin/pybabel update -i /tmp/messages.pot -d idp_csam/translations --no-fuzzy-matching
    # translate the new msgids, then
    .venv/bin/pybabel compile -d idp_csam/translations
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    current_app,
    has_request_context,
    redirect,
    render_template,
    request,
)
from flask_babel import Babel
from flask_babel import gettext as _babel_gettext
from flask_babel import ngettext as _babel_ngettext
from flask_babel.speaklater import LazyString
from markupsafe import escape

from fedsim.web import safe_next

LANGS = ("nl", "fr", "de", "en")
DEFAULT_LANG = "fr"
LANG_COOKIE = "csam_lang"
CONSENT_COOKIE = "csam_cookie_consent"
CONSENT_CHOICES = ("accepted", "refused")
ONE_YEAR = timedelta(days=365)
TRANSLATIONS = Path(__file__).parent / "translations"

bp = Blueprint("i18n", __name__)


def _babel_ready() -> bool:
    """A CSAM request is being answered: its language can be chosen."""
    return has_request_context() and "babel" in current_app.extensions


def gettext(msgid: str, **variables) -> str:
    """gettext, or the French msgid outside a CSAM app (no Flask-Babel there).
    ``variables`` fill ``%(name)s`` placeholders, as in Flask-Babel."""
    if _babel_ready():
        return _babel_gettext(msgid, **variables)
    return msgid % variables if variables else msgid


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """ngettext with the same French fallback; ``%(num)d`` is ``num``."""
    if _babel_ready():
        return _babel_ngettext(singular, plural, num, **variables)
    variables.setdefault("num", num)
    return (singular if num <= 1 else plural) % variables  # French: 0 and 1 are singular


_gettext = gettext


def N_(msgid: str) -> str:
    """Marks a French text for extraction and keeps it a plain ``str``, for
    module constants that code and tests compare; translate it where it is
    shown, with ``gettext(CONSTANT)``."""
    return msgid


class _Lazy(LazyString):
    """A lazily translated string, escaped like a plain ``str`` in templates
    (Flask-Babel's own ``__html__`` would leave « ' » unescaped)."""

    def __html__(self) -> str:
        return str(escape(str(self)))


def lazy_gettext(msgid: str, **variables) -> str:
    return _Lazy(gettext, msgid, **variables)  # type: ignore[return-value]


_l = lazy_gettext


def select_locale() -> str:
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in LANGS else DEFAULT_LANG


def _remember_lang(response):
    asked = request.args.get("lang")
    if asked in LANGS and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(LANG_COOKIE, asked, max_age=int(ONE_YEAR.total_seconds()), samesite="Lax",
                            httponly=True)
    return response


def lang_url(lang: str) -> str:
    """The current page in ``lang``."""
    args = request.args.copy()
    args["lang"] = lang
    from urllib.parse import urlencode
    return f"{request.path}?{urlencode(list(args.items(multi=True)))}"


def country_name(code: str, french: str) -> str:
    """A country's name in the page's language: the French name of CSAM's list
    (the guide's labels) in French, else the CLDR name that Babel ships."""
    lang = select_locale()
    if lang == DEFAULT_LANG:
        return french
    from babel import Locale
    return Locale.parse(lang).territories.get(code.upper(), french)


def by_country_name(countries):
    """``countries`` sorted by their name in the page's language."""
    import unicodedata

    def key(c) -> str:
        return unicodedata.normalize("NFKD", country_name(c.code, c.name)).casefold()
    return sorted(countries, key=key)


def when(moment) -> str:
    """A date and time as the page's language writes it (« 05/03/2026 à 14:30 »)."""
    return moment.strftime(gettext("%d/%m/%Y à %H:%M"))


def _template_globals() -> dict:
    return {"current_lang": select_locale(), "langs": LANGS, "lang_url": lang_url,
            "country_name": country_name, "by_country_name": by_country_name, "when": when,
            "cookie_banner": request.cookies.get(CONSENT_COOKIE) not in CONSENT_CHOICES}


@bp.post("/cookies")
def cookie_consent():
    choice = request.form.get("choix")
    response = redirect(safe_next(request.form.get("next"), "/"), code=303)
    if choice in CONSENT_CHOICES:
        response.set_cookie(CONSENT_COOKIE, choice, max_age=int(ONE_YEAR.total_seconds()), samesite="Lax",
                            httponly=True)
    return response


@bp.get("/aide")
def help_page():
    from idp_csam.methods import GROUPS
    methods = current_app.extensions["idp_csam.methods"]
    groups = [(title, [m for m in methods if m.group == code]) for code, title in GROUPS]
    helpcentre = current_app.config["FEDSIM_SETTINGS"].base_url("monespace") + "/centre-aide/"
    return render_template("idp_csam/help.html", groups=groups, helpcentre=helpcentre)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANG)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    app.after_request(_remember_lang)
    app.context_processor(_template_globals)
    app.register_blueprint(bp)
