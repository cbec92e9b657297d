"""SQLAlchemy 2.0 for the Flask apps, in the style of an extension.

``Database(*bases).init_app(app)`` brings the database named by
``app.config["DATABASE_URL"]`` (SQLite or PostgreSQL) to the newest schema of
every declarative base the app uses (its own, plus shared ones such as the
SAML state) and gives each request one session, closed at teardown.

The schema is versioned with Alembic: each database has its own migration
environment, ``<package>/migrations`` (``idp_csam``, ``monespace``,
``modigia_sp``, ``fedsim.mailbox``), whose revisions cover every table that
database holds. At start-up (:func:`migrate`):

- an empty database gets every table at once (``create_all``, faster than
  replaying every revision) and is stamped with the newest revision;
- a database under Alembic is upgraded to the newest revision;
- a database made before Alembic (tables, no ``alembic_version``) is
  adopted: missing tables and columns are added, then it is stamped.

``fedsim db revision --app <app> -m "…"`` writes a new revision (see README).
"""
from __future__ import annotations

import importlib.util
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import Connection, MetaData, create_engine, event, inspect, make_url, text
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
    return create_engine(with_driver(url), pool_pre_ping=True)


def with_driver(url: str) -> str:
    """``postgresql://…`` means psycopg 3 here (SQLAlchemy's default driver
    for it is psycopg2, which is not installed)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


VERSION_TABLE = "alembic_version"


def migrations_of(package: str) -> str:
    """The Alembic script location of a package's database."""
    return f"{package}:migrations"


def alembic_config(location: str, metadata: Sequence[MetaData] | None = None,
                   connection: Connection | None = None):  # noqa: ANN201 - alembic.config.Config
    """An Alembic configuration without an ini file. ``metadata`` and
    ``connection``, when given, are what the environment (env.py) uses;
    otherwise it imports its package's models and connects to the URL of
    ``sqlalchemy.url`` (see :func:`run_environment`)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", location)
    if metadata is not None:
        config.attributes["target_metadata"] = list(metadata)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def run_environment(metadata: Sequence[MetaData]) -> None:
    """The body of every env.py: run the migrations on the connection given
    by :func:`alembic_config` (or on ``sqlalchemy.url``), online only."""
    from alembic import context

    config = context.config
    target = config.attributes.get("target_metadata", list(metadata))
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(context, connection, target)
        engine.dispose()
    else:
        _run(context, connection, target)


def _run(context, connection: Connection, target: list[MetaData]) -> None:  # noqa: ANN001 - alembic's proxy
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=target, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _lock(connection: Connection, location: str) -> None:
    """Two processes starting on one PostgreSQL database migrate one after
    the other (a transaction-scoped advisory lock)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(location.encode())})


def _adopt(connection: Connection, metadata: Iterable[MetaData]) -> None:
    """A database made before Alembic: add the tables and the columns it
    lacks (a new NOT NULL column gets its scalar Python default as server
    default, for the rows already there)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy import Column

    for meta in metadata:
        meta.create_all(connection)
    context = MigrationContext.configure(connection)
    operations = Operations(context)
    for meta in metadata:
        for diff in compare_metadata(context, meta):
            if not isinstance(diff, tuple) or diff[0] != "add_column":
                continue
            _, schema, table, column = diff
            column = Column(column.name, column.type, nullable=column.nullable,
                            server_default=column.server_default or _server_default(column))
            operations.add_column(table, column, schema=schema)


def _server_default(column) -> str | None:  # noqa: ANN001 - sqlalchemy.Column
    default = column.default
    if column.nullable or default is None or not getattr(default, "is_scalar", False):
        return None
    value = default.arg
    return str(int(value)) if isinstance(value, bool) else str(value)


def migrate(engine: Engine, location: str, metadata: Sequence[MetaData]) -> str:
    """Bring the database to the newest revision of ``location``; returns
    what was done: "created", "upgraded" or "adopted"."""
    from alembic import command

    with engine.begin() as connection:
        _lock(connection, location)
        tables = set(inspect(connection).get_table_names())
        config = alembic_config(location, metadata, connection)
        if VERSION_TABLE in tables:
            command.upgrade(config, "head")
            done = "upgraded"
        else:
            if tables:
                _adopt(connection, metadata)
                done = "adopted"
            else:
                for meta in metadata:
                    meta.create_all(connection)
                done = "created"
            command.stamp(config, "head")
    return done


def _has_migrations(package: str) -> bool:
    """Whether the importable package ``package`` has a migrations folder."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    folders = spec.submodule_search_locations if spec is not None else None
    return bool(folders) and any((Path(folder) / "migrations").is_dir() for folder in folders)


class Database:
    def __init__(self, *bases: type[DeclarativeBase], migrations: str | None = None) -> None:
        self.bases = bases
        self.migrations = migrations  # Alembic script location; default: "<app package>:migrations"

    @property
    def metadata(self) -> list[MetaData]:
        return [base.metadata for base in self.bases]

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        location = self.migrations or migrations_of(app.import_name)
        if self.migrations is None and not _has_migrations(app.import_name):
            # an app without a migrations folder (a test's own small app): its tables as they are
            for metadata in self.metadata:
                metadata.create_all(engine)
        else:
            migrate(engine, location, self.metadata)
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

    @staticmethod
    def commit_with_response(db: Session) -> bool:
        """Instead of committing ``db`` now, leave its writes so far to be
        committed once with the server-side session's row, when the response
        is saved and before it leaves (``fedsim.sessions``: one transaction,
        one commit, where there were two). True when that is so: ``db`` is
        the current request's session in an app whose sessions do it; False
        (outside a request, another session, another app): commit now.
        A view writes nothing after it that should not be committed; a failed
        commit is the request's error (no answer leaves); teardown commits
        what is still left (a response whose session was never saved)."""
        if not has_app_context() or not current_app.extensions.get(COMMITS_WITH_RESPONSE) \
                or g.get("db_session") is not db:
            return False
        db.info[COMMIT_LEFT] = True
        return True

    @staticmethod
    def left_to_commit() -> Session | None:
        """The current request's session if writes were left to commit with
        the response (``commit_with_response``); no longer marked: whoever
        takes it commits it."""
        session = g.get("db_session")
        if session is not None and session.info.pop(COMMIT_LEFT, False):
            return session
        return None


# An app's extension set by the session interface that commits what views
# leave to it (fedsim.sessions.init_app), and the mark on a session.
COMMITS_WITH_RESPONSE = "fedsim.db.commits_with_response"
COMMIT_LEFT = "fedsim.db.commit_left"


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        try:
            if session.info.pop(COMMIT_LEFT, False):
                session.commit()  # what a view left to the response's commit, which did not happen
        finally:
            session.close()
