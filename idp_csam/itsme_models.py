"""The itsme OP's tables (idp_csam.itsme_op): the simulated itsme accounts,
the authorization requests waiting for a phone, access tokens and the replay
cache of client assertions; and their purge."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fedsim.purge import GRACE
from idp_csam.models import Base


class ItsmePhone(Base):
    """A simulated itsme account: a phone number and its 5-digit itsme code (keyed hash)."""
    __tablename__ = "itsme_phone"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    nrn: Mapped[str] = mapped_column(ForeignKey("citizen.nrn"))
    code_digest: Mapped[str] = mapped_column(String(64))


class ItsmeAuthorization(Base):
    """An authorization request waiting for the person's phone, then its code."""
    __tablename__ = "itsme_authorization"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(200))
    nonce: Mapped[str] = mapped_column(String(200))
    acr: Mapped[str] = mapped_column(String(100))
    claims: Mapped[str] = mapped_column(String(2000))  # JSON list of requested ID token claims
    phone: Mapped[str] = mapped_column(ForeignKey("itsme_phone.phone"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # pending, then approved, rejected, expired or refused (3 wrong codes), then sent (told to the browser)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    phone_link_digest: Mapped[str | None] = mapped_column(String(64), unique=True)  # SHA-256 of the link's token
    tries: Mapped[int] = mapped_column(default=0)  # itsme codes checked (fedsim.attempts.claim)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None]
    code_used_at: Mapped[datetime | None]


class ItsmeAccessToken(Base):
    __tablename__ = "itsme_access_token"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    authorization_id: Mapped[str] = mapped_column(ForeignKey("itsme_authorization.id"))
    expires_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(default=False)


class ItsmeAssertionJti(Base):
    """jti of client assertions already used (private_key_jwt replay cache)."""
    __tablename__ = "itsme_assertion_jti"

    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime]


def purge(db: Session, now: datetime) -> int:
    """Delete, ``GRACE`` past their expiry: access tokens, used client-assertion
    jtis (an expired assertion is refused anyway), and authorization requests
    whose request and code have both expired and to which no token refers
    (with them their phone link's digest and their count of wrong codes)."""
    cutoff = now - GRACE
    deleted = db.execute(delete(ItsmeAccessToken).where(ItsmeAccessToken.expires_at < cutoff)).rowcount
    deleted += db.execute(delete(ItsmeAssertionJti).where(ItsmeAssertionJti.expires_at < cutoff)).rowcount
    deleted += db.execute(delete(ItsmeAuthorization).where(
        ItsmeAuthorization.expires_at < cutoff,
        or_(ItsmeAuthorization.code_expires_at.is_(None), ItsmeAuthorization.code_expires_at < cutoff),
        ItsmeAuthorization.id.not_in(select(ItsmeAccessToken.authorization_id)))).rowcount
    db.commit()
    return deleted
