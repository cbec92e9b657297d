"""Serving the federation on real ports: each app in its own WSGI server,
plus the SMTP sink and the web mailbox. Used by ``fedsim up`` and by the
browser tests.

Two ways to serve the three apps (``ServerOptions.server``):

- ``"gunicorn"`` (``fedsim up``): each app on its own gunicorn, in a child
  process, ``workers`` processes × ``threads`` threads
  (fedsim_harness.wsgi_server, which says why several processes share the
  state safely);
- ``"werkzeug"`` (the browser tests, the default of ``ServedFederation``):
  each app on Werkzeug's threaded server, in a thread of this process.

Either way this process builds and seeds the apps first, takes the snapshot
that ``POST /admin/reset`` restores (in the databases, which every worker
reads), and serves the SMTP sink and the mailbox (the harness's own app:
reset, admin pages, ``/health`` of the whole federation) itself.

The web servers listen on ``settings.bind`` (FEDSIM_BIND, loopback by
default); the SMTP sink always on loopback (only the apps of this process
send to it). Each app answers ``GET /health``; the mailbox's also checks
every app's database and the SMTP sink (``fedsim wait`` polls them)."""
from __future__ import annotations

import dataclasses
import errno
import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import Process

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from fedsim import clock, health, protocol_log, trust
from fedsim.federation import Settings
from fedsim.mailbox import sink
from fedsim.mailbox.app import create_app as create_mailbox
from fedsim_harness import admin, admin_attack, admin_sps, trainer, wsgi_server
from fedsim_harness.daemon import LABELS
from fedsim_harness.reset import FederationSnapshot
from fedsim_harness.stack import APP_NAMES, create_apps, mailbox_sessions
from fedsim_harness.wsgi_server import AppSpec, ServerOptions

SMTP_HOST = "127.0.0.1"  # where the SMTP sink listens, whatever FEDSIM_BIND says
PORT_VARIABLES = {"monespace": "FEDSIM_MONESPACE_PORT", "idp_csam": "FEDSIM_CSAM_PORT",
                  "modigia_sp": "FEDSIM_MODIGIA_PORT", "mailbox": "FEDSIM_MAILBOX_PORT", "smtp": "FEDSIM_SMTP_PORT"}


# Ports Chromium refuses to open (ERR_UNSAFE_PORT: SIP), in the range we use.
CHROMIUM_UNSAFE_PORTS = frozenset({5060, 5061})


def free_ports(count: int, low: int = 5000, high: int = 5999) -> list[int]:
    """``count`` distinct loopback ports in [low, high] free right now (for a
    ``ServedFederation`` whose ports must stay in a range), none that
    Chromium refuses."""
    candidates = [port for port in range(low, high + 1) if port not in CHROMIUM_UNSAFE_PORTS]
    random.shuffle(candidates)
    chosen = []
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
        if len(chosen) == count:
            return chosen
    raise RuntimeError(f"fewer than {count} free ports between {low} and {high}")


PORT_FIELDS = ("monespace_port", "csam_port", "modigia_port", "mailbox_port", "smtp_port")


def settings_on_free_ports(root, base: Settings | None = None) -> Settings:
    """Settings for a federation served under ``root`` (certs, instance) on
    ports free right now, in 5000–5999 (Chromium refuses some others)."""
    return dataclasses.replace(base or Settings(), certs_dir=root / "certs", instance_dir=root / "instance",
                               **dict(zip(PORT_FIELDS, free_ports(len(PORT_FIELDS)))))


class CannotListen(RuntimeError):
    """A server cannot listen where it should; the message says why and what to change."""


class PortTaken(CannotListen):
    """A port the federation needs is in use; the message names it and the variable to change."""


def ports(settings: Settings) -> dict[str, int]:
    return {"monespace": settings.monespace_port, "idp_csam": settings.csam_port,
            "modigia_sp": settings.modigia_port, "mailbox": settings.mailbox_port, "smtp": settings.smtp_port}


def check_ports(settings: Settings) -> None:
    """Refuse to start when any port is taken, naming it and how to change it."""
    for name, port in ports(settings).items():
        address = SMTP_HOST if name == "smtp" else settings.bind
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                raise cannot_listen(exc, name, address, port) from None


class BindFailed(Exception):
    """A server's socket could not be bound (``error``: why)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def cannot_listen(exc: OSError, name: str, address: str, port: int) -> CannotListen:
    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
        return PortTaken(f"Port {port} ({LABELS[name]}) is already in use: stop the program that uses it, "
                         f"or choose another port with {PORT_VARIABLES[name]}=<port>.")
    return CannotListen(f"Cannot listen on {address} port {port} ({LABELS[name]}): "
                        f"{exc.strerror or exc} — check FEDSIM_BIND ({address!r}).")


class OneRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler, one request per connection (HTTP/1.0): a
    pooled thread is never held by an idle keep-alive connection."""
    protocol_version = "HTTP/1.0"
    timeout = 10  # seconds a connection may stay silent (a browser's unused preconnection) before its thread is freed


class QuietHealthHandler(OneRequestHandler):
    """Without a log line for each healthy ``/health`` poll."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code) == "200" and getattr(self, "path", "").partition("?")[0] == "/health":
            return
        super().log_request(code, size)


class SilentHandler(OneRequestHandler):
    """Without a log line per request (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def federation_checks(apps: dict[str, Flask], smtp_port: int) -> dict[str, health.Check]:
    """What the mailbox's ``/health`` checks besides its own database: each
    app's database and the SMTP sink."""
    checks = {f"{name} database": health.database(app.extensions["fedsim.db"])
              for name, app in apps.items() if "fedsim.db" in app.extensions}
    return {**checks, "smtp": health.smtp(SMTP_HOST, smtp_port)}


class FederationServer(ThreadedWSGIServer):
    """Werkzeug's threaded server with a bounded pool of threads and a longer
    listen backlog.

    A thread per connection (Werkzeug's way) let 200 concurrent journeys
    (benchmarks/stress_journeys.py) run some 800 request threads in one
    process: a thread holding SQLite's write lock got the GIL about once a
    second, its transaction lasted 15–20 s, and writers queued behind it
    failed with « database is locked » after the 30 s busy timeout. With
    ``max_threads`` per app, the other connections wait their turn (accepted,
    queued), and the lock holder finishes in milliseconds. Werkzeug's listen
    backlog of 128 also overflowed (dropped SYNs); the kernel caps it at
    net.core.somaxconn."""
    request_queue_size = 1024
    max_threads = 32

    def __init__(self, host: str, port: int, *args, **kwargs) -> None:
        self._pool = ThreadPoolExecutor(self.max_threads, thread_name_prefix=f"fedsim-{port}")
        super().__init__(host, port, *args, **kwargs)

    def server_bind(self) -> None:
        # Werkzeug turns a failed bind into a message on stderr and sys.exit(1);
        # ``serve`` says which port and what to do instead (BindFailed passes through).
        try:
            super().server_bind()
        except OSError as exc:
            self.socket.close()
            self._pool.shutdown(wait=False)
            raise BindFailed(exc) from exc

    def process_request(self, request, client_address) -> None:
        self._pool.submit(self.process_request_thread, request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def serve(app: Flask, bind: str, name: str, port: int, handler: type[WSGIRequestHandler] = QuietHealthHandler,
          ) -> BaseWSGIServer:
    """A threaded server for ``app`` on ``bind:port`` (not yet serving)."""
    try:
        return FederationServer(bind, port, app, handler)
    except BindFailed as failed:  # taken since check_ports
        raise cannot_listen(failed.error, name, bind, port) from None
    except OSError as exc:
        raise cannot_listen(exc, name, bind, port) from None


@dataclass
class ServedFederation:
    settings: Settings
    servers: dict[str, BaseWSGIServer] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    smtp: object = None
    snapshot: FederationSnapshot | None = None  # its state once built, for ``reset``
    # Configuration for each app's factory, by app name (e.g. {"idp_csam":
    # {"PERSONAS_FILE": path}}), as ``create_apps`` takes it.
    overrides: dict[str, dict] | None = None
    apps: dict[str, Flask] = field(default_factory=dict)  # once started: by name, the mailbox included
    options: ServerOptions = field(default_factory=ServerOptions)  # Werkzeug threads unless told otherwise
    # With gunicorn: each app's gunicorn master (a child process), by app name.
    processes: dict[str, Process] = field(default_factory=dict)
    _environ_before: dict[str, str | None] = field(default_factory=dict)  # what _share_with_workers replaced

    @property
    def urls(self) -> dict[str, str]:
        return {name: self.settings.base_url(name) for name in (*APP_NAMES, "mailbox")}

    def start(self) -> ServedFederation:
        check_ports(self.settings)
        trust.ensure(self.settings)
        if self.options.server == "gunicorn":
            self._share_with_workers()
        sessions = mailbox_sessions(self.settings)
        self.smtp = sink.start(sessions, SMTP_HOST, self.settings.smtp_port)
        overrides = self.options.app_overrides(self.overrides)  # quick login, trainer mode (to CSAM)
        apps = create_apps(self.settings, self.settings.smtp_port, overrides)
        self.snapshot = FederationSnapshot.take(apps, sessions)
        apps["mailbox"] = create_mailbox(sessions)
        apps["mailbox"].jinja_env.globals["trainer_mode"] = self.options.trainer  # « mode formateur », /formateur
        admin.install(apps["mailbox"], self.reset)  # POST /admin/reset, from this machine only
        admin_sps.install(apps["mailbox"], apps)  # GET/POST /admin/sps, from this machine only
        admin_attack.install(apps["mailbox"], self.settings)  # GET/POST /admin/attack, this machine only
        trainer.install(apps["mailbox"], self.settings, in_process=self.options.server != "gunicorn")  # /formateur
        health.add_checks(apps["mailbox"], federation_checks(apps, self.settings.smtp_port))
        self.apps = apps
        in_threads = ["mailbox"] if self.options.server == "gunicorn" else list(apps)
        handler = SilentHandler if self.options.server == "gunicorn" and not self.options.access_log \
            else QuietHealthHandler
        for name in in_threads:
            server = serve(apps[name], self.settings.bind, name, ports(self.settings)[name], handler)
            thread = threading.Thread(target=server.serve_forever, name=f"fedsim-{name}", daemon=True)
            thread.start()
            self.servers[name], self.threads = server, [*self.threads, thread]
        if self.options.server == "gunicorn":
            for name in APP_NAMES:
                spec = AppSpec(name, self.settings, ports(self.settings)[name], self.settings.smtp_port,
                               self.options, overrides.get(name, {}))
                self.processes[name] = wsgi_server.start(spec)
            self._wait_for_workers()
        return self

    def _share_with_workers(self) -> None:
        """Files that this process and the workers it spawns share: one
        clock (the trainer console moves it) and the trace of protocol steps
        (the console shows it). Named in the environment the workers
        inherit; ``stop`` puts the environment back."""
        self.settings.instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for variable, name in ((clock.SHARED_FILE_VARIABLE, "clock-shift"),
                               (protocol_log.TRACE_FILE_VARIABLE, "protocol-trace.jsonl")):
            shared = self.settings.instance_dir / name
            shared.unlink(missing_ok=True)  # a new federation starts on time, with an empty trace
            self._environ_before.setdefault(variable, os.environ.get(variable))
            os.environ[variable] = str(shared)

    def _wait_for_workers(self, timeout: float = 120.0) -> None:
        """Until each gunicorn answers ``GET /health``; ``CannotListen`` when
        one has ended (its own error, e.g. a port taken, is in the log above)."""
        deadline = time.monotonic() + timeout
        waiting = dict(self.processes)
        while waiting:
            for name, process in list(waiting.items()):
                if not process.is_alive():
                    port = ports(self.settings)[name]
                    raise CannotListen(f"The gunicorn server of {LABELS[name]} (port {port}) stopped as it "
                                       f"started (exit status {process.exitcode}): see its error above.")
                try:
                    if requests.get(f"{self.settings.base_url(name)}/health", timeout=2).ok:
                        del waiting[name]
                except requests.RequestException:
                    pass
            if waiting and time.monotonic() >= deadline:
                names = ", ".join(LABELS[name] for name in waiting)
                raise CannotListen(f"The gunicorn servers of {names} did not answer within {timeout:g} s.")
            if waiting:
                time.sleep(0.1)

    def reset(self) -> float:
        """Back to the state it started in (see fedsim_harness.reset); returns the milliseconds it took."""
        if self.snapshot is None:
            raise RuntimeError("the federation has not been started: nothing to reset")
        return self.snapshot.restore()

    def stop(self) -> None:
        # All at once: each server notices within its poll interval (0.5 s).
        stopping = [threading.Thread(target=server.shutdown) for server in self.servers.values()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join(timeout=5)
        for server in self.servers.values():
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
        stopping = [threading.Thread(target=wsgi_server.stop, args=(p,)) for p in self.processes.values()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join(timeout=20)
        if self.smtp is not None:
            self.smtp.stop()
        for variable, value in self._environ_before.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        self._environ_before.clear()
