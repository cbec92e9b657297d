"""The federation on gunicorn (fedsim_harness.wsgi_server): each app on its
own gunicorn master with several worker processes, sharing the state through
the databases; a reset by the parent seen by every worker; options from the
command line or the environment; the masters end with their parent."""
from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from fedsim import personas
from fedsim.federation import Settings
from fedsim_harness import admin, daemon
from fedsim_harness.outside import Journey
from fedsim_harness.scenario.browser import Browser, HttpTransport
from fedsim_harness.serve import (
    PORT_VARIABLES,
    ServedFederation,
    free_ports,
    settings_on_free_ports,
)
from fedsim_harness.stack import APP_NAMES
from fedsim_harness import wsgi_server
from fedsim_harness.wsgi_server import AppSpec, GunicornApp, ServerOptions, children, pid_file

ROOT = Path(__file__).resolve().parents[2]


def test_options_come_from_the_command_line_then_the_environment_then_the_defaults() -> None:
    assert ServerOptions.production(environ={}) == ServerOptions("gunicorn", 2, 8, False)
    env = {"FEDSIM_WORKERS": "3", "FEDSIM_THREADS": "4", "FEDSIM_ACCESS_LOG": "1"}
    assert ServerOptions.production(environ=env) == ServerOptions("gunicorn", 3, 4, True)
    assert ServerOptions.production(5, None, environ=env) == ServerOptions("gunicorn", 5, 4, True)
    assert ServerOptions.production(environ={"FEDSIM_SERVER": "werkzeug"}).server == "werkzeug"
    assert ServerOptions.production(werkzeug=True, environ={}).server == "werkzeug"
    options = ServerOptions("gunicorn", 3, 1, True)
    assert ServerOptions.production(environ=options.environ()) == options
    for bad in ({"FEDSIM_WORKERS": "0"}, {"FEDSIM_THREADS": "many"}, {"FEDSIM_SERVER": "uwsgi"}):
        with pytest.raises(ValueError, match="FEDSIM_"):
            ServerOptions.production(environ=bad)


def test_a_worker_freezes_what_it_built_at_start_out_of_the_cyclic_collector(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path) -> None:
    import gc

    from flask import Flask

    built = []

    def build(spec: AppSpec) -> Flask:
        app = Flask(spec.name)
        app.extensions["cycle"] = {"app": app}  # a cycle: only the cyclic collector would free it
        built.append(app)
        return app

    monkeypatch.setattr(wsgi_server, "build", build)
    spec = AppSpec("monespace", settings_on_free_ports(tmp_path), 5990, 5991, ServerOptions("gunicorn", 1, 1, False), {})
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        app = GunicornApp(spec).load()
        assert app is built[0]
        assert gc.get_freeze_count() > 1000  # the app and everything imported before it, not a handful
        # Out of every generation the collector walks (an object frozen is still freed by
        # reference counting, so the count itself may drop while other threads run).
        assert not any(tracked is app for tracked in gc.get_objects())
    finally:
        gc.unfreeze()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    settings = settings_on_free_ports(tmp_path_factory.mktemp("gunicorn"))
    federation = ServedFederation(settings, options=ServerOptions("gunicorn", workers=2, threads=2))
    federation.start()
    yield federation
    federation.stop()


def _jean_at_modigia(urls: dict[str, str]) -> Browser:
    browser = Browser(HttpTransport())
    Journey(browser, urls, personas.by_id("jean")).run(f"{urls['modigia_sp']}/saml/login", "eid", "Citoyen")
    return browser


def test_each_app_has_its_own_master_and_workers(served: ServedFederation) -> None:
    assert set(served.processes) == set(APP_NAMES) and set(served.servers) == {"mailbox"}
    for name, process in served.processes.items():
        master = int(pid_file(served.settings, name).read_text())
        assert master == process.pid and process.is_alive()
        assert len(children(master)) == 2, name
        answer = requests.get(f"{served.settings.base_url(name)}/health", timeout=5)
        assert answer.json()["status"] == "ok" and answer.json()["app"] == name
    assert daemon.health(served.settings) == {}


def test_a_login_across_worker_processes_and_a_reset_every_worker_sees(served: ServedFederation) -> None:
    browser = _jean_at_modigia(served.urls)
    assert browser.page.url.startswith(served.urls["modigia_sp"])
    dashboard = f"{served.urls['monespace']}/tableau-de-bord"
    seen = {browser.transport.session.get(dashboard, allow_redirects=False, timeout=10).status_code
            for _ in range(12)}  # whichever worker answers, the session is in the database
    assert seen == {200}, seen

    admin.request_reset(served.urls["mailbox"])

    after = {browser.transport.session.get(dashboard, allow_redirects=False, timeout=10).status_code
             for _ in range(12)}  # the session rows are gone for every worker
    assert 200 not in after, after


def test_stop_ends_every_master_and_worker(tmp_path: Path) -> None:
    federation = ServedFederation(settings_on_free_ports(tmp_path),
                                  options=ServerOptions("gunicorn", workers=1, threads=1)).start()
    pids = [pid for p in federation.processes.values() for pid in (p.pid, *children(p.pid))]
    federation.stop()
    assert not any(daemon.alive(pid) for pid in pids)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{federation.settings.base_url('idp_csam')}/health", timeout=2)


def test_the_masters_end_when_fedsim_up_is_killed(tmp_path: Path) -> None:
    ports = dict(zip(PORT_VARIABLES.values(), map(str, free_ports(len(PORT_VARIABLES)))))
    env = {**os.environ, **ports, "FEDSIM_INSTANCE_DIR": str(tmp_path / "instance"),
           "FEDSIM_CERTS_DIR": str(tmp_path / "certs"), "FEDSIM_WORKERS": "1", "FEDSIM_THREADS": "2"}
    settings = Settings.from_env(env)
    log = tmp_path / "up.log"
    with log.open("w") as sink:
        up = subprocess.Popen([sys.executable, "-m", "fedsim_harness.cli", "up", "--access-log"], cwd=ROOT, env=env,
                              stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        daemon.wait_until_up(settings, timeout=120)
        deadline = time.monotonic() + 30  # the banner follows the first healthy answer
        while "Served by" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        masters = [int(pid_file(settings, name).read_text()) for name in APP_NAMES]
        pids = [pid for master in masters for pid in (master, *children(master))]
        assert len(pids) == 6
        os.kill(up.pid, signal.SIGKILL)
        up.wait(timeout=10)
        output = log.read_text()
        deadline = time.monotonic() + 20
        while any(daemon.alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(daemon.alive(pid) for pid in pids)
        assert "gunicorn, per app 1 worker(s) × 2 thread(s)" in output and "every request logged" in output
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def test_the_trainer_console_moves_every_worker_s_clock_and_shows_their_trace(served: ServedFederation) -> None:
    """Under gunicorn the apps run in other processes: the console's clock
    and trace go through files they share (FEDSIM_CLOCK_FILE, FEDSIM_TRACE_FILE)."""
    urls = served.urls
    local = {"Origin": urls["mailbox"]}
    assert requests.post(urls["mailbox"] + "/formateur/reinitialiser", headers=local, timeout=30).status_code == 200
    _jean_at_modigia(urls)  # steps logged by the workers of three apps
    trace = requests.get(urls["mailbox"] + "/formateur/trace.json", timeout=30).json()["entries"]
    steps = {(e["event"], e["from"], e["to"], e["outcome"]) for e in trace}
    assert ("AuthnRequest", "Mon Espace", "CSAM", "accepted") in steps
    assert ("Response", "CSAM", "Mon Espace", "accepted") in steps
    before = requests.get(urls["mailbox"] + "/formateur/trace.json", timeout=30).json()["now"]
    try:
        moved = requests.post(urls["mailbox"] + "/formateur/horloge", data={"move": "1jour"}, headers=local,
                              timeout=30)
        assert moved.status_code == 200 and "a été déplacée" in moved.text
        # a worker's own idea of the time: the Date of an SP's SAML metadata validity is not exposed,
        # so ask one for an AuthnRequest and read its IssueInstant
        deadline = time.monotonic() + 5  # each process looks at the shared file at most every 0.5 s
        while True:
            login = requests.get(urls["modigia_sp"] + "/saml/login", allow_redirects=False, timeout=30)
            request_xml = zlib.decompress(base64.b64decode(parse_qs(urlsplit(login.headers["Location"]).query)
                                                           ["SAMLRequest"][0]), -15).decode()
            issued = re.search(r'IssueInstant="([^"]+)"', request_xml).group(1)
            if issued[:10] != before[:10] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert issued[:10] != before[:10], (issued, before)  # a day later in the workers too
    finally:
        requests.post(urls["mailbox"] + "/formateur/horloge", data={"move": "back"}, headers=local, timeout=30)
