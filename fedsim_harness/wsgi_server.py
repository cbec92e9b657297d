"""Serving one app of the federation on gunicorn, the production WSGI server
of ``fedsim up``: ``workers`` processes of ``threads`` threads each.

Each app gets its own gunicorn master (arbiter), in a child process of the
``fedsim up`` process started with multiprocessing's *spawn* (a fresh
interpreter: nothing is inherited from the parent's threads, sockets or
database connections). The master binds the app's port and forks the
workers; each worker builds the app with the app's own factory, on the
databases the parent has already created and seeded, so that every worker
serves from the same state: server-side sessions, pending SAML requests,
replay caches, accounts — all of it is in the database (SQLite in WAL mode,
or PostgreSQL). What each worker holds in memory is either read-only (keys,
certificates, catalogues, metadata), re-read from disk (the SP registries,
every few seconds) or per request (the itsme back-channel's HTTP call or WSGI client).
So a reset of the databases (``POST /admin/reset``, done by the parent) is
what every worker sees at its next request.

A master ends with its parent: it asks the kernel for SIGTERM when the
parent dies (Linux ``PR_SET_PDEATHSIG``), and gunicorn's workers end when
their master does."""
from __future__ import annotations

import ctypes
import gc
import importlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from gunicorn.app.base import BaseApplication

from fedsim.federation import Settings

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 8
WORKERS_VARIABLE = "FEDSIM_WORKERS"
THREADS_VARIABLE = "FEDSIM_THREADS"
ACCESS_LOG_VARIABLE = "FEDSIM_ACCESS_LOG"
SERVER_VARIABLE = "FEDSIM_SERVER"
QUICK_LOGIN_VARIABLE = "FEDSIM_QUICK_LOGIN"  # CSAM's « Connexion rapide » (idp_csam.quick_login)
TRAINER_VARIABLE = "FEDSIM_TRAINER"  # trainer mode: demonstrations, no quick login
_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
PR_SET_PDEATHSIG = 1
BACKCHANNEL_MIN_THREADS = 3  # per gunicorn worker, for CSAM's itsme back-channel over HTTP (itsme_backchannel)


@dataclass(frozen=True)
class ServerOptions:
    """How ``fedsim up`` serves the apps. ``server`` is ``"gunicorn"`` (each
    app on its own gunicorn: ``workers`` × ``threads``) or ``"werkzeug"``
    (everything threaded in one process, as the browser tests run it)."""
    server: str = "werkzeug"
    workers: int = DEFAULT_WORKERS
    threads: int = DEFAULT_THREADS
    access_log: bool = False
    quick_login: bool = False  # CSAM offers « Connexion rapide » (developers only)
    trainer: bool = False      # trainer mode (demonstrations): never with quick_login

    @classmethod
    def production(cls, workers: int | None = None, threads: int | None = None, access_log: bool = False,
                   werkzeug: bool = False, environ: Mapping[str, str] | None = None, *,
                   quick_login: bool = False, trainer: bool = False) -> ServerOptions:
        """What ``fedsim up`` serves with: its options, else the environment
        (FEDSIM_WORKERS, FEDSIM_THREADS, FEDSIM_ACCESS_LOG=1,
        FEDSIM_SERVER=werkzeug, FEDSIM_QUICK_LOGIN=1, FEDSIM_TRAINER=1), else
        gunicorn with 2 workers × 8 threads per app, no request log, no quick
        login, no trainer mode. ``ValueError`` for a bad variable, and for
        quick login in trainer mode."""
        env = os.environ if environ is None else environ
        server = "werkzeug" if werkzeug else env.get(SERVER_VARIABLE, "").strip().lower() or "gunicorn"
        if server not in ("gunicorn", "werkzeug"):
            raise ValueError(f"{SERVER_VARIABLE} must be gunicorn or werkzeug, not {server!r}")
        access_log = access_log or env.get(ACCESS_LOG_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")
        quick_login = quick_login or _flag(env, QUICK_LOGIN_VARIABLE)
        trainer = trainer or _flag(env, TRAINER_VARIABLE)
        _flag(env, "IDP_CSAM_QUICK_LOGIN")  # CSAM's own setting (off in trainer mode): a typo is refused here
        if quick_login and trainer:
            raise ValueError("Quick login is refused in trainer mode: drop --quick-login (FEDSIM_QUICK_LOGIN) "
                             "or --trainer (FEDSIM_TRAINER).")
        return cls(server, workers or _positive(env, WORKERS_VARIABLE, DEFAULT_WORKERS),
                   threads or _positive(env, THREADS_VARIABLE, DEFAULT_THREADS), access_log, quick_login, trainer)

    def environ(self) -> dict[str, str]:
        """These options as the variables ``production`` reads (for a child ``fedsim up``)."""
        return {SERVER_VARIABLE: self.server, WORKERS_VARIABLE: str(self.workers),
                THREADS_VARIABLE: str(self.threads), ACCESS_LOG_VARIABLE: "1" if self.access_log else "0",
                QUICK_LOGIN_VARIABLE: "1" if self.quick_login else "0", TRAINER_VARIABLE: "1" if self.trainer else "0"}

    def app_overrides(self, overrides: dict[str, dict] | None = None) -> dict[str, dict]:
        """``overrides`` (configuration by app name, as ``create_apps``
        takes it) with what these options tell the apps: CSAM's
        ``QUICK_LOGIN`` when on (when off, CSAM's own configuration, e.g.
        IDP_CSAM_QUICK_LOGIN, decides) and ``TRAINER_MODE`` (which keeps
        CSAM's quick login off whatever its configuration says)."""
        merged = {name: dict(config) for name, config in (overrides or {}).items()}
        csam = merged.setdefault("idp_csam", {})
        if self.quick_login:
            csam["QUICK_LOGIN"] = True
        if self.trainer:
            csam["TRAINER_MODE"] = True
        csam.setdefault("ITSME_BACKCHANNEL", self.itsme_backchannel)  # served on ports: HTTP (see below)
        return merged

    @property
    def itsme_backchannel(self) -> str:
        """How CSAM reaches its itsme OP when served with these options
        (idp_csam.itsme_backchannel): over HTTP, through its own port — unless
        gunicorn has fewer than ``BACKCHANNEL_MIN_THREADS`` threads per worker.
        One itsme login holds up to 3 of CSAM's request threads at once (the
        callback waits for the token endpoint, which waits for CSAM's JWKS);
        gunicorn's gthread worker accepts a connection even when all its
        threads are busy and queues it behind them, so with fewer threads a
        worker could wait for itself until the back-channel's timeout. Then the
        calls stay in-process (through the worker's own test client)."""
        if self.server == "gunicorn" and self.threads < BACKCHANNEL_MIN_THREADS:
            return "in-process"
        return "http"


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    raise ValueError(f"{name} must be 1 or 0, not {env.get(name)!r}")


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return value


@dataclass(frozen=True)
class AppSpec:
    """What a gunicorn master needs to build and serve one app (pickled to
    the spawned child)."""
    name: str  # "idp_csam", "monespace", "modigia_sp"
    settings: Settings
    port: int
    smtp_port: int
    options: ServerOptions
    overrides: dict


def pid_file(settings: Settings, name: str) -> Path:
    """Where the gunicorn master of app ``name`` writes its pid while it runs."""
    return settings.instance_dir / name / "gunicorn.pid"


def build(spec: AppSpec) -> Flask:
    """The app, built by its own factory with the configuration
    ``fedsim_harness.stack.create_apps`` gives it."""
    factory = importlib.import_module(spec.name).create_app
    return factory({"FEDSIM_SETTINGS": spec.settings, "SMTP_PORT": spec.smtp_port, **spec.overrides})


class GunicornApp(BaseApplication):
    """One app on gunicorn, configured in code (no command line, no config file)."""

    def __init__(self, spec: AppSpec) -> None:
        self.spec = spec
        super().__init__()

    def load_config(self) -> None:
        spec, options = self.spec, self.spec.options
        host = f"[{spec.settings.bind}]" if ":" in spec.settings.bind else spec.settings.bind
        config = {
            "bind": [f"{host}:{spec.port}"],
            "workers": options.workers,
            "threads": options.threads,
            "worker_class": "gthread",
            "backlog": 1024,  # as the Werkzeug servers (fedsim_harness.serve.FederationServer)
            "timeout": 120,  # a worker busy for so long is stuck: restarted
            "graceful_timeout": 5,
            "keepalive": 5,
            "accesslog": "-" if options.access_log else None,
            "errorlog": "-",
            "loglevel": "info" if options.access_log else "warning",
            "proc_name": f"fedsim-{spec.name}",
            "pidfile": str(pid_file(spec.settings, spec.name)),  # the master's, while it runs
        }
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:  # in each worker, after the fork
        app = build(self.spec)
        freeze_startup_objects()
        return app


def freeze_startup_objects() -> None:
    """What a worker built at start (the app, its metadata, templates, keys,
    imported modules) lives as long as the worker: moved out of the cyclic
    collector's sight (``gc.freeze``), so that a full collection, which
    otherwise walks those hundreds of thousands of objects every few hundred
    requests, walks only what requests made. Objects are still freed by
    reference counting; only cycles among the frozen ones would stay."""
    gc.collect()
    gc.freeze()


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: `fedsim down` still stops it
        pass


def run(spec: AppSpec, parent: int) -> None:
    """The child process: one gunicorn master for ``spec``, until SIGTERM."""
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above
        sys.exit(0)
    GunicornApp(spec).run()


def start(spec: AppSpec) -> multiprocessing.Process:
    """A child process serving ``spec`` on gunicorn (not necessarily
    listening yet when this returns)."""
    process = multiprocessing.get_context("spawn").Process(
        target=run, args=(spec, os.getpid()), name=f"fedsim-{spec.name}", daemon=False)
    process.start()
    return process


def stop(process: multiprocessing.Process, timeout: float = 10.0) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL after ``timeout``."""
    if process.is_alive():
        process.terminate()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(5)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and of its live children
    (a gunicorn master and its workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{candidate}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry))
    return found


def resident_kib(pid: int) -> int:
    """Resident size (VmRSS, KiB) of ``pid`` and its live children."""
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total
