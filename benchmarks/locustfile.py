"""Locust drives the real login journeys against a running federation
(benchmarks/load_federation.py: a federation with N synthetic citizens).

Three kinds of users, one of each by default (same weight):

- ``FirstLogin``: each journey a new person, who has no Mon Espace account:
  Mon Espace « Me connecter » → CSAM → eID card + PIN → Mon Espace's first
  connection: « Créer mon compte », the activation e-mail read through the
  mailbox's JSON API and its link opened, « Accéder à mon compte » → the
  dashboard → the NAID démarche → Cerbère → Modigia's policies → Modigia's
  profile.
- ``ReturningUser``: a person with an account (made by a first login when
  the Locust user starts): a new browser each journey, eID login → the
  dashboard → NAID → Modigia → profile.
- ``SsoOnly``: a person logged in at Mon Espace (ditto): each journey the
  NAID démarche only, which Cerbère answers without asking CSAM → Modigia →
  profile.

Every request goes through Locust's client (its statistics count them all),
named by journey and step (``first-login 03 CSAM card + PIN → Mon Espace``);
pages are parsed, forms filled (CSRF tokens included) and SAML auto-post
forms sent by the harness's scripted browser
(fedsim_harness.scenario.browser), through a transport that is Locust's
``self.client``. Each whole journey is also reported, as a request of type
JOURNEY (the « transaction » of locust-plugins): its time, and when a page
is not what it should be, a failure that says which and where — the person
Modigia's profile shows must be the user's (benchmarks/stress_journeys.py's
crossed-identity check).

People: ``synthetic_people(N)`` of stress_journeys (N: ``--fedsim-people``,
or FEDSIM_LOAD_PEOPLE, as load_federation.py printed). Each person is used
by one Locust user only: a local run counts them out; with a master and
workers, the master hands each worker blocks of people on request (Locust's
custom messages), so workers never share one. At the start of each run the
master (or the local runner) resets the federation (POST /admin/reset, from
this machine), so that nobody has an account yet; ``--fedsim-no-reset``
skips it.

URLs: Mon Espace is Locust's host (``--host``; by default the FEDSIM_*
settings' Mon Espace), CSAM, Modigia and the mailbox come from the FEDSIM_*
settings (fedsim.federation.Settings.from_env()).

    .venv/bin/locust -f benchmarks/locustfile.py --headless -u 20 -r 5 -t 1m
    .venv/bin/locust -f benchmarks/locustfile.py --master --headless -u 20 -r 5 -t 1m --expect-workers 2
    .venv/bin/locust -f benchmarks/locustfile.py --worker      # once per worker
"""
from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")

from gevent import Timeout
from gevent.event import AsyncResult
from gevent.lock import Semaphore
from locust import HttpUser, between, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stress_journeys import (
    accept_policies,
    identity_shown,
    rsa_signature_ms,
    synthetic_people,
)

from fedsim import personas
from fedsim.federation import Settings
from fedsim_harness.admin import ResetUnavailable, request_reset
from fedsim_harness.outside import KEYS
from fedsim_harness.scenario.browser import Browser, BrowserError, Page

log = logging.getLogger("fedsim.load")
BLOCK = 20  # people the master hands a worker at a time
DASHBOARD = "MON TABLEAU DE BORD"
CONTEXT_QUESTION = "Dans quel contexte souhaitez-vous"


class JourneyFailed(AssertionError):
    """A page was not what the journey expected; the message says which."""


class PoolExhausted(RuntimeError):
    """No person left for a new Locust user or journey."""


# -- the people ---------------------------------------------------------------------------------

class PersonPool:
    """Hands out ``synthetic_people(size)`` one person per call, never the
    same one twice in a run, whichever node asks: a local runner counts
    them out, a worker asks the master for blocks of ``BLOCK`` indexes."""

    def __init__(self) -> None:
        self.people: list[personas.Persona] = []
        self.next = self.stop = 0  # this node's indexes still to give: [next, stop)
        self.master_next = 0  # on the master: the first index not yet handed to a worker
        self.runner = None
        self._refill = Semaphore()
        self._block: AsyncResult | None = None

    def configure(self, runner) -> None:
        self.runner = runner
        if isinstance(runner, WorkerRunner):
            runner.register_message("fedsim_people_block", self._received)
        elif isinstance(runner, MasterRunner):
            runner.register_message("fedsim_people_wanted", self._hand_out)

    def restart(self, size: int) -> None:
        """A new run of ``size`` people (a worker has the master's options
        by now), every one free again (the federation was reset)."""
        if len(self.people) != size:
            self.people = synthetic_people(size)
        self.next = self.master_next = 0
        self.stop = 0 if isinstance(self.runner, WorkerRunner) else len(self.people)

    def take(self) -> personas.Persona:
        with self._refill:  # one request to the master at a time
            if self.next >= self.stop:
                if not isinstance(self.runner, WorkerRunner):
                    raise PoolExhausted(self._exhausted())
                self._block = AsyncResult()
                self.runner.send_message("fedsim_people_wanted", BLOCK)
                try:
                    self.next, self.stop = self._block.get(timeout=30)
                except Timeout:
                    raise PoolExhausted("the master handed out no people within 30 s") from None
                if self.next >= self.stop:
                    raise PoolExhausted(self._exhausted())
            index, self.next = self.next, self.next + 1
        return self.people[index]

    def _exhausted(self) -> str:
        return (f"all {len(self.people)} synthetic citizens have been used: serve a federation with more "
                f"(benchmarks/load_federation.py --people) and give Locust the same --fedsim-people")

    def _hand_out(self, environment, msg) -> None:
        start = min(self.master_next, len(self.people))
        self.master_next = min(start + int(msg.data), len(self.people))
        self.runner.send_message("fedsim_people_block", [start, self.master_next], client_id=msg.node_id)

    def _received(self, environment, msg) -> None:
        if self._block is not None:
            self._block.set(tuple(msg.data))


POOL = PersonPool()


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--fedsim-people", type=int, env_var="FEDSIM_LOAD_PEOPLE", default=2000,
                        help="synthetic citizens the federation knows (benchmarks/load_federation.py --people)")
    parser.add_argument("--fedsim-no-reset", action="store_true", env_var="FEDSIM_LOAD_NO_RESET", default=False,
                        help="do not reset the federation when a run starts")


@events.init.add_listener
def _init(environment, **_kwargs) -> None:
    POOL.configure(environment.runner)


@events.test_start.add_listener
def _test_start(environment, **_kwargs) -> None:
    POOL.restart(environment.parsed_options.fedsim_people)
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options.fedsim_no_reset:
        return
    mailbox = Settings.from_env().base_url("mailbox")
    try:
        ms = request_reset(mailbox)
    except ResetUnavailable as exc:
        log.error("%s The synthetic citizens may already have accounts: first logins will fail.", exc)
    else:
        log.info("Federation at %s reset in %.0f ms: nobody has a Mon Espace account yet", mailbox, ms)


@events.quitting.add_listener
def _journeys_in_r(environment, **_kwargs) -> None:
    """The median of each journey in ms and in R (one RSA-2048 SHA-256
    signature with `cryptography`, measured here, as benchmarks/bench_saml.py)."""
    if isinstance(environment.runner, WorkerRunner):
        return
    r_ms = rsa_signature_ms(100)
    for (name, method), entry in sorted(environment.stats.entries.items()):
        if method == "JOURNEY" and entry.num_requests:
            median = entry.median_response_time
            log.info("journey %-22s %5d done, %4d failed, median %6.0f ms = %6.0f R (R = %.3f ms)", name,
                     entry.num_requests, entry.num_failures, median, median / r_ms, r_ms)


# -- the browser on Locust's client ---------------------------------------------------------------

class LocustTransport:
    """The scripted browser's transport: Locust's HttpSession (its cookie
    jar is the person's browser; its statistics count each request), every
    request named by the step under way (``step``)."""

    def __init__(self, client, timeout: float = 60.0) -> None:
        self.client, self.timeout = client, timeout
        self.step = "?"

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        response = self.client.request(method, url, name=self.step, data=data, allow_redirects=False,
                                       timeout=self.timeout)
        where = f"{method} {url.split('?')[0]}"
        if not response.status_code:  # no answer: Locust counted the error
            raise BrowserError(f"{where}: {response.error}")
        page = Page(url, response.status_code, dict(response.headers), response.text)
        if response.status_code >= 400:  # Locust counted the failure; the journey stops here
            raise BrowserError(f"{where}: HTTP {response.status_code}: {page.main_text[:200]}")
        return page


class Journeys:
    """The steps of the three journeys for one Locust user."""

    def __init__(self, user: HttpUser) -> None:
        settings = Settings.from_env()
        self.user = user
        self.urls = {"monespace": user.host.rstrip("/"), "idp_csam": settings.base_url("idp_csam"),
                     "modigia_sp": settings.base_url("modigia_sp"), "mailbox": settings.base_url("mailbox")}
        self.transport = LocustTransport(user.client)
        self.browser = Browser(self.transport)
        self.journey, self.by_step, self.where = "", True, ""

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Requests named « <journey> <label> » (or all by the journey's
        name when it is not told step by step)."""
        self.where = label
        if self.by_step:
            self.transport.step = f"{self.journey} {label}"
        yield

    @contextlib.contextmanager
    def reported(self, journey: str, person: personas.Persona, *, by_step: bool = True) -> Iterator[None]:
        """Run one journey: its requests named after it, its time and
        outcome reported as a JOURNEY « request »."""
        self.journey, self.by_step, self.where = journey, by_step, "start"
        self.transport.step = journey
        started = time.perf_counter()
        failure: Exception | None = None
        try:
            yield
        except StopUser:
            raise
        except (BrowserError, JourneyFailed) as exc:
            failure = JourneyFailed(f"[{person.id}] at « {self.where} »: {exc}")
        except Exception as exc:  # noqa: BLE001 - whatever broke, this journey failed
            failure = JourneyFailed(f"[{person.id}] at « {self.where} »: {type(exc).__name__}: {exc}")
        self.user.environment.events.request.fire(
            request_type="JOURNEY", name=journey, response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=failure, context={"person": person.id})

    def new_browser(self) -> None:
        """Forget every cookie: a new browser window for the next journey."""
        self.user.client.cookies.clear()
        self.browser = Browser(self.transport)

    # -- the steps -----------------------------------------------------------

    def eid_login(self, person: personas.Persona) -> Page:
        with self.step("01 Mon Espace /connexion → Cerbère → CSAM"):
            self.browser.open(f"{self.urls['monespace']}/connexion")
            label = KEYS["eid"][0]
            if not self.browser.has(label):
                raise JourneyFailed(f"not CSAM's choice of keys (no « {label} »): {self._shown()}")
        with self.step("02 CSAM eID card reader"):
            self.browser.click(label)
        with self.step("03 CSAM card + PIN → Mon Espace"):
            return self.browser.submit({"card": person.card.number, "pin": person.card.pin}, button="Se connecter")

    def create_account(self, person: personas.Persona) -> Page:
        if not self.browser.has("Créer mon compte"):
            raise JourneyFailed(f"not Mon Espace's first connection (no « Créer mon compte »; an account "
                                f"already? — was the federation reset?): {self._shown()}")
        with self.step("04 Mon Espace « Créer mon compte »"):
            self.browser.click("Créer mon compte")
        with self.step("05 mailbox API: activation e-mail"):
            link = self._activation_link(person)
        with self.step("06 activation link"):
            self.browser.open(link)
        with self.step("07 « Accéder à mon compte » → dashboard"):
            return self.browser.click("Accéder à mon compte")

    def dashboard(self, page: Page) -> None:
        if CONTEXT_QUESTION in page.text:
            with self.step("07b context « Citoyen »"):
                page = self.browser.click("Citoyen")
        if DASHBOARD not in page.text:
            raise JourneyFailed(f"not Mon Espace's dashboard: {self._shown()}")

    def naid_to_modigia(self, person: personas.Persona, *, silent: bool = False) -> None:
        with self.step("08 NAID démarche → Cerbère → Modigia"):
            asked_before = len(self.browser.history)
            page = self.browser.open(f"{self.urls['monespace']}/demarrer-demarche/?codeDemarche=NAID")
            if urlsplit(page.url).netloc != urlsplit(self.urls["modigia_sp"]).netloc:
                raise JourneyFailed(f"not at Modigia after the démarche: {self._shown()}")
            csam = self.urls["idp_csam"]
            if silent and any(csam in line for line in self.browser.history[asked_before:]):
                raise JourneyFailed("Cerbère sent the person to CSAM again: not single sign-on")
        with self.step("09 Modigia policies → home"):
            page = accept_policies(self.browser, page)
            welcome = f"Bienvenue sur la plateforme, {person.given_name}"
            if welcome not in page.text:
                raise JourneyFailed(f"crossed identity: Modigia's home does not say « {welcome} »: {self._shown()}")
        with self.step("10 Modigia profile"):
            page = self.browser.open(f"{self.urls['modigia_sp']}/profil")
            if "Mon profil" not in page.text:
                raise JourneyFailed(f"not Modigia's profile page: {self._shown()}")
            crossed = identity_shown(page, person)
            if crossed:
                raise JourneyFailed(f"crossed identity on Modigia's profile: {crossed}")

    def first_login(self, person: personas.Persona) -> None:
        self.eid_login(person)
        self.dashboard(self.create_account(person))
        self.naid_to_modigia(person)

    def _activation_link(self, person: personas.Persona) -> str:
        subject = "Activation de votre compte Mon Espace"
        query = urlencode({"to": person.email, "subject": subject, "limit": 1})
        page = self.transport.request("GET", f"{self.urls['mailbox']}/api/messages?{query}")
        messages = json.loads(page.body or "{}").get("messages")
        if not messages:
            raise JourneyFailed(f"no e-mail « {subject} » to {person.email} in the mailbox")
        link = next((l["href"] for l in messages[0]["links"] if "Activer mon compte" in l["text"]), None)
        if link is None:
            raise JourneyFailed("the activation e-mail has no « Activer mon compte » link")
        return link

    def _shown(self) -> str:
        page = self.browser.page
        return f"{page.url.split('?')[0]} (HTTP {page.status}): {page.main_text[:200]}" if page else "no page"


# -- the users ------------------------------------------------------------------------------------

class FederationUser(HttpUser):
    abstract = True
    host = Settings.from_env().base_url("monespace")
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.journeys = Journeys(self)

    def take_person(self) -> personas.Persona:
        try:
            return POOL.take()
        except PoolExhausted as exc:
            self.environment.events.request.fire(request_type="JOURNEY", name="people", response_time=0,
                                                 response_length=0, exception=exc, context={})
            raise StopUser() from None

class FirstLogin(FederationUser):
    """A new person each journey: eID, account creation, NAID, Modigia."""

    @task
    def first_login(self) -> None:
        person = self.take_person()
        self.journeys.new_browser()
        with self.journeys.reported("first-login", person):
            self.journeys.first_login(person)


class SetUpUser(FederationUser):
    """A user whose person is logged in once when it starts (an account,
    Modigia's policies accepted): the requests named « set-up (first login) »."""
    abstract = True

    def on_start(self) -> None:
        super().on_start()
        self.person, self.ready = self.take_person(), False
        with self.journeys.reported("set-up (first login)", self.person, by_step=False):
            self.journeys.first_login(self.person)
            self.ready = True


class ReturningUser(SetUpUser):
    """A person with an account, in a new browser each journey."""

    @task
    def returning(self) -> None:
        if not self.ready:
            raise StopUser()
        self.journeys.new_browser()
        with self.journeys.reported("returning", self.person):
            self.journeys.dashboard(self.journeys.eid_login(self.person))
            self.journeys.naid_to_modigia(self.person)


class SsoOnly(SetUpUser):
    """A person logged in at Mon Espace: the démarche, answered silently."""

    @task
    def sso_only(self) -> None:
        if not self.ready:
            raise StopUser()
        with self.journeys.reported("sso-only", self.person):
            self.journeys.naid_to_modigia(self.person, silent=True)
