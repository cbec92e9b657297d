"""CSAM in nl/fr/de/en (G02): ?lang= and the csam_lang cookie, French by
default, the cookie-consent banner, the help page « Besoin d'aide? », and the
committed .mo files matching their .po sources."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation

EID_FR = "IDENTIFICATION avec un lecteur de cartes eID"
EID_NL = "AANMELDEN met een eID-kaartlezer"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "idp_csam" / "translations"


def csam(federation: Federation) -> str:
    return federation.urls["idp_csam"]


def method_labels(page) -> list[str]:  # noqa: ANN001 - a browser Page
    return [a.text_content() for a in page.tree.xpath("//a[@class='method-link']")]


def test_french_is_the_default_even_for_a_dutch_browser(federation: Federation, browser: Browser) -> None:
    page = browser.open(csam(federation) + "/")
    assert page.status == 200 and EID_FR in method_labels(page)
    assert "S'identifier à l'administration en ligne" in page.text
    assert page.tree.xpath("//html/@lang") == ["fr"]
    assert page.tree.xpath("//nav[@class='langs']/strong/text()") == ["fr"]
    links = page.tree.xpath("//nav[@class='langs']/a/@href")
    assert sorted(links) == ["/?lang=de", "/?lang=en", "/?lang=nl"]


def test_lang_nl_shows_dutch_and_persists_through_the_cookie(federation: Federation, browser: Browser) -> None:
    page = browser.open(csam(federation) + "/?lang=nl")
    assert EID_NL in method_labels(page) and EID_FR not in method_labels(page)
    assert "Digitale sleutel(s) met eID of digitale identiteit:" in page.text
    assert "Hulp nodig?" in page.text and page.tree.xpath("//html/@lang") == ["nl"]
    page = browser.click(EID_NL)  # no ?lang= any more: the csam_lang cookie
    assert page.status == 200 and "AANMELDEN met een eID-kaartlezer" in page.text
    assert "Carte eID dans le lecteur" not in page.text and "eID-kaart in de lezer" in page.text
    page = browser.open(csam(federation) + "/eid?lang=fr")
    assert "IDENTIFICATION avec un lecteur de cartes eID" in page.text
    assert EID_FR in method_labels(browser.open(csam(federation) + "/"))


@pytest.mark.parametrize(("lang", "label"), [
    ("de", "ANMELDUNG mit einem eID-Kartenlesegerät"), ("en", "LOG IN with an eID card reader")])
def test_german_and_english(federation: Federation, browser: Browser, lang: str, label: str) -> None:
    assert label in method_labels(browser.open(csam(federation) + f"/?lang={lang}"))


def test_an_unknown_language_stays_french(federation: Federation, browser: Browser) -> None:
    for asked in ("xx", "", "nl'><script>"):
        page = browser.open(csam(federation) + "/?lang=" + asked)
        assert page.status == 200 and EID_FR in method_labels(page)
    page = browser.open(csam(federation) + "/?lang=en")
    page = browser.open(csam(federation) + "/?lang=xx")  # ignored: the cookie still says en
    assert "LOG IN with an eID card reader" in method_labels(page)


def test_the_language_cookie(federation: Federation) -> None:
    client = federation.apps["idp_csam"].test_client()
    response = client.get("/?lang=de")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("csam_lang="))
    assert cookie.startswith("csam_lang=de;") and "SameSite=Lax" in cookie and "Max-Age=31536000" in cookie
    assert not any(h.startswith("csam_lang=") for h in client.get("/?lang=xx").headers.getlist("Set-Cookie"))


def test_the_cookie_banner_until_a_choice(federation: Federation, browser: Browser) -> None:
    page = browser.open(csam(federation) + "/")
    assert "Ce site utilise des cookies" in page.text and page.tree.xpath("//form[@class='cookie-banner']")
    page = browser.click("Refuser")
    assert page.status == 200 and page.url.endswith("/") and EID_FR in method_labels(page)
    assert "Ce site utilise des cookies" not in page.text
    assert "Ce site utilise des cookies" not in browser.open(csam(federation) + "/eid").text


def test_the_banner_is_translated_and_brings_you_back(federation: Federation, browser: Browser) -> None:
    page = browser.open(csam(federation) + "/eid?lang=en")
    assert "This site uses cookies" in page.text
    page = browser.click("Accept")
    assert "This site uses cookies" not in page.text and "LOG IN with an eID card reader" in page.text
    client = federation.apps["idp_csam"].test_client()
    response = client.post("/cookies", data={"choix": "accepted", "next": "//evil.example/"})
    assert response.status_code in (302, 303, 400)  # CSRF (400) or, unchecked, a local redirect only
    if response.status_code != 400:
        assert response.headers["Location"] == "/"


def test_the_help_page(federation: Federation, browser: Browser) -> None:
    page = browser.open(csam(federation) + "/")
    page = browser.click("Besoin d'aide?")
    assert page.status == 200 and page.url.endswith("/aide")
    assert EID_FR in page.text and "IDENTIFICATION via itsme" in page.text and "eIDAS" in page.text
    helpcentre = page.tree.xpath("//a[text()=\"Centre d'aide\"]/@href")
    assert helpcentre == [federation.settings.base_url("monespace") + "/centre-aide/"]
    assert "Hulp nodig?" in browser.open(csam(federation) + "/aide?lang=nl").text


@pytest.mark.parametrize("lang", ["nl", "de", "en"])
def test_committed_mo_matches_its_po(lang: str) -> None:
    """The .mo files are committed; compiled in memory from the .po they must
    be identical (after editing a .po: .venv/bin/pybabel compile -d idp_csam/translations)."""
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as po:
        catalog = read_po(po, locale=lang)
    assert all(m.string for m in catalog if m.id), "every msgid is translated"
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert compiled.getvalue() == (folder / "messages.mo").read_bytes(), f"recompile {lang}"


@pytest.mark.parametrize(("path", "title"), [
    ("/eid/puk", "Mit dem PUK-Code entsperren"),
    ("/email-code", "ANMELDUNG mit einem per E-Mail gesendeten Sicherheitscode"),
    ("/code-app", "ANMELDUNG mit einem Sicherheitscode über eine mobile App"),
    ("/itsme", "ANMELDUNG über itsme"),
    ("/eidas", "ANMELDUNG mit einer auf europäischer Ebene anerkannten elektronischen Identifizierung")])
def test_method_pages_in_german(federation: Federation, browser: Browser, path: str, title: str) -> None:
    page = browser.open(csam(federation) + path + "?lang=de")
    assert page.status == 200 and page.tree.xpath("//h1/text()") == [title]
    assert "CSAM — föderaler Authentifizierungsdienst (Simulator)" in page.text
