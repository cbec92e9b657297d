"""CSAM as an OpenID Provider, served for real over HTTP (ports 5000–5999),
with Authlib's client as the relying party (PKCE S256; the ID token checked
against the JWKS of discovery: signature, iss, aud, nonce, acr, at_hash).
The person logs in with the eID card reader, as at the SAML login."""
from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from fedsim.levels import LEVEL400, LEVEL500
from fedsim.personas import by_id
from fedsim_harness.scenario.browser import Browser, HttpTransport, Page
from fedsim_harness.scenario.oidc_rp import (
    RelyingParty,
    RelyingPartyError,
    RelyingPartyHost,
)
from idp_csam.oidc import clients

EID = "IDENTIFICATION avec un lecteur de cartes eID"
RP = "rp.example"
CALLBACK = f"https://{RP}/callback"
AFTER_LOGOUT = f"https://{RP}/bye"


@pytest.fixture
def csam(live_federation) -> str:
    return live_federation.urls["idp_csam"]


@pytest.fixture
def registration(live_federation):
    return live_federation.settings.instance_dir / "idp_csam" / clients.FILE_NAME


@pytest.fixture
def public_rp(csam: str, registration) -> RelyingParty:
    client, _ = clients.register(registration, [CALLBACK], public=True, post_logout_redirect_uris=[AFTER_LOGOUT],
                                 scopes=["openid", "profile", "email", "egovnrn"])
    return RelyingParty(csam, client.client_id, CALLBACK)


@pytest.fixture
def confidential_rp(csam: str, registration) -> RelyingParty:
    client, secret = clients.register(registration, [CALLBACK], scopes=["openid", "profile", "egovnrn"])
    return RelyingParty(csam, client.client_id, CALLBACK, client_secret=secret, auth_method="client_secret_basic")


@pytest.fixture
def browser() -> Browser:
    return Browser(RelyingPartyHost(HttpTransport(), {RP}))


def eid_login(browser: Browser, url: str, persona: str = "jean") -> Page:
    """The person opens the authorization URL, chooses the eID reader, types the PIN; the page back at the RP."""
    card = by_id(persona).card
    browser.open(url)
    browser.click(EID)
    page = browser.submit({"card": card.number, "pin": card.pin}, button="Se connecter")
    assert urlsplit(page.url).netloc == RP, page.main_text[:400]
    return page


def answer(page: Page) -> dict:
    return dict(parse_qsl(urlsplit(page.url).query))


def test_discovery_and_jwks(csam: str) -> None:
    document = requests.get(f"{csam}/.well-known/openid-configuration", timeout=10).json()
    assert document["issuer"] == csam and document["code_challenge_methods_supported"] == ["S256"]
    assert LEVEL500 in document["acr_values_supported"] and "egovnrn" in document["scopes_supported"]
    keys = requests.get(document["jwks_uri"], timeout=10).json()["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")] and "d" not in keys[0]


def test_public_client_with_pkce_eid_level500_and_the_nrn(public_rp: RelyingParty, browser: Browser) -> None:
    url = public_rp.authorization_url(scope="openid profile email egovnrn", acr_values=LEVEL500)
    page = eid_login(browser, url)
    assert answer(page)["state"] == public_rp.state and answer(page)["iss"] == public_rp.issuer
    login = public_rp.callback(page.url)
    jean = by_id("jean")
    assert login.claims["acr"] == LEVEL500 and "sc" in login.claims["amr"]
    assert login.claims["nonce"] == public_rp.nonce and isinstance(login.claims["auth_time"], int)
    assert login.claims["egovNRN"] == jean.nrn and login.userinfo["egovNRN"] == jean.nrn
    assert login.claims["given_name"] == jean.given_name and login.claims["email"] == jean.email


def test_without_the_egovnrn_scope_no_nrn(public_rp: RelyingParty, browser: Browser) -> None:
    login = public_rp.callback(eid_login(browser, public_rp.authorization_url(scope="openid profile")).url)
    assert "egovNRN" not in login.claims and "egovNRN" not in login.userinfo
    assert "email" not in login.claims and login.claims["family_name"] == by_id("jean").surname


def test_confidential_client_basic_auth_and_silent_sso(confidential_rp: RelyingParty, public_rp: RelyingParty,
                                                       browser: Browser) -> None:
    first = confidential_rp.callback(eid_login(browser, confidential_rp.authorization_url(scope="openid egovnrn"))
                                     .url)
    assert first.claims["egovNRN"] == by_id("jean").nrn
    page = browser.open(public_rp.authorization_url(acr_values=LEVEL400))  # CSAM's session: no page at all
    assert urlsplit(page.url).netloc == RP
    second = public_rp.callback(page.url)
    assert second.claims["auth_time"] == first.claims["auth_time"] and second.claims["sub"] != first.claims["sub"]
    forced = browser.open(public_rp.authorization_url(prompt="login"))
    assert urlsplit(forced.url).netloc != RP and EID in forced.text  # prompt=login: the key chooser again


def test_prompt_none_without_session_is_login_required(public_rp: RelyingParty, browser: Browser) -> None:
    page = browser.open(public_rp.authorization_url(prompt="none"))
    assert answer(page)["error"] == "login_required" and answer(page)["state"] == public_rp.state


def test_acr_values_filter_the_keys(public_rp: RelyingParty, browser: Browser) -> None:
    page = browser.open(public_rp.authorization_url(acr_values=LEVEL500))
    assert EID in page.text and "code de sécurité envoyé par e-mail" not in page.text
    page = browser.open(public_rp.authorization_url(acr_values="urn:be:fedict:iam:fas:Level300"))
    assert "code de sécurité envoyé par e-mail" in page.text


def test_acr_values_no_key_can_reach(public_rp: RelyingParty, browser: Browser) -> None:
    page = browser.open(public_rp.authorization_url(acr_values="urn:be:fedict:iam:fas:Level900"))
    assert answer(page)["error"] == "unmet_authentication_requirements"
    assert "Level900" in answer(page)["error_description"]


def test_wrong_pkce_verifier_is_refused(public_rp: RelyingParty, browser: Browser) -> None:
    page = eid_login(browser, public_rp.authorization_url())
    with pytest.raises(RelyingPartyError, match="PKCE"):
        public_rp.callback(page.url, code_verifier=secrets.token_urlsafe(48))


def test_code_reuse_is_refused_and_revokes_the_tokens(public_rp: RelyingParty, browser: Browser) -> None:
    page = eid_login(browser, public_rp.authorization_url())
    login = public_rp.callback(page.url)
    with pytest.raises(RelyingPartyError, match="already used"):
        public_rp.callback(page.url)
    userinfo = requests.get(public_rp.metadata["userinfo_endpoint"], timeout=10,
                            headers={"Authorization": f"Bearer {login.token['access_token']}"})
    assert userinfo.status_code == 401 and userinfo.json()["error"] == "invalid_token"


def test_redirect_uri_must_match_at_the_token_endpoint(public_rp: RelyingParty, browser: Browser) -> None:
    page = eid_login(browser, public_rp.authorization_url())
    with pytest.raises(RelyingPartyError, match="redirect_uri"):
        public_rp.callback(page.url, redirect_uri=f"https://{RP}/elsewhere")


def test_unknown_client_and_unregistered_redirect_uri_get_an_error_page(csam: str, public_rp: RelyingParty,
                                                                       browser: Browser) -> None:
    page = browser.open(f"{csam}/oidc/authorize?client_id=nobody&response_type=code&scope=openid"
                        f"&redirect_uri=https://evil.example/")
    assert page.status == 400 and "Application cliente inconnue" in page.text
    url = public_rp.authorization_url().replace("rp.example%2Fcallback", "evil.example%2Fcallback")
    page = browser.open(url)
    assert page.status == 400 and urlsplit(page.url).netloc != "evil.example" and "redirect_uri" in page.text


def test_public_client_without_pkce_is_refused(csam: str, public_rp: RelyingParty, browser: Browser) -> None:
    page = browser.open(f"{csam}/oidc/authorize?client_id={public_rp.client_id}&response_type=code&scope=openid"
                        f"&redirect_uri={CALLBACK}&state=s1")
    assert answer(page) | {"error_description": ""} == {"error": "invalid_request", "state": "s1",
                                                         "iss": csam, "error_description": ""}


def test_bad_client_secret(csam: str, confidential_rp: RelyingParty, browser: Browser) -> None:
    page = eid_login(browser, confidential_rp.authorization_url(scope="openid profile"))
    code = answer(page)["code"]
    for auth in ((confidential_rp.client_id, "wrong-secret"), ("nobody", "x")):
        refused = requests.post(f"{csam}/oidc/token", auth=auth, timeout=10, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK})
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert confidential_rp.callback(page.url).claims["acr"] == LEVEL500  # the code was not spent


def test_expired_code(public_rp: RelyingParty, browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    page = eid_login(browser, public_rp.authorization_url())
    monkeypatch.setenv("FEDSIM_CLOCK_OFFSET", "120")  # the served apps run in this process: same clock
    with pytest.raises(RelyingPartyError, match="expired"):
        public_rp.callback(page.url)


def test_logout_with_id_token_hint(public_rp: RelyingParty, browser: Browser) -> None:
    login = public_rp.callback(eid_login(browser, public_rp.authorization_url()).url)
    page = browser.open(public_rp.logout_url(login.token["id_token"], AFTER_LOGOUT, state="bye-1"))
    assert page.url.startswith(AFTER_LOGOUT) and answer(page)["state"] == "bye-1"
    page = browser.open(public_rp.authorization_url(prompt="none"))  # the CSAM session is over
    assert answer(page)["error"] == "login_required"


def _tampered(id_token: str) -> str:
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_logout_refuses_a_tampered_hint_and_an_unregistered_uri(public_rp: RelyingParty, browser: Browser) -> None:
    login = public_rp.callback(eid_login(browser, public_rp.authorization_url()).url)
    page = browser.open(public_rp.logout_url(_tampered(login.token["id_token"]), AFTER_LOGOUT))
    assert page.status == 400 and "modifié" in page.text and urlsplit(page.url).netloc != RP
    page = browser.open(public_rp.logout_url(login.token["id_token"], "https://evil.example/"))
    assert page.status == 400 and "post_logout_redirect_uri" in page.text
    page = browser.open(public_rp.authorization_url(prompt="none"))  # neither ended the session
    assert "code" in answer(page)
