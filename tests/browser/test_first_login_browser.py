"""eid-first-login clicked through in a real Chromium: the journey a trainer
demonstrates, from the Mon Espace home page to the NAID course."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fedsim.personas import by_id

pytestmark = pytest.mark.browser


def test_eid_first_login_in_chromium(served, page: Page) -> None:
    naima = by_id("naima")
    urls = served.urls

    # G01 → G02: Mon Espace home, « Me connecter », CSAM's choice of digital keys
    page.goto(urls["monespace"] + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Le guichet électronique de la Fédération Wallonie-Bruxelles")
    page.get_by_role("link", name="Me connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("S'identifier à l'administration en ligne")

    # G03: eID card reader, the card in the reader and its PIN
    page.get_by_role("link", name="IDENTIFICATION avec un lecteur de cartes eID").click()
    page.get_by_label("Carte eID dans le lecteur").select_option(naima.card.number)
    page.get_by_label("Code PIN").fill(naima.card.pin)
    page.get_by_role("button", name="Se connecter").click()

    # G09 → G22: back at Mon Espace (through the SAML POST), create the account
    expect(page).to_have_url(re.compile(r"/compte/creation$"))
    expect(page.get_by_label("E-mail", exact=True)).to_have_value(naima.email)
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_text("Merci de valider votre compte via le lien fourni dans l'e-mail")).to_be_visible()

    # G24 → G26: the activation e-mail in the web mailbox
    page.goto(urls["mailbox"] + "/?to=" + naima.email)
    page.get_by_role("link", name="Activation de votre compte Mon Espace").click()
    mail = page.frame_locator("iframe.mail-body")  # the mail, sanitised, in a sandboxed frame
    expect(mail.get_by_text(f"Bonjour {naima.given_name} {naima.surname}")).to_be_visible()
    with page.context.expect_page() as opened:  # a link of the mail opens in a new tab
        mail.get_by_role("link", name="Activer mon compte Mon Espace").click()
    page = opened.value
    expect(page.get_by_text("Votre compte Mon Espace a bien été activé.")).to_be_visible()
    expect(page.locator(".cerbere-username")).to_have_text("nmremi")

    # G11 → G13: dashboard, « Mes démarches », Santé, the NAID row's ⋮ menu
    page.get_by_role("link", name="Accéder à mon compte").click()
    expect(page.get_by_role("heading", name="MON TABLEAU DE BORD")).to_be_visible()
    page.get_by_role("link", name="Mes démarches").click()
    page.get_by_role("link", name="Santé", exact=True).click()
    expect(page.get_by_text("20 démarches")).to_be_visible()
    page.get_by_role("link", name="Suivant").click()
    row = page.get_by_role("row").filter(has_text="activités infirmières déléguées (NAID)")
    row.get_by_label("Actions").click()
    row.get_by_role("link", name="Démarrer la démarche").click()

    # G14 → G15: on Modigia without logging in again; the four site policies
    expect(page).to_have_url(re.compile(r"/politiques/"))
    def leave_by(control) -> None:  # noqa: ANN001 - a Playwright locator
        """Click and wait for the next page: counting links on the page being left would see its links."""
        before = page.url
        control.click()
        page.wait_for_url(lambda url: url != before)

    for _ in range(4):
        while page.get_by_role("link", name="Page suivante").count():
            leave_by(page.get_by_role("link", name="Page suivante"))
        page.get_by_role("checkbox").check()
        leave_by(page.get_by_role("button", name="Continuer"))

    # G16: the courses at the bottom of the home page; the course opens
    expect(page.get_by_role("heading", name="Cours disponibles")).to_be_visible()
    page.get_by_role("link", name="Activités infirmières déléguées (NAID) : connaissances théoriques").click()
    expect(page.get_by_text("Vous êtes inscrit à ce cours")).to_be_visible()
