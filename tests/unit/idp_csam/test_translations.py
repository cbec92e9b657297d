"""CSAM's catalogues are complete (issue 13): every message of the sources
(templates and Python, re-extracted here with pybabel's own extractor) is in
each .po file, translated, not fuzzy; the placeholders of each translation
match its msgid's; the compiled .mo files are those of the .po files
(tests/flows/test_csam_i18n.py checks byte equality)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).resolve().parents[3] / "idp_csam"
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
    for filename, lineno, message, comments, context in extract_from_dir(
            str(PACKAGE), method_map, options, keywords=KEYWORDS):
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
