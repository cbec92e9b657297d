"""Logging a persona into a service provider that is not part of the
federation — the developer's own SP — as a test needs it: register the SP's
metadata at Cerbère (or CSAM) on the fly, start a real SP-initiated login,
authenticate at CSAM with the key asked for (or the one that reaches the
level asked for), go through Mon Espace (a first connection creates and
activates the account; a person with several contexts picks the one asked
for), and come back to the SP with its answer posted. The scripted browser
is returned with its cookies and the SP's page, ready for the test to go on.

The SP can be a WSGI app (in-process, no port) or any URL (a running server).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyotp
import requests
from lxml import etree

from fedsim import clock, personas
from fedsim.levels import LEVEL300, LEVEL400, LEVEL500
from fedsim_harness.scenario.browser import Browser, BrowserError, HttpTransport, Page, WsgiTransport

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
# CSAM's keys that a helper can use without a phone, by the label of the
# choice page (G02), and the level each reaches.
KEYS = {
    "eid": ("IDENTIFICATION avec un lecteur de cartes eID", LEVEL500),
    "app_code": ("IDENTIFICATION avec un code de sécurité via une application mobile", LEVEL400),
    "email_code": ("IDENTIFICATION avec un code de sécurité envoyé par e-mail", LEVEL300),
}


class LoginFailed(AssertionError):
    """The journey did not reach the SP; the message says where it stopped."""


@dataclass(frozen=True)
class OutsideSP:
    """A service provider under test. ``metadata``: its SAML metadata (XML
    text or a file); ``login_url``: the URL of the SP that starts a login;
    ``wsgi``: its WSGI app when it runs in-process (then ``login_url``'s
    host:port names it), None when it is a running server."""
    metadata: str | Path
    login_url: str
    wsgi: object | None = None

    @property
    def metadata_xml(self) -> str:
        text = self.metadata
        if isinstance(text, Path) or not str(text).lstrip().startswith("<"):
            text = Path(text).read_text(encoding="utf-8")
        return str(text)

    @property
    def entity_id(self) -> str:
        root = etree.fromstring(self.metadata_xml.encode("utf-8"))
        return root.get("entityID") or ""


def register(apps: dict, sp: OutsideSP, idp: str = "cerbere") -> None:
    """Register the SP at ``idp`` ("cerbere" or "csam") of a federation's
    ``apps``, through the IdP's own registry (the metadata is validated and
    refused with the reason, then written to the folder the IdP watches, and
    the IdP reloads at once)."""
    from fedsim.saml.registry import EXTENSION, PLACES
    from fedsim_harness import sp_folder

    if idp not in PLACES:
        raise ValueError(f"unknown IdP {idp!r} ({', '.join(PLACES)})")
    registry = apps[PLACES[idp].app].extensions[EXTENSION]
    try:
        sp_folder.add(registry, sp.metadata_xml.encode("utf-8"), f"metadata of {sp.entity_id or 'the SP'}")
    except sp_folder.Refused as refused:
        raise LoginFailed(str(refused)) from None


class MixedTransport:
    """In-process apps by host:port, real HTTP for every other address."""

    def __init__(self, apps_by_netloc: dict) -> None:
        self.wsgi = WsgiTransport(apps_by_netloc)
        self.http = HttpTransport()

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        if urlsplit(url).netloc in self.wsgi.clients:
            return self.wsgi.request(method, url, data)
        try:
            return self.http.request(method, url, data)
        except requests.RequestException as exc:
            raise BrowserError(f"{url}: {type(exc).__name__}: {exc}") from None


def key_for(key: str | None, level: str | None) -> str:
    """The key asked for, or the weakest key that reaches ``level``."""
    if key is not None:
        if key not in KEYS:
            raise ValueError(f"unknown key {key!r}: {', '.join(KEYS)} (itsme needs a phone: use a scenario)")
        return key
    if level is None:
        return "eid"
    from fedsim.levels import FAS_ORDER
    if level not in FAS_ORDER:
        raise ValueError(f"unknown level {level!r}: {', '.join(FAS_ORDER)}")
    fitting = [k for k, (_, reached) in KEYS.items() if FAS_ORDER.index(reached) >= FAS_ORDER.index(level)]
    return min(fitting, key=lambda k: FAS_ORDER.index(KEYS[k][1]))


class Journey:
    """One login of ``persona`` at an outside SP, through a federation whose
    base URLs are ``urls`` (monespace, idp_csam, modigia_sp, mailbox)."""

    def __init__(self, browser: Browser, urls: dict[str, str], persona: personas.Persona) -> None:
        self.browser, self.urls, self.persona = browser, urls, persona

    def run(self, login_url: str, key: str, context: str | None) -> Page:
        page = self.browser.open(login_url)
        label, _ = KEYS[key]
        if self.browser.has(label):
            self.browser.click(label)
            page = getattr(self, f"_{key}")()
        for _ in range(4):  # what Mon Espace may ask before Cerbère answers
            if self.browser.has("Créer mon compte"):
                page = self._create_account()
            elif "Dans quel contexte souhaitez-vous" in page.text:
                page = self.browser.click(context or "Citoyen")
            else:
                break
        return page

    def _eid(self) -> Page:
        card = self.persona.card
        if card is None:
            raise LoginFailed(f"persona {self.persona.id} has no eID card: choose another key")
        return self.browser.submit({"card": card.number, "pin": card.pin}, button="Se connecter")

    def _credentials(self) -> None:
        if self.persona.csam is None:
            raise LoginFailed(f"persona {self.persona.id} has no CSAM username: choose another key")
        self.browser.submit({"username": self.persona.csam.username, "password": self.persona.csam.password},
                            button="Suivant")

    def _email_code(self) -> Page:
        self._credentials()
        text = self._newest_mail("CSAM — votre code de sécurité")["text"]
        code = re.search(r"\b(\d{6})\b", text)
        if code is None:
            raise LoginFailed("no 6-digit code in CSAM's e-mail")
        return self.browser.submit({"code": code.group(1)}, button="Se connecter")

    def _app_code(self) -> Page:
        self._credentials()
        found = re.search(r'data-secret="([A-Z2-7]+)"', self.browser.page.body)
        if found is None:
            raise LoginFailed("the app-code key is already enrolled for this persona with a secret the helper "
                              "does not know: reset the federation first")
        code = pyotp.TOTP(found.group(1)).at(clock.now())
        return self.browser.submit({"code": code})

    def _create_account(self) -> Page:
        self.browser.click("Créer mon compte")
        message = self._newest_mail("Activation de votre compte Mon Espace")
        link = next((l["href"] for l in message["links"] if "Activer mon compte" in l["text"]), None)
        if link is None:
            raise LoginFailed("the activation e-mail has no activation link")
        self.browser.open(link)
        return self.browser.click("Accéder à mon compte")

    def _newest_mail(self, subject: str) -> dict:
        query = urlencode({"to": self.persona.email, "subject": subject, "limit": 1})
        page = self.browser.transport.request("GET", f"{self.urls['mailbox']}/api/messages?{query}")
        messages = json.loads(page.body or "{}").get("messages") if page.status == 200 else None
        if not messages:
            raise LoginFailed(f"no e-mail « {subject} » to {self.persona.email} in the mailbox")
        return messages[0]


def log_in(browser: Browser, urls: dict[str, str], sp: OutsideSP, persona: str | personas.Persona = "jean", *,
           key: str | None = None, level: str | None = None, context: str | None = None) -> Browser:
    """Log ``persona`` into ``sp`` (already registered) with ``browser``;
    LoginFailed says where the journey stopped."""
    who = personas.by_id(persona) if isinstance(persona, str) else persona
    try:
        page = Journey(browser, urls, who).run(sp.login_url, key_for(key, level), context)
    except BrowserError as exc:
        raise LoginFailed(f"login of {who.id} at {sp.login_url} stopped: {exc}") from None
    sp_host = urlsplit(sp.login_url).netloc
    if urlsplit(page.url).netloc != sp_host:
        raise LoginFailed(f"login of {who.id} ended at {page.url} (HTTP {page.status}), not at the SP "
                          f"{sp_host}: {page.main_text[:300]}")
    return browser
