"""Deleting expired state, so that no table grows without bound.

Each module that owns a table with an expiry offers ``purge(db, now) -> int``
(rows deleted). ``install(app, purges)`` runs an app's purges before a
request at most once per PURGE_INTERVAL per process, on the shared clock
(so freezegun and FEDSIM_CLOCK_OFFSET move it too); a failed purge is logged
and never fails the request.

``GRACE``: requests, codes and tokens are kept this long past their expiry,
so that someone who comes back late is told « expired », not « unknown ».
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fedsim import clock
from fedsim.db import Database

log = logging.getLogger(__name__)

GRACE = timedelta(hours=1)

Purge = Callable[[Session, datetime], int]


class Janitor:
    def __init__(self, factory: sessionmaker[Session], purges: Sequence[Purge], interval: timedelta) -> None:
        self.factory, self.purges, self.interval = factory, tuple(purges), interval
        self.last_run: datetime | None = None
        self._lock = threading.Lock()

    def due(self, now: datetime) -> bool:
        """Not run yet, run ``interval`` ago, or the clock went back since."""
        return self.last_run is None or not self.last_run <= now < self.last_run + self.interval

    def run(self, now: datetime) -> dict[str, int]:
        """Every purge now, each in its own transaction; rows deleted by purge."""
        deleted = {}
        with self.factory() as db:
            for purge in self.purges:
                name = f"{purge.__module__}.{purge.__qualname__}"
                try:
                    deleted[name] = purge(db, now)
                except SQLAlchemyError:
                    db.rollback()
                    log.exception("purge %s failed", name)
        self.last_run = now
        if any(deleted.values()):
            log.info("purged expired rows: %s", {k: v for k, v in deleted.items() if v})
        return deleted

    def run_if_due(self, now: datetime) -> None:
        if self.due(now) and self._lock.acquire(blocking=False):
            try:
                self.run(now)
            finally:
                self._lock.release()


def install(app: Flask, purges: Sequence[Purge]) -> Janitor:
    """Run ``purges`` from a ``before_request`` hook (``Database.init_app`` first)."""
    interval = clock.duration(app.config.get("PURGE_INTERVAL", timedelta(minutes=5)))
    janitor = Janitor(Database.factory(app), purges, interval)
    app.extensions["fedsim.janitor"] = janitor

    @app.before_request
    def _purge_expired() -> None:
        janitor.run_if_due(clock.naive_utc_now())

    return janitor
