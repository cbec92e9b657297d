"""CSAM's OpenID Provider tables (idp_csam.oidc): the authorization requests
(pending, then answered with a code) and the access tokens; and their purge.
Codes and access tokens are stored as SHA-256 digests only."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fedsim.purge import GRACE
from idp_csam.models import Base


class OidcAuthorization(Base):
    """An authorization request of a relying party, then the code it was answered with."""
    __tablename__ = "oidc_authorization"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(500), default="")
    nonce: Mapped[str] = mapped_column(String(500), default="")
    code_challenge: Mapped[str | None] = mapped_column(String(128))   # S256 only
    acr_min: Mapped[str | None] = mapped_column(String(100))          # the weakest of acr_values
    prompt: Mapped[str] = mapped_column(String(100), default="")     # "", "login", "none"
    max_age: Mapped[int | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # pending, then answered (a code was sent) or refused (an error was sent)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # once answered: who, how, when, and the code (its digest)
    nrn: Mapped[str | None] = mapped_column(ForeignKey("citizen.nrn"))
    method: Mapped[str | None] = mapped_column(String(50))
    acr: Mapped[str | None] = mapped_column(String(100))
    auth_time: Mapped[datetime | None]
    sid: Mapped[str | None] = mapped_column(String(100))             # the CSAM SSO session's index
    code_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None]
    code_used_at: Mapped[datetime | None]


class OidcAccessToken(Base):
    __tablename__ = "oidc_access_token"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    authorization_id: Mapped[str] = mapped_column(ForeignKey("oidc_authorization.id"))
    expires_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(default=False)


def purge(db: Session, now: datetime) -> int:
    """Delete, ``GRACE`` past their expiry: access tokens, and authorization
    requests whose request and code have both expired and to which no token refers."""
    cutoff = now - GRACE
    deleted = db.execute(delete(OidcAccessToken).where(OidcAccessToken.expires_at < cutoff)).rowcount
    deleted += db.execute(delete(OidcAuthorization).where(
        OidcAuthorization.expires_at < cutoff,
        or_(OidcAuthorization.code_expires_at.is_(None), OidcAuthorization.code_expires_at < cutoff),
        OidcAuthorization.id.not_in(select(OidcAccessToken.authorization_id)))).rowcount
    db.commit()
    return deleted
