"""The public help centre of Mon Espace (G18-G21): FAQ search and
categories, the connection guide online (tabs, foreign-national checkbox,
all without JavaScript) and as a PDF."""
from __future__ import annotations

import dataclasses
import re
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from fedsim_harness.scenario.browser import Browser
from monespace import guide as guide_module
from monespace.guide import GUIDE_FILE, build_pdf, load_guide

TABS = {
    "eid": "avec un lecteur de carte eID",
    "itsme": "via itsme",
    "email-code": "avec un code de sécurité par e-mail",
    "app-code": "avec un code unique via une app mobile",
}
FOREIGN_BOX = "Je suis ressortissant étranger ne disposant pas d'une carte d'identité délivrée en Belgique"
PHONE = "0800/20 000"
FOREIGN_FAQ = "Je suis ressortissant étranger sans carte d'identité belge. Comment me connecter ?"
EID_FAQ = "Mon lecteur de carte eID n'est pas reconnu. Que faire ?"


def open_help(browser: Browser, federation, path: str = "/centre-aide/"):
    return browser.open(federation.urls["monespace"] + path)


def current_tab(browser: Browser) -> str:
    tabs = browser.page.tree.xpath("//nav[contains(@class, 'tabs')]/a[@aria-current]")
    assert len(tabs) == 1, f"expected one current tab, got {len(tabs)}"
    return " ".join(tabs[0].text_content().split())


def pdf_strings(data: bytes) -> str:
    """The PDF's text as the file holds it, without fpdf2: raw bytes plus
    every Flate stream inflated, read as WinAnsi (cp1252)."""
    chunks = [data]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL):
        try:
            chunks.append(zlib.decompress(stream))
        except zlib.error:
            pass
    return b"\n".join(chunks).decode("cp1252", "replace")


# -- the help centre page (G18) -------------------------------------------------


def test_home_leads_to_the_public_help_centre_with_its_labels(browser, federation):
    open_help(browser, federation, "/")
    page = browser.click("Accéder au centre d'aide")

    assert page.status == 200 and urlsplit(page.url).path == "/centre-aide/"  # no login asked
    for label in ("Centre d'aide", "Recherchez par mots-clés", "J'ai un problème technique",
                  "J'ai une question générale", "GUIDE DE CONNEXION", "Version en ligne", "Version PDF",
                  "Vous ne trouvez pas la réponse à votre problème/question? Contactez nous gratuitement au "
                  + PHONE, "LES JOURS OUVRABLES DE 8H à 18H", "Retour vers l'accueil"):
        assert label in page.text, f"« {label} » missing from the help centre"
    assert urlsplit(browser.click("Retour vers l'accueil").url).path == "/"


@pytest.mark.parametrize("query, found", [
    ("ETRANGERE", FOREIGN_FAQ),      # keyword « étrangère », typed in caps without accents
    ("Middleware", EID_FAQ),         # a keyword only
    ("bureau d'ENREGISTREMENT", FOREIGN_FAQ),
    ("email spam", "Je ne reçois pas le code de sécurité envoyé par e-mail."),  # « e-mail » = « email »
])
def test_search_ignores_accents_case_and_hyphens(browser, federation, query, found):
    open_help(browser, federation)
    page = browser.submit({"q": query}, button="Rechercher")

    assert found in page.text
    count = page.tree.xpath("//section[contains(@class, 'faq-results')]//p[@class='count']")[0].text_content()
    questions = page.tree.xpath("//section[contains(@class, 'faq-results')]//summary")
    assert count == f"{len(questions)} résultat{'s' if len(questions) != 1 else ''}"
    assert "Aucun résultat" not in page.text


def test_search_without_match_says_so(browser, federation):
    open_help(browser, federation)
    page = browser.submit({"q": "zorglub quantique"}, button="Rechercher")

    assert "Aucun résultat pour « zorglub quantique »" in page.text
    assert not page.tree.xpath("//details[contains(@class, 'faq')]")


def test_an_overlong_query_is_cut_not_refused(browser, federation):
    page = open_help(browser, federation, "/centre-aide/?q=" + "itsme " + "x" * 5000)

    assert page.status == 200
    assert "x" * 90 in page.body and "x" * 95 not in page.body  # « itsme » + 94 x: 100 characters
    assert "Aucun résultat" in page.text


@pytest.mark.parametrize("link, category, other", [
    ("J'ai un problème technique", "technique", "generale"),
    ("J'ai une question générale", "generale", "technique"),
])
def test_category_pages_list_only_their_category(browser, federation, link, category, other):
    open_help(browser, federation)
    page = browser.click(link)

    entries = page.tree.xpath("//details[contains(@class, 'faq')]")
    assert entries and {e.get("data-category") for e in entries} == {category}
    assert link in page.text
    mine, theirs = (EID_FAQ, FOREIGN_FAQ) if category == "technique" else (FOREIGN_FAQ, EID_FAQ)
    assert mine in page.text and theirs not in page.text
    assert f"{len(entries)} question" in page.text


@pytest.mark.parametrize("path, says", [
    ("/centre-aide/categorie/nope", "La rubrique « nope » n'existe pas"),
    ("/centre-aide/categorie/" + "a" * 300, "La rubrique « " + "a" * 40 + " » n'existe pas"),
    ("/centre-aide/guide?methode=nope", "La méthode de connexion « nope » n'existe pas"),
    ("/centre-aide/guide?methode=EID", "La méthode de connexion « EID » n'existe pas"),
    ("/centre-aide/guide?methode=%3Cscript%3E", "La méthode de connexion « <script> » n'existe pas"),
])
def test_unknown_category_or_method_is_a_clear_404(browser, federation, path, says):
    page = open_help(browser, federation, path)

    assert page.status == 404
    assert says in page.text
    assert "Erreur interne" not in page.text and "<script>" not in page.body


# -- the online guide (G19-G21) -------------------------------------------------


def test_guide_has_one_tab_per_method_each_in_three_parts(browser, federation):
    open_help(browser, federation)
    page = browser.click("Version en ligne")
    assert "Guide de connexion" in page.text and "Je me connecte :" in page.text and FOREIGN_BOX in page.text
    assert current_tab(browser) == TABS["eid"]  # the first tab by default

    guide = load_guide()
    for code, label in TABS.items():
        link = next(a for a in browser.page.tree.xpath("//nav[contains(@class, 'tabs')]/a")
                    if a.text_content().strip() == label)
        assert parse_qs(urlsplit(link.get("href")).query) == {"methode": [code]}  # a plain link: no JS needed
        page = browser.click(label)
        assert current_tab(browser) == label
        for part in ("1. Pré-requis", "2. Installation", "3. Connexion"):
            assert part in page.text
        method = guide.method(code)
        assert method.prerequisites[0] in page.text and method.connection[-1] in page.text
        assert f"Clé numérique CSAM : « {method.csam_key} »" in page.text
        assert "Je me rends dans un Bureau d'Enregistrement Local (BEL)" not in page.text


@pytest.mark.parametrize("start", ["/centre-aide/guide", "/centre-aide/guide?methode=itsme"])
def test_foreign_national_box_selects_the_email_code_method_and_shows_the_bel_steps(browser, federation, start):
    open_help(browser, federation, start)
    assert not browser.page.tree.xpath("//input[@name='etranger']")[0].checked
    page = browser.submit({"etranger": "1"}, button="Afficher")

    assert parse_qs(urlsplit(page.url).query)["etranger"] == ["1"]
    assert current_tab(browser) == TABS["email-code"]
    assert browser.page.tree.xpath("//input[@name='etranger']")[0].checked
    for step in ("La méthode de connexion à utiliser est automatiquement sélectionnée lorsque la case est cochée.",
                 "Je me rends dans un Bureau d'Enregistrement Local (BEL)",
                 "Je reçois un code unique sur papier et un e-mail d'activation",
                 "Je choisis la clé numérique « IDENTIFICATION avec un code de sécurité envoyé par e-mail »",
                 "J'active ma clé numérique",
                 "J'ai mon nom d'utilisateur et mon mot de passe (CSAM)",
                 "Je saisis mon nom d'utilisateur et mon mot de passe (CSAM)",
                 "Je saisis le mot de passe à usage unique que j'ai reçu de CSAM"):
        assert step in page.text, f"« {step} » missing"
    assert "2. Installation" not in page.text  # the foreign-national procedure has two parts

    offices = browser.click("BEL")
    assert offices.status == 200 and "Bureaux d'Enregistrement Local (BEL)" in offices.text
    assert len(offices.tree.xpath("//table[contains(@class, 'offices')]/tbody/tr")) >= 3


def test_unticking_the_box_keeps_the_selected_tab(browser, federation):
    open_help(browser, federation, "/centre-aide/guide?etranger=1")
    hidden = browser.page.tree.xpath("//form[contains(@class, 'foreign-box')]//input[@name='methode']")[0]
    assert hidden.get("type") == "hidden" and hidden.get("value") == "email-code"
    page = open_help(browser, federation, "/centre-aide/guide?methode=email-code")  # what the unticked form sends

    assert current_tab(browser) == TABS["email-code"]
    assert not browser.page.tree.xpath("//input[@name='etranger']")[0].checked
    assert "2. Installation" in page.text and "Je me rends dans un Bureau" not in page.text


# -- the PDF version ------------------------------------------------------------


def test_pdf_version_is_served_once_built(browser, federation, monkeypatch):
    builds = []
    monkeypatch.setattr(guide_module, "build_pdf", lambda guide: builds.append(guide) or build_pdf(guide))
    # the federation is shared by the session's tests: forget a PDF an earlier test built
    federation.apps["monespace"].extensions["monespace.helpcentre"].__dict__.pop("pdf", None)
    open_help(browser, federation)
    link = browser.page.tree.xpath("//a[contains(., 'Version PDF')]")[0].get("href")
    client = federation.apps["monespace"].test_client()
    first, second = client.get(link), client.get(link)

    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert re.search(r'filename="[\w-]+\.pdf"', first.headers["Content-Disposition"])
    assert first.data.startswith(b"%PDF-") and first.data.rstrip().endswith(b"%%EOF")
    assert second.data == first.data and len(builds) == 1  # built once per app, then cached
    text = pdf_strings(first.data)
    for wanted in (*TABS.values(), PHONE, "code unique sur papier"):
        assert wanted in text, f"« {wanted} » not in the served PDF"


def test_pdf_holds_every_method_the_foreign_procedure_and_the_phone():
    guide = load_guide()
    text = build_pdf(guide, compress=False).decode("cp1252").replace("\\(", "(").replace("\\)", ")")

    for label in TABS.values():
        assert f"Je me connecte {label}" in text
    for method in guide.methods:
        assert method.installation[-1][:50] in text
    assert "code unique sur papier" in text and "e-mail d'activation" in text
    assert PHONE in text and "LES JOURS OUVRABLES DE 8H" in text


def test_pdf_survives_characters_outside_the_core_fonts():
    guide = load_guide()
    guide = dataclasses.replace(guide, intro="C’est l’œuvre « du jour »\u202f… → ✓ 🙂 日本")
    text = build_pdf(guide, compress=False).decode("cp1252")

    assert "C’est l’œuvre « du jour » … -> v ? ??" in text


def test_guide_file_must_name_an_existing_method_for_foreign_nationals(tmp_path: Path):
    broken = tmp_path / "guide.yaml"
    broken.write_text(GUIDE_FILE.read_text(encoding="utf-8").replace("method: email-code", "method: pigeon"),
                      encoding="utf-8")
    with pytest.raises(ValueError, match="pigeon"):
        load_guide(broken)


def test_scenario_help_centre_foreign_national(run_scenario):
    result = run_scenario("help-centre-foreign-national")
    assert {"G18", "G19", "G20", "G21"} <= set(result.scenario.guide_steps)
