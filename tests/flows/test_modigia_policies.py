"""Site policies are versioned: a new version of one document is asked for
again at the next login, and only that one."""
from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import func, select

import modigia_sp
from downstream_sp import eid_login
from fedsim.db import Database
from fedsim.personas import by_id
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from modigia_sp.catalogue import DATA
from modigia_sp.models import PolicyAcceptance


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
        "SMTP_PORT": federation.apps["modigia_sp"].config["SMTP_PORT"]})
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
