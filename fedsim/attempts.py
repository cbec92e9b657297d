"""Attempt counters that hold under concurrent guesses.

A guess may be checked only after it has claimed one try with a single
conditional ``UPDATE … SET tries = tries + 1 WHERE … AND tries < limit``,
committed before the secret is compared: the database serialises the
writers (SQLite takes its write lock, PostgreSQL a row lock), so N guesses
sent at once consume at most ``limit`` tries and the others are refused
without being checked. A correct guess resets the counter afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from fedsim import clock
from fedsim.passwords import (
    check_password_hash,
    dummy_hash,
    generate_password_hash,
    needs_rehash,
)


def claim(db: Session, counter: InstrumentedAttribute[int], limit: int, *where: ColumnElement[bool],
          **values: Any) -> bool:
    """Add one to ``counter`` in the row(s) matched by ``where`` if it is
    below ``limit`` (also setting ``values``), and commit. True when a try
    was claimed; the caller may then check the guess."""
    entity = counter.class_
    statement = (update(entity).where(*where, counter < limit)
                 .values({counter.key: counter + 1, **values})
                 .execution_options(synchronize_session=False))
    claimed = db.execute(statement).rowcount == 1
    db.commit()
    return claimed


@dataclass(frozen=True)
class LockedPassword:
    """A password with a lockout, in columns of one table: its hash, the
    failed tries and the end of the lock. One check of a username +
    password, as CSAM's accounts, Cerbère's and the BEL agents' are checked:
    a lock that has ended is lifted; a try is claimed first (``claim``), the
    claim that uses the last of ``limit`` locks the row for ``lockout``; a
    right password resets the counter and replaces a hash made at an older
    cost. Unknown, wrong and locked all cost one hash check (a dummy one),
    so that neither the answer nor its time tells whether the row exists."""
    hash: InstrumentedAttribute[str]
    failures: InstrumentedAttribute[int]
    locked_until: InstrumentedAttribute[datetime | None]
    limit: int
    lockout: timedelta

    def check(self, db: Session, key: ColumnElement[bool] | None, stored: str | None, password: str | None) -> bool:
        """Whether ``password`` is right for the row ``key`` whose hash is
        ``stored`` (``key`` None: no such row, or one that may not log in)."""
        password = password or ""
        if key is None or stored is None:
            check_password_hash(dummy_hash(), password)
            return False
        entity, now = self.failures.class_, clock.naive_utc_now()
        db.execute(update(entity).where(key, self.locked_until <= now)
                   .values({self.failures.key: 0, self.locked_until.key: None})
                   .execution_options(synchronize_session=False))
        locks = case((self.failures + 1 >= self.limit, now + self.lockout), else_=self.locked_until)
        if not claim(db, self.failures, self.limit, key, **{self.locked_until.key: locks}):
            check_password_hash(dummy_hash(), password)
            return False
        if not check_password_hash(stored, password):
            return False
        upgraded = {self.hash.key: generate_password_hash(password)} if needs_rehash(stored) else {}
        db.execute(update(entity).where(key).values({self.failures.key: 0, self.locked_until.key: None, **upgraded})
                   .execution_options(synchronize_session=False))
        db.commit()
        return True
