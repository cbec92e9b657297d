"""Which database server the test federation runs on, and fresh PostgreSQL
databases for it.

``FEDSIM_TEST_DATABASE=postgresql`` (``make test-postgres``) puts each app's
database of the session federation (fedsim_harness.pytest_plugin) on
PostgreSQL: one new database per app and per test process (xdist worker),
dropped at the end. The server is ``FEDSIM_TEST_POSTGRES_URL``, a URL of a
role that may create databases; by default the local server through its
Unix socket as the current user (``postgresql:///postgres``: Debian's
cluster, see .ci/run). Unset or ``sqlite``: SQLite files, as always.
"""
from __future__ import annotations

import os
import re

from sqlalchemy import create_engine, make_url, text

from fedsim.db import with_driver

CHOICE_VARIABLE = "FEDSIM_TEST_DATABASE"
SERVER_VARIABLE = "FEDSIM_TEST_POSTGRES_URL"
DEFAULT_SERVER = "postgresql:///postgres"
CHOICES = ("sqlite", "postgresql")
# Each app's database URL variable (its config.py), by app package.
URL_VARIABLES = {"idp_csam": "IDP_CSAM_DATABASE_URL", "monespace": "MONESPACE_DATABASE_URL",
                 "modigia_sp": "MODIGIA_DATABASE_URL"}


def chosen(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    choice = env.get(CHOICE_VARIABLE, "sqlite").strip().lower() or "sqlite"
    if choice not in CHOICES:
        raise ValueError(f"{CHOICE_VARIABLE}={choice!r}: expected one of {', '.join(CHOICES)}")
    return choice


def server_url(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return with_driver(env.get(SERVER_VARIABLE) or DEFAULT_SERVER)


class PostgresDatabases:
    """Databases created on one server for this process, dropped by
    :meth:`drop_all` (even when a connection to them is still open)."""

    def __init__(self, server: str | None = None) -> None:
        self.server = make_url(server or server_url())
        self.engine = create_engine(self.server, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def create(self, label: str) -> str:
        """A new empty database; its URL."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = re.sub(r"[^a-z0-9_]", "_", f"fedsim_{worker}_{os.getpid()}_{label}".lower())
        with self.engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0'))
        self.names.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.engine.connect() as connection:
            for name in self.names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.names.clear()
        self.engine.dispose()


def available(server: str | None = None) -> str | None:
    """None when the server answers, else why not."""
    try:
        engine = create_engine(make_url(server or server_url()))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver or network error: say it
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None
