"""The itsme phone screen's service (idp_csam.itsme_op.telephone): the
itsme code typed on the phone confirms a request, « Refuser » rejects it;
``MAX_TRIES`` wrong codes, counted in the database (``fedsim.attempts``),
refuse it. No request, no page: testable with a database session only."""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fedsim import attempts, clock, keys
from idp_csam.itsme_models import ItsmeAuthorization, ItsmePhone

log = logging.getLogger("idp_csam.itsme_op")

CODE_LIFETIME = timedelta(minutes=3)      # authorization codes: ≤ 3 minutes, single use
MAX_TRIES = 3                             # wrong itsme codes, then the request is refused


def code_digest(phone: str, code: str) -> str:
    return hmac.new(keys.key("code"), f"itsme:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def phone_link_token(request_id: str) -> str:
    """The token of the phone link of request ``request_id``: a keyed hash of
    its id, so that the waiting page can show it again without storing it; the
    database keeps only ``link_digest`` of it."""
    mac = hmac.new(keys.key("code"), f"itsme-phone-link:{request_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def link_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_phone(raw: str) -> str | None:
    """Belgian mobile numbers as typed (0470 12 34 56, +32 470…, 0032 470…) → +32470123456."""
    digits = re.sub(r"[\s./()-]", "", raw or "")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+32" + digits[1:]
    return digits if re.fullmatch(r"\+\d{8,15}", digits) else None


def mask(phone: str) -> str:
    return phone[:6] + " •• •• " + phone[-2:]


@dataclass(frozen=True)
class Confirmation:
    """What one itsme code did to a request: ``approved``, ``wrong`` (``left``
    tries remain), ``refused`` (no try left: the request is refused) or
    ``closed`` (no longer pending); ``checked`` when the code was compared."""
    outcome: str
    checked: bool
    left: int = 0


def confirm(db: Session, request_id: str, code: str) -> Confirmation:
    """Check the itsme ``code`` typed on the phone for request ``request_id``.

    A try is claimed in the database before the code is compared
    (``fedsim.attempts``), so codes sent at once check at most ``MAX_TRIES``;
    the last wrong one refuses the request, and a right one approves it only
    while it is still pending (a conditional update: one outcome only)."""
    row = ItsmeAuthorization
    now = clock.naive_utc_now()
    if not attempts.claim(db, row.tries, MAX_TRIES, row.id == request_id, row.status == "pending",
                          row.expires_at > now):
        if _refuse_when_spent(db, request_id):
            return Confirmation("refused", checked=False)
        return Confirmation("closed", checked=False)
    phone, tries = db.execute(select(row.phone, row.tries).where(row.id == request_id)).one()
    expected = db.scalar(select(ItsmePhone.code_digest).where(ItsmePhone.phone == phone))
    if not hmac.compare_digest(expected, code_digest(phone, code)):
        left = max(MAX_TRIES - tries, 0)
        if left == 0 and _refuse_when_spent(db, request_id):
            return Confirmation("refused", checked=True)
        return Confirmation("wrong", checked=True, left=left)
    approved = db.execute(update(row).where(row.id == request_id, row.status == "pending").values(
        status="approved", code=secrets.token_urlsafe(32), code_expires_at=now + CODE_LIFETIME)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.commit()
    return Confirmation("approved" if approved else "closed", checked=True)


def reject(db: Session, request_id: str) -> bool:
    """« Refuser » on the phone: True when the request was still pending."""
    row = ItsmeAuthorization
    rejected = db.execute(update(row).where(row.id == request_id, row.status == "pending")
                          .values(status="rejected").execution_options(synchronize_session=False)).rowcount == 1
    db.commit()
    return rejected


def _refuse_when_spent(db: Session, request_id: str) -> bool:
    """Refuse the request if its tries are all spent (whichever guess sees it
    first); True when it is refused."""
    row = ItsmeAuthorization
    if db.execute(update(row).where(row.id == request_id, row.status == "pending", row.tries >= MAX_TRIES)
                  .values(status="refused").execution_options(synchronize_session=False)).rowcount == 1:
        log.info("itsme OP: request refused after %d wrong itsme codes", MAX_TRIES)
    db.commit()
    return db.scalar(select(row.status).where(row.id == request_id)) == "refused"
