"""Site policies are versioned: a new version of one document is asked for
again at the next login, and only that one. And the rules of Modigia's
other forms: logging out takes this site's form (a GET only asks), the
contact form's fields have limits, said in French, never a 500."""
from __future__ import annotations

from pathlib import Path

import yaml
from downstream_sp import eid_login
from sqlalchemy import func, select
from test_bad_input import csrf
from test_modigia_idempotence import accept_every_policy, log_into_modigia

import modigia_sp
from fedsim.db import Database
from fedsim.personas import by_id
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from modigia_sp.catalogue import DATA
from modigia_sp.models import ContactMessage, PolicyAcceptance


def _acceptances(app) -> list[tuple[str, str]]:
    with Database.factory(app)() as db:
        return sorted(tuple(r) for r in db.execute(select(PolicyAcceptance.document, PolicyAcceptance.version)))


def test_a_new_version_of_one_policy_is_asked_again_and_only_that_one(federation, run_scenario, tmp_path: Path):
    run_scenario("eid-returning-user")  # Jean accepted the four documents, version 2024.1
    assert len(_acceptances(federation.apps["modigia_sp"])) == 4

    document = yaml.safe_load((DATA / "policies.yaml").read_text(encoding="utf-8"))
    cookies = next(d for d in document["documents"] if d["code"] == "cookies")
    cookies["version"], cookies["date"] = "2025.1", "2025-01-15"
    published = tmp_path / "policies-2025.yaml"
    published.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")

    # Modigia restarts with the new version published, on the same database.
    federation.apps["modigia_sp"] = modigia_sp.create_app({
        "FEDSIM_SETTINGS": federation.settings, "TESTING": True, "POLICIES_FILE": published,
        "SMTP_PORT": federation.apps["modigia_sp"].config["SMTP_PORT"],
        "DATABASE_URL": federation.apps["modigia_sp"].config["DATABASE_URL"]})
    browser = Browser(WsgiTransport(federation.wsgi_by_netloc()))
    browser.open(federation.urls["modigia_sp"] + "/")
    eid_login(browser, by_id("jean"))

    assert "/politiques/cookies/1" in browser.page.url
    assert "Version 2025.1" in browser.page.text
    browser.click("Page suivante")
    browser.click("Page suivante")
    browser.submit({"accept": "yes"}, button="Continuer")
    assert "Bienvenue sur la plateforme" in browser.page.text  # no other document asked again
    assert ("cookies", "2025.1") in _acceptances(federation.apps["modigia_sp"])
    assert len(_acceptances(federation.apps["modigia_sp"])) == 5  # the old acceptances are kept


def test_accepting_without_every_page_served_is_refused_and_not_recorded(federation, browser, run_scenario):
    run_scenario("modigia-refuse-policy")
    app = federation.apps["modigia_sp"]
    with Database.factory(app)() as db:
        assert db.scalar(select(func.count()).select_from(PolicyAcceptance)) == 0


# -- logging out takes this site's form ---------------------------------------------


def _session_open(browser: Browser, federation) -> bool:
    return browser.transport.request("GET", federation.urls["modigia_sp"] + "/mes-cours").status == 200


def test_a_get_of_the_logout_address_only_asks(federation, browser: Browser) -> None:
    """Another site's link, image or redirect to /deconnexion logs nobody out."""
    log_into_modigia(browser, federation)
    accept_every_policy(browser)
    menu = browser.page.tree.xpath("//nav//form[button[contains(., 'Déconnexion')]]")
    assert menu and menu[0].get("method") == "post" and menu[0].xpath(".//input[@name='csrf_token']")
    assert not browser.page.tree.xpath("//a[contains(@href, 'deconnexion')]")

    page = browser.open(federation.urls["modigia_sp"] + "/deconnexion")
    assert page.status == 200 and "Se déconnecter de Modigia" in page.text
    assert _session_open(browser, federation)

    page = browser.transport.request("POST", federation.urls["modigia_sp"] + "/deconnexion", {})  # no token
    assert page.status == 400 and "Formulaire refusé" in page.text
    assert _session_open(browser, federation)

    browser.open(federation.urls["modigia_sp"] + "/deconnexion")
    page = browser.click("Me déconnecter")
    assert "Vous êtes déconnecté de Modigia" in page.text and "/au-revoir" in page.url
    assert not _session_open(browser, federation)


def test_the_logout_page_without_a_session_offers_to_log_in(federation, browser: Browser) -> None:
    page = browser.open(federation.urls["modigia_sp"] + "/deconnexion")
    assert page.status == 200 and "Vous n'êtes pas connecté à Modigia" in page.text


# -- the contact form's limits ---------------------------------------------------------


def test_contact_fields_over_their_limits_are_refused_in_french(federation, browser: Browser) -> None:
    log_into_modigia(browser, federation)
    accept_every_policy(browser)
    page = browser.open(federation.urls["modigia_sp"] + "/contact")
    assert page.tree.xpath("//input[@name='subject']/@maxlength") == ["200"]
    assert page.tree.xpath("//textarea[@name='body']/@maxlength") == ["5000"]
    url = federation.urls["modigia_sp"] + "/contact"
    for fields, said in [({"subject": "s" * 201, "body": "Bonjour"}, "L'objet est trop long : 200 caractères"),
                         ({"subject": "Question", "body": "b" * 5001}, "Le message est trop long : 5000 caractères"),
                         ({"subject": "é" * 100_000, "body": "b" * 400_000}, "trop long")]:
        answer = browser.transport.request("POST", url, {"csrf_token": csrf(page), **fields})
        assert answer.status == 400, (answer.status, answer.text[:300])
        assert said in answer.text and "Traceback" not in answer.text
    with Database.factory(federation.apps["modigia_sp"])() as db:
        assert db.scalar(select(func.count()).select_from(ContactMessage)) == 0
    answer = browser.transport.request("POST", url, {"csrf_token": csrf(page), "subject": "s" * 200,
                                                     "body": "b" * 5000})
    assert answer.status == 200 and "Votre message a été envoyé" in answer.text
