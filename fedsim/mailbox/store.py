"""Stored messages and how to read them."""
from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import datetime

from lxml import html as lxml_html
from sqlalchemy import Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class MailboxBase(DeclarativeBase):
    pass


class StoredMessage(MailboxBase):
    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime]
    mail_from: Mapped[str]
    rcpt_tos: Mapped[str]  # comma-separated envelope recipients
    subject: Mapped[str]
    raw: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class ReadMessage:
    id: int
    received_at: datetime
    mail_from: str
    to: list[str]
    subject: str
    text: str
    html: str | None
    links: list[Link]

    def as_json(self) -> dict:
        return {"id": self.id, "received_at": self.received_at.isoformat(), "from": self.mail_from,
                "to": self.to, "subject": self.subject, "text": self.text, "html": self.html,
                "links": [{"text": l.text, "href": l.href} for l in self.links]}


def read(stored: StoredMessage) -> ReadMessage:
    parsed = email.message_from_string(stored.raw, policy=email.policy.default)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    html = html_part.get_content() if html_part is not None else None
    links: list[Link] = []
    if html:
        tree = lxml_html.fromstring(html)
        links = [Link(" ".join(a.text_content().split()), a.get("href", "")) for a in tree.iter("a")]
    return ReadMessage(
        id=stored.id, received_at=stored.received_at, mail_from=stored.mail_from,
        to=[t for t in stored.rcpt_tos.split(",") if t], subject=str(parsed.get("Subject", "")),
        text=text_part.get_content() if text_part is not None else "", html=html, links=links,
    )


def latest(db: Session, to: str | None = None, subject: str | None = None, limit: int = 50) -> list[StoredMessage]:
    """Newest first, optionally for one recipient and a subject containing ``subject``."""
    query = select(StoredMessage).order_by(StoredMessage.id.desc()).limit(limit)
    if to:
        query = query.where(StoredMessage.rcpt_tos.contains(to.lower()))
    if subject:
        query = query.where(StoredMessage.subject.contains(subject))
    return list(db.scalars(query))
