"""Mon Espace as a person sees it in Chromium: on a phone (375 px) and a
laptop, no page wider than the screen, the side menu behind its button on a
phone, the ⋮ action menus usable with the keyboard and inside the window
(G13), the context choice not answered in advance (G10), the home page that
knows an open session, and axe-core (0 critical, 0 serious) on every page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fedsim import personas
from fedsim.personas import by_id

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
LAPTOP = {"width": 1280, "height": 800}
NAID = "Se former en ligne pour acquérir des connaissances théoriques liées aux activités infirmières déléguées (NAID)"


# -- helpers the Modigia screens share ------------------------------------------------

def eid_login(page: Page, persona_id: str) -> None:
    """From CSAM's choice of digital keys: the eID card reader, the card, its PIN."""
    persona = by_id(persona_id)
    page.get_by_role("link", name="IDENTIFICATION avec un lecteur de cartes eID").click()
    page.get_by_label("Carte eID dans le lecteur").select_option(persona.card.number)
    page.get_by_label("Code PIN").fill(persona.card.pin)
    page.get_by_role("button", name="Se connecter").click()


def log_into_monespace(page: Page, urls: dict[str, str], persona_id: str = "jean") -> None:
    page.goto(urls["monespace"] + "/")
    page.get_by_role("link", name="Me connecter").click()
    eid_login(page, persona_id)
    page.wait_for_url(re.compile("^" + re.escape(urls["monespace"])))  # back through the SAML POST


def assert_fits(page: Page) -> None:
    """Nothing wider than the window: no horizontal scroll."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url}: the page is {widths[0]} px wide in a {widths[1]} px window"


def assert_basics(page: Page) -> None:
    """lang="fr", a title, and a skip link first in the tab order that leads to <main>."""
    assert page.evaluate("() => document.documentElement.lang") == "fr", page.url
    assert page.title().strip(), f"{page.url}: no <title>"
    skip = page.locator("a.skip-link")
    expect(skip).to_have_attribute("href", "#contenu")
    expect(page.locator("main#contenu")).to_have_count(1)


def assert_axe_clean(page: Page) -> None:
    """axe-core: no critical and no serious violation on the page as shown."""
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    results = axe_module.Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("critical", "serious")]
    assert not bad, f"{page.url} ({page.viewport_size['width']} px): " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in bad)


def check_page(page: Page, sizes: tuple[dict, ...] = (PHONE, LAPTOP)) -> None:
    """The page now shown, at each size: fits, has its basics, passes axe."""
    for size in sizes:
        page.set_viewport_size(size)
        assert_basics(page)
        assert_fits(page)
        assert_axe_clean(page)


# -- anonymous pages ---------------------------------------------------------------------

def test_public_pages_fit_a_phone_and_pass_axe(served, page: Page) -> None:
    urls = served.urls
    for path in ("/", "/centre-aide/", "/centre-aide/?q=mot+de+passe", "/centre-aide/guide",
                 "/centre-aide/guide?etranger=1", "/centre-aide/bureaux-enregistrement", "/connexion/cerbere"):
        response = page.goto(urls["monespace"] + path)
        assert response.status == 200, path
        check_page(page)
    page.goto(urls["monespace"] + "/centre-aide/")
    page.get_by_role("link", name="J'ai un problème technique").click()
    check_page(page)
    page.set_viewport_size(PHONE)
    page.goto(urls["monespace"] + "/")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip-link")).to_be_focused()
    expect(page.locator("a.skip-link")).to_be_visible()


# -- logged in -----------------------------------------------------------------------------

def test_side_menu_is_a_button_on_a_phone(served, page: Page) -> None:
    page.set_viewport_size(PHONE)
    log_into_monespace(page, served.urls)
    expect(page.get_by_role("heading", name="MON TABLEAU DE BORD")).to_be_visible()
    toggle = page.get_by_role("button", name="Menu")
    menu = page.get_by_role("navigation", name="Menu principal")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_hidden()  # closed: it covers nothing
    assert_fits(page)
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("link", name="Mes démarches")).to_be_visible()
    box = menu.get_by_role("link", name="Mes démarches").bounding_box()
    assert box and box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()
    # on a laptop the menu is always there, and the button is not
    page.set_viewport_size(LAPTOP)
    expect(menu.get_by_role("link", name="Mes démarches")).to_be_visible()
    expect(toggle).to_be_hidden()


def _open_naid_row(page: Page, urls: dict[str, str]):  # noqa: ANN202 - playwright Locator
    page.goto(urls["monespace"] + "/demarches/?categorie=Sant%C3%A9&page=2")
    return page.get_by_role("row").filter(has_text="activités infirmières déléguées (NAID)")


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["375px", "1280px"])
def test_g13_action_menu_stays_inside_the_window_on_one_line(served, page: Page, size: dict) -> None:
    page.set_viewport_size(size)
    log_into_monespace(page, served.urls)
    row = _open_naid_row(page, served.urls)
    toggle = row.get_by_role("button", name="Actions")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    start = row.get_by_role("link", name="Démarrer la démarche")
    expect(start).to_be_hidden()
    tb = toggle.bounding_box()
    assert tb and tb["width"] >= 44 and tb["height"] >= 44  # a tap target
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(start).to_be_visible()
    box = start.bounding_box()
    menu = row.locator(".actions-menu").bounding_box()
    assert menu["x"] >= 0 and menu["x"] + menu["width"] <= size["width"], (menu, size)
    one_line = start.evaluate("el => { const r = document.createRange(); r.selectNodeContents(el);"
                              " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }")
    assert one_line == 1, "« Démarrer la démarche » wraps"
    assert box["height"] >= 44
    assert_fits(page)
    start.click()
    expect(page).to_have_url(re.compile(r"/politiques/"))  # G14: on Modigia, no second login


def test_g13_action_menu_with_the_keyboard(served, page: Page) -> None:
    page.set_viewport_size(PHONE)
    log_into_monespace(page, served.urls)
    row = _open_naid_row(page, served.urls)
    toggle = row.get_by_role("button", name="Actions")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    start = row.get_by_role("link", name="Démarrer la démarche")
    expect(start).to_be_focused()  # opened with the keyboard: the focus is in the menu
    page.keyboard.press("Tab")
    expect(row.get_by_role("link", name="Détails de la démarche")).to_be_focused()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    expect(start).to_be_hidden()
    page.keyboard.press("Space")
    expect(start).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/politiques/"))


def test_logged_in_pages_fit_and_pass_axe_and_home_knows_the_session(served, page: Page) -> None:
    urls = served.urls
    log_into_monespace(page, urls)
    expect(page.get_by_role("heading", name="MON TABLEAU DE BORD")).to_be_visible()
    check_page(page)
    row = _open_naid_row(page, urls)
    check_page(page)
    page.set_viewport_size(PHONE)
    row.get_by_role("button", name="Actions").click()  # axe on the open menu too
    assert_axe_clean(page)
    for path in ("/demarches/NAID", "/compte/mot-de-passe", "/deconnexion"):
        response = page.goto(urls["monespace"] + path)
        assert response.status == 200, path
        check_page(page)
    # the home page with a session open: said, with the way to the dashboard
    page.goto(urls["monespace"] + "/")
    expect(page.get_by_role("heading", name="Vous êtes connecté")).to_be_visible()
    expect(page.get_by_role("link", name="Me connecter")).to_have_count(0)
    check_page(page)
    page.get_by_role("link", name="Accéder à mon tableau de bord").click()
    expect(page.get_by_role("heading", name="MON TABLEAU DE BORD")).to_be_visible()


def test_g10_context_choice_is_not_answered_in_advance(served, page: Page) -> None:
    page.set_viewport_size(LAPTOP)
    log_into_monespace(page, served.urls, "claire")
    expect(page.get_by_text("Dans quel contexte souhaitez-vous vous connecter")).to_be_visible()
    expect(page.locator(".fwb-header .context")).to_have_count(0)  # no badge before the choice
    expect(page.get_by_role("link", name="Changer de contexte")).to_have_count(0)
    menu = page.get_by_role("navigation", name="Menu principal")
    expect(menu.get_by_role("link", name="Mes démarches")).to_have_count(0)
    expect(menu.get_by_role("link", name="Mon tableau de bord")).to_have_count(0)
    expect(menu.get_by_role("link", name="Choisir un contexte")).to_be_visible()
    for button in page.locator("button.context-choice").all():  # none looks already chosen
        assert "primary" not in (button.get_attribute("class") or "")
    check_page(page)
    page.get_by_role("button", name="Citoyen", exact=True).click()
    expect(page.locator(".fwb-header .context")).to_have_text("CITOYEN")
    expect(menu.get_by_role("link", name="Mes démarches")).to_be_visible()
    expect(page.get_by_role("link", name="Changer de contexte")).to_be_visible()


def test_account_creation_pages_fit_and_pass_axe(served, page: Page) -> None:
    log_into_monespace(page, served.urls, "lucas")  # first connection: no account yet
    expect(page.get_by_role("button", name="Créer mon compte")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_text("Merci de valider votre compte via le lien fourni dans l'e-mail")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Renvoyer l'e-mail").click()
    expect(page.get_by_role("button", name="Renvoyer mail d'activation")).to_be_visible()
    check_page(page)


def test_g20_activated_digital_key_leads_on_to_mon_espace(served, page: Page) -> None:
    urls = served.urls
    agent = next(p for p in personas.load() if p.bel_agent)  # the BEL page is for a logged-in agent
    page.goto(urls["idp_csam"] + "/bel/")
    page.get_by_label("Nom d'utilisateur de l'agent").fill(agent.bel_agent.username)
    page.get_by_label("Mot de passe").fill(agent.bel_agent.password)
    page.get_by_role("button", name="Connexion de l'agent").click()
    for name, value in {"given_name": "Élise", "surname": "Martin", "birth_date": "1988-09-02",
                        "nationality": "française", "email": "elise.martin@example.fr"}.items():
        field = page.locator(f"[name={name}]")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    page.get_by_role("button", name="Enregistrer la personne").click()
    paper_code = re.search(r"Code unique : ([A-Z0-9]{4}-[A-Z0-9]{4})", page.inner_text("body")).group(1)
    page.goto(urls["mailbox"] + "/?to=elise.martin@example.fr")
    page.get_by_role("link", name="CSAM — activez votre clé numérique").click()
    mail = page.frame_locator("iframe.mail-body")
    with page.context.expect_page() as opened:
        mail.get_by_role("link", name="Activer ma clé numérique").click()
    page = opened.value
    page.locator("[name=paper_code]").fill(paper_code)
    page.get_by_role("button", name="Continuer").click()
    page.locator("[name=username]").fill("elise.martin")
    page.locator("[name=password]").fill("Elise-CSAM-2024")
    page.locator("[name=confirm]").fill("Elise-CSAM-2024")
    page.get_by_role("button", name="Activer ma clé numérique").click()
    expect(page.get_by_role("heading", name="Votre clé numérique est activée")).to_be_visible()
    next_step = page.get_by_role("link", name=re.compile(r"Mon Espace|connecter", re.IGNORECASE))
    expect(next_step.first).to_be_visible()
    next_step.first.click()
    expect(page).to_have_url(re.compile(re.escape(urls["monespace"])))
