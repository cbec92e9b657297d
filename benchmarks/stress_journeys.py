"""Stress: N complete login journeys at once against a live federation,
each a different person, each in its own HTTP client (requests.Session).

The journey (first login, the longest one): Mon Espace « Me connecter »
(/connexion) → Cerbère → CSAM → eID card reader (card + PIN; the card's chip
signs CSAM's challenge) → back at Mon Espace: first connection, « Créer mon
compte », the activation e-mail read from the mailbox and its link opened,
« Accéder à mon compte » (the context « Citoyen » if asked) → the dashboard →
the NAID démarche (/demarrer-demarche/?codeDemarche=NAID) → Cerbère answers
Modigia silently → Modigia's four site policies read and accepted → Modigia's
home, then its profile page (/profil). Login and account creation reuse
``fedsim_harness.outside.Journey`` and the scenario runner's HTTP browser.

Crossed identities: every journey logs in a different person and checks the
person Modigia shows on /profil (name, e-mail, national register number
when among the attributes Cerbère sent — it is not today) and the
name on Modigia's welcome page;
any other person there counts as « crossed ».

By default the script serves its own federation (``ServedFederation`` on
free ports, in a temporary folder, in this process) with N synthetic
citizens added to CSAM's people (a personas file given to CSAM's factory:
CSAM seeds them with its own code, cards with chips and certificates, valid
national register numbers from fedsim.nrn). ``--running`` drives the
federation of `fedsim up` instead (URLs from the FEDSIM_* environment, as
`fedsim scenario run --running`); it cannot add people to it, so the
journeys cycle through the shipped personas that have an eID card (after one
warm-up login each, not counted, which creates their Mon Espace accounts):
people repeat, so the crossed-identity check is weaker there.

Report: journeys, concurrency, wall time, journeys/s, errors (with the step
and HTTP status of the first few), crossed identities, HTTP 5xx, « database
is locked » (in responses and in the servers' logs), connection errors, the
mean and p90 journey time in ms and in R (one RSA-2048 SHA-256 signature
with `cryptography`, measured in the same run, as benchmarks/bench_saml.py).
Exit status 1 on any error or crossed identity.

    .venv/bin/python benchmarks/stress_journeys.py [--journeys 200] [--concurrency 200] [--json FILE]
    .venv/bin/python benchmarks/stress_journeys.py --running --journeys 50 --concurrency 20
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

warnings.filterwarnings("ignore", message="(CFB|TripleDES) has been moved")

import requests
import yaml
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/, also when loaded by path (tests)
from bench_saml import rsa_signature_ms

from fedsim import nrn as nrns
from fedsim import personas
from fedsim.federation import Settings
from fedsim_harness.outside import Journey
from fedsim_harness.scenario.browser import Browser, BrowserError, Page

LOCKED = "database is locked"
APPS = ("monespace", "idp_csam", "modigia_sp", "mailbox")


# -- the people ---------------------------------------------------------------------------------

def _letters(index: int, width: int = 4) -> str:
    """``index`` in base 26, as letters: names with no digits, all of one length."""
    out = ""
    for _ in range(width):
        index, digit = divmod(index, 26)
        out = chr(ord("a") + digit) + out
    return out


def synthetic_people(count: int) -> list[personas.Persona]:
    """``count`` distinct citizens, each with a valid national register
    number (born in the 1950s, none shared with a shipped persona), an eID
    card with its own PIN, and an e-mail address of their own."""
    people = []
    for i in range(count):
        born = date(1950, 1, 1) + timedelta(days=i % 3650)
        number = nrns.make(born, 101 + 2 * (i // 3650))
        tag = _letters(i)
        people.append(personas.Persona(
            id=f"stress-{i:05d}", given_name=f"Sam{tag}", surname=f"Charge{tag.upper()}", nrn=number,
            email=f"stress.{i:05d}@example.be", language="fr",
            card=personas.EidCard(number=f"599-{i:07d}-{i % 97:02d}", pin=f"{(1000 + i * 7919) % 10000:04d}",
                                  puk=f"{(100000 + i * 104729) % 1000000:06d}")))
    return people


def personas_file(people: list[personas.Persona], path: Path) -> Path:
    """The shipped personas plus ``people``, as a personas file (for CSAM's
    ``PERSONAS_FILE``: the shipped ones stay, the extra cards of
    idp_csam/data/cards.yaml name them)."""
    with open(personas.DEFAULT_FILE, encoding="utf-8") as fh:
        document = yaml.safe_load(fh)
    for person in people:
        document["personas"].append({
            "id": person.id, "given_name": person.given_name, "surname": person.surname, "nrn": person.nrn,
            "email": person.email, "language": person.language, "card": dataclasses.asdict(person.card)})
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def served_federation(root: Path, people: list[personas.Persona], backlog: int | None = None) -> Iterator:
    """A federation on free ports under ``root``, CSAM knowing ``people`` too."""
    from fedsim_harness import serve

    if backlog is not None:
        serve.FederationServer.request_queue_size = backlog
    settings = serve.settings_on_free_ports(root)
    overrides = {"idp_csam": {"PERSONAS_FILE": personas_file(people, root / "stress-personas.yaml")}}
    federation = serve.ServedFederation(settings, overrides=overrides).start()
    try:
        yield federation
    finally:
        federation.stop()


# -- counting what the servers say ----------------------------------------------------------------

@dataclass
class Counters:
    requests: int = 0
    http_5xx: int = 0
    locked_in_responses: int = 0
    connection_errors: int = 0
    first_5xx: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


class CountingTransport:
    """The scripted browser's HTTP transport (one requests.Session: one
    person's cookies), counting 5xx answers, « database is locked » in
    bodies and connection errors, which it names precisely."""

    def __init__(self, counters: Counters, timeout: float) -> None:
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=8, max_retries=0)
        self.session.mount("http://", adapter)
        self.counters, self.timeout = counters, timeout

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        try:
            response = self.session.request(method, url, data=data, allow_redirects=False, timeout=self.timeout)
        except requests.RequestException as exc:
            self.counters.add(requests=1, connection_errors=1)
            raise BrowserError(f"{method} {url.split('?')[0]}: {type(exc).__name__}: {exc}") from None
        body = response.text
        locked = int(LOCKED in body)
        failed = int(response.status_code >= 500)
        self.counters.add(requests=1, http_5xx=failed, locked_in_responses=locked)
        if failed:
            with self.counters.lock:
                if len(self.counters.first_5xx) < 5:
                    self.counters.first_5xx.append(f"{method} {url.split('?')[0]} -> {response.status_code}")
        return Page(url, response.status_code, dict(response.headers), body)

    def close(self) -> None:
        self.session.close()


class LogScan(logging.Handler):
    """Warnings and errors the servers log (Flask's « Exception on … »,
    Werkzeug's « Error on request »), and how many say « database is locked »."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []  # « logger: message — exception », one line each
        self.causes: dict[str, int] = {}  # exception → how many times logged
        self.locked = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        cause = ""
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
            cause = "".join(traceback.format_exception_only(*record.exc_info[:2])).strip()
        with self._guard:
            self.records.append(f"{record.name}: {record.getMessage()}" + (f" — {cause}" if cause else ""))
            self.locked += int(LOCKED in text)
            if cause:
                self.causes[cause] = self.causes.get(cause, 0) + 1


@contextlib.contextmanager
def scanning_logs() -> Iterator[LogScan]:
    """Catch what is logged at WARNING and above while the journeys run
    (and keep Werkzeug's request lines off the terminal)."""
    scan = LogScan()
    root = logging.getLogger()
    werkzeug = logging.getLogger("werkzeug")
    werkzeug_level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    root.addHandler(scan)
    try:
        yield scan
    finally:
        root.removeHandler(scan)
        werkzeug.setLevel(werkzeug_level)


class LockTrace:
    """With --trace-locks: how long each app's connections hold SQLite's
    write lock (from a transaction's first INSERT/UPDATE/DELETE to its
    commit or rollback), with the request and the first statement, to find
    who makes the others wait into « database is locked »."""

    def __init__(self, apps: dict) -> None:
        from sqlalchemy import event

        self.holds: list[tuple[float, str, str, str]] = []  # seconds, app, request, first statement
        self._open: dict[int, tuple[float, str, str]] = {}
        self._guard = threading.Lock()
        for name, app in apps.items():
            factory = app.extensions.get("fedsim.db")
            if factory is None:
                continue
            engine = factory.kw["bind"]
            event.listen(engine, "before_cursor_execute", self._executing(name))
            for end in ("commit", "rollback"):
                event.listen(engine, end, self._ended(name))

    def _executing(self, app: str):
        def hook(conn, _cursor, statement, *_args) -> None:
            if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                from flask import has_request_context, request

                where = f"{request.method} {request.path}" if has_request_context() else threading.current_thread().name
                with self._guard:
                    self._open.setdefault(id(conn.connection.dbapi_connection),
                                          (time.perf_counter(), where, " ".join(statement.split())[:90]))
        return hook

    def _ended(self, app: str):
        def hook(conn) -> None:
            with self._guard:
                opened = self._open.pop(id(conn.connection.dbapi_connection), None)
                if opened is not None:
                    self.holds.append((time.perf_counter() - opened[0], app, opened[1], opened[2]))
        return hook

    def lines(self, top: int = 8) -> list[str]:
        worst = sorted(self.holds, reverse=True)[:top]
        return [f"  write lock held {s:6.2f} s  {app:10} {where}  {stmt}" for s, app, where, stmt in worst]


# -- one journey ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    person: str
    ms: float = 0.0
    error: str = ""  # "" when the journey went through
    step: str = ""
    status: int | None = None
    url: str = ""
    crossed: str = ""  # "" unless another person was shown

    @property
    def ok(self) -> bool:
        return not self.error and not self.crossed


def _field(page: Page, label: str) -> str:
    """The <dd> after the <dt> ``label`` on Modigia's profile page."""
    found = page.tree.xpath(f"//dt[normalize-space(.)='{label}']/following-sibling::dd[1]")
    return " ".join(found[0].text_content().split()) if found else ""


def _attribute(page: Page, name: str) -> str:
    found = page.tree.xpath(f"//table[contains(@class,'attributes')]//tr[td[1][normalize-space(.)='{name}']]/td[2]")
    return " ".join(found[0].text_content().split()) if found else ""


def accept_policies(browser: Browser, page: Page) -> Page:
    """Read every page of each Modigia policy and accept it, up to the home page."""
    for _ in range(80):
        if "Cours disponibles" in page.text:
            return page
        if page.tree.xpath("//form//*[@name='accept']"):
            page = browser.submit({"accept": "yes"}, button="Continuer")
        elif browser.has("Page suivante"):
            page = browser.click("Page suivante")
        else:
            raise BrowserError(f"neither a policy nor Modigia's home at {page.url} (HTTP {page.status}): "
                               f"{page.main_text[:200]}")
    raise BrowserError("more than 80 policy pages")


def identity_shown(page: Page, person: personas.Persona) -> str:
    """"" when Modigia's profile shows ``person``, else what it shows instead."""
    shown = {"name": _field(page, "Nom"), "email": _field(page, "E-mail"), "egovNRN": _attribute(page, "egovNRN")}
    expected = {"name": person.full_name, "email": person.email, "egovNRN": person.nrn}
    wrong = [f"{k} {shown[k]!r} instead of {expected[k]!r}" for k in expected
             if shown[k] != expected[k] and not (k == "egovNRN" and not shown[k])]
    if not shown["name"]:
        wrong.append("no name on the profile page")
    return "; ".join(wrong)


def journey(person: personas.Persona, urls: dict[str, str], counters: Counters, timeout: float = 60.0) -> Outcome:
    """One complete first-login journey of ``person`` (see the module's doc)."""
    outcome = Outcome(person.id)
    transport = CountingTransport(counters, timeout)
    browser = Browser(transport)
    started = time.perf_counter()
    try:
        outcome.step = "login (Mon Espace → Cerbère → CSAM eID → account creation)"
        page = Journey(browser, urls, person).run(f"{urls['monespace']}/connexion", "eid", "Citoyen")
        if "MON TABLEAU DE BORD" not in page.text:
            raise BrowserError(f"not Mon Espace's dashboard: {page.main_text[:200]}")
        outcome.step = "NAID démarche (Cerbère → Modigia)"
        page = browser.open(f"{urls['monespace']}/demarrer-demarche/?codeDemarche=NAID")
        if urlsplit(page.url).netloc != urlsplit(urls["modigia_sp"]).netloc:
            raise BrowserError(f"not at Modigia: {page.main_text[:200]}")
        outcome.step = "Modigia's policies"
        page = accept_policies(browser, page)
        welcome = f"Bienvenue sur la plateforme, {person.given_name}"
        if welcome not in page.text:
            outcome.crossed = f"Modigia's home does not say « {welcome} »: {page.main_text[:120]}"
        outcome.step = "Modigia's profile"
        page = browser.open(f"{urls['modigia_sp']}/profil")
        if page.status != 200 or "Mon profil" not in page.text:
            raise BrowserError(f"no profile page: {page.main_text[:200]}")
        crossed = identity_shown(page, person)
        outcome.crossed = "; ".join(c for c in (outcome.crossed, crossed) if c)
        outcome.step = ""
    except Exception as exc:  # noqa: BLE001 - any failure is this journey's error
        outcome.error = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
        if browser.page is not None:
            outcome.status, outcome.url = browser.page.status, browser.page.url.split("?")[0]
    finally:
        outcome.ms = (time.perf_counter() - started) * 1000
        transport.close()
    return outcome


# -- the run --------------------------------------------------------------------------------------

@dataclass
class Report:
    journeys: int
    concurrency: int
    wall_s: float
    done: int
    errors: int
    crossed: int
    http_5xx: int
    requests: int
    connection_errors: int
    locked_in_responses: int
    locked_in_logs: int
    logged_errors: int
    mean_ms: float
    p90_ms: float
    r_ms: float
    people: str
    first_errors: list[dict] = field(default_factory=list)
    first_crossed: list[dict] = field(default_factory=list)
    first_5xx: list[str] = field(default_factory=list)
    first_logged: list[str] = field(default_factory=list)
    logged_causes: dict[str, int] = field(default_factory=dict)

    @property
    def journeys_per_s(self) -> float:
        return self.done / self.wall_s if self.wall_s else 0.0

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.crossed == 0 and self.done == self.journeys

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "journeys_per_s": round(self.journeys_per_s, 2),
                "mean_r": round(self.mean_ms / self.r_ms, 1), "ok": self.ok}

    def lines(self) -> list[str]:
        out = [
            f"{self.journeys} journeys, {self.concurrency} at once ({self.people})",
            f"wall {self.wall_s:.1f} s, {self.journeys_per_s:.2f} journeys/s, {self.requests} HTTP requests",
            (f"journey time: mean {self.mean_ms:.0f} ms = {self.mean_ms / self.r_ms:.0f} R, "
            f"p90 {self.p90_ms:.0f} ms = {self.p90_ms / self.r_ms:.0f} R "
            f"(R = {self.r_ms:.3f} ms, one RSA-2048 SHA-256 signature)"),
            (f"errors: {self.errors}   crossed identities: {self.crossed}   HTTP 5xx: {self.http_5xx}   "
            f"connection errors: {self.connection_errors}"),
            (f"« {LOCKED} »: {self.locked_in_responses} in responses, {self.locked_in_logs} in the servers' logs; "
            f"{self.logged_errors} warnings/errors logged"),
        ]
        out += [f"  error [{e['person']}] at « {e['step']} » (HTTP {e['status']}, {e['url']}): {e['error'][:300]}"
                for e in self.first_errors]
        out += [f"  crossed [{c['person']}]: {c['crossed'][:300]}" for c in self.first_crossed]
        out += [f"  5xx: {line}" for line in self.first_5xx]
        out += [f"  logged: {line[:400]}" for line in self.first_logged]
        out += [f"  logged {count} times: {cause[:400]}" for cause, count in self.logged_causes.items()]
        out.append("OK" if self.ok else "FAILED")
        return out


def run_stress(urls: dict[str, str], people: list[personas.Persona], journeys: int, concurrency: int, *,
               r_ms: float | None = None, timeout: float = 60.0, label: str = "") -> Report:
    """Run ``journeys`` journeys, ``concurrency`` at a time, journey i
    logging in ``people[i % len(people)]``; the report."""
    r_before = rsa_signature_ms() if r_ms is None else r_ms
    counters = Counters()
    chosen = [people[i % len(people)] for i in range(journeys)]
    with scanning_logs() as scan:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="journey") as pool:
            outcomes = list(pool.map(lambda p: journey(p, urls, counters, timeout), chosen))
        wall = time.perf_counter() - started
    r = min(r_before, rsa_signature_ms()) if r_ms is None else r_ms  # a busy machine shows in R too
    timings = [o.ms for o in outcomes]
    errors = [o for o in outcomes if o.error]
    crossed = [o for o in outcomes if o.crossed]
    return Report(
        journeys=journeys, concurrency=concurrency, wall_s=wall, done=sum(o.ok for o in outcomes),
        errors=len(errors), crossed=len(crossed), http_5xx=counters.http_5xx, requests=counters.requests,
        connection_errors=counters.connection_errors, locked_in_responses=counters.locked_in_responses,
        locked_in_logs=scan.locked, logged_errors=len(scan.records),
        mean_ms=statistics.fmean(timings) if timings else 0.0,
        p90_ms=statistics.quantiles(timings, n=10)[-1] if len(timings) > 1 else (timings or [0.0])[0],
        r_ms=r, people=label or f"{len({p.id for p in chosen})} different people",
        first_errors=[dataclasses.asdict(o) for o in errors[:5]],
        first_crossed=[dataclasses.asdict(o) for o in crossed[:5]],
        first_5xx=counters.first_5xx, first_logged=scan.records[:5], logged_causes=dict(scan.causes))


def _running_people(urls: dict[str, str], timeout: float) -> list[personas.Persona]:
    """The shipped personas with an eID card, each logged in once (not
    counted): their Mon Espace accounts exist before the concurrent run."""
    people = [p for p in personas.load() if p.card is not None]
    warm = Counters()
    for person in people:
        outcome = journey(person, urls, warm, timeout)
        if outcome.error:
            raise SystemExit(f"warm-up login of {person.id} failed at « {outcome.step} »: {outcome.error}")
    return people


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=200, help="complete journeys to run [200]")
    parser.add_argument("--concurrency", type=int, default=None, help="journeys at once [= --journeys]")
    parser.add_argument("--running", action="store_true",
                        help="drive the federation of `fedsim up` (FEDSIM_* settings) with the shipped personas")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a request may take [60]")
    parser.add_argument("--backlog", type=int, default=None,
                        help="own federation: the servers' listen backlog (default: fedsim_harness.serve's)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--trace-locks", action="store_true",
                        help="own federation: print the longest holds of SQLite's write lock")
    args = parser.parse_args(argv)
    concurrency = args.concurrency or args.journeys
    print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cores", flush=True)
    r_ms = rsa_signature_ms()
    print(f"R (one RSA-2048 SHA-256 signature, cryptography): {r_ms:.3f} ms", flush=True)
    if args.running:
        from fedsim_harness import daemon

        settings = Settings.from_env()
        daemon.require_running(settings)
        urls = {name: settings.base_url(name) for name in APPS}
        print(f"Running federation at {urls['monespace']}: it cannot be given extra people, so the journeys "
              f"cycle through the shipped personas with an eID card (people repeat: a weaker crossed-identity "
              f"check). Warm-up: one login each.", flush=True)
        people = _running_people(urls, args.timeout)
        report = run_stress(urls, people, args.journeys, concurrency, timeout=args.timeout,
                            label=f"shipped personas, {len(people)} people, running federation")
    else:
        with tempfile.TemporaryDirectory(prefix="fedsim-stress-") as tmp:
            people = synthetic_people(args.journeys)
            started = time.perf_counter()
            with served_federation(Path(tmp), people, args.backlog) as federation:
                from fedsim_harness import serve

                print(f"Federation served at {federation.urls['monespace']} with {len(people)} synthetic "
                      f"citizens in {time.perf_counter() - started:.1f} s (listen backlog "
                      f"{serve.FederationServer.request_queue_size})", flush=True)
                trace = LockTrace(federation.apps) if args.trace_locks else None
                report = run_stress(federation.urls, people, args.journeys, concurrency, timeout=args.timeout,
                                    label=f"{args.journeys} synthetic citizens, each once, own federation")
                if trace is not None:
                    print("Longest holds of SQLite's write lock:", *trace.lines(), sep="\n")
    report.r_ms = min(report.r_ms, r_ms)
    print("\n".join(report.lines()))
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
