"""Who is logged into Mon Espace in this browser."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import session
from sqlalchemy.orm import Session

from monespace.identity import UpstreamIdentity
from monespace.models import Account


def upstream() -> UpstreamIdentity | None:
    return UpstreamIdentity.from_session(session.get("upstream"))


def current_account(db: Session) -> Account | None:
    account_id = session.get("account_id")
    account = db.get(Account, account_id) if account_id else None
    return account if account is not None and account.is_active else None


def log_in(who: UpstreamIdentity, account: Account | None) -> None:
    session["upstream"] = who.to_session()
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
