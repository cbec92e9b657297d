"""Races for the flow tests: one action run in many threads released
together by a barrier, so that their requests or guesses reach the database
at the same moment."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from fedsim.db import Database


@dataclass(frozen=True)
class Unexpected:
    """An exception that the action was not expected to raise."""
    exc: BaseException


def at_once(count: int, action: Callable[[int], object], *, refusals: tuple[type[BaseException], ...] = ()
            ) -> list[object]:
    """``action(i)`` for i in range(count), each in its own thread, all
    released together. Returns the outcomes in order: what the action
    returned, or the refusal (one of ``refusals``) it raised. Fails the test
    on any other exception, or when a thread did not finish."""
    barrier = threading.Barrier(count)
    outcomes: list[object] = [Unexpected(TimeoutError("did not finish"))] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = action(i)
        except refusals as refused:
            outcomes[i] = refused
        except Exception as exc:  # noqa: BLE001 - recorded, and the test fails on it
            outcomes[i] = Unexpected(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    unexpected = [o for o in outcomes if isinstance(o, Unexpected)]
    assert not unexpected, unexpected
    return outcomes


def with_db(app: Flask, guess: Callable[[Session], object], *, request: bool = False) -> Callable[[int], object]:
    """An action for ``at_once`` calling ``guess(db)`` with a database session
    of its own, inside an app context (a request context when ``request``)."""
    def action(_: int) -> object:
        context = app.test_request_context() if request else app.app_context()
        with context, Database.factory(app)() as db:
            return guess(db)
    return action
