"""CSAM's own records: the citizens it knows and their eID cards."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Citizen(Base):
    __tablename__ = "citizen"

    nrn: Mapped[str] = mapped_column(String(11), primary_key=True)
    persona_id: Mapped[str] = mapped_column(String(50), unique=True)
    given_name: Mapped[str]
    surname: Mapped[str]
    email: Mapped[str]
    language: Mapped[str] = mapped_column(String(2))
    fedid: Mapped[str] = mapped_column(String(64), unique=True)
    # the persona's own attributes ({name: [values]}), released besides the standard ones
    attributes: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, default=None)
    cards: Mapped[list["EidCard"]] = relationship(back_populates="holder")


class EidCard(Base):
    """A virtual Belgian eID. PIN and PUK are kept as keyed hashes; three
    wrong PINs block the card until its PUK unblocks it, three wrong PUKs
    block it for good. The chip (key pair, certificate) lives in
    ``certs/eid/card-<number>.*`` (idp_csam.cardpki); ``cert_serial`` names
    its certificate, ``revoked_at`` puts it on the citizen CA's CRL."""
    __tablename__ = "eid_card"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    holder_nrn: Mapped[str] = mapped_column(ForeignKey("citizen.nrn"))
    pin_digest: Mapped[str] = mapped_column(String(64))
    failed_pin_tries: Mapped[int] = mapped_column(default=0)
    blocked_at: Mapped[datetime | None]
    puk_digest: Mapped[str | None] = mapped_column(String(64))
    failed_puk_tries: Mapped[int] = mapped_column(default=0)
    cert_serial: Mapped[str | None] = mapped_column(String(64))  # hex, of the chip's certificate
    revoked_at: Mapped[datetime | None]
    holder: Mapped[Citizen] = relationship(back_populates="cards")

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None


class BelAgent(Base):
    """An agent of a Bureau d'Enregistrement Local, who logs in to the BEL
    page (G20): seeded from the personas' ``bel_agent``. The password is
    hashed with fedsim.passwords; ``failed_logins`` tries, then locked."""
    __tablename__ = "bel_agent"

    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    nrn: Mapped[str] = mapped_column(ForeignKey("citizen.nrn"), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
