"""itsme on a federation served on ports (as `fedsim up` serves it): CSAM
reaches its itsme OP over real HTTP — the token endpoint, both JWKS and
userinfo are requests that arrive at CSAM's served port, seen here by a WSGI
middleware put in front of the served app (nothing is mocked: the middleware
only watches, or plays an OP that does not answer / answers userinfo in plain
JSON). A silent OP and a plain-JSON userinfo refuse the login, saying why."""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest
from test_csam_itsme import JEAN_CODE, phone_link, start_itsme

from fedsim import personas, protocol_log
from fedsim_harness.scenario.browser import Browser, HttpTransport
from fedsim_harness.serve import ServedFederation, settings_on_free_ports
from fedsim_harness.wsgi_server import BACKCHANNEL_MIN_THREADS, ServerOptions
from idp_csam import itsme_op
from idp_csam.itsme_backchannel import READ_TIMEOUT, USER_AGENT

TIMEOUT = 2.0  # the back-channel's read timeout in this federation (seconds)


class Watch:
    """WSGI middleware in front of the served CSAM: records each request
    (method, path, User-Agent) that reached the port; ``stall`` makes the
    token endpoint silent for longer than the back-channel waits;
    ``plain_userinfo`` answers userinfo with the person's claims as plain JSON."""

    def __init__(self, app) -> None:
        self.app, self.seen, self.lock = app, [], threading.Lock()
        self.stall = self.plain_userinfo = False

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        with self.lock:
            self.seen.append((environ["REQUEST_METHOD"], path, environ.get("HTTP_USER_AGENT", "")))
        if self.stall and path == "/itsme-op/token":
            time.sleep(TIMEOUT + 1.5)
        if self.plain_userinfo and path == "/itsme-op/userinfo":
            jean = personas.by_id("jean")
            body = json.dumps({"sub": "whatever", itsme_op.NRN_CLAIM: jean.nrn}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)

    def backchannel(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, agent in self.seen if agent == USER_AGENT]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("itsme-http")
    federation = ServedFederation(settings_on_free_ports(root),
                                  overrides={"idp_csam": {"ITSME_BACKCHANNEL_TIMEOUT": TIMEOUT}}).start()
    server = federation.servers["idp_csam"]
    server.app = Watch(server.app)
    yield federation
    federation.stop()


@pytest.fixture
def watch(served: ServedFederation) -> Watch:
    watch = served.servers["idp_csam"].app
    watch.seen.clear()
    watch.stall = watch.plain_userinfo = False
    yield watch
    watch.stall = watch.plain_userinfo = False


def approve_on_the_phone(served: ServedFederation) -> tuple[Browser, str]:
    """Jean starts an itsme login at Mon Espace and confirms on his phone
    (another browser); returns the computer's browser and its waiting page."""
    browser, phone = Browser(HttpTransport()), Browser(HttpTransport())
    waiting = start_itsme(browser, served)
    assert "Confirmez sur votre téléphone" in waiting.text, waiting.text[:400]
    phone.open(phone_link(waiting))
    assert phone.submit({"code": JEAN_CODE}, button="Confirmer").status == 200
    return browser, waiting.url


def test_the_app_served_on_a_port_is_configured_for_http(served: ServedFederation):
    assert served.apps["idp_csam"].config["ITSME_BACKCHANNEL"] == "http"


def test_an_itsme_login_goes_over_http_through_the_served_port(served: ServedFederation, watch: Watch,
                                                              caplog: pytest.LogCaptureFixture):
    browser, waiting_url = approve_on_the_phone(served)
    caplog.set_level(logging.INFO, logger="fedsim.protocol")
    page = browser.open(waiting_url)
    assert "MON TABLEAU DE BORD" in page.text, page.text[:600]
    calls = watch.backchannel()
    # CSAM → OP: the token exchange (the OP fetching CSAM's JWKS meanwhile), the OP's JWKS, userinfo
    assert ("POST", "/itsme-op/token") in calls and ("GET", "/itsme-op/jwks.json") in calls
    assert ("GET", "/itsme-op/userinfo") in calls and ("GET", "/itsme/jwks.json") in calls
    assert calls.index(("POST", "/itsme-op/token")) < calls.index(("GET", "/itsme-op/userinfo"))
    steps = [r.getMessage() for r in caplog.records if r.name == "fedsim.protocol"]
    assert any('event="UserInfo"' in s and 'outcome="issued"' in s for s in steps)  # the OP's side
    accepted = [s for s in steps if 'event="UserInfo"' in s and 'outcome="accepted"' in s]  # CSAM's side
    assert accepted and "http back-channel" in accepted[0]


def test_an_op_that_does_not_answer_refuses_the_login_clearly(served: ServedFederation, watch: Watch,
                                                              caplog: pytest.LogCaptureFixture):
    browser, waiting_url = approve_on_the_phone(served)
    watch.stall = True
    caplog.set_level(logging.INFO, logger="fedsim.protocol")
    started = time.monotonic()
    page = browser.open(waiting_url)
    assert time.monotonic() - started < TIMEOUT + 5
    assert page.status == 502, page.text[:400]
    text = " ".join(page.text.split())
    assert "itsme ne répond pas (" in text and "/itsme-op/token" in text and "MON TABLEAU DE BORD" not in text
    assert any('event="TokenRequest"' in r.getMessage() and 'outcome="refused"' in r.getMessage()
               for r in caplog.records if r.name == "fedsim.protocol")


def test_a_plain_json_userinfo_refuses_the_login(served: ServedFederation, watch: Watch,
                                                 caplog: pytest.LogCaptureFixture):
    browser, waiting_url = approve_on_the_phone(served)
    watch.plain_userinfo = True
    caplog.set_level(logging.INFO, logger="fedsim.protocol")
    page = browser.open(waiting_url)
    assert page.status == 400 and "MON TABLEAU DE BORD" not in page.text
    assert "n'est pas signée et chiffrée pour CSAM" in " ".join(page.text.split())
    refusals = [r.getMessage() for r in caplog.records if r.name == "fedsim.protocol"
                and 'event="UserInfo"' in r.getMessage() and 'outcome="refused"' in r.getMessage()]
    assert refusals and "application/json" in refusals[0]


# -- on gunicorn, as `fedsim up` serves it --------------------------------------------

def test_on_gunicorn_the_csam_worker_calls_its_own_op_over_http_without_waiting_for_itself(
        tmp_path_factory: pytest.TempPathFactory):
    """2 workers × the fewest threads for which the back-channel is HTTP
    (BACKCHANNEL_MIN_THREADS): one login holds up to 3 of CSAM's threads at
    once (callback → token endpoint → CSAM's JWKS), wherever gunicorn puts
    them, and finishes well within the back-channel's timeout."""
    options = ServerOptions("gunicorn", workers=2, threads=BACKCHANNEL_MIN_THREADS)
    federation = ServedFederation(settings_on_free_ports(tmp_path_factory.mktemp("itsme-gunicorn")),
                                  options=options).start()
    try:
        for _ in range(2):  # two logins in a row: each worker may take any of the calls
            browser, waiting_url = approve_on_the_phone(federation)
            started = time.monotonic()
            page = browser.open(waiting_url)
            assert "MON TABLEAU DE BORD" in page.text, page.text[:600]
            assert time.monotonic() - started < READ_TIMEOUT / 2
        steps = protocol_log.read_trace_file(limit=500)  # the workers' trace (FEDSIM_TRACE_FILE)
        accepted = [s for s in steps if s["event"] == "UserInfo" and s["outcome"] == "accepted"]
        assert len(accepted) == 2 and all("http back-channel" in s["reason"] for s in accepted)
        assert len([s for s in steps if s["event"] == "UserInfo" and s["outcome"] == "issued"]) == 2
    finally:
        federation.stop()
