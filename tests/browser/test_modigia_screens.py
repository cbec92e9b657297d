"""Modigia as a person sees it in Chromium, reached as the guide says (Mon
Espace, the NAID démarche): the site policies, the home page's course
cards, a course, a lesson with its progress, « Mes cours », the profile and
contact pages — on a phone (375 px, no horizontal scroll) and a laptop,
named navigation landmarks, and axe-core (0 critical, 0 serious)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from test_monespace_screens import LAPTOP, PHONE, assert_fits, check_page, log_into_monespace

pytestmark = pytest.mark.browser

COURSE = "Activités infirmières déléguées (NAID) : connaissances théoriques"


def _to_modigia(page: Page, urls: dict[str, str]) -> None:
    log_into_monespace(page, urls)
    page.goto(urls["monespace"] + "/demarrer-demarche/?codeDemarche=NAID")
    expect(page).to_have_url(re.compile(r"/politiques/"))


def test_modigia_pages_fit_a_phone_and_pass_axe(served, page: Page) -> None:
    urls = served.urls
    _to_modigia(page, urls)
    # G15: every page of the four policies, each checked
    for _ in range(4):
        check_page(page)
        while page.get_by_role("link", name="Page suivante").count():
            page.get_by_role("link", name="Page suivante").click()
            check_page(page)
        paragraphs = page.locator(".policy-page p, .policy-page li")
        assert paragraphs.count() >= 2  # a real document, not one sentence
        page.get_by_role("checkbox").check()
        page.get_by_role("button", name="Continuer").click()
    # G16: the home page, its course cards at the bottom
    expect(page.get_by_role("heading", name="Cours disponibles")).to_be_visible()
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav).to_have_count(1)
    check_page(page)
    page.get_by_role("link", name=COURSE).click()
    expect(page.get_by_text("Vous êtes inscrit à ce cours")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Les actes infirmiers délégables").click()
    expect(page.get_by_text("Leçon 1 sur 6")).to_be_visible()
    assert page.locator(".lesson-body p").count() >= 3  # a lesson of realistic length
    check_page(page)
    page.get_by_role("button", name="Marquer la leçon comme terminée").click()
    expect(page.get_by_text("Progression : 17 %")).to_be_visible()
    page.get_by_role("link", name="Responsabilités de chacun").click()
    expect(page.get_by_text("Progression du cours : 17 %")).to_be_visible()
    page.set_viewport_size(PHONE)
    assert_fits(page)
    page.get_by_role("link", name=re.compile("Suivante : Hygiène des mains")).click()
    expect(page.get_by_text("Leçon 3 sur 6")).to_be_visible()
    for path in ("/mes-cours", "/profil", "/contact", "/deconnexion"):
        page.goto(urls["modigia_sp"] + path)
        check_page(page)
    page.goto(urls["modigia_sp"] + "/")
    expect(page.locator(".course.highlighted").get_by_text("Votre démarche")).to_be_visible()
    expect(page.locator(".course").first.locator("progress")).to_have_count(1)  # enrolled: progress shown


def test_modigia_header_on_a_phone_and_named_navigations(served, page: Page) -> None:
    page.set_viewport_size(PHONE)
    _to_modigia(page, served.urls)
    navs = page.locator("nav")
    for i in range(navs.count()):
        assert navs.nth(i).get_attribute("aria-label"), "a <nav> without a name"
    nav = page.get_by_role("navigation", name="Navigation principale")
    for name in ("Accueil", "Mes cours", "Contact"):
        box = nav.get_by_role("link", name=name, exact=True).bounding_box()
        assert box and box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"], name
    logout = nav.get_by_role("button", name="Déconnexion")
    assert logout.bounding_box()["height"] >= 44
    page.keyboard.press("Tab")
    expect(page.locator("a.skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#contenu")).to_be_focused()


def test_refused_and_signed_out_pages(served, page: Page) -> None:
    page.set_viewport_size(LAPTOP)
    _to_modigia(page, served.urls)
    while page.get_by_role("link", name="Page suivante").count():
        page.get_by_role("link", name="Page suivante").click()
    page.get_by_role("button", name="Je refuse").click()
    expect(page.get_by_role("heading", name="Accès impossible")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Quitter Modigia").click()
    check_page(page)
