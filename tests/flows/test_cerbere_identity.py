"""Cerbère Citoyen as seen downstream: the chosen context travels as an
attribute; the direct password login locks after repeated failures."""
from __future__ import annotations

from sqlalchemy import select

from downstream_sp import eid_login
from fedsim.db import Database
from fedsim.personas import by_id
from modigia_sp.models import User
from monespace.accounts import AccountService
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


def test_a_password_login_locks_after_five_failures_and_says_until_when(federation, browser):
    app = federation.apps["monespace"]
    with Database.factory(app)() as db:
        jean = db.scalars(select(Account).where(Account.cerbere_username == "jdupont")).one()
        AccountService.set_password(db, jean, "Un-mot-de-passe-solide")
    url = federation.urls["monespace"] + "/connexion/cerbere"
    for _ in range(4):
        browser.open(url)
        browser.submit({"username": "jdupont", "password": "faux"}, button="Se connecter")
        assert "Nom d'utilisateur ou mot de passe incorrect." in browser.page.text
    browser.open(url)
    browser.submit({"username": "jdupont", "password": "faux"}, button="Se connecter")
    assert "Compte verrouillé après 5 essais infructueux, jusqu'à" in browser.page.text
    browser.open(url)
    browser.submit({"username": "jdupont", "password": "Un-mot-de-passe-solide"}, button="Se connecter")
    assert browser.page.status == 400 and "Compte verrouillé" in browser.page.text  # even the right one


def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(federation, browser):
    browser.open(federation.urls["monespace"] + "/connexion/cerbere")
    browser.submit({"username": "personne", "password": "x"}, button="Se connecter")
    assert browser.page.status == 400
    assert "Nom d'utilisateur ou mot de passe incorrect." in browser.page.text
