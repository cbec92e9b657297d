"""Bad input through the three apps, in-process: malformed, tampered, missing,
replayed or unknown messages, wrong PINs, stale links and unknown démarches.
Each must give a 4xx page that says what was wrong (never a 500), and leave
every stored row as it was (the whole database is compared)."""
from __future__ import annotations

import base64
import json
import zlib
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import inspect, text
from werkzeug.test import Client

import idp_csam
from fedsim.db import Database
from fedsim.personas import Persona, by_id
from fedsim_harness.scenario.browser import Browser, Page
from fedsim.sessions import StoredSession
from fedsim_harness.stack import Federation
from idp_csam.models import EidCard
from monespace.models import Account

EID = "IDENTIFICATION avec un lecteur de cartes eID"
NS = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}


# -- helpers -------------------------------------------------------------------


def snapshot(app: Flask) -> dict[str, list[str]]:
    """Every row of every table of the app's database, but the server-side
    sessions: they are the browser's state, as the cookie was (a page shown
    for bad input may still put a CSRF token or a fresh eID challenge there)."""
    with Database.factory(app)() as db:
        names = inspect(db.get_bind()).get_table_names()
        return {name: sorted(repr(tuple(row)) for row in db.execute(text(f'SELECT * FROM "{name}"')))
                for name in names if name != StoredSession.__tablename__}


class Unchanged:
    """``with Unchanged(app, ...):`` fails if any stored row changed."""

    def __init__(self, *apps: Flask) -> None:
        self.apps = apps

    def __enter__(self) -> "Unchanged":
        self.before = [snapshot(app) for app in self.apps]
        return self

    def __exit__(self, exc_type, *_):  # noqa: ANN001, ANN204
        if exc_type is None:
            for app, before in zip(self.apps, self.before):
                after = snapshot(app)
                changed = {t for t in set(before) | set(after) if before.get(t) != after.get(t)}
                assert not changed, f"{app.name}: bad input changed stored rows in {sorted(changed)}"
        return False


def assert_refused(page: Page, *fragments: str, status: int | tuple[int, ...] = (400, 404, 409, 410)) -> None:
    statuses = (status,) if isinstance(status, int) else status
    assert page.status in statuses, f"expected HTTP {statuses}, got {page.status}: {page.text[:400]}"
    assert 400 <= page.status < 500
    assert "Traceback" not in page.body and "Erreur interne" not in page.text
    for fragment in fragments:
        assert fragment in page.text, f"« {fragment} » not in the page: {page.text[:600]}"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, args: dict[str, str]) -> str:
    return url.split("?", 1)[0] + "?" + urlencode(args)


def inflate(saml_request: str) -> str:
    return zlib.decompress(base64.b64decode(saml_request), -15).decode("utf-8")


def deflate(xml: str) -> str:
    compressor = zlib.compressobj(wbits=-15)
    return base64.b64encode(compressor.compress(xml.encode("utf-8")) + compressor.flush()).decode("ascii")


def redirect_to(browser: Browser, url: str) -> str:
    """GET ``url`` and return where it redirects (without following)."""
    page = browser.transport.request("GET", url)
    assert page.status in (302, 303), f"{url}: HTTP {page.status} {page.text[:300]}"
    return urljoin(url, page.headers["Location"])


def saml_form(browser: Browser, method: str, url: str, data: dict | None = None) -> tuple[str, dict[str, str]]:
    """Follow redirects up to the auto-posting SAML form and return its
    action and fields, without posting it."""
    for _ in range(10):
        page = browser.transport.request(method, url, data)
        if page.status in (302, 303) and page.headers.get("Location"):
            url, method, data = urljoin(url, page.headers["Location"]), "GET", None
            continue
        forms = page.tree.xpath("//form[@data-autosubmit]")
        assert forms, f"no SAML form at {url}: HTTP {page.status} {page.text[:400]}"
        fields = {i.get("name"): i.get("value") for i in forms[0].xpath(".//input[@name]")}
        return urljoin(url, forms[0].get("action")), fields
    raise AssertionError("too many redirects")


def csrf(page: Page) -> str:
    return page.tree.xpath("//input[@name='csrf_token']/@value")[0]


def pin_page(browser: Browser, federation: Federation) -> Page:
    browser.open(federation.urls["monespace"] + "/connexion")
    return browser.click(EID)


def csam_answer(browser: Browser, federation: Federation, persona: Persona) -> tuple[str, dict[str, str]]:
    """Log in at CSAM with the eID and keep CSAM's signed answer to Mon Espace."""
    page = pin_page(browser, federation)
    return saml_form(browser, "POST", page.url,
                     {"csrf_token": csrf(page), "card": persona.card.number, "pin": persona.card.pin})


def log_into_monespace(browser: Browser, federation: Federation, persona: Persona) -> None:
    page = pin_page(browser, federation)
    page = browser.submit({"card": persona.card.number, "pin": persona.card.pin}, button="Se connecter")
    assert page.status == 200 and "MON TABLEAU DE BORD" in page.text, page.text[:400]


def cerbere_answer(browser: Browser, federation: Federation) -> tuple[str, dict[str, str]]:
    """Start a Modigia login from a logged-in Mon Espace and keep Cerbère's answer."""
    return saml_form(browser, "GET", federation.urls["modigia_sp"] + "/saml/login")


def tamper_attribute(saml_response: str, name: str, value: str) -> str:
    root = etree.fromstring(base64.b64decode(saml_response))
    values = root.xpath(f"//saml:Attribute[@Name='{name}']/saml:AttributeValue", namespaces=NS)
    assert values, f"no attribute {name}"
    values[0].text = value
    return base64.b64encode(etree.tostring(root, xml_declaration=True, encoding="UTF-8")).decode()


def post(browser: Browser, url: str, data: dict[str, str]) -> Page:
    return browser.transport.request("POST", url, data)


@pytest.fixture
def naima() -> Persona:
    return by_id("naima")


@pytest.fixture
def jean() -> Persona:
    return by_id("jean")


# -- CSAM /saml/sso and Cerbère /cerbere/sso: AuthnRequests ----------------------


def _bad_requests(genuine_url: str, acs: str) -> dict[str, str]:
    args = query(genuine_url)
    xml = inflate(args["SAMLRequest"])
    assert acs in xml
    unsigned = {k: v for k, v in args.items() if k not in ("Signature", "SigAlg")}
    bad_sig = dict(args, Signature=base64.b64encode(b"\x00" * 256).decode())
    return {
        "no SAMLRequest": with_query(genuine_url, {}),
        "garbage SAMLRequest": with_query(genuine_url, dict(args, SAMLRequest="%%%pas du SAML%%%")),
        "not deflated": with_query(genuine_url, dict(args, SAMLRequest=base64.b64encode(b"<x/>").decode())),
        "unsigned": with_query(genuine_url, unsigned),
        "sha1": with_query(genuine_url, dict(args, SigAlg="http://www.w3.org/2000/09/xmldsig#rsa-sha1")),
        "bad signature": with_query(genuine_url, bad_sig),
        "tampered ACS": with_query(genuine_url, dict(
            args, SAMLRequest=deflate(xml.replace(acs, "https://attacker.example/acs")))),
        "tampered RelayState": with_query(genuine_url, dict(args, RelayState=args["RelayState"] + "x")),
        "doctype": with_query(genuine_url, dict(args, SAMLRequest=deflate(
            '<!DOCTYPE x [<!ENTITY e "e">]>' + xml.split("?>", 1)[-1]))),
    }


EXPECTED_REQUEST_REFUSAL = {
    "no SAMLRequest": "SAMLRequest absent",
    "garbage SAMLRequest": "illisible",
    "not deflated": "illisible",
    "unsigned": "non signée",
    "sha1": "RSA-SHA256",
    "bad signature": "Signature absente ou invalide",
    "tampered ACS": "Signature absente ou invalide",
    "tampered RelayState": "Signature absente ou invalide",
    "doctype": "DOCTYPE",
}


def test_bad_authn_requests_at_csam(federation: Federation, browser: Browser) -> None:
    csam = federation.apps["idp_csam"]
    genuine = redirect_to(browser, federation.urls["monespace"] + "/connexion")
    assert genuine.startswith(federation.urls["idp_csam"] + "/saml/sso?")
    acs = federation.urls["monespace"] + "/saml/sp/acs"
    for case, url in _bad_requests(genuine, acs).items():
        with Unchanged(csam):
            page = browser.transport.request("GET", url)
        assert_refused(page, "Message SAML refusé", EXPECTED_REQUEST_REFUSAL[case], status=400)
    # nothing was remembered: the choice page says no request is pending
    page = browser.transport.request("GET", federation.urls["idp_csam"] + "/")
    assert "Aucune demande de connexion" in page.text
    # control: the genuine request is accepted
    assert browser.transport.request("GET", genuine).status == 302


def test_bad_authn_requests_at_cerbere(federation: Federation, browser: Browser) -> None:
    monespace = federation.apps["monespace"]
    genuine = redirect_to(browser, federation.urls["modigia_sp"] + "/saml/login")
    assert genuine.startswith(federation.urls["monespace"] + "/cerbere/sso?")
    acs = federation.urls["modigia_sp"] + "/saml/acs"
    for case, url in _bad_requests(genuine, acs).items():
        with Unchanged(monespace):
            page = browser.transport.request("GET", url)
        assert_refused(page, "Message SAML refusé", EXPECTED_REQUEST_REFUSAL[case], status=400)
    with Unchanged(monespace):  # the answer endpoint without a pending request
        page = browser.transport.request("GET", federation.urls["monespace"] + "/cerbere/answer")
    assert_refused(page, "Aucune demande d'authentification en cours", status=400)
    # control: the genuine request is accepted
    assert browser.transport.request("GET", genuine).status == 302


def test_csam_answer_without_pending_request(federation: Federation, browser: Browser) -> None:
    with Unchanged(federation.apps["idp_csam"]):
        page = browser.transport.request("GET", federation.urls["idp_csam"] + "/saml/answer")
    assert_refused(page, "Aucune demande d'authentification en cours", status=400)


# -- Mon Espace /saml/sp/acs: CSAM's Responses ------------------------------------


def test_bad_responses_at_monespace_acs(federation: Federation, browser: Browser, naima: Persona) -> None:
    monespace = federation.apps["monespace"]
    acs, fields = csam_answer(browser, federation, naima)
    assert acs == federation.urls["monespace"] + "/saml/sp/acs"
    genuine, relay = fields["SAMLResponse"], fields["RelayState"]
    cases = {
        "missing SAMLResponse": ({"RelayState": relay}, "SAMLResponse absent"),
        "empty SAMLResponse": ({"SAMLResponse": "", "RelayState": relay}, "SAMLResponse absent"),
        "not base64": ({"SAMLResponse": "%%% pas du base64 %%%", "RelayState": relay}, ""),
        "not XML": ({"SAMLResponse": base64.b64encode(b"bonjour").decode(), "RelayState": relay}, ""),
        "tampered NRN": ({"SAMLResponse": tamper_attribute(genuine, "egovNRN", by_id("jean").nrn),
                          "RelayState": relay}, "Signature invalide sur"),
        "tampered name": ({"SAMLResponse": tamper_attribute(genuine, "givenName", "Mallory"),
                           "RelayState": relay}, "Signature invalide sur"),
        "missing RelayState": ({"SAMLResponse": genuine}, "RelayState absent"),
        "unknown RelayState": ({"SAMLResponse": genuine, "RelayState": "inconnu"}, "RelayState inconnu"),
    }
    for case, (data, fragment) in cases.items():
        with Unchanged(monespace):
            page = post(browser, acs, data)
        assert_refused(page, "Message SAML refusé", fragment, status=400)

    # another browser cannot use this browser's login
    stranger = Browser(type(browser.transport)(federation.wsgi_by_netloc()))
    with Unchanged(monespace):
        page = post(stranger, acs, fields)
    assert_refused(page, "aucune connexion démarrée dans ce navigateur", status=400)

    # control: after all that, the genuine answer still goes through
    page = post(browser, acs, fields)
    assert page.status == 302 and page.headers["Location"].endswith("/compte/creation"), page.status
    # ... once: a replay is refused and stores nothing
    with Unchanged(monespace):
        page = post(browser, acs, fields)
    assert_refused(page, "rejouée", status=400)


# -- Modigia /saml/acs: Cerbère's Responses ---------------------------------------


def test_bad_responses_at_modigia_acs(federation: Federation, browser: Browser, jean: Persona) -> None:
    modigia = federation.apps["modigia_sp"]
    log_into_monespace(browser, federation, jean)
    acs, fields = cerbere_answer(browser, federation)
    assert acs == federation.urls["modigia_sp"] + "/saml/acs"
    genuine, relay = fields["SAMLResponse"], fields["RelayState"]
    cases = {
        "missing SAMLResponse": ({"RelayState": relay}, "SAMLResponse absent"),
        "not base64": ({"SAMLResponse": "%%%", "RelayState": relay}, ""),
        "truncated": ({"SAMLResponse": base64.b64encode(base64.b64decode(genuine)[:500]).decode(),
                       "RelayState": relay}, ""),
        "tampered username": ({"SAMLResponse": tamper_attribute(genuine, "cerbereUsername", "admin"),
                               "RelayState": relay}, "Signature invalide sur"),
        "missing RelayState": ({"SAMLResponse": genuine}, "RelayState absent"),
        "unknown RelayState": ({"SAMLResponse": genuine, "RelayState": "inconnu"}, "RelayState inconnu"),
    }
    for case, (data, fragment) in cases.items():
        with Unchanged(modigia):
            page = post(browser, acs, data)
        assert_refused(page, "Message SAML refusé", fragment, status=400)

    page = post(browser, acs, fields)  # control
    assert page.status == 302, page.text[:400]
    with Unchanged(modigia):
        page = post(browser, acs, fields)
    assert_refused(page, "rejouée", status=400)


def test_csam_answer_cannot_be_posted_to_modigia(federation: Federation, browser: Browser,
                                                 naima: Persona) -> None:
    """A genuine CSAM response, relayed to the wrong SP: wrong issuer/audience."""
    _, fields = csam_answer(browser, federation, naima)
    modigia_acs = federation.urls["modigia_sp"] + "/saml/acs"
    redirect_to(browser, federation.urls["modigia_sp"] + "/saml/login")  # so Modigia has a pending request
    with Unchanged(federation.apps["modigia_sp"]):
        page = post(browser, modigia_acs, {"SAMLResponse": fields["SAMLResponse"]})
    assert_refused(page, "Message SAML refusé", status=400)


# -- the eID card reader -----------------------------------------------------------


def _card(federation: Federation, number: str, app: Flask | None = None) -> EidCard:
    with Database.factory(app or federation.apps["idp_csam"])() as db:
        card = db.get(EidCard, number)
        db.expunge(card)
        return card


@pytest.mark.parametrize("pin, message", [
    ("12ab", "Le code PIN se compose de 4 à 12 chiffres."),
    ("123", "Le code PIN se compose de 4 à 12 chiffres."),
    ("1234567890123", "Le champ « Code PIN » compte au plus 12 caractères."),  # the field limit speaks first
    ("", "Tapez votre code PIN."),
])
def test_pin_in_wrong_format_costs_no_try(federation: Federation, browser: Browser, naima: Persona,
                                          pin: str, message: str) -> None:
    pin_page(browser, federation)
    with Unchanged(federation.apps["idp_csam"]):
        page = browser.submit({"card": naima.card.number, "pin": pin}, button="Se connecter")
    assert_refused(page, message, status=400)
    assert _card(federation, naima.card.number).failed_pin_tries == 0


def test_unknown_card(federation: Federation, browser: Browser) -> None:
    pin_page(browser, federation)
    with Unchanged(federation.apps["idp_csam"]):
        page = browser.submit({"card": "592-0000000-00", "pin": "1234"}, button="Se connecter")
    assert_refused(page, "Aucune carte eID n'est insérée dans le lecteur", status=400)
    assert "Not a valid choice" not in page.text


def test_missing_csrf_token(federation: Federation, browser: Browser, naima: Persona) -> None:
    page = pin_page(browser, federation)
    with Unchanged(federation.apps["idp_csam"]):
        page = post(browser, page.url, {"card": naima.card.number, "pin": naima.card.pin})
    assert_refused(page, "jeton anti-falsification absent ou invalide", status=400)


def test_wrong_pins_count_down_then_block_the_card_for_good(federation: Federation, browser: Browser,
                                                           naima: Persona) -> None:
    number = naima.card.number
    pin_page(browser, federation)
    page = browser.submit({"card": number, "pin": "0000"}, button="Se connecter")
    assert_refused(page, "Code PIN erroné. Il vous reste 2 essais.", status=400)
    assert _card(federation, number).failed_pin_tries == 1
    page = browser.submit({"card": number, "pin": "0000"}, button="Se connecter")
    assert_refused(page, "Il vous reste 1 essai.", status=400)
    page = browser.submit({"card": number, "pin": "0000"}, button="Se connecter")
    assert_refused(page, "La carte eID est maintenant bloquée", status=400)
    card = _card(federation, number)
    assert card.failed_pin_tries == 3 and card.blocked_at is not None

    # the right PIN no longer opens it, and trying changes nothing
    with Unchanged(federation.apps["idp_csam"]):
        page = browser.submit({"card": number, "pin": naima.card.pin}, button="Se connecter")
    assert_refused(page, "bloquée", "PUK", status=400)

    # another card is not affected
    jean = by_id("jean")
    page = browser.submit({"card": jean.card.number, "pin": jean.card.pin}, button="Se connecter")
    assert page.status == 200 and "Message SAML refusé" not in page.text

    # a new CSAM (a restart) on the same database: still blocked
    restarted = idp_csam.create_app({"FEDSIM_SETTINGS": federation.settings, "TESTING": True,
                                     "DATABASE_URL": federation.apps["idp_csam"].config["DATABASE_URL"]})
    assert restarted.config["DATABASE_URL"] == federation.apps["idp_csam"].config["DATABASE_URL"]
    assert _card(federation, number, restarted).is_blocked
    client = Client(restarted)
    form = Page("http://csam/eid", 200, {}, client.get("/eid").get_data(as_text=True))
    response = client.post("/eid", data={"csrf_token": csrf(form), "card": number, "pin": naima.card.pin})
    assert response.status_code == 400
    assert "bloquée" in response.get_data(as_text=True)


# -- activation links ----------------------------------------------------------------


def _activation_links(browser: Browser, federation: Federation, persona: Persona) -> dict[str, str]:
    api = federation.urls["mailbox"] + "/api/messages?" + urlencode({"to": persona.email})
    messages = json.loads(browser.transport.request("GET", api).body)["messages"]
    assert messages, "no activation e-mail"
    return {link["text"]: link["href"] for link in messages[0]["links"]}


def _first_login_until_pending(browser: Browser, federation: Federation, persona: Persona) -> None:
    pin_page(browser, federation)
    page = browser.submit({"card": persona.card.number, "pin": persona.card.pin}, button="Se connecter")
    assert "VOTRE COMPTE MON ESPACE" in page.text, page.text[:400]
    page = browser.click("Créer mon compte")
    assert "Merci de valider votre compte" in page.text, page.text[:400]


@pytest.mark.parametrize("path", ["/compte/activer", "/compte/annuler"])
@pytest.mark.parametrize("token", [None, "", "inconnu", "x" * 500])
def test_unknown_link_token(federation: Federation, browser: Browser, path: str, token: str | None) -> None:
    url = federation.urls["monespace"] + path + ("" if token is None else "?" + urlencode({"jeton": token}))
    with Unchanged(federation.apps["monespace"]):
        page = browser.open(url)
    assert_refused(page, "Ce lien n'est pas valide", status=404)


def test_activation_link_works_once(federation: Federation, browser: Browser, naima: Persona) -> None:
    monespace = federation.apps["monespace"]
    _first_login_until_pending(browser, federation, naima)
    links = _activation_links(browser, federation, naima)
    activate = links["Activer mon compte Mon Espace"]
    cancel = links["Annuler l'activation du compte Mon Espace"]

    # the cancel token does not activate, the activate token does not cancel
    for wrong in (cancel.replace("/compte/annuler", "/compte/activer"),
                  activate.replace("/compte/activer", "/compte/annuler")):
        with Unchanged(monespace):
            page = browser.open(wrong)
        assert_refused(page, "Ce lien n'est pas valide", status=404)

    page = browser.open(activate)
    assert page.status == 200 and "Votre compte Mon Espace a bien été activé" in page.text
    with Database.factory(monespace)() as db:
        account = db.query(Account).filter_by(nrn=naima.nrn).one()
        assert account.is_active and account.cerbere_username

    for used in (activate, cancel):  # both links are spent once the account is active
        with Unchanged(monespace):
            page = browser.open(used)
        assert_refused(page, "Ce lien a déjà été utilisé", status=410)


# -- démarches -------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["NOPE", "", "naid", "NAID'--", "<script>alert(1)</script>"])
def test_unknown_demarche(federation: Federation, browser: Browser, jean: Persona, code: str) -> None:
    log_into_monespace(browser, federation, jean)
    url = federation.urls["monespace"] + "/demarrer-demarche/?" + urlencode({"codeDemarche": code})
    with Unchanged(federation.apps["monespace"], federation.apps["modigia_sp"]):
        page = browser.open(url)
    assert_refused(page, "Démarche inconnue", "n'existe pas", status=404)
    assert "<script>alert(1)</script>" not in page.body


def test_unknown_demarche_without_being_logged_in(federation: Federation, browser: Browser) -> None:
    with Unchanged(federation.apps["monespace"]):
        page = browser.open(federation.urls["monespace"] + "/demarrer-demarche/?codeDemarche=NOPE")
    assert_refused(page, "La démarche « NOPE » n'existe pas.", status=404)


def test_known_demarche_is_the_control(federation: Federation, browser: Browser, jean: Persona) -> None:
    """The same request with a real code does store a dossier, and Unchanged
    notices: the checks above can fail."""
    log_into_monespace(browser, federation, jean)
    before = snapshot(federation.apps["monespace"])["dossier"]
    with pytest.raises(AssertionError, match="dossier"):
        with Unchanged(federation.apps["monespace"]):
            page = browser.open(federation.urls["monespace"] + "/demarrer-demarche/?codeDemarche=NAID")
    assert page.status == 200
    assert len(snapshot(federation.apps["monespace"])["dossier"]) == len(before) + 1
