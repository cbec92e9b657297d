"""Who is logged into Mon Espace in this browser, in which context, and
since when (idle timeout).

The session holds two kinds of keys. The person's, ``PERSON_KEYS``: who is
logged in, their account and context, the démarche they chose, what an
activation link allows, the idle-timeout notice. A login as someone else
starts without any of them; the same person logging in again (a step-up)
keeps them, the context aside. The rest is the browser's protocol state,
kept across a login: SAML logins in flight (``sp_relay_states``), Cerbère's
pending downstream request and what it asked CSAM for (``cerbere_pending``
and the ``monespace.cerbere`` keys), where to go after activation
(``after_activation``), and the single sign-on sessions this browser holds
at CSAM and at downstream services (``csam``, ``cerbere_sps``), so that the
next logout still ends them. Every login gives the session a new id;
logout and the idle timeout end it (``monespace.logout``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import session
from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from fedsim import clock, sessions, web
from monespace.identity import UpstreamIdentity
from monespace.models import ACTIVE, Account


def upstream() -> UpstreamIdentity | None:
    return UpstreamIdentity.from_session(session.get("upstream"))


def current_account(db: Session) -> Account | None:
    account_id = session.get("account_id")
    account = db.get(Account, account_id) if account_id else None
    return account if account is not None and account.is_active else None


# What Cerbère's answer reads of the account, with SQLAlchemy Core: on every
# SSO, loading the ORM object (identity map, relationships' loaders) cost
# more than the query.
_ACTIVE_ACCOUNT = select(Account.id, Account.cerbere_username, Account.given_name, Account.surname, Account.email,
                         Account.language, Account.contexts).where(Account.id == bindparam("id"),
                                                                   Account.status == ACTIVE)


def current_account_row(db: Session) -> Row | None:
    """The logged-in person's active account as a read-only row (its id,
    cerbere_username, names, email, language, contexts); None as
    ``current_account`` would be."""
    account_id = session.get("account_id")
    return db.connection().execute(_ACTIVE_ACCOUNT, {"id": account_id}).first() if account_id else None


@dataclass(frozen=True)
class Viewer:
    """What a page that only shows who is logged in reads of the account
    (the layout's name and contexts): no ORM object."""
    id: int
    given_name: str
    surname: str
    contexts: list[str]

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.surname}"


def current_viewer(db: Session) -> Viewer | None:
    """The logged-in person's active account as a ``Viewer``; None as
    ``current_account`` would be."""
    row = current_account_row(db)
    return None if row is None else Viewer(row.id, row.given_name, row.surname, row.contexts)


PERSON_KEYS = ("account_id", "upstream", "context", "seen", "demarche", "may_set_password", "after_password",
               "expired")
SEEN_EVERY = timedelta(minutes=1)  # "seen" is kept to the minute: no session write on every request


def log_in(who: UpstreamIdentity, account: Account | None) -> None:
    """``who`` is logged in (with ``account`` when active), in a session with a new id."""
    previous = upstream()
    if previous is None or previous.nrn != who.nrn:
        for key in PERSON_KEYS:
            session.pop(key, None)
    session.pop("context", None)
    sessions.regenerate()
    session["upstream"] = who.to_session()
    session["seen"] = clock.now().isoformat()
    if account is not None and account.is_active:
        session["account_id"] = account.id
    else:
        session.pop("account_id", None)


def safe_next(url: str | None, default: str = "/tableau-de-bord") -> str:
    """Only local paths: a ``next`` pointing elsewhere is ignored (fedsim.web.safe_next)."""
    return web.safe_next(url, default)


def context(account: Account | Row | Viewer) -> str | None:
    """The context the person works in; None while they must still choose (G10)."""
    chosen = session.get("context")
    if chosen in account.contexts:
        return chosen
    if len(account.contexts) == 1:
        session["context"] = account.contexts[0]
        return account.contexts[0]
    return None


def choose_context(account: Account | Viewer, chosen: str) -> bool:
    if chosen not in account.contexts:
        return False
    session["context"] = chosen
    return True


def touch() -> None:
    """The person is active now (to the minute)."""
    now = clock.now()
    try:
        recent = timedelta(0) <= now - datetime.fromisoformat(session["seen"]) < SEEN_EVERY
    except (KeyError, TypeError, ValueError):
        recent = False
    if not recent:
        session["seen"] = now.isoformat()


def idle_for_too_long(limit: timedelta) -> bool:
    """True when a logged-in session was idle longer than ``limit``."""
    seen = session.get("seen")
    if "account_id" not in session and "upstream" not in session:
        return False
    try:
        return seen is None or clock.now() - datetime.fromisoformat(seen) > limit
    except ValueError:
        return True
