"""What an SP may ask of the two IdPs, end to end: ForceAuthn, IsPassive,
NameIDPolicy, the lifetime of CSAM's single sign-on session and the
AuthnInstant both IdPs assert, and a request percent-encoded otherwise than
pysaml2 would (lower-case hex). Cerbère is asked by ``labo``, a test SP of
its registry; CSAM directly by ``stand_in``, an SP with Mon Espace's own
entity ID and keys, whose assertion consumer replaces Mon Espace's in the
browser (tests/flows/downstream_sp.py)."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from freezegun import freeze_time
from lxml import etree
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
from saml2.samlp import NameIDPolicy
from werkzeug.test import Client

from downstream_sp import browser, federation, jean, labo  # noqa: F401 - fixtures: a federation with labo-sp
from downstream_sp import EID, DownstreamSP, browser_with, eid_login, log_in
from fedsim.federation import entities
from fedsim.personas import Persona
from fedsim.saml import redirect
from fedsim.saml.errors import NameIdPolicyRefused, PassiveUnavailable
from fedsim_harness.scenario.browser import Browser
from fedsim_harness.stack import Federation

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
INVALID_NAME_ID_POLICY = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
LABO_ACS = "http://localhost:5999/saml/acs"


@pytest.fixture
def stand_in(federation: Federation):
    settings = federation.settings
    sp = DownstreamSP(entities(settings)["monespace-sp"], settings.certs_dir, settings, idp_name="csam-idp")
    yield sp
    sp.close()


@pytest.fixture
def csam_browser(federation: Federation, stand_in: DownstreamSP) -> Browser:
    """A browser where Mon Espace's host is the stand-in SP."""
    return browser_with(federation, stand_in)


# -- helpers -----------------------------------------------------------------------


def last_answer(sp: DownstreamSP) -> etree._Element:
    return etree.fromstring(base64.b64decode(sp.posted[-1]["SAMLResponse"]))


def status(root: etree._Element) -> list[str]:
    return root.xpath("samlp:Status//samlp:StatusCode/@Value", namespaces=NS)


def statement(root: etree._Element) -> etree._Element:
    found, = root.xpath("saml:Assertion/saml:AuthnStatement", namespaces=NS)
    return found


def name_id(root: etree._Element) -> etree._Element:
    found, = root.xpath("saml:Assertion/saml:Subject/saml:NameID", namespaces=NS)
    return found


def instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pages_seen(browser: Browser, since: int) -> list[str]:
    """The pages (not protocol endpoints) the person was shown since ``since``."""
    protocol = ("/sso", "/saml/answer", "/cerbere/answer", "/connexion", "/acs", "/saml/sp/acs")
    return [hop for hop in browser.history[since:] if hop.startswith("GET") and not
            any(hop.split(" ")[1].split("?")[0].endswith(p) for p in protocol)]


def upstream_requests(browser: Browser, federation: Federation) -> list[etree._Element]:
    return [etree.fromstring(m.xml.encode()) for m in browser.saml_trace
            if m.kind == "SAMLRequest" and m.url == federation.urls["idp_csam"] + "/saml/sso"]


def csam_answers(browser: Browser, federation: Federation) -> list[etree._Element]:
    return [etree.fromstring(m.xml.encode()) for m in browser.saml_trace
            if m.kind == "SAMLResponse" and m.url == federation.urls["monespace"] + "/saml/sp/acs"]


def log_into_monespace(browser: Browser, federation: Federation, persona: Persona) -> None:
    browser.open(federation.urls["monespace"] + "/connexion")
    page = eid_login(browser, persona)
    assert "MON TABLEAU DE BORD" in page.text, page.text[:300]


def at_csam_choice(page, federation: Federation) -> bool:  # noqa: ANN001 - a Page
    return page.url == federation.urls["idp_csam"] + "/" and EID in page.text


# -- CSAM: ForceAuthn, IsPassive ------------------------------------------------------


def test_csam_force_authn_shows_the_keys_again_even_with_a_session(
        federation: Federation, csam_browser: Browser, stand_in: DownstreamSP, jean: Persona) -> None:
    with freeze_time(datetime.now(timezone.utc)) as frozen:
        assert log_in(csam_browser, stand_in, jean).url == stand_in.acs_url
        first = statement(last_answer(stand_in)).get("AuthnInstant")
        stand_in.accept()
        frozen.tick(timedelta(minutes=2))
        assert csam_browser.open(stand_in.login_url()).url == stand_in.acs_url  # control: answered silently
        assert statement(last_answer(stand_in)).get("AuthnInstant") == first
        page = csam_browser.open(stand_in.login_url(force_authn=True))
        assert at_csam_choice(page, federation), page.url
        # the answer cannot be had without authenticating again
        page = csam_browser.open(federation.urls["idp_csam"] + "/saml/answer")
        assert at_csam_choice(page, federation), page.url
        frozen.tick(timedelta(seconds=30))
        assert eid_login(csam_browser, jean).url == stand_in.acs_url
        again = statement(last_answer(stand_in)).get("AuthnInstant")
        stand_in.accept()
    assert again > first and again == instant(datetime.fromisoformat(first.replace("Z", "+00:00"))
                                             + timedelta(minutes=2, seconds=30))


def test_csam_is_passive_without_a_session_answers_no_passive_without_a_page(
        federation: Federation, csam_browser: Browser, stand_in: DownstreamSP) -> None:
    page = csam_browser.open(stand_in.login_url(is_passive=True))
    assert page.url == stand_in.acs_url, page.text[:300]
    assert pages_seen(csam_browser, 0) == []
    assert status(last_answer(stand_in)) == ["urn:oasis:names:tc:SAML:2.0:status:Responder", NO_PASSIVE]
    with pytest.raises(PassiveUnavailable):
        stand_in.accept()


def test_csam_is_passive_with_a_session_is_answered(
        federation: Federation, csam_browser: Browser, stand_in: DownstreamSP, jean: Persona) -> None:
    log_in(csam_browser, stand_in, jean)
    since = len(csam_browser.history)
    assert csam_browser.open(stand_in.login_url(is_passive=True)).url == stand_in.acs_url
    assert pages_seen(csam_browser, since) == []
    assert stand_in.accept().first("egovNRN") == jean.nrn


def test_csam_force_authn_and_is_passive_together_answer_no_passive(
        federation: Federation, csam_browser: Browser, stand_in: DownstreamSP, jean: Persona) -> None:
    log_in(csam_browser, stand_in, jean)
    since = len(csam_browser.history)
    assert csam_browser.open(stand_in.login_url(force_authn=True, is_passive=True)).url == stand_in.acs_url
    assert pages_seen(csam_browser, since) == []
    assert NO_PASSIVE in status(last_answer(stand_in))
    # the session itself is still there
    assert csam_browser.open(stand_in.login_url()).url == stand_in.acs_url
    assert stand_in.accept().first("egovNRN") == jean.nrn


# -- CSAM: NameIDPolicy ----------------------------------------------------------------


def test_csam_name_id_policy(federation: Federation, csam_browser: Browser, stand_in: DownstreamSP,
                             jean: Persona) -> None:
    log_in(csam_browser, stand_in, jean)
    persistent = stand_in.accept().name_id
    csam_browser.open(stand_in.login_url(name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_PERSISTENT)))
    assert stand_in.accept().name_id == persistent  # pairwise, stable
    transients = []
    for _ in range(2):
        csam_browser.open(stand_in.login_url(name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_TRANSIENT)))
        assert name_id(last_answer(stand_in)).get("Format") == NAMEID_FORMAT_TRANSIENT
        transients.append(stand_in.accept().name_id)
    assert len({persistent, *transients}) == 3
    page = csam_browser.open(stand_in.login_url(name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_EMAILADDRESS)))
    assert page.url == stand_in.acs_url
    assert status(last_answer(stand_in)) == ["urn:oasis:names:tc:SAML:2.0:status:Requester",
                                             INVALID_NAME_ID_POLICY]
    with pytest.raises(NameIdPolicyRefused):
        stand_in.accept()


def test_csam_a_request_answered_with_an_error_is_not_answered_twice(csam_browser: Browser, stand_in: DownstreamSP,
                                                                    jean: Persona) -> None:
    """The replay cache records a request before any answer, an error one included."""
    log_in(csam_browser, stand_in, jean)
    stand_in.accept()
    url = stand_in.login_url(name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_EMAILADDRESS))
    assert csam_browser.open(url).url == stand_in.acs_url  # answered InvalidNameIDPolicy
    page = csam_browser.open(url)
    assert page.status == 400 and "déjà reçue" in page.text, (page.status, page.text[:300])


# -- CSAM: how long the SSO session lasts, and AuthnInstant -------------------------------


def test_csam_session_ends_after_its_idle_time(federation: Federation, csam_browser: Browser,
                                               stand_in: DownstreamSP, jean: Persona) -> None:
    with freeze_time(datetime.now(timezone.utc)) as frozen:
        log_in(csam_browser, stand_in, jean)
        for _ in range(2):  # each silent answer restarts the idle clock: 58 minutes, never 30 idle
            frozen.tick(timedelta(minutes=29))
            assert csam_browser.open(stand_in.login_url()).url == stand_in.acs_url
        frozen.tick(timedelta(minutes=31))
        assert csam_browser.open(stand_in.login_url(is_passive=True)).url == stand_in.acs_url
        assert NO_PASSIVE in status(last_answer(stand_in))
        assert at_csam_choice(csam_browser.open(stand_in.login_url()), federation)


def test_csam_session_ends_after_its_maximum_age_and_asserts_the_real_authn_instant(
        federation: Federation, csam_browser: Browser, stand_in: DownstreamSP, jean: Persona,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(federation.apps["idp_csam"].config, "SSO_SESSION_IDLE", timedelta(days=1))
    start = datetime.now(timezone.utc).replace(microsecond=0)
    with freeze_time(start) as frozen:
        log_in(csam_browser, stand_in, jean)
        first = statement(last_answer(stand_in))
        assert first.get("AuthnInstant") == instant(start)
        assert first.get("SessionNotOnOrAfter") == instant(start + timedelta(hours=8))
        frozen.tick(timedelta(hours=7, minutes=59))
        assert csam_browser.open(stand_in.login_url()).url == stand_in.acs_url
        later = last_answer(stand_in)
        assert later.get("IssueInstant") == instant(start + timedelta(hours=7, minutes=59))
        assert statement(later).get("AuthnInstant") == instant(start)  # not the time of the answer
        assert statement(later).get("SessionIndex") == first.get("SessionIndex")
        login = stand_in.accept()
        assert login.authn_instant == start
        frozen.tick(timedelta(minutes=2))
        assert csam_browser.open(stand_in.login_url(is_passive=True)).url == stand_in.acs_url
        assert NO_PASSIVE in status(last_answer(stand_in))
        assert at_csam_choice(csam_browser.open(stand_in.login_url()), federation)
        assert eid_login(csam_browser, jean).url == stand_in.acs_url
        renewed = statement(last_answer(stand_in))
        assert renewed.get("AuthnInstant") == instant(start + timedelta(hours=8, minutes=1))
        assert renewed.get("SessionIndex") != first.get("SessionIndex")


# -- Cerbère: ForceAuthn, IsPassive, AuthnInstant ---------------------------------------


def test_cerbere_force_authn_is_carried_to_csam(federation: Federation, browser: Browser, labo: DownstreamSP,
                                                jean: Persona) -> None:
    with freeze_time(datetime.now(timezone.utc).replace(microsecond=0)) as frozen:
        log_into_monespace(browser, federation, jean)
        frozen.tick(timedelta(minutes=3))
        page = browser.open(labo.login_url(force_authn=True))
        assert at_csam_choice(page, federation), page.url  # CSAM asks again: it got ForceAuthn
        assert upstream_requests(browser, federation)[-1].get("ForceAuthn") == "true"
        # Cerbère's answer cannot be had from the older login
        page = browser.open(federation.urls["monespace"] + "/cerbere/answer")
        assert page.url != LABO_ACS and not labo.posted
        frozen.tick(timedelta(minutes=1))
        assert eid_login(browser, jean).url == LABO_ACS
        fresh = datetime.now(timezone.utc)
        assert labo.accept().first("cerbereUsername") == jean.monespace.cerbere_username
    assert statement(csam_answers(browser, federation)[-1]).get("AuthnInstant") == instant(fresh)
    assert statement(last_answer(labo)).get("AuthnInstant") == instant(fresh)


def test_cerbere_asserts_when_the_person_authenticated_at_csam(federation: Federation, browser: Browser,
                                                               labo: DownstreamSP, jean: Persona) -> None:
    start = datetime.now(timezone.utc).replace(microsecond=0)
    with freeze_time(start) as frozen:
        log_into_monespace(browser, federation, jean)
        frozen.tick(timedelta(minutes=10))
        assert browser.open(labo.login_url()).url == LABO_ACS
    answer = statement(last_answer(labo))
    assert answer.get("AuthnInstant") == instant(start)
    assert answer.get("SessionIndex") and answer.get("SessionNotOnOrAfter")


def test_cerbere_is_passive_with_a_session_is_answered_without_csam(
        federation: Federation, browser: Browser, labo: DownstreamSP, jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    since = len(browser.history)
    assert browser.open(labo.login_url(is_passive=True)).url == LABO_ACS
    assert not any(federation.urls["idp_csam"] in hop for hop in browser.history[since:])
    assert labo.accept().first("cerbereUsername") == jean.monespace.cerbere_username


def test_cerbere_is_passive_without_any_session_asks_csam_passively_and_answers_no_passive(
        federation: Federation, browser: Browser, labo: DownstreamSP) -> None:
    page = browser.open(labo.login_url(is_passive=True))
    assert page.url == LABO_ACS, page.text[:300]
    assert pages_seen(browser, 0) == []
    assert upstream_requests(browser, federation)[-1].get("IsPassive") == "true"
    assert NO_PASSIVE in status(csam_answers(browser, federation)[-1])
    assert status(last_answer(labo)) == ["urn:oasis:names:tc:SAML:2.0:status:Responder", NO_PASSIVE]
    with pytest.raises(PassiveUnavailable):
        labo.accept()


def test_cerbere_is_passive_with_only_a_csam_session_is_answered_without_a_page(
        federation: Federation, browser: Browser, labo: DownstreamSP, jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    monespace = federation.urls["monespace"].split("//")[1]
    browser.transport.clients[monespace] = Client(federation.apps["monespace"])  # Mon Espace forgot the person
    since = len(browser.history)
    assert browser.open(labo.login_url(is_passive=True)).url == LABO_ACS
    assert pages_seen(browser, since) == []
    assert upstream_requests(browser, federation)[-1].get("IsPassive") == "true"
    assert labo.accept().first("cerbereUsername") == jean.monespace.cerbere_username


def test_cerbere_force_authn_and_is_passive_answer_no_passive_without_csam(
        federation: Federation, browser: Browser, labo: DownstreamSP, jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    since = len(browser.history)
    assert browser.open(labo.login_url(force_authn=True, is_passive=True)).url == LABO_ACS
    assert not any(federation.urls["idp_csam"] in hop for hop in browser.history[since:])
    with pytest.raises(PassiveUnavailable):
        labo.accept()


# -- Cerbère: NameIDPolicy -----------------------------------------------------------------


def test_cerbere_name_id_policy(federation: Federation, browser: Browser, labo: DownstreamSP,
                                jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    browser.open(labo.login_url())
    persistent = labo.accept().name_id
    transients = []
    for _ in range(2):
        assert browser.open(labo.login_url(name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_TRANSIENT))).url \
            == LABO_ACS
        assert name_id(last_answer(labo)).get("Format") == NAMEID_FORMAT_TRANSIENT
        transients.append(labo.accept().name_id)
    assert len({persistent, *transients}) == 3
    since = len(browser.history)
    browser.open(labo.login_url(name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_EMAILADDRESS)))
    assert not any(federation.urls["idp_csam"] in hop for hop in browser.history[since:])
    assert INVALID_NAME_ID_POLICY in status(last_answer(labo))
    with pytest.raises(NameIdPolicyRefused):
        labo.accept()


def test_cerbere_a_request_answered_with_an_error_is_not_answered_twice(federation: Federation, browser: Browser,
                                                                       labo: DownstreamSP, jean: Persona) -> None:
    log_into_monespace(browser, federation, jean)
    url = labo.login_url(name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_EMAILADDRESS))
    browser.open(url)
    assert INVALID_NAME_ID_POLICY in status(last_answer(labo))
    page = browser.open(url)
    assert page.status == 400 and "déjà reçue" in page.text, (page.status, page.text[:300])


# -- the signature of the query string as sent ------------------------------------------------


def lower_hex(value: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(value, safe=""))


def test_cerbere_accepts_a_request_percent_encoded_in_lower_case_hex(
        federation: Federation, browser: Browser, labo: DownstreamSP, jean: Persona, tmp_path: Path) -> None:
    log_into_monespace(browser, federation, jean)
    base, query = labo.login_url().split("?", 1)
    args = redirect.parse(query)
    signed = "&".join(f"{name}={lower_hex(args[name])}" for name in ("SAMLRequest", "RelayState", "SigAlg"))
    assert "%2f" in signed
    key = serialization.load_pem_private_key((tmp_path / "sp-certs" / "labo-sp.key").read_bytes(), password=None)
    signature = base64.b64encode(key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    page = browser.open(f"{base}?{signed}&Signature={lower_hex(signature)}")
    assert page.url == LABO_ACS, page.text[:300]
    assert labo.accept().first("cerbereUsername") == jean.monespace.cerbere_username
