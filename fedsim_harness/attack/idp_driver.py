"""Running the hostile-SP catalogue against an IdP: for each case a fresh
browser (holding a copy of the run's open IdP session, one of its own, or
none: ``IdpCase.session``) sends the hostile request to the IdP's SSO
endpoint, follows the IdP's own redirects and auto-posted forms (an IdP
that is a proxy, such as Cerbère, goes through CSAM and back), and stops
where something leaves the IdP: a SAML message posted or redirected to an
ACS, another page, or the IdP's login page. What it saw is the verdict:

- ``refused``: an error page or a SAML error Response without an assertion;
- ``ASSERTION_ISSUED``: a Response holding an Assertion (or an artifact);
- ``SENT_TO_UNLISTED_ACS``: a SAML message sent to an address the SP's
  metadata does not list;
- ``LOGIN_ASKED``: the IdP accepted the request and asks for a login (a
  failure for a request it must refuse; expected for ForceAuthn);
- ``SERVER_ERROR`` (5xx); ``HARNESS_FAILURE`` (the baseline got no
  assertion, or the run could not be done).
"""
from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urljoin, urlsplit

from lxml import etree

from fedsim import clock
from fedsim_harness.attack.idp_cases import IdpCase
from fedsim_harness.attack.idp_forge import SAML, SAMLP, Hostile, RequestForge, SpKey
from fedsim_harness.scenario.browser import BrowserError, Page, Transport, visible_text

REFUSED = "refused"
ISSUED_OK = "assertion issued"       # the baseline, as it must be
NO_ASSERTION = "no assertion"        # a session case answered as it must (a login page or an error Response)
ISSUED = "ASSERTION_ISSUED"
UNLISTED = "SENT_TO_UNLISTED_ACS"
LOGIN_ASKED = "LOGIN_ASKED"
SERVER_ERROR = "SERVER_ERROR"
HARNESS = "HARNESS_FAILURE"
FAILURES = frozenset({ISSUED, UNLISTED, LOGIN_ASKED, SERVER_ERROR, HARNESS})
REDIRECTS = (301, 302, 303, 307, 308)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class IdpTarget:
    """An IdP under attack, and the SP (known to it) the attacker plays.
    ``idp_origins``: where the IdP's own pages live (followed); ``acs``: the
    SP's ACS URLs from its metadata; ``login``: opens a session at the IdP
    in a fresh transport (None: the run has no session, and the baseline
    may end at the login page); ``login_markers``: text of its login page."""
    label: str
    sso_url: str
    sp: SpKey
    acs: tuple[str, ...]
    idp_origins: frozenset[str]
    other_key: SpKey
    slo_url: str | None = None
    login: Callable[[Transport], None] | None = None
    login_markers: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdpResult:
    case: IdpCase
    verdict: str
    detail: str
    status: int | None = None
    seconds: float = 0.0
    request_xml: str = ""        # the hostile request as built (decoded)
    response_xml: str = ""       # what the IdP sent back, decoded (when a SAML message)
    relay_state: str | None = None
    history: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.verdict in FAILURES


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class HarnessError(Exception):
    pass


@dataclass
class Outcome:
    verdict: str
    detail: str
    status: int | None
    message: str = ""            # a SAML message seen, decoded
    assertion: bool = False


def decode_response(value: str, deflated: bool = False) -> tuple[str, bool, str]:
    """(the XML, whether it holds an assertion, its status) of a SAMLResponse value."""
    try:
        data = base64.b64decode(value)
        if deflated:
            data = zlib.decompress(data, -15)
        root = etree.fromstring(data, _PARSER)
    except Exception as exc:  # noqa: BLE001 - an unreadable answer is reported as such
        return "", False, f"unreadable SAMLResponse ({type(exc).__name__})"
    assertion = any(True for _ in root.iter(f"{{{SAML}}}Assertion", f"{{{SAML}}}EncryptedAssertion"))
    codes = [c.get("Value", "").rsplit(":", 1)[-1] for c in root.iter(f"{{{SAMLP}}}StatusCode")]
    message = root.findtext(f".//{{{SAMLP}}}StatusMessage") or ""
    return data.decode("utf-8", "replace"), assertion, ("/".join(codes) + f" {message}").strip()


class Client:
    """One browser at the IdP: sends a hostile request and follows the IdP."""

    def __init__(self, transport: Transport, target: IdpTarget) -> None:
        self.transport, self.target = transport, target
        self.history: list[str] = []

    def _request(self, method: str, url: str, data: dict | None) -> Page:
        page = self.transport.request(method, url, data)
        self.history.append(f"{method} {url.split('?')[0]} -> {page.status}")
        return page

    def send(self, hostile: Hostile) -> Outcome:
        base = hostile.url or self.target.sso_url
        url = f"{base}?{hostile.query}" if hostile.query else base
        method, data = hostile.method, hostile.form
        for _ in range(25):
            page = self._request(method, url, data)
            if page.status >= 500:
                return Outcome(SERVER_ERROR, f"{page.status} {_short(page)}", page.status)
            location = page.headers.get("Location")
            if page.status in REDIRECTS and location:
                url = urljoin(url, location)
                if origin(url) not in self.target.idp_origins:
                    return self._left(url, page.status)
                if page.status not in (307, 308):
                    method, data = "GET", None
                continue
            form = _saml_form(page)
            if form is not None:
                action, fields = form
                if origin(action) in self.target.idp_origins:  # the IdP's own leg (a proxy and its upstream)
                    url, method, data = action, "POST", fields
                    continue
                return self._judge(action, fields.get("SAMLResponse", ""), False, page.status, "posted")
            if page.status == 200 and self._login_page(page):
                return Outcome(LOGIN_ASKED, f"the IdP asks for a login ({url.split('?')[0]})", page.status)
            return Outcome(REFUSED, f"{page.status} {_short(page)}".strip(), page.status)
        raise HarnessError("more than 25 redirects at the IdP")

    def _left(self, url: str, status: int) -> Outcome:
        args = dict(parse_qsl(urlsplit(url).query))
        if "SAMLResponse" in args:
            return self._judge(url, args["SAMLResponse"], True, status, "redirected")
        if "SAMLart" in args:
            where = url.split("?")[0]
            verdict = ISSUED if where in self.target.acs else UNLISTED
            return Outcome(verdict, f"an artifact sent to {where}", status, assertion=True)
        return Outcome(REFUSED, f"{status}: sent to {url.split('?')[0]} without a SAML message", status)

    def _judge(self, where: str, value: str, deflated: bool, status: int, how: str) -> Outcome:
        xml, assertion, saml_status = decode_response(value, deflated)
        address = where.split("?")[0] if deflated else where
        what = "a Response with an assertion" if assertion else f"a Response {saml_status or 'without assertion'}"
        if address not in self.target.acs:
            return Outcome(UNLISTED, f"{what} {how} to {address[:120]}", status, xml, assertion)
        if assertion:
            return Outcome(ISSUED, f"{what} {how} to the SP's ACS", status, xml, True)
        return Outcome(REFUSED, f"SAML error Response {saml_status}"[:200], status, xml)

    def _login_page(self, page: Page) -> bool:
        body = page.body or ""
        return 'type="password"' in body or any(m in body for m in self.target.login_markers)


def _saml_form(page: Page) -> tuple[str, dict[str, str]] | None:
    if "SAMLResponse" not in (page.body or "") or not page.is_markup:
        return None
    for form in page.tree.forms:
        fields = {i.get("name"): i.get("value", "") for i in form.inputs if i.get("name")}
        if "SAMLResponse" in fields:
            return urljoin(page.url, form.get("action") or page.url), fields
    return None


def _short(page: Page) -> str:
    if not page.body or not page.is_markup:
        return ""
    mains = page.tree.xpath("//main")
    return (visible_text(mains[0]) if mains else page.text)[:160]


@dataclass
class _Attack:
    forge: RequestForge
    other_key: SpKey
    slo_url: str | None
    client: Client
    primed: list[str] = field(default_factory=list)

    def prime(self, hostile: Hostile) -> bool:
        outcome = self.client.send(hostile)
        self.primed.append(outcome.verdict)
        return outcome.assertion and outcome.verdict == ISSUED


class Runner:
    """Runs cases against ``target``; ``transport`` makes a fresh one per
    browser, ``copy`` copies the cookies of the session browser into a new
    one (the shared session)."""

    def __init__(self, target: IdpTarget, transport: Callable[[], Transport],
                 copy: Callable[[Transport, Transport], None] | None = None) -> None:
        self.target, self.transport, self.copy = target, transport, copy or copy_cookies
        self._session: Transport | None = None

    def _browser(self, session: str) -> Transport:
        fresh = self.transport()
        if session == "none" or self.target.login is None:
            return fresh
        if session == "own":
            self.target.login(fresh)
            return fresh
        if self._session is None:  # kept only once logged in: a failed login fails each case, never silently
            browser = self.transport()
            self.target.login(browser)
            self._session = browser
        self.copy(self._session, fresh)
        return fresh

    def run_case(self, case: IdpCase) -> IdpResult:
        started = time.perf_counter()
        hostile: Hostile | None = None
        client: Client | None = None
        try:
            client = Client(self._browser(case.session), self.target)
            forge = RequestForge(self.target.sp, self.target.sso_url, self.target.acs[0], clock.now())
            attack = _Attack(forge, self.target.other_key, self.target.slo_url, client)
            hostile = case.build(attack)
            outcome = client.send(hostile)
        except (HarnessError, BrowserError) as exc:
            return self._result(case, HARNESS, str(exc), None, started, client, hostile)
        except Exception as exc:  # noqa: BLE001 - a case that cannot be run is the harness's failure, reported
            return self._result(case, HARNESS, f"case could not be run: {type(exc).__name__}: {exc}", None,
                                started, client, hostile)
        verdict, detail = outcome.verdict, outcome.detail
        if case.expect == "assertion":
            if verdict == ISSUED:
                verdict = ISSUED_OK
            elif verdict == LOGIN_ASKED and self.target.login is None:
                verdict, detail = ISSUED_OK, "reached the IdP's login page (no session given: assertions unseen)"
            else:
                verdict, detail = HARNESS, f"the correct request got no assertion: {verdict} {detail}"
        elif case.expect == "no_assertion" and verdict in (REFUSED, LOGIN_ASKED):
            verdict = NO_ASSERTION
        return self._result(case, verdict, detail, outcome.status, started, client, hostile, outcome.message)

    @staticmethod
    def _result(case: IdpCase, verdict: str, detail: str, status: int | None, started: float,
                client: Client | None, hostile: Hostile | None, message: str = "") -> IdpResult:
        return IdpResult(case, verdict, detail, status, time.perf_counter() - started,
                         (hostile.xml if hostile else "")[:200_000], message[:200_000],
                         hostile.relay_state if hostile else None, tuple(client.history) if client else ())

    def run(self, cases: Iterable[IdpCase], progress: Callable[[IdpResult], None] | None = None) -> list[IdpResult]:
        results = []
        for case in cases:
            result = self.run_case(case)
            results.append(result)
            if progress is not None:
                progress(result)
        return results


def copy_cookies(source: Transport, target: Transport) -> None:
    """The session browser's cookies into a fresh one (WsgiTransport or HttpTransport)."""
    clients = getattr(source, "clients", None)
    if clients is not None:
        for netloc, client in clients.items():
            for cookie in getattr(client, "_cookies", {}).values():
                target.clients[netloc].set_cookie(cookie.key, cookie.value, domain=cookie.domain,
                                                  path=cookie.path)
        return
    session = getattr(source, "session", None)
    if session is not None:
        target.session.cookies.update(session.cookies)
