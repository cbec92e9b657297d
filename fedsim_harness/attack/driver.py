"""Running the catalogue against an SP: for each case a fresh browser starts
a real SP-initiated login, stops at the IdP's door with the AuthnRequest in
hand, posts the forged Response to the SP's ACS, follows the SP's own
redirects (an off-site one is recorded, not followed), then asks the
protected URL whether that browser is logged in, and as whom.

Transports are the scenario browser's (``WsgiTransport`` in-process,
``HttpTransport`` against running servers): ``run`` takes a factory that
makes a fresh one (fresh cookies) per browser. A case that does not apply
to the target (``Case.skip``: an encryption case for an SP that publishes
no encryption key) is reported ``skipped`` with the reason, not run.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from fedsim import clock
from fedsim.saml.encryption import Recipient
from fedsim_harness.attack.catalogue import Case, Forged
from fedsim_harness.attack.forge import Forge, Identity, SeenRequest, Signer
from fedsim_harness.attack.targets import Target
from fedsim_harness.scenario.browser import BrowserError, Page, Transport, visible_text

REFUSED = "refused"
LOGGED_IN = "logged in"          # the baseline, as it must be
ACCEPTED = "ACCEPTED"
VICTIM = "VICTIM"
OFFSITE = "OFFSITE_REDIRECT"
NOT_ROTATED = "SESSION_NOT_ROTATED"
SERVER_ERROR = "SERVER_ERROR"
HARNESS = "HARNESS_FAILURE"      # the run itself could not be done (or the baseline did not log in)
SKIPPED = "skipped"              # the case does not apply to this SP (e.g. it publishes no encryption key)
FAILURES = frozenset({ACCEPTED, VICTIM, OFFSITE, NOT_ROTATED, SERVER_ERROR, HARNESS})
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Result:
    case: Case
    verdict: str
    detail: str
    status: int | None = None        # the ACS's HTTP status
    seconds: float = 0.0
    request_xml: str = ""
    response_xml: str = ""           # the forged message as posted (decoded)
    relay_state: str | None = None
    history: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.verdict in FAILURES


class HarnessError(Exception):
    pass


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _offsite(location: str, base: str, allowed: set[str]) -> str | None:
    """The absolute target of a Location that leaves ``allowed`` origins, or None."""
    raw = location.strip()
    normalised = raw.replace("\\", "/")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", normalised) and not normalised.lower().startswith(("http:", "https:")):
        return raw  # javascript:, data:, …
    if re.match(r"^https?:(?!//)", normalised, re.IGNORECASE):
        return raw  # http:evil.example: some browsers take it as off-site
    target = urljoin(base, normalised)
    return None if _origin(target) in allowed else target


class Client:
    """One browser at the SP: its own transport and cookies."""

    def __init__(self, transport: Transport, target: Target) -> None:
        self.transport = transport
        self.target = target
        self.origin = _origin(target.protected_url)
        self.history: list[str] = []
        self.idp_origin = ""

    def _get(self, method: str, url: str, data: dict | None = None) -> Page:
        page = self.transport.request(method, url, data)
        self.history.append(f"{method} {url.split('?')[0]} -> {page.status}")
        return page

    def start_login(self, login_url: str) -> SeenRequest:
        url = login_url
        for _ in range(10):
            page = self._get("GET", url)
            location = page.headers.get("Location")
            if page.status not in REDIRECTS or not location:
                raise HarnessError(f"the login URL led to {url.split('?')[0]} ({page.status}), not to an IdP "
                                   "with a SAMLRequest (HTTP-Redirect binding)")
            url = urljoin(url, location)
            if "SAMLRequest=" in url:
                self.idp_origin = _origin(url)
                return SeenRequest.from_redirect(url)
            if _origin(url) != self.origin:
                raise HarnessError(f"the login URL redirects to {url.split('?')[0]} without a SAMLRequest")
        raise HarnessError("too many redirects from the login URL")

    def post(self, acs_url: str, forged: Forged, relay_state: str) -> tuple[Page, str | None, list[Page]]:
        """POST at the ACS, follow the SP's own redirects; returns the ACS's
        answer, an off-site Location (not followed) and every page seen."""
        fields = {"SAMLResponse": forged.saml_response}
        if not forged.omit_relay_state:
            fields["RelayState"] = forged.relay_state if forged.relay_state is not None else relay_state
        first = page = self._get("POST", acs_url, fields)
        pages = [page]
        url = acs_url
        allowed = {self.origin, self.idp_origin}
        for _ in range(10):
            location = page.headers.get("Location")
            if page.status not in REDIRECTS or not location:
                break
            elsewhere = _offsite(location, url, allowed)
            if elsewhere is not None:
                return first, elsewhere, pages
            url = urljoin(url, location.replace("\\", "/"))
            if _origin(url) != self.origin:
                break  # back to the IdP: not followed
            page = self._get("GET", url)
            pages.append(page)
        return first, None, pages

    def check(self) -> tuple[bool, Page]:
        """Whether the protected URL shows a logged-in page (200, not through
        the login URL, and matching the pattern when one is given)."""
        login_path = urlsplit(self.target.login_url).path
        url = self.target.protected_url
        for _ in range(10):
            page = self._get("GET", url)
            location = page.headers.get("Location")
            if page.status in REDIRECTS and location:
                url = urljoin(url, location)
                if _origin(url) != self.origin or urlsplit(url).path == login_path or "SAMLRequest=" in url:
                    return False, page
                continue
            if page.status != 200:
                return False, page
            if self.target.pattern and not re.search(self.target.pattern, page.body):
                return False, page
            return True, page
        return False, page

    def cookies(self) -> dict[str, str]:
        """The cookies this browser holds for the SP."""
        jar = getattr(self.transport, "clients", None)
        if jar is not None:  # WsgiTransport: werkzeug's Client per host:port
            client = jar.get(urlsplit(self.target.protected_url).netloc)
            return {c.key: c.value for c in getattr(client, "_cookies", {}).values()} if client else {}
        session = getattr(self.transport, "session", None)
        return {c.name: c.value for c in session.cookies} if session is not None else {}


def shows(page: Page, identity: Identity) -> bool:
    """Whether a page names ``identity`` (a marker not followed by more of a name)."""
    text = visible_text(page.tree) if page.body else ""
    return any(re.search(re.escape(m) + r"(?![\w.@-])", text) for m in identity.markers if m)


@dataclass
class _Attack:
    """What a case sees while it is built (catalogue.Attack)."""
    forge: Forge
    request: SeenRequest
    attacker: Identity
    victim: Identity
    recipient: Recipient | None  # the SP's encryption key (Target.recipient)
    client: Client
    new_client: Callable[[], Client]
    acs_url: str

    def other_login(self) -> _Other:
        client = self.new_client()
        return _Other(client.start_login(client.target.login_url), client, self.acs_url)

    def post(self, forged: Forged) -> int:
        page, _, _ = self.client.post(self.acs_url, forged, self.request.relay_state)
        return page.status


@dataclass
class _Other:
    request: SeenRequest
    client: Client
    acs_url: str

    def post(self, forged: Forged) -> int:
        page, _, _ = self.client.post(self.acs_url, forged, self.request.relay_state)
        return page.status


@dataclass(frozen=True)
class Setup:
    """Everything the driver needs besides the cases."""
    target: Target
    signer: Signer
    attacker: Identity
    victim: Identity
    transport: Callable[[], Transport]
    authority: str | None = None


def _short(page: Page) -> str:
    mains = page.tree.xpath("//main") if page.body and page.is_markup else []
    text = visible_text(mains[0]) if mains else (page.text if page.is_markup else "")
    return text[:160]


def run_case(setup: Setup, case: Case) -> Result:
    started = time.perf_counter()
    target = setup.target
    client = Client(setup.transport(), target)
    why_not = case.skip(target) if case.skip is not None else None
    if why_not:
        return _result(case, SKIPPED, why_not, None, started, client, None)
    login_url = target.login_url
    if case.login_next is not None:
        from urllib.parse import urlencode
        base = login_url.split("?")[0]
        login_url = f"{base}?{urlencode({'next': case.login_next})}"
    forged: Forged | None = None
    try:
        request = client.start_login(login_url)
        acs_url = request.acs_url or target.acs_url
        if not acs_url:
            raise HarnessError("no ACS URL: neither in the AuthnRequest nor in the SP's metadata")
        forge = Forge(setup.signer, target.sp_entity_id, acs_url, request.request_id, setup.attacker,
                      setup.victim, clock.now(), authority=setup.authority)
        recipient = target.recipient()  # the SP's encryption key from its metadata, or None
        attack = _Attack(forge, request, setup.attacker, setup.victim, recipient, client,
                         lambda: Client(setup.transport(), target), acs_url)
        forged = case.build(attack)
        before = client.cookies()
        first, offsite, pages = client.post(acs_url, forged, request.relay_state)
        logged_in, page = client.check()
    except (HarnessError, BrowserError) as exc:
        return _result(case, HARNESS, str(exc), None, started, client, forged)
    except Exception as exc:  # noqa: BLE001 - a case that cannot be built is the harness's failure, reported
        return _result(case, HARNESS, f"case could not be run: {type(exc).__name__}: {exc}", None, started,
                       client, forged)
    broken = next((p for p in (*pages, page) if p.status >= 500), None)
    if broken is not None:
        return _result(case, SERVER_ERROR, f"{broken.status} at {broken.url.split('?')[0]}", first.status,
                       started, client, forged, request)
    if offsite is not None:
        return _result(case, OFFSITE, f"redirected to {offsite[:120]}", first.status, started, client, forged,
                       request)
    if case.expect == "login":
        if not logged_in:
            return _result(case, HARNESS, f"the correct Response did not log in: {first.status} "
                           f"{_short(first)}", first.status, started, client, forged, request)
        after = client.cookies()
        sessionish = [n for n in before if "sess" in n.lower()] or list(before)
        kept = [n for n in sessionish if n in after and after[n] == before[n]]
        if kept:
            return _result(case, NOT_ROTATED, f"cookie {kept[0]} kept its value across the login",
                           first.status, started, client, forged, request)
        return _result(case, LOGGED_IN, "logged in, session cookie renewed", first.status, started, client,
                       forged, request)
    if case.expect == "no_offsite":
        how = "logged in" if logged_in else f"not logged in ({first.status})"
        return _result(case, REFUSED, f"stayed on the SP's site, {how}", first.status, started, client,
                       forged, request)
    if logged_in and shows(page, setup.victim) and (case.victim or case.second_answer):
        return _result(case, VICTIM, f"logged in as {setup.victim.label}", first.status, started, client,
                       forged, request)
    if logged_in and not case.second_answer:
        return _result(case, ACCEPTED, f"logged in ({_short(page)[:80]})", first.status, started, client,
                       forged, request)
    return _result(case, REFUSED, f"{first.status} {_short(first)}".strip(), first.status, started, client,
                   forged, request)


def _result(case: Case, verdict: str, detail: str, status: int | None, started: float, client: Client,
            forged: Forged | None, request: SeenRequest | None = None) -> Result:
    xml = ""
    if forged is not None:
        xml = forged.xml.decode("utf-8", "replace") if forged.xml is not None else (forged.encoded or "")[:2000]
    return Result(case, verdict, detail, status, time.perf_counter() - started,
                  request.xml if request else "", xml[:200_000], forged.relay_state if forged else None,
                  tuple(client.history))


def run(setup: Setup, cases: Iterable[Case], progress: Callable[[Result], None] | None = None) -> list[Result]:
    results = []
    for case in cases:
        result = run_case(setup, case)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
