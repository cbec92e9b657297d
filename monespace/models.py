"""Mon Espace records: accounts (with their Cerbère Citoyen identifier),
activation links and dossiers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


PENDING, ACTIVE = "pending", "active"  # an account's status: e-mail not yet confirmed, in use


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    nrn: Mapped[str] = mapped_column(String(11), unique=True)
    given_name: Mapped[str]
    surname: Mapped[str]
    email: Mapped[str] = mapped_column(String(320), index=True)
    language: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(10))  # PENDING or ACTIVE
    cerbere_username: Mapped[str | None] = mapped_column(String(64), unique=True)
    contexts: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["Citoyen"])
    cerbere_password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    dossiers: Mapped[list["Dossier"]] = relationship(back_populates="account", cascade="all, delete-orphan",
                                                     order_by="Dossier.id")
    links: Mapped[list["ActivationLink"]] = relationship(back_populates="account", cascade="all, delete-orphan")
    documents: Mapped[list["Document"]] = relationship(cascade="all, delete-orphan", order_by="Document.id")
    notifications: Mapped[list["Notification"]] = relationship(cascade="all, delete-orphan",
                                                               order_by="Notification.id")

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.surname}"


class ActivationLink(Base):
    """One e-mailed link, to activate or to cancel. Only a hash of the token
    is stored; a link works once and until ``expires_at``."""
    __tablename__ = "activation_link"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    kind: Mapped[str] = mapped_column(String(10))  # "activate" or "cancel"
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    account: Mapped[Account] = relationship(back_populates="links")


class Dossier(Base):
    __tablename__ = "dossier"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    title: Mapped[str]
    demarche_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    account: Mapped[Account] = relationship(back_populates="dossiers")


class Document(Base):
    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    title: Mapped[str]
    created_at: Mapped[datetime]


class Notification(Base):
    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    text: Mapped[str]
    created_at: Mapped[datetime]
