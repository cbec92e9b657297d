"""``GET /health``: is this app up, and can it reach what it needs?

Each app serves it with ``health.init_app(app)``; the answer is JSON::

    {"status": "ok", "app": "monespace",
     "entity_ids": ["http://localhost:5000/saml/sp/metadata", ...],
     "checks": {"database": "ok"}}

with HTTP 200, or ``"status": "failing"``, each failed check's reason in one
line, and HTTP 503. A check is a callable that raises when something is
wrong; the app's own database (``SELECT 1`` on a connection of its pool) is
always checked when the app has one, and ``add_checks`` adds more (the
harness gives the mailbox every app's database and the SMTP sink, so that
the mailbox's ``/health`` speaks for the whole federation).

Cheap and anonymous: a GET (no CSRF), no template, no session read or
written, no cookie set; ``fedsim wait`` and CI poll it.
"""
from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from fedsim.federation import entities

Check = Callable[[], None]  # raises when what it checks is not usable

CHECKS = "fedsim.health.checks"
NAME = "fedsim.health.name"

bp = Blueprint("fedsim_health", __name__)


def init_app(app: Flask, *, name: str | None = None, checks: Mapping[str, Check] | None = None) -> None:
    """Serve ``GET /health`` from ``app``; ``name`` is what the answer calls
    it [the app's import name: ``idp_csam``, ``monespace``, ``modigia_sp``]."""
    app.extensions[NAME] = name or app.name
    app.extensions.setdefault(CHECKS, {})
    add_checks(app, checks or {})
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)


def add_checks(app: Flask, checks: Mapping[str, Check]) -> None:
    """More checks for ``app``'s ``/health`` (``init_app`` first)."""
    app.extensions[CHECKS].update(checks)


def database(factory: sessionmaker[Session]) -> Check:
    """A check that the database behind ``factory`` answers a query."""
    def check() -> None:
        with factory() as db:
            db.execute(text("SELECT 1"))
    return check


def smtp(host: str, port: int, timeout: float = 2.0) -> Check:
    """A check that an SMTP server greets on ``host:port`` and answers NOOP."""
    def check() -> None:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            code, reply = client.noop()
            if code != 250:
                raise smtplib.SMTPResponseException(code, reply)
    return check


def _entity_ids(app: Flask) -> list[str]:
    """The SAML entities this app hosts (none for the mailbox)."""
    settings = app.config.get("FEDSIM_SETTINGS")
    if settings is None:
        return []
    return [e.entity_id for e in entities(settings).values() if e.app == app.name]


def _reason(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


@bp.get("/health")
def health():
    app = current_app._get_current_object()  # noqa: SLF001 - the app itself, for its name and extensions
    checks: dict[str, Check] = {}
    if "fedsim.db" in app.extensions:
        checks["database"] = database(app.extensions["fedsim.db"])
    checks.update(app.extensions[CHECKS])
    results = {}
    for label, check in checks.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure is that check's answer
            results[label] = _reason(exc)
        else:
            results[label] = "ok"
    ok = all(result == "ok" for result in results.values())
    answer = {"status": "ok" if ok else "failing", "app": app.extensions[NAME],
              "entity_ids": _entity_ids(app), "checks": results}
    return jsonify(answer), 200 if ok else 503
