"""Cerbère Citoyen as seen downstream: the chosen context travels as an
attribute; the direct password login locks after repeated failures, with
the one refusal that does not tell whether the username exists."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from freezegun import freeze_time
from sqlalchemy import select

from downstream_sp import eid_login
from fedsim.db import Database
from fedsim.personas import by_id
from modigia_sp.models import User
from monespace.accounts import REFUSAL, AccountService
from monespace.models import Account


def test_the_chosen_context_reaches_modigia(federation, browser):
    browser.open(federation.urls["monespace"] + "/connexion")
    eid_login(browser, by_id("claire"))
    browser.click("Membre du personnel de l'enseignement")
    browser.open(federation.urls["monespace"] + "/demarrer-demarche/?codeDemarche=NAID")
    assert "Conditions générales d'utilisation" in browser.page.text
    with Database.factory(federation.apps["modigia_sp"])() as db:
        user = db.scalars(select(User)).one()
    assert user.context == "Membre du personnel de l'enseignement"
    assert user.attributes["context"] == ["Membre du personnel de l'enseignement"]
    assert user.attributes["demarche"] == ["NAID"]
    assert user.cerbere_username == "clejeune"
    assert "egovNRN" not in user.attributes  # the national number stays upstream


def _refusal(browser, url: str, username: str, password: str) -> str:
    browser.open(url)
    browser.submit({"username": username, "password": password}, button="Se connecter")
    assert browser.page.status == 400
    return browser.page.tree.xpath("string(//*[@role='alert'])")


def test_a_password_login_locks_after_five_failures_without_saying_the_account_exists(federation, browser):
    app = federation.apps["monespace"]
    with Database.factory(app)() as db:
        jean = db.scalars(select(Account).where(Account.cerbere_username == "jdupont")).one()
        AccountService.set_password(db, jean, "Un-mot-de-passe-solide")
    url = federation.urls["monespace"] + "/connexion/cerbere"
    unknown = _refusal(browser, url, "personne", "faux")
    assert unknown == REFUSAL
    assert "bloqué pendant 15 minutes" in unknown  # the lockout is announced to every username
    for _ in range(5):
        assert _refusal(browser, url, "jdupont", "faux") == unknown
    # locked: even the right password is refused, with the very same words
    assert _refusal(browser, url, "jdupont", "Un-mot-de-passe-solide") == unknown
    with Database.factory(app)() as db:
        assert db.scalars(select(Account).where(Account.cerbere_username == "jdupont")).one().locked_until
    with freeze_time(datetime.now(timezone.utc) + timedelta(minutes=16)):
        browser.open(url)
        browser.submit({"username": "jdupont", "password": "Un-mot-de-passe-solide"}, button="Se connecter")
        assert "MON TABLEAU DE BORD" in browser.page.text


def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(federation, browser):
    url = federation.urls["monespace"] + "/connexion/cerbere"
    assert _refusal(browser, url, "personne", "x") == _refusal(browser, url, "jdupont", "x") == REFUSAL
