"""CSAM's OpenID Provider in-process (idp_csam.oidc): client authentication
methods, codes bound to their client, PKCE plain refused, a SAML login after
an abandoned OIDC one, hashed storage, the protocol log, bad input at the
token and userinfo endpoints (JSON errors, never a 500)."""
from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from fedsim.db import Database
from fedsim.levels import LEVEL500
from fedsim.personas import by_id
from fedsim_harness.scenario.browser import Browser, Page, WsgiTransport
from fedsim_harness.scenario.oidc_rp import (
    RelyingParty,
    RelyingPartyError,
    RelyingPartyHost,
    wsgi_session,
)
from fedsim_harness.stack import Federation
from idp_csam.oidc import clients
from idp_csam.oidc.models import OidcAccessToken, OidcAuthorization

EID = "IDENTIFICATION avec un lecteur de cartes eID"
RP = "rp.example"
CALLBACK = f"https://{RP}/callback"


@pytest.fixture
def http(federation: Federation) -> requests.Session:
    return wsgi_session(federation.wsgi_by_netloc())


@pytest.fixture
def browser(federation: Federation) -> Browser:
    return Browser(RelyingPartyHost(WsgiTransport(federation.wsgi_by_netloc()), {RP}))


def _register(federation: Federation, **kwargs) -> tuple[clients.Client, str | None]:
    path = federation.settings.instance_dir / "idp_csam" / clients.FILE_NAME
    return clients.register(path, [CALLBACK], **kwargs)


def _rp(federation: Federation, http: requests.Session, **kwargs) -> RelyingParty:
    public = kwargs.pop("public", False)
    client, secret = _register(federation, public=public, **kwargs)
    method = "none" if public else client.token_endpoint_auth_method
    return RelyingParty(federation.urls["idp_csam"], client.client_id, CALLBACK, client_secret=secret,
                        auth_method=method, http=http)


def eid_login(browser: Browser, url: str) -> Page:
    card = by_id("jean").card
    browser.open(url)
    browser.click(EID)
    page = browser.submit({"card": card.number, "pin": card.pin}, button="Se connecter")
    assert urlsplit(page.url).netloc == RP, page.main_text[:300]
    return page


def answer(page: Page) -> dict:
    return dict(parse_qsl(urlsplit(page.url).query))


def test_client_secret_post_and_the_registered_method_only(federation: Federation, http: requests.Session,
                                                           browser: Browser) -> None:
    rp = _rp(federation, http, auth_method="client_secret_post")
    page = eid_login(browser, rp.authorization_url(acr_values=LEVEL500))
    code = answer(page)["code"]
    basic = http.post(rp.metadata["token_endpoint"], auth=(rp.client_id, rp.oauth.client_secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK})
    assert basic.status_code == 401 and "client_secret_post, not client_secret_basic" in basic.json()[
        "error_description"]
    assert rp.callback(page.url).claims["acr"] == LEVEL500  # by client_secret_post, as registered


def test_a_code_is_bound_to_its_client(federation: Federation, http: requests.Session, browser: Browser) -> None:
    first, second = _rp(federation, http), _rp(federation, http)
    page = eid_login(browser, first.authorization_url())
    second.state, second.verifier = first.state, first.verifier
    with pytest.raises(RelyingPartyError, match="invalid_grant|unknown authorization code"):
        second.callback(page.url)
    assert first.callback(page.url).claims["aud"] == first.client_id


def test_pkce_plain_is_refused_and_a_confidential_client_may_use_s256(federation: Federation,
                                                                      http: requests.Session,
                                                                      browser: Browser) -> None:
    rp = _rp(federation, http)
    plain = rp.authorization_url().replace("code_challenge_method=S256", "code_challenge_method=plain")
    assert answer(browser.open(plain))["error"] == "invalid_request"
    assert rp.callback(eid_login(browser, rp.authorization_url()).url).claims["sub"]  # S256, confidential


def test_a_saml_login_after_an_abandoned_oidc_one_goes_back_to_the_saml_service(
        federation: Federation, http: requests.Session, browser: Browser) -> None:
    rp = _rp(federation, http, public=True)
    assert EID in browser.open(rp.authorization_url()).text  # the person leaves at the key chooser
    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click(EID)
    card = by_id("jean").card
    page = browser.submit({"card": card.number, "pin": card.pin}, button="Se connecter")
    assert urlsplit(page.url).netloc != RP and "MON TABLEAU DE BORD" in page.text


def test_codes_and_access_tokens_are_stored_hashed_and_each_step_is_logged(
        federation: Federation, http: requests.Session, browser: Browser, caplog: pytest.LogCaptureFixture) -> None:
    rp = _rp(federation, http, public=True, scopes=["openid", "egovnrn"])
    with caplog.at_level(logging.INFO, logger="fedsim.protocol"):
        page = eid_login(browser, rp.authorization_url(scope="openid egovnrn"))
        login = rp.callback(page.url)
    with Database.factory(federation.apps["idp_csam"])() as db:
        stored = db.query(OidcAuthorization).filter_by(client_id=rp.client_id).one()
        token = db.query(OidcAccessToken).filter_by(authorization_id=stored.id).one()
        assert stored.code_digest != answer(page)["code"] and stored.code_used_at is not None
        assert token.digest != login.token["access_token"] and len(token.digest) == 64
    events = [(r.protocol["event"], r.protocol["outcome"]) for r in caplog.records if hasattr(r, "protocol")]
    for step in (("AuthorizationRequest", "accepted"), ("AuthorizationResponse", "sent"), ("IDToken", "issued"),
                 ("UserInfo", "sent")):
        assert step in events


@pytest.mark.parametrize("headers, data", [
    ({"Authorization": "Basic !!!"}, {"grant_type": "authorization_code"}),
    ({"Authorization": "Basic Zm9v"}, {}),  # "foo": no colon
    ({}, {"grant_type": "password", "client_id": "fedsim-scenario-rp"}),
    ({}, {"grant_type": "authorization_code", "client_id": "fedsim-scenario-rp", "code": "x" * 5000}),
    ({}, {}),
])
def test_bad_token_requests_get_oauth_json(federation: Federation, http: requests.Session, headers: dict,
                                           data: dict) -> None:
    response = http.post(federation.urls["idp_csam"] + "/oidc/token", headers=headers, data=data)
    assert response.status_code in (400, 401) and response.json()["error"] in (
        "invalid_client", "unsupported_grant_type", "invalid_grant", "invalid_request")
    assert response.json()["error_description"] and response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer nope", "Basic x"])
def test_userinfo_without_a_valid_token(federation: Federation, http: requests.Session, authorization: str) -> None:
    response = http.get(federation.urls["idp_csam"] + "/oidc/userinfo", headers={"Authorization": authorization})
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_answer_without_a_pending_request_and_a_broken_clients_file(federation: Federation,
                                                                    browser: Browser) -> None:
    page = browser.open(federation.urls["idp_csam"] + "/oidc/answer")
    assert page.status == 409 and "Aucune demande de connexion OpenID Connect" in page.text
    path = federation.settings.instance_dir / "idp_csam" / clients.FILE_NAME
    _register(federation, public=True, client_id="soon-broken")
    good = path.read_text()
    url = (federation.urls["idp_csam"] + f"/oidc/authorize?client_id=soon-broken&response_type=code&scope=openid"
           f"&redirect_uri={CALLBACK}")
    assert answer(browser.open(url))["error"] == "invalid_request"  # a known client, without PKCE
    try:
        path.write_text(good + "- {client_id: broken}\n")  # no redirect_uris: the file is refused whole
        page = browser.open(url)
        assert page.status == 400 and "Application cliente inconnue" in page.text
    finally:
        path.write_text(good)


def test_purge_deletes_expired_requests_and_tokens_only(federation: Federation, http: requests.Session,
                                                        browser: Browser) -> None:
    from datetime import timedelta

    from fedsim import clock
    from idp_csam.oidc import purge

    rp = _rp(federation, http, public=True)
    rp.callback(eid_login(browser, rp.authorization_url()).url)
    browser.open(rp.authorization_url(prompt="none"))  # a second one, answered silently: its code unused
    factory = Database.factory(federation.apps["idp_csam"])
    with factory() as db:
        assert purge(db, clock.naive_utc_now()) == 0  # nothing has expired
        assert db.query(OidcAuthorization).filter_by(client_id=rp.client_id).count() == 2
        deleted = purge(db, clock.naive_utc_now() + timedelta(days=1))
        assert deleted == 3 and db.query(OidcAuthorization).filter_by(client_id=rp.client_id).count() == 0


def test_the_scenario_actions(federation: Federation) -> None:
    from fedsim_harness.scenario import model
    from fedsim_harness.scenario.runner import Runner

    def step(action: str, argument: object) -> model.Step:
        return model.Step(guide=("G02",), say="", action=action, argument=argument)

    runner = Runner(Browser(WsgiTransport(federation.wsgi_by_netloc())), federation.urls)
    silent = model.Scenario("oidc-none", "", "jean", (step("oidc_login", {"prompt": "none"}),
                                                      step("oidc_callback", {"expect_error": "login_required"})))
    assert runner.run(silent).ok
    assert isinstance(runner.browser.transport, WsgiTransport)  # the relying party's host is gone after the run
    wrong = model.Scenario("oidc-wrong", "", "jean", (step("oidc_login", {"prompt": "none"}),
                                                      step("oidc_callback", {})))
    result = runner.run(wrong)
    assert not result.ok and "login_required" in result.cause
    alone = runner.run(model.Scenario("oidc-alone", "", "jean", (step("oidc_callback", {}),)))
    assert not alone.ok and "needs an earlier oidc_login" in alone.cause


def test_a_session_below_the_acr_asked_authenticates_again(federation: Federation, http: requests.Session,
                                                           browser: Browser) -> None:
    from fedsim.levels import LEVEL300
    from fedsim_harness.outside import KEYS, Journey

    rp = _rp(federation, http, public=True)
    browser.open(rp.authorization_url(acr_values=LEVEL300))
    browser.click(KEYS["email_code"][0])
    page = Journey(browser, federation.urls, by_id("jean"))._email_code()
    assert rp.callback(page.url).claims["acr"] == LEVEL300
    assert answer(browser.open(rp.authorization_url(acr_values=LEVEL500, prompt="none")))["error"] == \
        "login_required"
    page = browser.open(rp.authorization_url(acr_values=LEVEL500))  # not silently: the chooser, eID only
    assert urlsplit(page.url).netloc != RP and EID in page.text and KEYS["email_code"][0] not in page.text
    card = by_id("jean").card
    browser.click(EID)
    page = browser.submit({"card": card.number, "pin": card.pin}, button="Se connecter")
    assert rp.callback(page.url).claims["acr"] == LEVEL500
