"""Attempt counters that hold under concurrent guesses.

A guess may be checked only after it has claimed one try with a single
conditional ``UPDATE … SET tries = tries + 1 WHERE … AND tries < limit``,
committed before the secret is compared: the database serialises the
writers (SQLite takes its write lock, PostgreSQL a row lock), so N guesses
sent at once consume at most ``limit`` tries and the others are refused
without being checked. A correct guess resets the counter afterwards.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import InstrumentedAttribute, Session


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
