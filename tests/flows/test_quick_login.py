"""« Connexion rapide » (idp_csam.quick_login, issue #12): off by default —
no link, no route —; on (QUICK_LOGIN), a persona logged in at a chosen level
gets the very SAML answer the real key gives. CSAM with the shortcut on is a
second CSAM app on the session federation's settings and database (as a
gunicorn worker would be), put at CSAM's host:port in the browser."""
from __future__ import annotations

import logging

import pytest
from downstream_sp import EID, DownstreamSP, eid_login
from flask import Flask
from lxml import etree

import idp_csam
from fedsim.db import Database
from fedsim.federation import entities
from fedsim.personas import Persona, by_id
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.stack import Federation

QUICK = "Connexion rapide (raccourci du simulateur)"
L300, L400, L450, L500 = (f"urn:be:fedict:iam:fas:Level{n}" for n in (300, 400, 450, 500))
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
SAME_CONFIG = ("FEDSIM_SETTINGS", "SMTP_PORT", "DATABASE_URL", "PERSONAS_FILE", "TESTING")


def csam_with(federation: Federation, **config) -> Flask:
    """A CSAM app like the federation's, on its database, with ``config``."""
    base = federation.apps["idp_csam"].config
    return idp_csam.create_app({**{key: base[key] for key in SAME_CONFIG if key in base}, **config})


@pytest.fixture(scope="module")
def _quick_apps() -> dict:
    made: dict = {}
    yield made
    for app in made.values():
        Database.factory(app).kw["bind"].dispose()


@pytest.fixture
def quick_csam(federation: Federation, _quick_apps: dict) -> Flask:
    """CSAM with the shortcut on (built once per module and federation)."""
    if id(federation) not in _quick_apps:
        _quick_apps[id(federation)] = csam_with(federation, QUICK_LOGIN=True)
    return _quick_apps[id(federation)]


def browser_on(federation: Federation, csam: Flask, *sps: DownstreamSP) -> Browser:
    """A browser where CSAM's host:port is ``csam`` (and each SP its own app)."""
    from urllib.parse import urlsplit

    table = federation.wsgi_by_netloc()
    table[urlsplit(federation.urls["idp_csam"]).netloc] = csam
    for sp in sps:
        table[sp.netloc] = sp.wsgi()
    return Browser(WsgiTransport(table))


@pytest.fixture
def jean() -> Persona:
    return by_id("jean")


@pytest.fixture
def stand_in(federation: Federation):
    """An SP with Mon Espace's own entity ID and keys, asking CSAM directly."""
    settings = federation.settings
    sp = DownstreamSP(entities(settings)["monespace-sp"], settings.certs_dir, settings, idp_name="csam-idp")
    yield sp
    sp.close()


def csam_answer(browser: Browser, federation: Federation) -> etree._Element:
    """The last Response CSAM posted to Mon Espace's assertion consumer."""
    answers = [m for m in browser.saml_trace
               if m.kind == "SAMLResponse" and m.url == federation.urls["monespace"] + "/saml/sp/acs"]
    assert answers, browser.history
    return etree.fromstring(answers[-1].raw.encode())


def attributes(root: etree._Element) -> dict[str, list[str]]:
    return {a.get("Name"): a.xpath("saml:AttributeValue/text()", namespaces=NS)
            for a in root.xpath("saml:Assertion/saml:AttributeStatement/saml:Attribute", namespaces=NS)}


def class_ref(root: etree._Element) -> str:
    return root.xpath("string(saml:Assertion/saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef)",
                      namespaces=NS)


def quick_login(browser: Browser, persona: str, level: str, method: str):
    """From CSAM's key chooser: the shortcut, then the form."""
    browser.click(QUICK)
    return browser.submit({"persona": persona, "level": level, "method": method}, button="Se connecter")


def csrf(page) -> str:
    return page.tree.xpath("//input[@name='csrf_token']/@value")[0]


# -- off by default -------------------------------------------------------------------


def test_off_by_default_no_link_and_no_route(federation: Federation, browser: Browser) -> None:
    assert federation.apps["idp_csam"].config["QUICK_LOGIN"] is False
    page = browser.open(federation.urls["idp_csam"] + "/")
    assert page.status == 200 and EID in page.text
    assert not browser.has(QUICK) and "connexion-rapide" not in page.body
    assert browser.open(federation.urls["idp_csam"] + "/connexion-rapide").status == 404
    assert browser.open(federation.urls["idp_csam"] + "/connexion-rapide", method="POST",
                        data={"persona": "jean"}).status in (400, 404)  # no route (or no CSRF token): no login
    assert "quick_login" not in federation.apps["idp_csam"].blueprints


def test_a_bad_value_of_the_setting_is_an_error_not_an_on(federation: Federation) -> None:
    with pytest.raises(ValueError, match="IDP_CSAM_QUICK_LOGIN must be 1 or 0"):
        csam_with(federation, QUICK_LOGIN="peut-être")


def test_trainer_mode_keeps_it_off_and_says_why(federation: Federation, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="idp_csam.quick_login"):
        app = csam_with(federation, QUICK_LOGIN=True, TRAINER_MODE=True)
    try:
        assert app.config["QUICK_LOGIN"] is False and "quick_login" not in app.blueprints
        assert app.test_client().get("/connexion-rapide").status_code == 404
        assert "connexion-rapide" not in app.test_client().get("/").get_data(as_text=True)
        assert any("trainer mode" in r.getMessage() and "NOT enabled" in r.getMessage() for r in caplog.records)
    finally:
        Database.factory(app).kw["bind"].dispose()


def test_trainer_mode_from_the_environment_too(federation: Federation, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDSIM_TRAINER", "1")
    app = csam_with(federation, QUICK_LOGIN="1")
    try:
        assert app.config["QUICK_LOGIN"] is False
        assert app.test_client().get("/connexion-rapide").status_code == 404
    finally:
        Database.factory(app).kw["bind"].dispose()


# -- on: the same answer as the real key -------------------------------------------------


def test_quick_login_gives_mon_espace_the_same_answer_as_the_eid(
        federation: Federation, quick_csam: Flask, jean: Persona, caplog: pytest.LogCaptureFixture) -> None:
    # the real eID key, through the real Mon Espace
    real = browser_on(federation, federation.apps["idp_csam"])
    real.open(federation.urls["monespace"] + "/connexion")
    assert "MON TABLEAU DE BORD" in eid_login(real, jean).text
    by_eid = csam_answer(real, federation)

    federation.reset()
    quick = browser_on(federation, quick_csam)
    chooser = quick.open(federation.urls["monespace"] + "/connexion")
    assert chooser.url == federation.urls["idp_csam"] + "/" and quick.has(QUICK)
    with caplog.at_level(logging.INFO, logger="fedsim.protocol"):
        page = quick_login(quick, "jean", L500, "eid")
    assert "MON TABLEAU DE BORD" in page.text, page.text[:400]  # Mon Espace's SP accepted it
    by_shortcut = csam_answer(quick, federation)

    assert attributes(by_shortcut) == attributes(by_eid)
    assert attributes(by_shortcut)["urn:be:fedict:iam:attr:authenticationmethod"] == ["eid"]
    assert class_ref(by_shortcut) == class_ref(by_eid) == L500
    subject = "string(saml:Assertion/saml:Subject/saml:NameID)"
    assert by_shortcut.xpath(subject, namespaces=NS) == by_eid.xpath(subject, namespaces=NS)
    logged = [r.protocol for r in caplog.records if getattr(r, "protocol", {}).get("event") == "QuickLogin"]
    assert len(logged) == 1 and logged[0]["outcome"] == "issued"
    assert "Connexion rapide (raccourci du simulateur)" in logged[0]["reason"] and "jean" in logged[0]["reason"]
    assert logged[0]["destination"] == entities(federation.settings)["monespace-sp"].entity_id


def test_the_page_is_marked_labelled_and_offers_what_the_request_accepts(
        federation: Federation, quick_csam: Flask, stand_in: DownstreamSP) -> None:
    browser = browser_on(federation, quick_csam, stand_in)
    browser.open(stand_in.login_url(contexts=(L400,), comparison="minimum"))
    page = browser.click(QUICK)
    assert page.status == 200 and page.url == federation.urls["idp_csam"] + "/connexion-rapide"
    tree = page.tree
    assert tree.get("lang") == "fr" and QUICK in tree.findtext("head/title")
    assert "Raccourci du simulateur" in tree.xpath("string(//*[@role='note'])")
    for control in tree.xpath("//form//select|//form//input[@type='radio']"):
        assert tree.xpath(f"//label[@for='{control.get('id')}']"), control.get("name")
    levels = tree.xpath("//input[@name='level']/@value")
    assert levels == [L500, L450, L400]  # no Level300: the request asks for Level400 at least
    assert set(tree.xpath("//select[@name='method']/option/@value")) == {"eid", "itsme", "app-code"}
    assert "jean" in tree.xpath("//select[@name='persona']/option/@value")


def test_a_level_the_request_does_not_accept_is_refused(
        federation: Federation, quick_csam: Flask, stand_in: DownstreamSP,
        caplog: pytest.LogCaptureFixture) -> None:
    browser = browser_on(federation, quick_csam, stand_in)
    browser.open(stand_in.login_url(contexts=(L500,), comparison="exact"))
    with caplog.at_level(logging.INFO, logger="fedsim.protocol"):
        page = quick_login(browser, "jean", L300, "email-code")
    assert page.status == 400 and "Level300 n'est pas accepté par la demande en cours" in page.text
    assert not stand_in.posted  # no answer went out
    refused = [r.protocol for r in caplog.records if getattr(r, "protocol", {}).get("event") == "QuickLogin"]
    assert [r["outcome"] for r in refused] == ["refused"]
    # still pending: the right level then answers, and the SP accepts it at that level
    page = browser.submit({"persona": "jean", "level": L500, "method": "eid"}, button="Se connecter")
    assert page.url == stand_in.acs_url
    login = stand_in.accept()
    assert login.authn_context == L500 and login.first("urn:be:fedict:iam:attr:authenticationmethod") == "eid"


def test_a_key_of_another_level_is_refused(federation: Federation, quick_csam: Flask,
                                           stand_in: DownstreamSP) -> None:
    browser = browser_on(federation, quick_csam, stand_in)
    browser.open(stand_in.login_url())
    page = quick_login(browser, "jean", L450, "eid")
    assert page.status == 400 and "La clé « eid » n'atteint pas le niveau Level450" in page.text
    assert not stand_in.posted


def test_a_chosen_level_is_asserted_with_its_key(federation: Federation, quick_csam: Flask,
                                                 stand_in: DownstreamSP) -> None:
    naima = by_id("naima")
    browser = browser_on(federation, quick_csam, stand_in)
    browser.open(stand_in.login_url())
    page = quick_login(browser, "naima", L300, "email-code")
    assert page.url == stand_in.acs_url
    login = stand_in.accept()
    assert login.authn_context == L300
    assert login.first("urn:be:fedict:iam:attr:authenticationmethod") == "email-code"
    assert login.first("givenName") == naima.given_name and login.first("surname") == naima.surname


def test_unknown_persona_is_a_clear_400(federation: Federation, quick_csam: Flask,
                                        stand_in: DownstreamSP) -> None:
    browser = browser_on(federation, quick_csam, stand_in)
    browser.open(stand_in.login_url())
    page = quick_login(browser, "personne", L500, "eid")
    assert page.status == 400 and "Persona inconnue : « personne »" in page.text
    assert not stand_in.posted


def test_missing_csrf_token_is_a_400_and_logs_no_one_in(federation: Federation, quick_csam: Flask,
                                                       stand_in: DownstreamSP) -> None:
    browser = browser_on(federation, quick_csam, stand_in)
    browser.open(stand_in.login_url())
    page = browser.click(QUICK)
    assert csrf(page)
    refused = browser.open(page.url, method="POST", data={"persona": "jean", "level": L500, "method": "eid"})
    assert refused.status == 400 and "jeton anti-falsification absent ou invalide" in refused.text
    assert not stand_in.posted
    assert browser.open(federation.urls["idp_csam"] + "/saml/answer").url != stand_in.acs_url  # not authenticated


def test_it_does_not_break_a_real_key(federation: Federation, quick_csam: Flask, stand_in: DownstreamSP,
                                      jean: Persona) -> None:
    """The shortcut only adds a link: the real keys work on the same CSAM."""
    browser = browser_on(federation, quick_csam, stand_in)
    browser.open(stand_in.login_url())
    assert browser.has(QUICK) and browser.has(EID)
    assert eid_login(browser, jean).url == stand_in.acs_url
    assert stand_in.accept().authn_context == L500
