"""CSAM's screens as a person sees them in Chromium (issue 13): every page of
the journey fits a 375 px phone without horizontal scroll, the itsme waiting
page is rendered HTML (G04), the eID reader does not preselect an expired
card, the eIDAS « ? » works with the keyboard, the skip link moves the focus
to the content, the nl/de/en choice pages show no French label, and axe-core
finds no critical or serious violation (desktop and 375 px)."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from fedsim import personas
from fedsim.personas import by_id

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
EXPIRED_CARD = "591-2208734-12"  # fedsim/data/personas.yaml: naima's expired card


def csam(served) -> str:
    return served.urls["idp_csam"]


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url}: {width} px wide in a {viewport} px window"


# -- the CSAM pages of the journey, reached as a person reaches them -------------

def choice(page: Page, base: str) -> None:
    page.goto(base + "/")


def eid(page: Page, base: str) -> None:
    page.goto(base + "/eid")


def itsme_start(page: Page, base: str) -> None:
    page.goto(base + "/itsme")


def itsme_waiting(page: Page, base: str) -> None:
    page.goto(base + "/itsme")
    page.get_by_label("Numéro de téléphone mobile").fill("0470 11 22 33")
    page.get_by_role("button", name="Envoyer une demande à mon téléphone").click()
    expect(page).to_have_url(re.compile(r"/itsme-op/attente/"))


def email_code(page: Page, base: str) -> None:
    naima = by_id("naima")
    page.goto(base + "/email-code")
    page.get_by_label("Nom d'utilisateur").fill(naima.csam.username)
    page.get_by_label("Mot de passe").fill(naima.csam.password)
    page.get_by_role("button", name="Suivant").click()
    expect(page.get_by_label("Code de sécurité")).to_be_visible()


def app_code(page: Page, base: str) -> None:
    naima = by_id("naima")
    page.goto(base + "/code-app")
    page.get_by_label("Nom d'utilisateur").fill(naima.csam.username)
    page.get_by_label("Mot de passe").fill(naima.csam.password)
    page.get_by_role("button", name="Suivant").click()
    expect(page.get_by_label("Code de sécurité")).to_be_visible()


def eidas(page: Page, base: str) -> None:
    page.goto(base + "/eidas")


def eidas_france(page: Page, base: str) -> None:
    page.goto(base + "/eidas?pays=FR")


def eidas_node(page: Page, base: str) -> None:
    page.goto(base + "/eidas?pays=NL")
    expect(page).to_have_url(re.compile(r"/authentification"))


def bel(page: Page, base: str) -> None:
    agent = next(p for p in personas.load() if p.bel_agent)  # the BEL page is for a logged-in agent
    page.goto(base + "/bel/")
    page.get_by_label("Nom d'utilisateur de l'agent").fill(agent.bel_agent.username)
    page.get_by_label("Mot de passe").fill(agent.bel_agent.password)
    page.get_by_role("button", name="Connexion de l'agent").click()
    expect(page.get_by_text("Agent connecté·e")).to_be_visible()


PAGES: dict[str, Callable[[Page, str], None]] = {
    "choice": choice, "eid": eid, "itsme-start": itsme_start, "itsme-waiting": itsme_waiting,
    "email-code": email_code, "app-code": app_code, "eidas": eidas, "eidas-france": eidas_france,
    "eidas-node": eidas_node, "bel": bel,
}


@pytest.fixture
def phone(page: Page) -> Iterator[Page]:
    page.set_viewport_size(PHONE)
    yield page


def test_every_csam_page_fits_a_phone(served, phone: Page) -> None:
    for name, reach in PAGES.items():
        reach(phone, csam(served))
        assert phone.locator("html").get_attribute("lang") == "fr", name
        assert phone.title().strip(), f"{name}: no <title>"
        no_horizontal_scroll(phone)
        # the main actions are large enough to tap
        for target in phone.locator("main button:visible, main a.method-link:visible").all():
            box = target.bounding_box()
            assert box is not None and box["height"] >= 44, f"{name}: {target.inner_text()!r} is too small to tap"


def test_the_itsme_waiting_page_is_html(served, page: Page) -> None:
    """G04: it was sent as text/plain, so the browser showed the raw HTML."""
    response = page.goto(csam(served) + "/itsme")
    assert response is not None
    page.get_by_label("Numéro de téléphone mobile").fill("0470 11 22 33")
    with page.expect_response(re.compile(r"/itsme-op/attente/")) as waiting:
        page.get_by_role("button", name="Envoyer une demande à mon téléphone").click()
    assert waiting.value.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmez sur votre téléphone")
    body = page.locator("body").inner_text()
    assert "<" not in body and "{{" not in body, "markup shown as text"
    expect(page.locator(".itsme-phone-url")).to_be_visible()


def test_the_eid_reader_preselects_a_valid_card(served, page: Page) -> None:
    page.goto(csam(served) + "/eid")
    chosen = page.get_by_label("Carte eID dans le lecteur").input_value()
    assert chosen and chosen != EXPIRED_CARD
    options = page.locator("#card option").evaluate_all("os => os.map(o => o.value)")
    assert EXPIRED_CARD in options  # still in the reader: it can be chosen, just not preselected


def test_the_eidas_question_mark_works_with_the_keyboard(served, page: Page) -> None:
    page.goto(csam(served) + "/")
    qmark = page.locator("[data-method=eidas] .qmark")
    for _ in range(60):  # Tab until the « ? » has the focus
        page.keyboard.press("Tab")
        if qmark.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the eIDAS « ? » cannot be reached with Tab")
    tip = page.locator("[data-method=eidas] .tip-body")
    expect(tip).to_be_hidden()
    page.keyboard.press("Enter")
    expect(tip).to_be_visible()
    expect(tip.get_by_role("link", name="Pays reconnus")).to_be_visible()
    # the same on the country page
    page.goto(csam(served) + "/eidas")
    summary = page.locator(".eidas-help > summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".eidas-help li[data-country=NL]")).to_be_visible()


def test_the_skip_link_moves_to_the_content(served, page: Page) -> None:
    page.goto(csam(served) + "/eid")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu principal")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
    page.keyboard.press("Tab")  # the next Tab goes into the content, not back to the header
    assert page.evaluate("!!document.activeElement.closest('main')")


@pytest.mark.parametrize("lang", ["nl", "de", "en"])
def test_the_choice_page_has_no_french_label(served, page: Page, lang: str) -> None:
    page.goto(csam(served) + f"/?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    text = page.locator("body").inner_text()
    french = ["IDENTIFICATION", "Clé(s) numérique(s)", "Authentification européenne", "Choisissez",
              "Besoin d'aide", "Créez votre compte", "Accepter", "Refuser", "service fédéral",
              "Aller au contenu", "Aucune demande"]
    assert [word for word in french if word in text] == []
    page.locator("[data-method=eidas] .qmark").click()
    assert "Pays reconnus" not in page.locator("[data-method=eidas]").inner_text()


@pytest.mark.parametrize("lang", ["nl", "de", "en"])
def test_the_france_refusal_and_the_node_are_translated(served, page: Page, lang: str) -> None:
    page.goto(csam(served) + f"/eidas?pays=FR&lang={lang}")
    text = page.locator("main").inner_text()
    assert "Votre identification électronique" not in text and "Ressortissant étranger" not in text
    assert {"nl": "Frankrijk", "de": "Frankreich", "en": "France"}[lang] in text
    page.goto(csam(served) + "/eidas?pays=NL")
    text = page.locator("main").inner_text()
    assert "nœud eIDAS simulé" not in text and "S'identifier :" not in text
    assert not re.search(r"\bAnnuler\b", text)


# -- axe-core -------------------------------------------------------------------

@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "375px"])
def test_axe_finds_no_serious_violation(served, page: Page, viewport: dict) -> None:
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    axe = axe_module.Axe()
    page.set_viewport_size(viewport)
    found = {}
    for name, reach in PAGES.items():
        reach(page, csam(served))
        violations = axe.run(page).response["violations"]
        bad = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
               for v in violations if v["impact"] in ("critical", "serious")]
        if bad:
            found[name] = bad
    assert found == {}
