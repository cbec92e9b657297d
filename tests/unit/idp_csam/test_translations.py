"""CSAM's catalogues are complete (issue 13): every message of the sources
(templates and Python, re-extracted here with pybabel's own extractor; the
sources are idp_csam and the reasons of SAML refusals that fedsim/saml marks
with ``said(...)``, shown translated on CSAM's error page) is in each .po
file, translated, not fuzzy; the placeholders of each translation
match its msgid's; the compiled .mo files are those of the .po files
(tests/flows/test_csam_i18n.py checks byte equality).

A French text that is not wrapped in gettext escapes the extractor, hence
those checks: the last tests look for French prose outside gettext in every
Python file and template of idp_csam (texts for machines — log lines, SAML
status messages for the SP — excepted by the call that takes them), and
check that the HTTP error texts every app shows (fedsim.web.HTTP_ERRORS)
are CSAM messages."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import nodes

from fedsim.web import HTTP_ERRORS

PACKAGE = Path(__file__).resolve().parents[3] / "idp_csam"
SAML_LIBRARY = PACKAGE.parent / "fedsim" / "saml"  # its refusal reasons, marked with said() (fedsim/saml/texts.py)
TRANSLATIONS = PACKAGE / "translations"
LANGS = ("nl", "de", "en")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _method_map() -> tuple[list, dict]:
    sections = [line.strip()[1:-1].split(":", 1) for line in (PACKAGE / "babel.cfg").read_text().splitlines()
                if line.strip().startswith("[")]
    return [(pattern.strip(), method.strip()) for method, pattern in sections], {}


@pytest.fixture(scope="module")
def source_ids() -> set:
    method_map, options = _method_map()
    catalog = Catalog()
    for directory, keywords in ((PACKAGE, KEYWORDS), (SAML_LIBRARY, {"said": None})):
        for filename, lineno, message, comments, context in extract_from_dir(
                str(directory), method_map, options, keywords=keywords):
            catalog.add(message, None, [(filename, lineno)])
    return {m.id for m in catalog if m.id}


def _catalog(lang: str) -> Catalog:
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=lang)


def test_sources_have_messages(source_ids: set) -> None:
    assert "IDENTIFICATION avec un lecteur de cartes eID" in source_ids  # a template
    assert "Tapez votre numéro de téléphone." in source_ids               # Python, lazy
    assert ("Code itsme erroné. Il vous reste %(num)d essai.",
            "Code itsme erroné. Il vous reste %(num)d essais.") in source_ids  # a plural
    assert "Service inconnu : %(issuer)s n'est pas enregistré auprès de ce fournisseur d'identité " \
           "(aucune métadonnée SAML ne le décrit)." in source_ids  # fedsim/saml, said()
    assert "la Response" in source_ids  # a fragment said() inserts in a reason


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_of_the_sources_is_in_the_catalogue(source_ids: set, lang: str) -> None:
    """After changing a text: pybabel extract + update (see idp_csam/i18n.py)."""
    known = {m.id for m in _catalog(lang) if m.id}
    assert sorted(map(str, source_ids - known)) == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_is_translated_and_not_fuzzy(lang: str) -> None:
    untranslated = []
    for message in _catalog(lang):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s and s.strip() for s in strings):
            untranslated.append(message.id)
    assert untranslated == []


@pytest.mark.parametrize("lang", LANGS)
def test_translations_keep_the_placeholders(lang: str) -> None:
    wrong = []
    for message in _catalog(lang):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(PLACEHOLDER.findall(" ".join(ids)))
        for string in strings:
            if set(PLACEHOLDER.findall(string or "")) != expected - ({"num"} if len(ids) > 1 else set()) \
                    and set(PLACEHOLDER.findall(string or "")) != expected:
                wrong.append((message.id, string))
    assert wrong == []


@pytest.mark.parametrize("lang", LANGS)
def test_no_translation_is_left_in_french(lang: str) -> None:
    """A translation identical to its French msgid is allowed only for names and codes."""
    same = [m.id for m in _catalog(lang) if m.id and isinstance(m.id, str) and m.string == m.id
            and re.search(r"[a-zé]{4,} [a-zé]{3,}", m.id)]
    assert same == []


# -- French prose outside gettext ------------------------------------------------

WRAPPERS = {"_", "gettext", "ngettext", "N_", "_l", "lazy_gettext"}
# calls whose texts go to machines, not to a person's page: log lines, the
# protocol log, the SAML status messages CSAM sends to a service provider
FOR_MACHINES = {"debug", "info", "warning", "error", "exception", "critical", "log_step", "_log",
                "respond_error", "respond_no_passive", "respond_partial", "respond_unknown"}
MACHINE_FUNCTIONS = {"_profile_refusal"}  # idp_csam.eidas_node: SAML status messages for the connector
FRENCH = re.compile(r"(?i)\b(?:le|la|les|de|du|des|un|une|et|est|au|aux|ou|ne|en|sans|dans|par|votre|vous|"
                    r"pas|aucun|aucune|ce|cette|avec|pour|sur|mot)\b|[éèàùêçœ]|\b[cdjlmnqst]'\w")
TAG = re.compile(r"<[^>]*>|&#?\w+;")
SHOWN_ATTRIBUTE = re.compile(r'\b(?:alt|title|aria-label|placeholder|value)="([^"{]*)"')


def french_prose(text: str) -> bool:
    return len(text.split()) >= 2 and len(re.findall(r"[^\W\d_]{2,}", text)) >= 2 and bool(FRENCH.search(text))


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def unwrapped_in_python(source: str) -> list[tuple[int, str]]:
    """French prose in string literals (f-strings too) that no gettext call
    takes, outside docstrings and texts for machines."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))  # a docstring
        if (isinstance(node, ast.Call) and _call_name(node) in WRAPPERS | FOR_MACHINES) or (
                isinstance(node, ast.FunctionDef) and node.name in MACHINE_FUNCTIONS):
            skipped.update(id(sub) for sub in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(sub) for sub in ast.walk(node))
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if french_prose(text):
            found.append((node.lineno, text))
    return found


def unwrapped_in_template(source: str) -> list[tuple[int, str]]:
    """French prose in a template's own text (and shown attributes) outside
    ``{{ _(…) }}`` and ``{% trans %}``."""
    tree = jinja2.Environment(extensions=["jinja2.ext.i18n"]).parse(source)
    found = []
    for data in tree.find_all(nodes.TemplateData):
        for text in SHOWN_ATTRIBUTE.findall(data.data) + [TAG.sub(" ", data.data)]:
            if french_prose(text):
                found.append((data.lineno, " ".join(text.split())))
    return found


def test_the_finders_see_an_unwrapped_text_and_not_a_wrapped_one() -> None:
    python = ('raise UserError("Le formulaire a expiré.", title=_("Déconnexion refusée"))\n'
              'log.warning("connexion refusée pour %s", who)\n'
              'message = f"Agent {name} : accès bloqué"\n'
              'label = _l("Mot de passe de l’agent")\n')
    assert sorted(line for line, _text in unwrapped_in_python(python)) == [1, 3]
    template = """<h1>{{ _("Connexion de l'agent") }}</h1>
<p class="x">Vous êtes déconnecté·e.</p>
<button aria-label="Fermer la fenêtre">{% trans %}Se déconnecter{% endtrans %}</button>
"""
    assert sorted(text for _line, text in unwrapped_in_template(template)) == [
        "Fermer la fenêtre", "Vous êtes déconnecté·e."]


def test_no_french_text_escapes_gettext_in_csams_python() -> None:
    """Wrap a person's text with ``_()`` / ``_l()`` / ``N_()`` (idp_csam.i18n),
    then extract, update and translate (see idp_csam/i18n.py)."""
    found = [(str(path.relative_to(PACKAGE.parent)), line, text[:90])
             for path in sorted(PACKAGE.rglob("*.py")) if "migrations" not in path.parts
             for line, text in unwrapped_in_python(path.read_text(encoding="utf-8"))]
    assert found == []


def test_no_french_text_escapes_gettext_in_csams_templates() -> None:
    found = [(str(path.relative_to(PACKAGE.parent)), line, text[:90])
             for path in sorted((PACKAGE / "templates").rglob("*")) if path.suffix in (".html", ".txt")
             for line, text in unwrapped_in_template(path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_http_error_texts_of_every_app_are_csam_messages(source_ids: set) -> None:
    """fedsim.web shows them through ``translated``: CSAM must hold them (idp_csam/shared_texts.py)."""
    texts = {text for pair in HTTP_ERRORS.values() for text in pair}
    assert {404, 405, 400, 403, 409, 410, 413, 429, 500, 502} <= set(HTTP_ERRORS)
    assert sorted(texts - source_ids) == []


# -- reasons of SAML refusals (fedsim/saml) --------------------------------------

REFUSALS = {"SamlRefused", "IdpStatus", "AuthnContextUnavailable", "PassiveUnavailable", "NameIdPolicyRefused",
            "NoCommonAlgorithm", "refuse", "_refuse"}


def unmarked_reasons(source: str) -> list[tuple[int, str]]:
    """Reasons of refusals written as text (a literal, an f-string, a sum)
    instead of ``said(...)``: they would escape the extraction and be shown
    in French at CSAM whatever the person's language."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _call_name(node) in REFUSALS and node.args:
            reason = node.args[0]
            if isinstance(reason, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                found.append((node.lineno, ast.unparse(reason)[:90]))
    return found


def test_the_reason_finder_sees_a_text_and_not_a_marked_one() -> None:
    source = ('raise SamlRefused("Message illisible.")\n'
              'raise refuse(f"Émetteur {name} inconnu.")\n'
              'raise SamlRefused(said("Émetteur %(name)s inconnu.", name=name), f"detail {x}")\n'
              'raise SamlRefused(explain(cause).reason, text)\n')
    assert [line for line, _text in unmarked_reasons(source)] == [1, 2]


def test_every_saml_refusal_reason_is_marked_for_translation() -> None:
    """Write a refusal's reason ``said("… %(name)s …", name=value)`` (fedsim/saml/texts.py),
    then extract, update and translate (see idp_csam/i18n.py)."""
    found = [(path.name, line, text) for path in sorted(SAML_LIBRARY.glob("*.py"))
             for line, text in unmarked_reasons(path.read_text(encoding="utf-8"))]
    assert found == []
