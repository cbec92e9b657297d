"""fedsim.sessions (server-side sessions), fedsim.keys (one key per purpose)
and fedsim.purge (expired state), on a small Flask app with its own SQLite
database."""
from __future__ import annotations

import hashlib
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask, request, session
from freezegun import freeze_time
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fedsim import clock, keys, purge, sessions
from fedsim.db import Database
from fedsim.saml import state
from fedsim.saml.state import OutstandingRequest, PendingAuthn, SamlStateBase, SeenAssertion
from fedsim.sessions import ID_FORMAT, SessionBase, SessionStore, StoredSession

COOKIE = "test_session"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = Flask("sessions-test")
    app.config.update(DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}", SECRET_KEY="test",
                      SESSION_COOKIE_NAME=COOKIE, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_IDLE_TIMEOUT=timedelta(hours=1), SESSION_MAX_AGE=timedelta(hours=8))
    Database(SessionBase, SamlStateBase).init_app(app)
    sessions.init_app(app)

    @app.get("/read")
    def read():  # noqa: ANN202
        return {key: repr(value) for key, value in session.items()}

    @app.post("/set")
    def set_values():  # noqa: ANN202
        session.update(request.get_json())
        return "ok"

    @app.post("/when")
    def when():  # noqa: ANN202
        session["when"] = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
        session["pair"] = ("a", 1)
        return "ok"

    @app.post("/login")
    def login():  # noqa: ANN202
        sessions.regenerate()
        session["user"] = "jean"
        return "ok"

    @app.post("/logout")
    def logout():  # noqa: ANN202
        sessions.destroy()
        if request.args.get("plan"):
            session["plan"] = ["csam"]
        return "ok"

    @app.post("/empty")
    def empty():  # noqa: ANN202
        session.clear()
        return "ok"

    @app.post("/flushed")
    def flushed():  # noqa: ANN202
        """A view that leaves a write uncommitted (as one that fails midway)."""
        now = clock.naive_utc_now()
        Database.session().add(StoredSession(id_hash="0" * 64, data="{}", created_at=now, last_seen_at=now,
                                             expires_at=now))
        Database.session().flush()
        session["after"] = "flush"
        return "ok"

    return app


def rows(app: Flask) -> list[StoredSession]:
    with Database.factory(app)() as db:
        return list(db.scalars(select(StoredSession)))


def set_cookies(response) -> list[str]:  # noqa: ANN001
    return response.headers.getlist("Set-Cookie")


def cookie(client) -> str | None:  # noqa: ANN001
    found = client.get_cookie(COOKIE)
    return found.value if found else None


# -- what is stored, and when ------------------------------------------------------

def test_an_untouched_session_writes_nothing_and_sends_no_cookie(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/read")
    assert response.status_code == 200 and set_cookies(response) == []
    assert rows(app) == []


def test_the_cookie_holds_a_random_id_and_the_database_its_hash(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/set", json={"nrn": "78020106109", "name": "Jean Dupont"})
    [header] = set_cookies(response)
    value = cookie(client)
    assert ID_FORMAT.fullmatch(value)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "78020106109" not in header and "Jean" not in header
    [row] = rows(app)
    assert row.id_hash == hashlib.sha256(value.encode()).hexdigest() and value not in row.id_hash
    assert client.get("/read").get_json() == {"nrn": "'78020106109'", "name": "'Jean Dupont'"}


def test_dates_and_tuples_round_trip(app: Flask) -> None:
    client = app.test_client()
    client.post("/when")
    data = client.get("/read").get_json()
    assert data["when"] == repr(datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)) and data["pair"] == "('a', 1)"


def test_an_unchanged_session_is_written_at_most_once_a_minute(app: Flask) -> None:
    client = app.test_client()
    start = datetime.now(timezone.utc)
    with freeze_time(start):
        client.post("/set", json={"a": 1})
    first = rows(app)[0].last_seen_at
    with freeze_time(start + timedelta(seconds=30)):
        response = client.get("/read")
    assert set_cookies(response) == [] and rows(app)[0].last_seen_at == first
    with freeze_time(start + timedelta(seconds=90)):
        response = client.get("/read")
    assert set_cookies(response) == []  # same id: nothing to tell the browser
    assert rows(app)[0].last_seen_at == first + timedelta(seconds=90)


def test_a_session_emptied_is_deleted_with_its_cookie(app: Flask) -> None:
    client = app.test_client()
    client.post("/set", json={"a": 1})
    response = client.post("/empty")
    assert rows(app) == [] and cookie(client) is None
    assert any("Expires=Thu, 01 Jan 1970" in h for h in set_cookies(response))


def test_a_view_that_left_a_write_uncommitted_does_not_block_the_session(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/flushed").status_code == 200
    assert [r.id_hash for r in rows(app)] != ["0" * 64] and len(rows(app)) == 1  # the flushed row: rolled back


# -- bad cookies -------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "x", "A" * 43, "A" * 42 + "!", "../../etc/passwd", "é" * 43, "\x00\xff" * 30, "A" * 5000,
    'eyJucm4iOiI3ODAyMDEwNjEwOSJ9.ZmFrZQ.c2lnbmVk',  # what a signed cookie session looked like
])
def test_a_cookie_naming_no_session_is_a_fresh_session(app: Flask, value: str) -> None:
    client = app.test_client(use_cookies=False)  # sends the raw header as given
    raw = {"HTTP_COOKIE": f"{COOKIE}={value}"}
    response = client.get("/read", environ_overrides=raw)
    assert response.status_code == 200 and response.get_json() == {}
    assert [h.split(";")[0] for h in set_cookies(response)] == [f"{COOKIE}="]  # forgotten, never echoed
    response = client.post("/set", json={"a": 1}, environ_overrides=raw)
    [header] = set_cookies(response)
    assert response.status_code == 200 and ID_FORMAT.fullmatch(header.split(";")[0].removeprefix(f"{COOKIE}="))


# -- login and logout --------------------------------------------------------------

def test_regenerate_gives_the_same_data_a_new_id_and_kills_the_old_one(app: Flask) -> None:
    client = app.test_client()
    client.post("/set", json={"relay": "r1", "csrf_token": "known-to-whoever-had-the-old-id"})
    before = cookie(client)
    client.post("/login")
    after = cookie(client)
    assert after != before and ID_FORMAT.fullmatch(after)
    assert client.get("/read").get_json() == {"relay": "'r1'", "user": "'jean'"}  # CSRF token dropped
    assert len(rows(app)) == 1
    stale = app.test_client()
    stale.set_cookie(COOKIE, before)
    assert stale.get("/read").get_json() == {}


def test_destroy_deletes_the_row_and_expires_the_cookie(app: Flask) -> None:
    client = app.test_client()
    client.post("/login")
    copied = cookie(client)
    response = client.post("/logout")
    assert rows(app) == [] and cookie(client) is None
    assert any(h.startswith(f"{COOKIE}=;") for h in set_cookies(response))
    replay = app.test_client()
    replay.set_cookie(COOKIE, copied)
    assert replay.get("/read").get_json() == {}


def test_what_is_set_after_destroy_goes_into_a_new_session(app: Flask) -> None:
    client = app.test_client()
    client.post("/login")
    copied = cookie(client)
    client.post("/logout?plan=1")
    assert cookie(client) not in (None, copied)
    assert client.get("/read").get_json() == {"plan": "['csam']"}
    assert len(rows(app)) == 1


def test_a_session_ended_meanwhile_is_not_brought_back(app: Flask) -> None:
    store = SessionStore(Database.factory(app), timedelta(hours=1), timedelta(hours=8))
    now = clock.naive_utc_now()
    store.create("A" * 43, {"user": "jean"}, now)
    store.forget(["A" * 43])  # a logout in another tab
    assert store.update("A" * 43, {"user": "jean", "more": 1}, now, now) is False
    assert rows(app) == []


# -- lifetime ----------------------------------------------------------------------

def test_idle_and_absolute_expiry(app: Flask) -> None:
    client = app.test_client()
    start = datetime.now(timezone.utc)
    with freeze_time(start):
        client.post("/set", json={"a": 1})
    for hours in range(1, 8):  # active every 50 minutes: alive until SESSION_MAX_AGE
        with freeze_time(start + timedelta(minutes=50 * hours)):
            assert client.get("/read").get_json() == {"a": "1"}
    with freeze_time(start + timedelta(hours=8, seconds=1)):
        assert client.get("/read").get_json() == {}
    idle = app.test_client()
    with freeze_time(start):
        idle.post("/set", json={"b": 2})
    with freeze_time(start + timedelta(hours=1, seconds=1)):
        assert idle.get("/read").get_json() == {}


def test_purge_deletes_expired_sessions_only(app: Flask) -> None:
    now = clock.naive_utc_now()
    with Database.factory(app)() as db:
        for name, expires in (("old", now - timedelta(seconds=1)), ("live", now + timedelta(minutes=5))):
            db.add(StoredSession(id_hash=name, data="{}", created_at=now, last_seen_at=now, expires_at=expires))
        db.commit()
        assert sessions.purge(db, now) == 1
        assert list(db.scalars(select(StoredSession.id_hash))) == ["live"]


# -- expired SAML state ------------------------------------------------------------

def test_saml_state_purge_keeps_what_can_still_serve(app: Flask) -> None:
    now = clock.naive_utc_now()
    long_expired = now - purge.GRACE - timedelta(minutes=1)
    just_expired = now - timedelta(minutes=1)
    with Database.factory(app)() as db:
        for key, expires in (("old", long_expired), ("late", just_expired), ("live", now + timedelta(minutes=5))):
            db.add(OutstandingRequest(request_id=key, relay_state=key, next_url="/", expires_at=expires))
            db.add(PendingAuthn(key=key, payload="{}", expires_at=expires))
        too_old = now - state.REPLAY_WINDOW - timedelta(seconds=1)
        db.add(SeenAssertion(assertion_id="old", issuer="idp", seen_at=too_old))
        db.add(SeenAssertion(assertion_id="recent", issuer="idp", seen_at=now - timedelta(minutes=20)))
        db.commit()
        assert state.purge(db, now) == 3
        assert sorted(db.scalars(select(OutstandingRequest.request_id))) == ["late", "live"]
        assert sorted(db.scalars(select(PendingAuthn.key))) == ["late", "live"]
        assert list(db.scalars(select(SeenAssertion.assertion_id))) == ["recent"]


def test_the_replay_window_outlasts_a_request(app: Flask) -> None:
    """An assertion ID is kept longer than its request can be answered (15
    minutes) plus the clock skew (60 seconds)."""
    assert state.REPLAY_WINDOW > timedelta(minutes=15) + timedelta(seconds=60)


# -- the janitor ---------------------------------------------------------------------

def test_the_janitor_runs_at_most_once_per_interval(app: Flask) -> None:
    calls: list[datetime] = []

    def counting(db: Session, now: datetime) -> int:
        calls.append(now)
        return 0

    janitor = purge.Janitor(Database.factory(app), [counting], timedelta(minutes=5))
    start = clock.naive_utc_now()
    for seconds in (0, 10, 299):
        janitor.run_if_due(start + timedelta(seconds=seconds))
    janitor.run_if_due(start + timedelta(minutes=5))
    janitor.run_if_due(start - timedelta(minutes=1))  # the clock went back (a demo, a test)
    assert calls == [start, start + timedelta(minutes=5), start - timedelta(minutes=1)]


def test_the_janitor_runs_before_a_request_on_the_moved_clock(app: Flask) -> None:
    purge.install(app, [sessions.purge])
    client = app.test_client()
    client.post("/set", json={"a": 1})  # idle timeout: one hour
    other = app.test_client()
    with freeze_time(datetime.now(timezone.utc) + timedelta(hours=2)):
        other.get("/read")
    assert rows(app) == []


def test_a_failing_purge_does_not_fail_the_request(app: Flask) -> None:
    def broken(db: Session, now: datetime) -> int:
        db.execute(select(func.count()).select_from(StoredSession).where(StoredSession.data == func.nope()))
        return 0

    purge.install(app, [broken, sessions.purge])
    assert app.test_client().get("/read").status_code == 200


# -- keys ----------------------------------------------------------------------------

def test_each_purpose_has_its_own_owner_only_key(tmp_path: Path) -> None:
    keyring = keys.Keyring.load(tmp_path)
    values = [keyring.key(p) for p in keys.PURPOSES]
    assert len(set(values)) == len(values)
    for purpose in keys.PURPOSES:
        mode = stat.S_IMODE((tmp_path / "keys" / f"{purpose}.key").stat().st_mode)
        assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert keys.Keyring.load(tmp_path) == keyring  # kept


def test_an_old_single_secret_is_inherited_once_except_for_cookies(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("the-old-secret\n")
    keyring = keys.Keyring.load(tmp_path)
    for purpose in ("pin", "code", "pairwise", "identity"):
        assert keyring.key(purpose) == b"the-old-secret"
    assert keyring.key("session") != b"the-old-secret"
    assert not (tmp_path / "secret_key").exists()
    (tmp_path / "keys" / "session.key").unlink()  # rotating the cookie key
    rotated = keys.Keyring.load(tmp_path)
    assert rotated.key("session") not in (keyring.key("session"), b"the-old-secret")
    assert rotated.key("pairwise") == b"the-old-secret"


def test_secret_key_is_the_session_key_unless_configured(tmp_path: Path) -> None:
    app = Flask("keys-test", instance_path=str(tmp_path))
    keys.init_app(app, ("pairwise",))
    assert app.config["SECRET_KEY"].encode() == app.extensions["fedsim.keys"].key("session")
    with app.app_context():
        assert keys.key("pairwise") != keys.key("session")
        with pytest.raises(KeyError):
            keys.key("pin")  # not asked for by this app
    configured = Flask("keys-test", instance_path=str(tmp_path))
    configured.config["SECRET_KEY"] = "from-config"
    keys.init_app(configured, ("pairwise",))
    assert configured.config["SECRET_KEY"] == "from-config"


# -- the stored text: exactly Flask's TaggedJSONSerializer ------------------------------------


SESSION_VALUES = [
    {},
    {"a": "é", "n": 1, "f": 1.5, "b": True, "none": None, "list": [1, "x", {"k": ["v"]}]},
    {"cerbere_sps": [{"sp": "https://sp/metadata", "name_id": "abc", "session_index": "_1"}],
     "csam": {"authn_instant": "2026-01-01T00:00:00+00:00"}, "_fresh": False, "z": {"y": {}}},
    {"tuple": (1, 2)}, {"bytes": b"\x00\xff"}, {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)},
    {"escaped": {" t": [1]}}, {"escaped": {" di": {"x": 1}}}, {"nested": [{" m": "<b>"}]},
    {"spaced": " leading space", "quote": 'say " hi'}, {"markup": __import__("markupsafe").Markup("<i>x</i>")},
    {"uuid": __import__("uuid").UUID(int=5)}, {1: "int key"},
]


@pytest.mark.parametrize("value", SESSION_VALUES, ids=range(len(SESSION_VALUES)))
def test_the_stored_text_is_flasks_tagged_json_and_reads_back_the_same(app: Flask, value: dict) -> None:
    with app.app_context():
        text = sessions.serialise(value)
        assert text == sessions.SERIALIZER.dumps(value)
        assert sessions.deserialise(text) == sessions.SERIALIZER.loads(text)
        assert type(sessions.deserialise(text)) is type(sessions.SERIALIZER.loads(text))


def test_tagged_values_take_flasks_path() -> None:
    assert sessions._plain({"a": [1, "b", {"c": None}]})
    for tagged in ({"a": (1,)}, {"a": b"x"}, {" t": 1}, {"a": [{" d": 1}]}, {1: "x"},
                   {"a": __import__("markupsafe").Markup("x")}):
        assert not sessions._plain(tagged), tagged


# -- a view's writes committed with the session's row (Database.commit_with_response) -------


def _pending_keys(app: Flask) -> list[str]:
    with Database.factory(app)() as db:
        return list(db.scalars(select(PendingAuthn.key)))


def _leave_a_write(app: Flask, *, then_session: bool = True, then_fail: bool = False) -> None:
    @app.post("/leave")
    def leave():  # noqa: ANN202
        db = Database.session()
        now = clock.naive_utc_now()
        db.connection().execute(PendingAuthn.__table__.insert(), {"key": "k1", "payload": "{}",
                                                                   "expires_at": now, "answered_at": now})
        assert Database.commit_with_response(db)
        assert _pending_keys(app) == []  # not committed yet
        if then_session:
            session["answered"] = "k1"
        if then_fail:
            raise RuntimeError("the view fails after its write")
        return "ok"


def test_a_write_left_to_the_response_is_committed_with_the_session_row(app: Flask) -> None:
    _leave_a_write(app)
    client = app.test_client()
    assert client.post("/leave").status_code == 200
    assert _pending_keys(app) == ["k1"]
    assert [r.id_hash for r in rows(app)] == [hashlib.sha256(cookie(client).encode()).hexdigest()]


def test_a_write_left_to_the_response_is_committed_without_a_session_change(app: Flask) -> None:
    _leave_a_write(app, then_session=False)
    client = app.test_client()
    assert client.post("/leave").status_code == 200 and set_cookies(client.post("/read")) == []
    assert _pending_keys(app) == ["k1"] and rows(app) == []


def test_a_write_left_to_the_response_is_committed_even_when_the_view_then_fails(app: Flask) -> None:
    # as when the view committed it at once: the failure comes after it
    _leave_a_write(app, then_fail=True)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError):
        app.test_client().post("/leave")
    assert _pending_keys(app) == ["k1"]


def test_outside_a_request_or_for_another_session_the_caller_commits_now(app: Flask) -> None:
    with Database.factory(app)() as db:
        assert not Database.commit_with_response(db)
    with app.test_request_context("/"), Database.factory(app)() as other:
        Database.session()
        assert not Database.commit_with_response(other)


def test_the_session_row_failing_rolls_the_left_write_back(app: Flask, monkeypatch) -> None:
    # fail closed: no response leaves, and nothing of the request is half kept
    _leave_a_write(app)

    def broken(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        raise RuntimeError("database gone")

    monkeypatch.setattr(SessionStore, "create", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError, match="database gone"):
        app.test_client().post("/leave")
    assert _pending_keys(app) == [] and rows(app) == []
