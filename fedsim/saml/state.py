"""What SAML entities must remember between requests, stored in each app's
own database: an SP's outstanding AuthnRequests and seen assertion IDs (the
replay cache), an IdP's authentication requests waiting for the user, the
LogoutRequest and AuthnRequest IDs already seen; and ``purge``, which deletes what can no longer serve."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, Text, delete
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from fedsim.purge import GRACE

# An assertion is accepted only in answer to an outstanding, unanswered,
# unexpired request (request lifetime 15 minutes, plus the clock skew), or,
# where unsolicited responses are enabled, before its NotOnOrAfter (minutes)
# plus the skew. Its ID is remembered for an hour, longer than both: past
# that, a replay is refused for those reasons already.
REPLAY_WINDOW = timedelta(hours=1)


class SamlStateBase(DeclarativeBase):
    pass


class OutstandingRequest(SamlStateBase):
    """An AuthnRequest this SP sent and has not yet seen answered."""
    __tablename__ = "saml_outstanding_request"

    request_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    relay_state: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    next_url: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class SeenAssertion(SamlStateBase):
    """Replay cache: an assertion ID is accepted once."""
    __tablename__ = "saml_seen_assertion"

    assertion_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    seen_at: Mapped[datetime]


class PendingAuthn(SamlStateBase):
    """An AuthnRequest an IdP accepted and is answering once the user has
    authenticated. ``payload`` is the neutral request as JSON."""
    __tablename__ = "saml_pending_authn"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class SeenLogoutRequest(SamlStateBase):
    """Replay cache of Single Logout: a LogoutRequest ID is accepted once
    per issuer. Kept until ``expires_at``; past it, the request is refused
    as too old anyway (fedsim.saml.slo)."""
    __tablename__ = "saml_seen_logout_request"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SeenAuthnRequest(SamlStateBase):
    """An IdP's replay cache of AuthnRequests: a request ID is accepted
    once per SP (fedsim.saml.idp.IdentityProvider.remember). Kept until
    ``expires_at``, the end of the request's acceptance window: past it, the
    request is refused as too old anyway (fedsim.saml.authn_request)."""
    __tablename__ = "saml_seen_authn_request"

    sp_entity_id: Mapped[str] = mapped_column(String(500), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


def purge(db: Session, now: datetime) -> int:
    """Requests past expiry (kept ``GRACE`` longer, to say « expired » rather
    than « unknown »), and replay-cache entries older than ``REPLAY_WINDOW``."""
    deleted = 0
    for statement in (delete(OutstandingRequest).where(OutstandingRequest.expires_at < now - GRACE),
                      delete(PendingAuthn).where(PendingAuthn.expires_at < now - GRACE),
                      delete(SeenAssertion).where(SeenAssertion.seen_at < now - REPLAY_WINDOW),
                      delete(SeenLogoutRequest).where(SeenLogoutRequest.expires_at < now),
                      delete(SeenAuthnRequest).where(SeenAuthnRequest.expires_at < now)):
        deleted += db.execute(statement).rowcount
    db.commit()
    return deleted
