"""Server-side Flask sessions, in the app's own database.

The cookie (the app's SESSION_COOKIE_NAME, HttpOnly, SameSite as configured)
holds only a random id, ``secrets.token_urlsafe(32)``; the database holds a
SHA-256 of that id (a copy of the table gives no usable cookie), the data
serialised with Flask's ``TaggedJSONSerializer``, and when the session was
made, last seen and expires (the shared clock): after SESSION_IDLE_TIMEOUT
without a request, or SESSION_MAX_AGE after it was made (at login).

A row is written only when the session changed (last-seen at most once per
``TOUCH_EVERY``), never for an empty session, and the cookie is sent only for
a new id. A cookie naming no live session, or not even shaped like an id, is
a fresh empty session; the browser is told to forget it.

``regenerate()`` gives the same data a new id (every login); ``destroy()``
ends the session on the server (every logout). Both delete the old row when
the response is saved, so a copy of the old cookie is dead from then on.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app, g, session
from flask import json as flask_json
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import Connection, String, Text, bindparam, delete, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from werkzeug.datastructures import CallbackDict

from fedsim import clock
from fedsim.db import COMMITS_WITH_RESPONSE, Database

ID_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(32) makes
TOUCH_EVERY = timedelta(minutes=1)
SERIALIZER = TaggedJSONSerializer()
_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _plain(value: object) -> bool:
    """Whether Flask's tagging would leave ``value`` as it is: only JSON's
    own types (exact types: a ``Markup`` or a tuple is tagged), string keys,
    and no one-key dict whose key is a tag's."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if kind is dict:
        if len(value) == 1 and next(iter(value)) in SERIALIZER.tags:
            return False
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if kind is list:
        return all(_plain(item) for item in value)
    return False


def serialise(data: dict) -> str:
    """``SERIALIZER.dumps(data)``, the same text, faster for data that needs
    no tag (the usual session: strings, numbers, lists, dicts)."""
    if _plain(data):
        return flask_json.dumps(data, separators=(",", ":"))  # what SERIALIZER.dumps does once tagged
    return SERIALIZER.dumps(data)


def deserialise(text: str) -> object:
    """``SERIALIZER.loads(text)``: without a tagged object (``{" t": …}``:
    a key starting with a space, so a quote followed by a space somewhere in
    the text) there is nothing to untag."""
    if '" ' in text:
        return SERIALIZER.loads(text)
    return flask_json.loads(text)


class SessionBase(DeclarativeBase):
    pass


class StoredSession(SessionBase):
    __tablename__ = "web_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's id
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


TABLE = StoredSession.__table__
# Built once (building a statement costs about as much as running it):
# parameters are bound at execution.
_LOAD = select(TABLE.c.data, TABLE.c.created_at, TABLE.c.last_seen_at, TABLE.c.expires_at).where(
    TABLE.c.id_hash == bindparam("id_hash"))
_LIVE = (TABLE.c.id_hash == bindparam("session")) & (TABLE.c.expires_at > bindparam("now"))
_TOUCH = update(TABLE).where(_LIVE).values(last_seen_at=bindparam("seen"), expires_at=bindparam("until"))
_STORE = _TOUCH.values(data=bindparam("stored"))
_CREATE = insert(TABLE)


def hash_id(session_id: str) -> str:
    """What the database keeps of a session id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def purge(db: Session, now: datetime) -> int:
    """Delete the sessions expired at ``now``; how many."""
    deleted = db.execute(delete(StoredSession).where(StoredSession.expires_at <= now)).rowcount
    db.commit()
    return deleted


@dataclass(frozen=True)
class Loaded:
    data: dict
    created_at: datetime
    last_seen_at: datetime


class SessionStore:
    """Rows of ``web_session``, each call its own short transaction (on the
    engine ``factory`` is bound to)."""

    def __init__(self, factory: sessionmaker[Session], idle: timedelta, max_age: timedelta) -> None:
        self.factory, self.idle, self.max_age = factory, idle, max_age
        self.engine = factory.kw["bind"]

    def _expiry(self, created_at: datetime, now: datetime) -> datetime:
        return min(created_at + self.max_age, now + self.idle)

    def load(self, session_id: str, now: datetime) -> Loaded | None:
        # SQLAlchemy Core on a pooled connection, not the ORM: this runs on
        # every request that carries a cookie, and the ORM's unit of work
        # (identity map, instance state, flush) cost more than the query.
        with self.engine.connect() as connection:
            row = connection.execute(_LOAD, {"id_hash": hash_id(session_id)}).first()
        if row is None or row.expires_at <= now:
            return None
        try:
            data = deserialise(row.data)
        except (ValueError, TypeError, KeyError):
            return None
        return Loaded(data, row.created_at, row.last_seen_at) if isinstance(data, dict) and data else None

    def create(self, session_id: str, data: dict, now: datetime, connection: Connection | None = None) -> None:
        with self._transaction(connection) as writing:
            writing.execute(_CREATE, {"id_hash": hash_id(session_id), "data": serialise(data),
                                         "created_at": now, "last_seen_at": now, "expires_at": self._expiry(now, now)})

    def update(self, session_id: str, data: dict | None, created_at: datetime, now: datetime,
               connection: Connection | None = None) -> bool:
        """New data (None: only last-seen); False when the session ended meanwhile
        (a logout in another tab): it is not brought back."""
        values = {"session": hash_id(session_id), "now": now, "seen": now, "until": self._expiry(created_at, now)}
        if data is not None:
            values["stored"] = serialise(data)
        with self._transaction(connection) as writing:
            found = writing.execute(_TOUCH if data is None else _STORE, values).rowcount
        return found == 1

    def forget(self, session_ids: list[str], connection: Connection | None = None) -> None:
        if session_ids:
            with self._transaction(connection) as writing:
                writing.execute(delete(TABLE).where(TABLE.c.id_hash.in_([hash_id(i) for i in session_ids])))

    @contextmanager
    def _transaction(self, connection: Connection | None) -> Iterator[Connection]:
        """Its own short transaction; or ``connection``'s, which its owner commits."""
        if connection is not None:
            yield connection
            return
        with self.engine.begin() as own:
            yield own


class ServerSession(CallbackDict, SessionMixin):
    """The data of one session, its id (None until saved) and the ids to delete."""

    def __init__(self, loaded: Loaded | None = None, session_id: str | None = None, *,
                 had_cookie: bool = False) -> None:
        def on_update(self: ServerSession) -> None:
            self.modified = True

        super().__init__(loaded.data if loaded else None, on_update)
        self.session_id = session_id
        self.created_at = loaded.created_at if loaded else None
        self.last_seen_at = loaded.last_seen_at if loaded else None
        self.had_cookie = had_cookie
        self.ended: list[str] = []
        self.modified = False

    def renew(self) -> None:
        if self.session_id is not None:
            self.ended.append(self.session_id)
        self.session_id = None
        self.modified = True


class ServerSessionInterface(SessionInterface):
    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def open_session(self, app: Flask, request) -> ServerSession:  # noqa: ANN001 - flask Request
        raw = request.cookies.get(self.get_cookie_name(app))
        if raw is None:
            return ServerSession()
        loaded = self.store.load(raw, clock.naive_utc_now()) if ID_FORMAT.fullmatch(raw) else None
        if loaded is None:
            return ServerSession(had_cookie=True)
        return ServerSession(loaded, raw, had_cookie=True)

    def save_session(self, app: Flask, session: ServerSession, response) -> None:  # noqa: ANN001 - Response
        if session.accessed:
            response.vary.add("Cookie")
        if not session and session.session_id is not None:
            session.renew()  # emptied: the row goes
        now = clock.naive_utc_now()
        touch = session.session_id is not None and now - session.last_seen_at >= TOUCH_EVERY
        # What the view left to commit with the response (Database.commit_with_response):
        # these writes go in its transaction, committed once, before the response leaves.
        left = Database.left_to_commit()
        connection = left.connection() if left is not None else None
        if left is None and (session.ended or (session and (session.session_id is None or session.modified
                                                            or touch))):
            # The view is done: what it left uncommitted must not lock out these writes.
            Database.end_request_transaction()
        try:
            self._save(app, session, response, now, touch, connection)
        except BaseException:
            if left is not None:
                left.rollback()
            raise
        if left is not None:
            left.commit()

    def _save(self, app: Flask, session: ServerSession, response, now: datetime, touch: bool,  # noqa: ANN001
              connection: Connection | None) -> None:
        self.store.forget(session.ended, connection)
        session.ended = []
        if not session:
            if session.had_cookie:
                self._delete_cookie(app, response)
            return
        if session.session_id is None:
            new_id = secrets.token_urlsafe(32)
            self.store.create(new_id, dict(session), now, connection)
            session.session_id, session.created_at = new_id, now
            response.set_cookie(self.get_cookie_name(app), new_id, domain=self.get_cookie_domain(app),
                                path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
                                httponly=self.get_cookie_httponly(app), samesite=self.get_cookie_samesite(app))
            response.vary.add("Cookie")
        elif session.modified or touch:
            data = dict(session) if session.modified else None
            if not self.store.update(session.session_id, data, session.created_at, now, connection):
                self._delete_cookie(app, response)
        session.last_seen_at, session.modified = now, False

    def _delete_cookie(self, app: Flask, response) -> None:  # noqa: ANN001 - Response
        response.delete_cookie(self.get_cookie_name(app), domain=self.get_cookie_domain(app),
                               path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
                               httponly=self.get_cookie_httponly(app), samesite=self.get_cookie_samesite(app))
        response.vary.add("Cookie")


def init_app(app: Flask) -> None:
    """Serve the app's sessions from its database (``Database.init_app`` first,
    with ``SessionBase`` among its bases)."""
    store = SessionStore(Database.factory(app), clock.duration(app.config["SESSION_IDLE_TIMEOUT"]),
                         clock.duration(app.config["SESSION_MAX_AGE"]))
    app.session_interface = ServerSessionInterface(store)
    app.extensions[COMMITS_WITH_RESPONSE] = True  # save_session commits what views leave to it


def _current() -> ServerSession:
    current = session._get_current_object()  # noqa: SLF001 - the object behind the proxy
    if not isinstance(current, ServerSession):
        raise TypeError("this app does not use fedsim.sessions")
    return current


def regenerate() -> None:
    """A new id for the same data, at every login (no session fixation). The
    CSRF token, which whoever knew the old id may know, is dropped too:
    Flask-WTF makes a new one for the next form."""
    current = _current()
    current.renew()
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    current.pop(field, None)
    g.pop(field, None)


def destroy() -> None:
    """End the session, at logout: the data is cleared now, the row deleted
    and the cookie expired with the response. Data set afterwards in this
    request goes into a new session with a new id."""
    current = _current()
    current.clear()
    current.renew()
