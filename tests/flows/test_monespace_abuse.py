"""Mon Espace under abuse (issue #9): guesses, links and forms sent many
times at once, replayed, forged from another site, or too long. What must
happen once happens once; the rest gets a clear 4xx page, never a 500."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from at_once import at_once
from freezegun import freeze_time
from lxml import html
from sqlalchemy import func, select
from test_bad_input import csrf, log_into_monespace, pin_page
from werkzeug.test import Client, TestResponse

from fedsim import attempts
from fedsim.db import Database
from fedsim.personas import Persona, by_id
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation
from monespace.accounts import MAX_FAILED_LOGINS, REFUSAL, AccountService, LoginRefused
from monespace.models import Account, ActivationLink

THREADS = 30
COPIES = 5


@pytest.fixture
def naima() -> Persona:
    return by_id("naima")


@pytest.fixture
def jean() -> Persona:
    return by_id("jean")


def _client(federation: Federation, cookie: str | None = None) -> Client:
    """Another browser at Mon Espace, with a copy of ``cookie`` if given."""
    app = federation.apps["monespace"]
    client = Client(app)
    if cookie is not None:
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie, domain="localhost")
    return client


def _get(client: Client, federation: Federation, path: str) -> TestResponse:
    return client.get(path, base_url=federation.urls["monespace"])


def _post(client: Client, federation: Federation, path: str, data: dict) -> TestResponse:
    return client.post(path, data=data, base_url=federation.urls["monespace"])


def _cookie(browser: Browser, federation: Federation) -> str:
    app = federation.apps["monespace"]
    found = browser.transport.clients[urlsplit(federation.urls["monespace"]).netloc].get_cookie(
        app.config["SESSION_COOKIE_NAME"])
    assert found is not None
    return found.value


def _text(response: TestResponse) -> str:
    return " ".join(html.fromstring(response.get_data(as_text=True)).text_content().split())


def _refused(response: TestResponse, status: int, fragment: str) -> bool:
    body = response.get_data(as_text=True)
    return response.status_code == status and fragment in _text(response) and "Traceback" not in body


def _mails(federation: Federation, email: str) -> list[dict]:
    client = federation.mailbox.test_client()
    return client.get("/api/messages", query_string={"to": email}).get_json()["messages"]


def _link(federation: Federation, email: str, text: str) -> str:
    return [link["href"] for m in _mails(federation, email) for link in m["links"] if link["text"] == text][0]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _create_page(browser: Browser, federation: Federation, persona: Persona) -> None:
    """First login of ``persona``: on the « create your account » form."""
    pin_page(browser, federation)
    page = browser.submit({"card": persona.card.number, "pin": persona.card.pin}, button="Se connecter")
    assert "Créer mon compte" in page.text, page.text[:400]


def _pending(browser: Browser, federation: Federation, persona: Persona) -> str:
    """A pending account for ``persona``; its activation link's path."""
    _create_page(browser, federation, persona)
    assert "Merci de valider votre compte" in browser.click("Créer mon compte").text
    return _path(_link(federation, persona.email, "Activer mon compte Mon Espace"))


def _account(federation: Federation, persona: Persona) -> Account | None:
    with Database.factory(federation.apps["monespace"])() as db:
        return db.scalars(select(Account).where(Account.nrn == persona.nrn)).first()


# -- the Cerbère password --------------------------------------------------------------


def test_thirty_wrong_cerbere_passwords_at_once_check_five_and_lock(federation: Federation, monkeypatch) -> None:
    app = federation.apps["monespace"]
    with Database.factory(app)() as db:
        jean = db.scalars(select(Account).where(Account.cerbere_username == "jdupont")).one()
        AccountService.set_password(db, jean, "Un-mot-de-passe-solide")
        real_hash = jean.cerbere_password_hash
    checked, lock = [], threading.Lock()
    check = attempts.check_password_hash  # where Cerbère's check happens (fedsim.attempts.LockedPassword)

    def counting(stored: str, password: str) -> bool:
        if stored == real_hash:
            with lock:
                checked.append(password)
        return check(stored, password)

    monkeypatch.setattr(attempts, "check_password_hash", counting)

    def guess(_: int) -> str:
        with app.app_context(), Database.factory(app)() as db:
            try:
                AccountService.password_login(db, "jdupont", "faux")
            except LoginRefused as refused:
                return refused.message
        return "logged in"

    outcomes = at_once(THREADS, guess)
    assert set(outcomes) == {REFUSAL}
    assert len(checked) == MAX_FAILED_LOGINS, len(checked)
    with Database.factory(app)() as db:
        account = db.scalars(select(Account).where(Account.cerbere_username == "jdupont")).one()
        assert account.failed_logins == MAX_FAILED_LOGINS and account.locked_until is not None


# -- the activation link ----------------------------------------------------------------


def test_one_activation_link_opened_five_times_at_once_activates_once(
        federation: Federation, browser: Browser, naima: Persona) -> None:
    path = _pending(browser, federation, naima)
    responses = at_once(COPIES, lambda _: _get(_client(federation), federation, path))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [410] * (COPIES - 1), statuses
    assert all(_refused(r, 410, "Ce lien a déjà été utilisé") for r in responses if r.status_code != 200)
    [opened] = [r for r in responses if r.status_code == 200]
    assert "Votre compte Mon Espace a bien été activé" in _text(opened)
    account = _account(federation, naima)
    assert account.is_active and account.cerbere_username == "nmremi"
    assert f"« Cerbère Citoyen » a été créé : {account.cerbere_username}" in _text(opened)
    with Database.factory(federation.apps["monespace"])() as db:
        assert db.scalar(select(func.count()).select_from(Account)
                         .where(Account.cerbere_username.like("nmremi%"))) == 1


def _activated_elsewhere(browser: Browser, federation: Federation, persona: Persona) -> tuple[str, str]:
    """The activation link opened in another browser, not logged in: its
    cookie and the password form's CSRF token."""
    path = _pending(browser, federation, persona)
    client = _client(federation)
    opened = _get(client, federation, path)
    assert opened.status_code == 200
    token = html.fromstring(opened.get_data(as_text=True)).xpath("//input[@name='csrf_token']/@value")[0]
    cookie = client.get_cookie(federation.apps["monespace"].config["SESSION_COOKIE_NAME"])
    return cookie.value, token


def _password(token: str, password: str = "Un-mot-de-passe-solide") -> dict[str, str]:
    return {"csrf_token": token, "password": password, "password_confirm": password}


def test_the_password_an_activation_link_allows_is_chosen_once(
        federation: Federation, browser: Browser, naima: Persona) -> None:
    cookie, token = _activated_elsewhere(browser, federation, naima)
    responses = at_once(COPIES, lambda i: _post(_client(federation, cookie), federation, "/compte/mot-de-passe",
                                                 _password(token, f"Mot-de-passe-numero-{i}")))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [410] * (COPIES - 1), statuses
    assert all(_refused(r, 410, "ne permet plus de choisir le mot de passe") for r in responses
               if r.status_code != 200)
    [chosen] = [i for i, r in enumerate(responses) if r.status_code == 200]
    assert "Votre mot de passe est enregistré" in _text(responses[chosen])
    with Database.factory(federation.apps["monespace"])() as db:
        assert AccountService.password_login(db, "nmremi", f"Mot-de-passe-numero-{chosen}").nrn == naima.nrn

    # the same cookie replayed later: refused, with a page that says why and what to do
    for replay in (_get(_client(federation, cookie), federation, "/compte/mot-de-passe"),
                   _post(_client(federation, cookie), federation, "/compte/mot-de-passe",
                         _password(token, "Encore-un-autre-mot-de-passe"))):
        assert _refused(replay, 410, "Mon identifiant Cerbère"), (replay.status_code, _text(replay)[:300])
    with Database.factory(federation.apps["monespace"])() as db:
        assert AccountService.password_login(db, "nmremi", f"Mot-de-passe-numero-{chosen}")


def test_the_password_an_activation_link_allows_expires(
        federation: Federation, browser: Browser, naima: Persona) -> None:
    cookie, token = _activated_elsewhere(browser, federation, naima)
    with freeze_time(datetime.now(UTC) + timedelta(minutes=11)):
        late = _post(_client(federation, cookie), federation, "/compte/mot-de-passe", _password(token))
    assert _refused(late, 410, "le délai pour le faire est dépassé"), (late.status_code, _text(late)[:300])
    assert _account(federation, naima).cerbere_password_hash is None


# -- forms posted twice or at once ------------------------------------------------------


def test_the_account_form_posted_five_times_at_once_creates_one_account(
        federation: Federation, browser: Browser, naima: Persona) -> None:
    _create_page(browser, federation, naima)
    form = {"csrf_token": csrf(browser.page), "email": naima.email, "email_confirm": naima.email, "language": "fr"}
    cookie = _cookie(browser, federation)
    responses = at_once(COPIES, lambda _: _post(_client(federation, cookie), federation, "/compte/creation", form))
    assert [r.status_code for r in responses] == [302] * COPIES, [(r.status_code, _text(r)[:200]) for r in responses]
    assert {urlsplit(r.headers["Location"]).path for r in responses} == {"/compte/validation"}
    with Database.factory(federation.apps["monespace"])() as db:
        assert db.scalar(select(func.count()).select_from(Account).where(Account.nrn == naima.nrn)) == 1
    assert len(_mails(federation, naima.email)) == 1
    # and posted once more from the page: the same « check your mail » page
    page = browser.submit({"email": naima.email, "email_confirm": naima.email}, button="Créer mon compte")
    assert page.status == 200 and "Merci de valider votre compte" in page.text
    assert len(_mails(federation, naima.email)) == 1


def test_resend_posted_five_times_at_once_never_fails(
        federation: Federation, browser: Browser, naima: Persona) -> None:
    _pending(browser, federation, naima)
    page = browser.click("Renvoyer l'e-mail")
    form = {"csrf_token": csrf(page), "email": naima.email}
    cookie = _cookie(browser, federation)
    responses = at_once(COPIES, lambda _: _post(_client(federation, cookie), federation, "/compte/renvoyer", form))
    assert all(r.status_code == 200 and "Si un compte en attente" in _text(r) for r in responses), \
        [(r.status_code, _text(r)[:200]) for r in responses]
    with Database.factory(federation.apps["monespace"])() as db:
        kinds = sorted(db.scalars(select(ActivationLink.kind)
                                  .where(ActivationLink.account_id == _account(federation, naima).id)))
    assert kinds == ["activate", "cancel"]  # one pair of links left, the others replaced


# -- state changes need a POST with the form's token ------------------------------------


def test_logout_by_another_sites_get_or_forged_post_ends_nothing(
        federation: Federation, browser: Browser, jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    base = federation.urls["monespace"]
    page = browser.open(base + "/deconnexion")  # <img src=…/deconnexion> on another site
    assert page.status == 200 and "Se déconnecter de Mon Espace ?" in page.text
    forged = browser.transport.request("POST", base + "/deconnexion", {})  # a form on another site: no token
    assert forged.status == 400 and "rien n'a été fermé" in " ".join(forged.text.split())
    assert "MON TABLEAU DE BORD" in browser.open(base + "/tableau-de-bord").text  # still logged in

    page = browser.click("Déconnexion")  # the menu's button
    assert "Vous êtes déconnecté" in page.text
    assert "MON TABLEAU DE BORD" not in browser.open(base + "/tableau-de-bord").text


def test_the_cancel_link_asks_before_deleting(federation: Federation, browser: Browser, naima: Persona) -> None:
    _pending(browser, federation, naima)
    cancel = _link(federation, naima.email, "Annuler l'activation du compte Mon Espace")
    page = browser.open(cancel)  # what a mail scanner fetching links would do
    assert page.status == 200 and "Voulez-vous annuler la création du compte Mon Espace de Naïma" in page.text
    assert _account(federation, naima) is not None
    forged = browser.transport.request("POST", federation.urls["monespace"] + "/compte/annuler",
                                       {"jeton": cancel.split("jeton=")[1]})  # no CSRF token
    assert forged.status == 400 and _account(federation, naima) is not None

    page = browser.click("Confirmer l'annulation")
    assert "a été annulée" in page.text and _account(federation, naima) is None
    assert browser.open(cancel).status == 404  # the link went with the account


# -- field lengths ------------------------------------------------------------------------

LONG = "a" * 10_000


def _long_value_refused(page, *fragments: str) -> None:
    assert page.status == 400, (page.status, page.text[:300])
    assert "Traceback" not in page.body and "Field cannot be longer" not in page.text
    for fragment in fragments:
        assert fragment in page.text, page.text[:600]


@pytest.mark.parametrize("field, message", [
    ("username", "Le nom d'utilisateur compte au plus 64 caractères."),
    ("password", "Le mot de passe compte au plus 128 caractères."),
])
def test_over_long_cerbere_login_fields(federation: Federation, browser: Browser, field: str, message: str) -> None:
    browser.open(federation.urls["monespace"] + "/connexion/cerbere")
    values = {"username": "jdupont", "password": "faux", field: LONG}
    _long_value_refused(browser.submit(values, button="Se connecter"), message)
    with Database.factory(federation.apps["monespace"])() as db:  # not even a try counted
        assert db.scalars(select(Account).where(Account.cerbere_username == "jdupont")).one().failed_logins == 0


def test_over_long_account_form_fields(federation: Federation, browser: Browser, naima: Persona) -> None:
    _create_page(browser, federation, naima)
    email = LONG + "@example.be"
    page = browser.submit({"email": email, "email_confirm": email, "language": LONG}, button="Créer mon compte")
    _long_value_refused(page, "L'adresse e-mail compte au plus 320 caractères.",
                        "Choisissez le français, le néerlandais, l'allemand ou l'anglais.")
    assert _account(federation, naima) is None


def test_over_long_resend_address(federation: Federation, browser: Browser) -> None:
    browser.open(federation.urls["monespace"] + "/compte/renvoyer")
    page = browser.submit({"email": LONG + "@example.be"}, button="Renvoyer mail d'activation")
    _long_value_refused(page, "L'adresse e-mail compte au plus 320 caractères.")


def test_over_long_password(federation: Federation, browser: Browser, jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    browser.open(federation.urls["monespace"] + "/compte/mot-de-passe")
    for password, confirm in ((LONG, LONG), ("Un-mot-de-passe-solide", LONG)):
        page = browser.submit({"password": password, "password_confirm": confirm},
                              button="Enregistrer le mot de passe")
        _long_value_refused(page, "Le mot de passe compte de 12 à 128 caractères.")
    assert _account(federation, jean).cerbere_password_hash is None


def test_over_long_context(federation: Federation, browser: Browser) -> None:
    claire = by_id("claire")
    pin_page(browser, federation)
    page = browser.submit({"card": claire.card.number, "pin": claire.card.pin}, button="Se connecter")
    assert "Dans quel contexte" in page.text
    page = browser.submit({"contexte": LONG})
    _long_value_refused(page, "Un contexte compte au plus 100 caractères.")
