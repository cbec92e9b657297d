"""Server-side sessions across the federation: the cookie is a random id
only, a new one at every login; logout kills the session on the server in
every app; a démarche does not outlive its person; garbage cookies are fresh
sessions; rotating the cookie key changes no NameID and blocks no card;
expired rows are purged."""
from __future__ import annotations

from datetime import timedelta, timezone
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time
from lxml import etree
from sqlalchemy import select
from werkzeug.test import Client, TestResponse

from downstream_sp import eid_login
from fedsim import clock
from fedsim.db import Database
from fedsim.personas import Persona, by_id
from fedsim.purge import GRACE
from fedsim.saml.state import REPLAY_WINDOW, OutstandingRequest, PendingAuthn, SeenAssertion
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim.sessions import ID_FORMAT, SERIALIZER, StoredSession, hash_id
from fedsim_harness.stack import Federation, create_apps
from idp_csam.itsme_op import ItsmeAccessToken, ItsmeAssertionJti, ItsmeAuthorization, ItsmePhone
from idp_csam.methods.email_code import EmailCodeChallenge
from idp_csam.methods.app_code import ABANDONED_AFTER, AppCodeLogin
from modigia_sp.models import User
from monespace.accounts import AccountService
from monespace.models import Account

COOKIES = {"modigia_sp": "modigia_session", "monespace": "monespace_session", "idp_csam": "csam_session"}
NAMEID = "{urn:oasis:names:tc:SAML:2.0:assertion}NameID"


@pytest.fixture
def jean() -> Persona:
    return by_id("jean")


# -- helpers ---------------------------------------------------------------------------

def _client_of(browser: Browser, federation: Federation, app: str) -> Client:
    return browser.transport.clients[urlsplit(federation.urls[app]).netloc]


def cookie(browser: Browser, federation: Federation, app: str) -> str | None:
    found = _client_of(browser, federation, app).get_cookie(COOKIES[app])
    return found.value if found else None


def replay(federation: Federation, app: str, value: str, path: str) -> TestResponse:
    """GET ``path`` from another machine that has a copy of the cookie."""
    client = Client(federation.apps[app])
    client.set_cookie(COOKIES[app], value)
    return client.get(path, base_url=federation.urls[app])


def stored(federation: Federation, app: str, value: str) -> dict | None:
    """The server-side data of the session this cookie names, if any."""
    with Database.factory(federation.apps[app])() as db:
        row = db.get(StoredSession, hash_id(value))
        return SERIALIZER.loads(row.data) if row else None


def modigia_journey(browser: Browser, federation: Federation, persona: Persona) -> None:
    """Modigia, then Cerbère and CSAM's eID reader, then Modigia's policies: the courses."""
    browser.open(federation.urls["modigia_sp"] + "/")
    eid_login(browser, persona)
    for _ in range(40):
        if "Cours disponibles" in browser.page.text:
            return
        if browser.has("Page suivante"):
            browser.click("Page suivante")
        else:
            browser.submit({"accept": "yes"}, button="Continuer")
    raise AssertionError(browser.page.text[:500])


def csam_answers_silently(federation: Federation, csam_cookie: str) -> bool:
    """Would CSAM answer Mon Espace without asking the holder of this cookie
    to authenticate?"""
    start = Client(federation.apps["monespace"]).get("/connexion", base_url=federation.urls["monespace"])
    sso = urlsplit(start.headers["Location"])
    csam = Client(federation.apps["idp_csam"])
    csam.set_cookie("csam_session", csam_cookie)
    base = federation.urls["idp_csam"]
    page = csam.get(sso.path, query_string=sso.query, base_url=base)
    for _ in range(3):
        if page.status_code != 302:
            break
        page = csam.get(urlsplit(page.headers["Location"]).path, base_url=base)
    return page.status_code == 200 and 'name="SAMLResponse"' in page.get_data(as_text=True)


class SetCookieRecorder:
    """WSGI middleware: every Set-Cookie header an app sends."""

    def __init__(self, app) -> None:  # noqa: ANN001 - a WSGI app
        self.app, self.headers = app, []

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        def recording(status, headers, exc_info=None):  # noqa: ANN001, ANN202
            self.headers.extend(v for k, v in headers if k.lower() == "set-cookie")
            return start_response(status, headers, exc_info)
        return self.app(environ, recording)


# -- logout ------------------------------------------------------------------------------

def test_a_cookie_copied_before_logout_opens_nothing_after_it(federation: Federation, browser: Browser,
                                                             jean: Persona) -> None:
    modigia_journey(browser, federation, jean)
    copied = {app: cookie(browser, federation, app) for app in COOKIES}
    # Before the logout, a copy of each cookie opens the person's session elsewhere.
    assert replay(federation, "modigia_sp", copied["modigia_sp"], "/profil").status_code == 200
    assert "MON TABLEAU DE BORD" in replay(federation, "monespace", copied["monespace"],
                                           "/tableau-de-bord").get_data(as_text=True)
    assert csam_answers_silently(federation, copied["idp_csam"])

    browser.click("Déconnexion")
    assert "Vous êtes déconnecté de Modigia" in browser.page.text

    profile = replay(federation, "modigia_sp", copied["modigia_sp"], "/profil")
    assert profile.status_code == 302 and "/saml/login" in profile.headers["Location"]
    dashboard = replay(federation, "monespace", copied["monespace"], "/tableau-de-bord")
    assert dashboard.status_code == 302 and "MON TABLEAU DE BORD" not in dashboard.get_data(as_text=True)
    assert not csam_answers_silently(federation, copied["idp_csam"])
    assert all(stored(federation, app, value) is None for app, value in copied.items())


def test_every_login_gives_a_new_session_id(federation: Federation, browser: Browser, jean: Persona) -> None:
    browser.open(federation.urls["modigia_sp"] + "/")  # on CSAM's page: three sessions, nobody logged in
    before = {app: cookie(browser, federation, app) for app in COOKIES}
    assert all(ID_FORMAT.fullmatch(value) for value in before.values())
    eid_login(browser, jean)
    after = {app: cookie(browser, federation, app) for app in COOKIES}
    for app in COOKIES:
        assert ID_FORMAT.fullmatch(after[app]) and after[app] != before[app], app
        assert stored(federation, app, before[app]) is None, app  # the old id is gone from the server
        assert stored(federation, app, after[app]) is not None, app


# -- the person's state ---------------------------------------------------------------

def test_a_demarche_does_not_survive_a_login_as_someone_else(federation: Federation, browser: Browser,
                                                             jean: Persona) -> None:
    claire = by_id("claire")
    with Database.factory(federation.apps["monespace"])() as db:
        account = db.scalars(select(Account).where(Account.nrn == claire.nrn)).one()
        AccountService.set_password(db, account, "Un-mot-de-passe-solide")
    browser.open(federation.urls["monespace"] + "/connexion")
    eid_login(browser, jean)
    browser.open(federation.urls["monespace"] + "/demarrer-demarche/?codeDemarche=NAID")
    assert stored(federation, "monespace", cookie(browser, federation, "monespace"))["demarche"] == "NAID"

    # Jean leaves the computer logged in; Claire logs in with her Cerbère identifier.
    browser.open(federation.urls["monespace"] + "/connexion/cerbere")
    browser.submit({"username": "clejeune", "password": "Un-mot-de-passe-solide"}, button="Se connecter")
    browser.click("Citoyen")
    data = stored(federation, "monespace", cookie(browser, federation, "monespace"))
    assert data["upstream"]["nrn"] == claire.nrn and "demarche" not in data

    # What Cerbère tells Modigia about Claire carries no démarche.
    browser.open(federation.urls["modigia_sp"] + "/saml/login")
    with Database.factory(federation.apps["modigia_sp"])() as db:
        user = db.scalars(select(User).where(User.cerbere_username == "clejeune")).one()
    assert "demarche" not in user.attributes


# -- cookies -------------------------------------------------------------------------------

def test_no_personal_data_in_any_cookie(federation: Federation, jean: Persona) -> None:
    recorders = {netloc: SetCookieRecorder(app) for netloc, app in federation.wsgi_by_netloc().items()}
    browser = Browser(WsgiTransport(recorders))
    modigia_journey(browser, federation, jean)
    browser.click("Déconnexion")
    headers = [h for r in recorders.values() for h in r.headers]
    names = {h.split("=", 1)[0] for h in headers}
    assert set(COOKIES.values()) <= names
    personal = (jean.nrn, jean.given_name, jean.surname, jean.email, jean.monespace.cerbere_username)
    for header in headers:
        assert not any(value.lower() in header.lower() for value in personal), header
        name, _, rest = header.partition("=")
        value = rest.split(";")[0]
        if name in COOKIES.values():
            assert value == "" or ID_FORMAT.fullmatch(value), header  # only the random id: no payload
            assert "HttpOnly" in header and "SameSite=Lax" in header, header


GARBAGE = ["x", "A" * 43, "../../", "\x00\xff\xfe" * 20, "é" * 50, "A" * 4000, "a.b.c", '"quoted"', "%00%ff"]


@pytest.mark.parametrize("app, path", [("modigia_sp", "/"), ("monespace", "/"), ("idp_csam", "/")])
def test_a_garbage_cookie_is_a_fresh_session(federation: Federation, app: str, path: str) -> None:
    client = Client(federation.apps[app], use_cookies=False)
    for value in GARBAGE:
        response = client.get(path, base_url=federation.urls[app],
                              environ_overrides={"HTTP_COOKIE": f"{COOKIES[app]}={value}"})
        assert response.status_code in (200, 302), (value, response.status_code)
        ours = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIES[app] + "=")]
        assert all(h.startswith(COOKIES[app] + "=;") or ID_FORMAT.fullmatch(h.split(";")[0].split("=", 1)[1])
                   for h in ours), (value, ours)


# -- keys ----------------------------------------------------------------------------------

def _csam_name_id(browser: Browser, federation: Federation) -> str:
    [answer] = [m for m in browser.saml_trace if m.kind == "SAMLResponse"
                and m.url == federation.urls["monespace"] + "/saml/sp/acs"]
    return next(etree.fromstring(answer.xml.encode()).iter(NAMEID)).text


def test_rotating_the_cookie_key_keeps_nameids_and_pins(federation: Federation, browser: Browser,
                                                        jean: Persona) -> None:
    modigia_journey(browser, federation, jean)
    csam_name_id = _csam_name_id(browser, federation)
    with Database.factory(federation.apps["modigia_sp"])() as db:
        [cerbere_name_id] = db.scalars(select(User.name_id)).all()
    old_secrets = {name: app.config["SECRET_KEY"] for name, app in federation.apps.items()}

    # Every app restarts over the same instance and databases with another cookie key.
    for name in federation.apps:
        (federation.settings.instance_dir / name / "keys" / "session.key").unlink()
    smtp_port = federation.apps["idp_csam"].config["SMTP_PORT"]
    rotated = {name: {"TESTING": True, "SECRET_KEY": f"rotated-{name}", "DATABASE_URL": app.config["DATABASE_URL"]}
               for name, app in federation.apps.items()}
    federation.apps = create_apps(federation.settings, smtp_port, rotated)
    assert all(app.config["SECRET_KEY"] != old_secrets[name] for name, app in federation.apps.items())
    browser = Browser(WsgiTransport(federation.wsgi_by_netloc()))
    modigia_journey(browser, federation, jean)  # the PIN is still accepted

    assert _csam_name_id(browser, federation) == csam_name_id
    with Database.factory(federation.apps["modigia_sp"])() as db:
        assert db.scalars(select(User.name_id)).all() == [cerbere_name_id]  # the same user, not a new one


# -- purge -----------------------------------------------------------------------------------

def test_expired_rows_are_purged_and_live_ones_kept(federation: Federation, jean: Persona) -> None:
    app = federation.apps["idp_csam"]
    now = clock.naive_utc_now()
    later = now + timedelta(hours=3)  # when the next request comes
    expiries = {"old": later - GRACE - timedelta(minutes=1), "live": later + timedelta(minutes=5)}
    with Database.factory(app)() as db:
        phone = db.scalars(select(ItsmePhone.phone).where(ItsmePhone.nrn == jean.nrn)).first()
        for tag, expires in expiries.items():
            db.add(StoredSession(id_hash=tag, data="{}", created_at=now, last_seen_at=now,
                                 expires_at=later - timedelta(seconds=1) if tag == "old" else expires))
            db.add(OutstandingRequest(request_id=tag, relay_state=tag, next_url="/", expires_at=expires))
            db.add(PendingAuthn(key=tag, payload="{}", expires_at=expires))
            db.add(EmailCodeChallenge(id=tag, nrn=jean.nrn, code_digest="-", created_at=now, expires_at=expires))
            db.add(ItsmeAuthorization(id=tag, client_id="csam-fas", redirect_uri="/", state="s", nonce="n", acr="a",
                                      claims="[]", phone=phone, created_at=now, expires_at=expires,
                                      code_expires_at=expires))
            db.add(ItsmeAssertionJti(jti=tag, expires_at=expires))
        db.add(ItsmeAuthorization(id="token-live", client_id="csam-fas", redirect_uri="/", state="s", nonce="n",
                                  acr="a", claims="[]", phone=phone, created_at=now, expires_at=expiries["old"]))
        db.flush()
        for tag, auth, expires in (("old", "old", expiries["old"]), ("live", "live", expiries["live"]),
                                   ("token-live", "token-live", expiries["live"])):
            db.add(ItsmeAccessToken(digest=tag, authorization_id=auth, expires_at=expires))
        db.add(AppCodeLogin(id="old", username=jean.csam.username, created_at=later - ABANDONED_AFTER - timedelta(minutes=1)))
        db.add(AppCodeLogin(id="live", username=jean.csam.username, created_at=now))
        db.add(SeenAssertion(assertion_id="old", issuer="-", seen_at=later - REPLAY_WINDOW - timedelta(minutes=1)))
        db.add(SeenAssertion(assertion_id="live", issuer="-", seen_at=later - timedelta(minutes=10)))
        db.commit()

    with freeze_time(later.replace(tzinfo=timezone.utc)):
        assert Client(app).get("/", base_url=federation.urls["idp_csam"]).status_code == 200

    with Database.factory(app)() as db:
        def left(column) -> list[str]:  # noqa: ANN001 - a mapped column
            return sorted(db.scalars(select(column)))
        assert [h for h in left(StoredSession.id_hash) if h in expiries] == ["live"]  # (the GET made one more)
        assert left(OutstandingRequest.request_id) == ["live"]
        assert left(PendingAuthn.key) == ["live"]
        assert left(SeenAssertion.assertion_id) == ["live"]
        assert left(EmailCodeChallenge.id) == ["live"]
        assert left(AppCodeLogin.id) == ["live"]
        assert left(ItsmeAssertionJti.jti) == ["live"]
        assert left(ItsmeAccessToken.digest) == ["live", "token-live"]
        assert left(ItsmeAuthorization.id) == ["live", "token-live"]  # a live token keeps its authorization


def test_every_app_purges_its_sessions_and_saml_state(federation: Federation) -> None:
    for name, app in federation.apps.items():
        purges = {f"{p.__module__}.{p.__name__}" for p in app.extensions["fedsim.janitor"].purges}
        assert {"fedsim.sessions.purge", "fedsim.saml.state.purge"} <= purges, name
