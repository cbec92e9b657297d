"""What SAML entities must remember between requests, stored in each app's
own database: an SP's outstanding AuthnRequests and seen assertion IDs (the
replay cache), an IdP's authentication requests waiting for the user."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
