"""SQLAlchemy 2.0 for the Flask apps, in the style of an extension.

``Database(*bases).init_app(app)`` creates the tables of every declarative
base the app uses (its own, plus shared ones such as the SAML state) in the
database named by ``app.config["DATABASE_URL"]`` and gives each request one
session, closed at teardown.
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


def private_sqlite_file(url: str) -> None:
    """Create the file of a ``sqlite:///`` URL readable by its owner only
    (0600), in a folder only its owner may enter (0700)."""
    if not url.startswith("sqlite:///") or url.removeprefix("sqlite:///") in ("", ":memory:"):
        return
    path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)  # SQLite gives its -wal and -shm files the database file's mode


# A file database's connection pool. SQLAlchemy's default (5 + 10 overflow,
# 30 s wait) is smaller than the threaded server's concurrency: under 200
# concurrent journeys (benchmarks/stress_journeys.py) requests waited more
# than 30 s for a connection and failed with « QueuePool limit of size 5
# overflow 10 reached » (HTTP 500). SQLite connections are cheap and writers
# queue on the database lock (the busy timeout below) anyway: no limit, 20
# kept open.
SQLITE_POOL = {"pool_size": 20, "max_overflow": -1}
# Seconds a writer waits for SQLite's write lock before « database is
# locked » (below the 60 s a stress client waits for an answer). 15 s was
# once too short at 200 concurrent journeys on 2 busy
# cores (one UPDATE of Cerbère's pending request failed): the holder of the
# lock competes for the GIL with hundreds of request threads, and SQLite's
# busy handler (sleep and retry) is not first-come first-served.
SQLITE_BUSY_TIMEOUT = 30


def _in_memory(url: str) -> bool:
    database = make_url(url).database
    return database in (None, "", ":memory:") or "mode=memory" in url


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        pool = {} if _in_memory(url) else SQLITE_POOL
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}, **pool)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # noqa: ANN001 - DB-API types
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: no corruption on a crash, only the last commits
            # may be lost on power failure; fine for a simulator, and it
            # spares an fsync per commit on every SAML message.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    def __init__(self, *bases: type[DeclarativeBase]) -> None:
        self.bases = bases

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        for base in self.bases:
            base.metadata.create_all(engine)
        app.extensions["fedsim.db"] = sessionmaker(engine, expire_on_commit=False)
        app.teardown_appcontext(_close_session)

    @staticmethod
    def session() -> Session:
        """The current request's session."""
        if "db_session" not in g:
            g.db_session = current_app.extensions["fedsim.db"]()
        return g.db_session

    @staticmethod
    def factory(app: Flask) -> sessionmaker[Session]:
        return app.extensions["fedsim.db"]

    @staticmethod
    def end_request_transaction() -> None:
        """Drop what the current request left uncommitted, as teardown will,
        releasing its locks now: for writes made after the view on another
        connection (the server-side session's)."""
        session = g.get("db_session")
        if session is not None:
            session.rollback()


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
