"""Putting a federation back to the state it was built in, fast enough to run
between two scenarios.

Right after the federation is built and seeded, :meth:`FederationSnapshot.take`
copies every row of every table of every database (the three apps' and the
mailbox's), through SQLAlchemy Core on reflected tables, so any SQLAlchemy
URL works (SQLite, PostgreSQL). :meth:`FederationSnapshot.restore` then runs
one transaction per database: delete every row, children first, and insert
the copied rows back, parents first (on PostgreSQL, JSON goes back through a
cast and each table's sequence restarts after its restored rows). Personas, cards, PINs, accounts, mail,
server-side sessions and SAML state (pending requests, replay caches) all
live in those tables.

Besides the databases, a federation holds this state, and ``restore`` resets
what needs it:

- the process-wide clock offset (``FEDSIM_CLOCK_OFFSET``, which
  ``advance_clock`` moves): put back to its value at snapshot time;
- each app's purge janitor (``app.extensions["fedsim.janitor"]``) remembers
  when it last ran, on that clock: forgotten, so the next request purges;
- kept on purpose: keys and certificates (``certs/``, the eID card chips and
  CRL of ``certs/eid/``, written only when the apps are built and seeded —
  BEL registration stores a citizen and BIS number, no card —, and the itsme
  keys made on first use), the apps' secrets (``instance/<app>/keys``), the
  registered SPs (metadata files and Cerbère's pysaml2 metadata store), and
  the catalogues loaded from YAML (read-only);
- nothing to do: the SMTP sink keeps no message in memory (each one is in the
  mailbox database once the sender's SMTP conversation has ended); the
  pysaml2 SPs' identity caches and the IdPs' NameID databases stay empty
  (responses are verified by fedsim.saml, NameIDs are computed).

The snapshot is the state at build time: for a new instance folder, the
seeded state; ``fedsim up`` keeps ``instance/`` between starts, so what was
in it at start-up is what a reset brings back.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import JSON, Column, Integer, MetaData, Table, Text, TypeDecorator, cast, func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeEngine
from sqlalchemy.orm import sessionmaker

from fedsim.db import Database
from fedsim.purge import Janitor

# Tables whose rows a reset neither deletes nor restores (by name), for state
# that must survive a reset when it is kept in a database; none today.
KEEP_TABLES: frozenset[str] = frozenset()

CLOCK_VARIABLE = "FEDSIM_CLOCK_OFFSET"


def _as_text(column: Column) -> bool:
    """JSON is copied as its stored text: decoding and encoding it again
    would turn an SQL NULL into a JSON 'null'."""
    return isinstance(column.type, JSON)


class _JsonText(TypeDecorator):
    """JSON text written back into a PostgreSQL json/jsonb column, which
    takes no text without a cast (SQLite stores JSON as text anyway)."""
    impl = Text
    cache_ok = True

    def __init__(self, target: TypeEngine) -> None:
        super().__init__()
        self.target = target

    def bind_expression(self, bindvalue):  # noqa: ANN001, ANN201 - SQLAlchemy's hook
        return cast(bindvalue, self.target)


def _writer_type(column: Column, dialect: str) -> TypeEngine:
    if not _as_text(column):
        return column.type
    return _JsonText(column.type) if dialect == "postgresql" else Text()


def _serial_columns(table: Table) -> list[Column]:
    """The integer primary key a PostgreSQL sequence numbers, if any."""
    key = list(table.primary_key.columns)
    return key if len(key) == 1 and isinstance(key[0].type, Integer) and key[0].autoincrement in (True, "auto") \
        else []


@dataclass(frozen=True)
class DatabaseSnapshot:
    """Every row of every table of one database."""
    engine: Engine
    tables: tuple[Table, ...]  # parents before children
    writers: tuple[Table, ...]  # the same tables, JSON columns as text
    rows: Mapping[str, tuple[dict, ...]]

    @classmethod
    def take(cls, engine: Engine, keep: Iterable[str] = KEEP_TABLES) -> "DatabaseSnapshot":
        reflected = MetaData()
        reflected.reflect(bind=engine)
        kept = set(keep)
        tables = tuple(t for t in reflected.sorted_tables if t.name not in kept)
        plain = MetaData()
        dialect = engine.dialect.name
        writers = tuple(Table(t.name, plain, *(Column(c.name, _writer_type(c, dialect), key=c.key)
                                                 for c in t.columns), schema=t.schema) for t in tables)
        rows = {}
        with engine.connect() as connection:
            for table in tables:
                columns = [cast(c, Text).label(c.name) if _as_text(c) else c for c in table.columns]
                query = select(*columns).order_by(*table.primary_key.columns)
                rows[table.name] = tuple(dict(r._mapping) for r in connection.execute(query))
        return cls(engine, tables, writers, rows)

    def restore(self) -> None:
        """One transaction: delete every row, then insert the snapshot's."""
        with self.engine.begin() as connection:
            for table in reversed(self.tables):
                connection.execute(table.delete())
            for writer in self.writers:
                if self.rows[writer.name]:
                    connection.execute(insert(writer), list(self.rows[writer.name]))
            if connection.dialect.name == "postgresql":
                self._restart_sequences(connection)

    def _restart_sequences(self, connection: Connection) -> None:
        """PostgreSQL's sequences do not go back with the rows (SQLite
        numbers from the largest key): put each back after the restored
        rows, so that a reset federation numbers new rows as a new one."""
        for table in self.tables:
            for column in _serial_columns(table):
                name = table.name if table.schema is None else f"{table.schema}.{table.name}"
                sequence = connection.execute(select(func.pg_get_serial_sequence(name, column.name))).scalar()
                if sequence is None:
                    continue
                largest = max((row[column.name] for row in self.rows[table.name]), default=None)
                connection.execute(select(func.setval(sequence, largest or 1, largest is not None)))


def _engine(factory: sessionmaker) -> Engine:
    with factory() as session:
        return session.get_bind()


@dataclass(frozen=True)
class FederationSnapshot:
    databases: tuple[DatabaseSnapshot, ...]
    janitors: tuple[Janitor, ...]
    clock_offset: str | None

    @classmethod
    def take(cls, apps: Mapping[str, Flask], mailbox_sessions: sessionmaker,
             keep: Iterable[str] = KEEP_TABLES) -> "FederationSnapshot":
        """The state of ``apps`` (their databases, through ``Database.factory``)
        and of the mailbox database, now."""
        engines: dict[str, Engine] = {}
        for factory in [*(Database.factory(app) for app in apps.values()), mailbox_sessions]:
            engine = _engine(factory)
            engines.setdefault(str(engine.url), engine)  # one database shared by two apps: copied once
        extensions = [value for app in apps.values() for value in app.extensions.values()]
        janitors = tuple(j for j in extensions if isinstance(j, Janitor))
        return cls(tuple(DatabaseSnapshot.take(e, keep) for e in engines.values()), janitors,
                   os.environ.get(CLOCK_VARIABLE))

    def restore(self) -> float:
        """Back to the snapshot; returns the milliseconds it took."""
        started = time.perf_counter()
        if self.clock_offset is None:
            os.environ.pop(CLOCK_VARIABLE, None)
        else:
            os.environ[CLOCK_VARIABLE] = self.clock_offset
        for database in self.databases:
            database.restore()
        for janitor in self.janitors:
            janitor.last_run = None
        return (time.perf_counter() - started) * 1000
