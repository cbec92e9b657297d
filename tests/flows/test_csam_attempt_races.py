"""Guesses sent at once (issue « Authentication abuse »): 30 threads, each
with its own database session, consume exactly the limit of tries, never
more, and never fail with anything but a refusal."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pyotp
from at_once import at_once, with_db

from fedsim import clock
from fedsim.db import Database
from fedsim.personas import by_id
from idp_csam.credentials import CsamAccount, PasswordRefused
from idp_csam.methods import app_code, email_code
from idp_csam.methods.app_code import AppCodeKey, AppCodeLogin, Login
from idp_csam.methods.email_code import CodeRefused, EmailCodeChallenge

THREADS = 30


def _at_once(app, guess) -> list[object]:
    """``guess(db)`` in THREADS threads released together; outcomes or the refusal raised."""
    return at_once(THREADS, with_db(app, guess), refusals=(CodeRefused, PasswordRefused, app_code.CodeRefused))


def test_thirty_wrong_email_codes_at_once_check_five(federation):
    app = federation.apps["idp_csam"]
    now = clock.naive_utc_now()
    with app.app_context(), Database.factory(app)() as db:
        challenge = EmailCodeChallenge(id="race", nrn=by_id("naima").nrn, created_at=now,
                                       expires_at=now + timedelta(minutes=10))
        challenge.code_digest = email_code._digest("race", "123456")
        db.add(challenge)
        db.commit()
    checked = []

    def guess(db):
        try:
            return email_code.check_challenge(db, db.get(EmailCodeChallenge, "race"), "000000")
        except CodeRefused as refused:
            checked.append("incorrect" in refused.message)
            raise

    _at_once(app, guess)
    assert checked.count(True) == app.config["EMAIL_CODE_MAX_ATTEMPTS"]
    with Database.factory(app)() as db:
        assert db.get(EmailCodeChallenge, "race").attempts == app.config["EMAIL_CODE_MAX_ATTEMPTS"]


def _app_login(app, username: str, secret: str) -> Login:
    with app.app_context(), Database.factory(app)() as db:
        if db.get(AppCodeKey, username) is None:
            db.add(AppCodeKey(username=username, secret=secret, confirmed=True))
        login = Login(username=username, nrn=by_id("naima").nrn, id=f"race-{time.monotonic_ns()}")
        db.add(AppCodeLogin(id=login.id, username=username, created_at=clock.naive_utc_now()))
        db.commit()
    return login


def test_thirty_wrong_app_codes_at_once_check_five(federation):
    app = federation.apps["idp_csam"]
    secret = pyotp.random_base32()
    login = _app_login(app, by_id("naima").csam.username, secret)
    wrong = f"{(int(pyotp.TOTP(secret).at(clock.now())) + 500_000) % 10**6:06d}"

    def guess(db):
        return app_code.attempt(db, login, db.get(AppCodeKey, login.username), wrong, app_code.MAX_TRIES)

    outcomes = _at_once(app, guess)
    assert len([o for o in outcomes if o is not None and o.message.startswith("Code de sécurité incorrect")]) == 5
    assert all(o is not None for o in outcomes)
    with Database.factory(app)() as db:
        assert db.get(AppCodeLogin, login.id).tries == app_code.MAX_TRIES


def test_one_valid_app_code_sent_thirty_times_at_once_logs_in_once(federation):
    app = federation.apps["idp_csam"]
    secret = pyotp.random_base32()
    username = by_id("naima").csam.username
    logins = [_app_login(app, username, secret) for _ in range(THREADS)]  # even from 30 browsers
    code = pyotp.TOTP(secret).at(clock.now())
    claimed = iter(logins)
    lock = threading.Lock()

    def guess(db):
        with lock:
            login = next(claimed)
        return app_code.attempt(db, login, db.get(AppCodeKey, username), code, app_code.MAX_TRIES)

    outcomes = _at_once(app, guess)
    assert outcomes.count(None) == 1
    assert all(app_code.REUSED in o.message for o in outcomes if o is not None)


def test_thirty_wrong_passwords_at_once_check_five_and_lock(federation):
    app = federation.apps["idp_csam"]
    jean = by_id("jean").csam
    credentials = app.extensions["idp_csam.credentials"]
    outcomes = _at_once(app, lambda db: credentials.verify(db, jean.username, "not-" + jean.password))
    assert {o.message for o in outcomes} == {credentials.refusal}
    with Database.factory(app)() as db:
        account = db.get(CsamAccount, jean.username)
        assert account.failed_logins == credentials.max_failures and account.locked_until is not None


def test_unknown_wrong_and_locked_usernames_read_the_same(federation):
    app = federation.apps["idp_csam"]
    naima = by_id("naima").csam
    credentials = app.extensions["idp_csam.credentials"]
    messages, timings = {}, {}
    with app.app_context(), Database.factory(app)() as db:
        for label, username, password in (("unknown", "nobody-here", "whatever"),
                                          ("wrong", naima.username, "not-" + naima.password),
                                          *[("again", naima.username, "x")] * credentials.max_failures,
                                          ("locked, right password", naima.username, naima.password)):
            started = time.perf_counter()
            try:
                credentials.verify(db, username, password)
            except PasswordRefused as refused:
                messages[label] = refused.message
            timings[label] = time.perf_counter() - started
    assert set(messages.values()) == {credentials.refusal}, messages
    assert set(messages) == {"unknown", "wrong", "again", "locked, right password"}
    print("password check timings (ms):", {k: round(v * 1000) for k, v in timings.items()})
