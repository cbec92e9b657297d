"""Who is logged into Mon Espace in this browser, in which context, and
since when (idle timeout)."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import session
from sqlalchemy.orm import Session

from fedsim import clock

from monespace.identity import UpstreamIdentity
from monespace.models import Account


def upstream() -> UpstreamIdentity | None:
    return UpstreamIdentity.from_session(session.get("upstream"))


def current_account(db: Session) -> Account | None:
    account_id = session.get("account_id")
    account = db.get(Account, account_id) if account_id else None
    return account if account is not None and account.is_active else None


def log_in(who: UpstreamIdentity, account: Account | None) -> None:
    session.pop("context", None)
    session["upstream"] = who.to_session()
    touch()
    if account is not None and account.is_active:
        session["account_id"] = account.id
    else:
        session.pop("account_id", None)


def safe_next(url: str | None, default: str = "/tableau-de-bord") -> str:
    """Only local paths: a ``next`` pointing elsewhere is ignored."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return default
    return url


def context(account: Account) -> str | None:
    """The context the person works in; None while they must still choose (G10)."""
    chosen = session.get("context")
    if chosen in account.contexts:
        return chosen
    if len(account.contexts) == 1:
        session["context"] = account.contexts[0]
        return account.contexts[0]
    return None


def choose_context(account: Account, chosen: str) -> bool:
    if chosen not in account.contexts:
        return False
    session["context"] = chosen
    return True


def touch() -> None:
    session["seen"] = clock.now().isoformat()


def idle_for_too_long(limit: timedelta) -> bool:
    """True when a logged-in session was idle longer than ``limit``."""
    seen = session.get("seen")
    if "account_id" not in session and "upstream" not in session:
        return False
    try:
        return seen is None or clock.now() - datetime.fromisoformat(seen) > limit
    except ValueError:
        return True
