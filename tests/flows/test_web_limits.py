"""The hardened web layer of the three apps (fedsim.web and the SAML
inflation limit): open redirects, security headers, trusted hosts, size
limits, odd bytes in URLs and headers, private instance files. Each answer
to bad input is a 4xx page that says what was wrong, never a 500."""
from __future__ import annotations

import base64
import stat
import zlib
from urllib.parse import urljoin

import pytest
from werkzeug.test import Client

from fedsim.saml.redirect import MAX_INFLATED
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation
from fedsim.personas import by_id
from test_bad_input import EID, Unchanged, assert_refused, csrf, query, redirect_to, with_query

APPS = ("monespace", "idp_csam", "modigia_sp")


def bomb(size: int = 40 * 1024 * 1024) -> str:
    """A deflated SAML message of a few tens of kB that inflates to ``size`` bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = compressor.compress(b"<samlp:AuthnRequest>" + b" " * size) + compressor.flush()
    return base64.b64encode(body).decode("ascii")


# -- open redirects ---------------------------------------------------------------


def test_the_csam_cookie_banner_stays_on_csam(federation: Federation, browser: Browser) -> None:
    csam = federation.urls["idp_csam"]
    page = browser.open(csam + "/eid")
    token = page.tree.xpath("//form[@class='cookie-banner']//input[@name='csrf_token']/@value")[0]
    for target in ("/%09/evil.example/", "/%5cevil.example", "//evil.example/", "/\\evil.example"):
        answer = browser.transport.request("POST", csam + "/cookies",
                                           {"csrf_token": token, "choix": "accepted", "next": target})
        assert answer.status == 303, answer.text[:300]
        location = answer.headers["Location"]
        assert location == "/", location
    answer = browser.transport.request("POST", csam + "/cookies",
                                       {"csrf_token": token, "choix": "accepted", "next": "/eid?lang=en"})
    assert answer.headers["Location"] == "/eid?lang=en"


@pytest.mark.parametrize("target", ["/%09/evil.example/", "/%5cevil.example", "/%0a/evil.example", "//evil.example"])
def test_monespace_next_stays_local(federation: Federation, browser: Browser, target: str) -> None:
    page = browser.open(federation.urls["monespace"] + "/connexion/cerbere?next=" + target.replace("/", "%2F"))
    assert page.tree.xpath("//input[@name='next']/@value") == ["/tableau-de-bord"], page.text[:300]


# -- security headers ---------------------------------------------------------------


@pytest.mark.parametrize("app", APPS)
def test_security_headers_on_every_page(federation: Federation, app: str) -> None:
    for path in ("/", "/page-qui-n-existe-pas"):
        response = federation.apps[app].test_client().get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_saml_post_form_script_carries_the_nonce(federation: Federation, browser: Browser) -> None:
    naima = by_id("naima")
    browser.open(federation.urls["monespace"] + "/connexion")
    pin = browser.click(EID)
    answer = browser.transport.request("POST", pin.url, {"csrf_token": csrf(pin), "card": naima.card.number,
                                                         "pin": naima.card.pin})
    answer = browser.transport.request("GET", urljoin(pin.url, answer.headers["Location"]))
    assert answer.tree.xpath("//form[@data-autosubmit]"), answer.text[:300]
    nonce = answer.tree.xpath("//script/@nonce")[0]
    assert len(nonce) >= 16 and f"'nonce-{nonce}'" in answer.headers["Content-Security-Policy"]
    again = browser.transport.request("GET", federation.urls["idp_csam"] + "/eid")
    assert f"'nonce-{nonce}'" not in again.headers["Content-Security-Policy"]  # one per response


# -- trusted hosts, sizes ------------------------------------------------------------


@pytest.mark.parametrize("app", APPS)
def test_an_untrusted_host_header_is_refused(federation: Federation, app: str) -> None:
    client = federation.apps[app].test_client()
    for host in ("evil.example", "evil.example:5000", "localhost.evil.example"):
        response = client.get("/", headers={"Host": host})
        assert response.status_code == 400, (host, response.status_code)
        assert "Hôte refusé" in response.get_data(as_text=True)
    for host in ("localhost", "localhost:5000", "127.0.0.1:5001", "[::1]:5002"):
        assert client.get("/health", headers={"Host": host}).status_code == 200, host
    assert "localhost" in federation.apps[app].config["FEDSIM_TRUSTED_HOSTS"]


@pytest.mark.parametrize("app,path", [("monespace", "/saml/sp/acs"), ("idp_csam", "/cookies"),
                                      ("modigia_sp", "/saml/acs")])
def test_a_big_body_is_refused_with_its_limit(federation: Federation, app: str, path: str) -> None:
    client = federation.apps[app].test_client()
    response = client.post(path, data={"x": "a" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "1024 Kio" in response.get_data(as_text=True)


def test_a_deflate_bomb_authn_request_is_refused(federation: Federation, browser: Browser) -> None:
    genuine = redirect_to(browser, federation.urls["monespace"] + "/connexion")
    for url in (genuine, redirect_to(browser, federation.urls["modigia_sp"] + "/saml/login")):
        with Unchanged(*federation.apps.values()):
            page = browser.transport.request("GET", with_query(url, dict(query(url), SAMLRequest=bomb())))
        assert_refused(page, "trop volumineux", f"{MAX_INFLATED // 1024} Kio")


@pytest.mark.parametrize("app,path", [("idp_csam", "/saml/slo"), ("monespace", "/saml/sp/slo"),
                                      ("modigia_sp", "/saml/slo"), ("monespace", "/cerbere/slo")])
def test_a_deflate_bomb_logout_request_is_refused(federation: Federation, browser: Browser, app: str,
                                                  path: str) -> None:
    with Unchanged(*federation.apps.values()):
        page = browser.transport.request("GET", federation.urls[app] + path + "?SAMLRequest="
                                         + bomb().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"))
    assert_refused(page, "trop volumineux")


# -- odd bytes in URLs and headers ---------------------------------------------------


@pytest.mark.parametrize("app,path", [("monespace", "/connexion"), ("monespace", "/connexion/cerbere"),
                                      ("monespace", "/contexte"), ("modigia_sp", "/saml/login"),
                                      ("idp_csam", "/eid")])
def test_odd_bytes_in_next_never_give_a_500(federation: Federation, app: str, path: str) -> None:
    client = Client(federation.apps[app])
    for raw in (b"next=%FF", b"next=\xff", b"next=/%0d%0aSet-Cookie:%20x=y", b"next=/a%00b", b"%FF=%FE"):
        response = client.get(path, environ_overrides={"QUERY_STRING": raw.decode("latin-1")})
        assert response.status_code < 500, (raw, response.status_code)
        assert "\n" not in response.headers.get("Location", "") and "Set-Cookie: x" not in str(response.headers)


def test_a_line_break_in_a_mail_subject_is_refused(federation: Federation, browser: Browser, run_scenario) -> None:
    run_scenario("modigia-contact")  # logged in at Modigia, policies accepted
    page = browser.open(federation.urls["modigia_sp"] + "/contact")
    answer = browser.transport.request("POST", page.url, {"csrf_token": csrf(page), "body": "Bonjour",
                                                          "subject": "Question\r\nBcc: victim@example.org"})
    assert_refused(answer, "saut de ligne", status=400)


# -- instance files -------------------------------------------------------------------


def test_instance_files_are_private(federation: Federation) -> None:
    instance = federation.settings.instance_dir
    for name in (*APPS, "mailbox"):
        folder = instance / name
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        for database in folder.glob("*.sqlite3*"):
            assert stat.S_IMODE(database.stat().st_mode) & 0o077 == 0, database
    assert list(instance.glob("*/*.sqlite3"))


@pytest.mark.parametrize("app", ["idp_csam", "monespace", "modigia_sp"])
def test_a_nul_character_in_an_address_or_a_form_is_refused(federation, app: str) -> None:  # noqa: ANN001
    """PostgreSQL refuses NUL in a string: it never reaches a view (it was a 500 there)."""
    client = Client(federation.apps[app])
    for path in ("/itsme-op/attente/%00", "/?next=%00", "/x%00y"):
        answer = client.get(path)
        assert answer.status_code == 400, (path, answer.status_code)
        assert "caractère nul" in answer.get_data(as_text=True)
    answer = client.post("/", data={"field": "a\x00b"})
    assert answer.status_code == 400 and "caractère nul" in answer.get_data(as_text=True)
