"""Stored messages and how to read them.

Anything can reach the sink, so reading is defensive: one malformed message
(broken MIME, unknown charset, empty or unparsable HTML, headers that are not
UTF-8) reads as well as it can, with U+FFFD where bytes made no sense, and
never raises."""
from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from lxml import etree
from lxml import html as lxml_html
from sqlalchemy import Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

log = logging.getLogger(__name__)


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
    html: str | None  # as sent: unsafe to show (fedsim.mailbox.safe_html makes it safe)
    links: list[Link]

    def as_json(self) -> dict:
        return {"id": self.id, "received_at": self.received_at.isoformat(), "from": self.mail_from,
                "to": self.to, "subject": self.subject, "text": self.text, "html": self.html,
                "links": [{"text": l.text, "href": l.href} for l in self.links]}


def parse(raw: str) -> EmailMessage:
    """The message as the email package sees it, from its bytes, so that
    each 8-bit part is decoded with its own charset."""
    return email.message_from_bytes(raw.encode("utf-8", errors="replace"), policy=email.policy.default)


def header(message: EmailMessage, name: str) -> str:
    """A header as text, or "" when absent or unreadable."""
    try:
        return str(message.get(name, ""))
    except Exception:  # the header parser has many ways to fail on junk
        log.warning("mailbox: unreadable %s header", name, exc_info=True)
        return ""


def part_text(part: EmailMessage | None) -> str | None:
    """A text part's content, or None when there is no such part; decoded
    with its charset, or as UTF-8 with replacement characters when the
    charset is unknown or lies."""
    if part is None:
        return None
    try:
        return part.get_content()
    except Exception:  # LookupError, UnicodeError, and worse on broken MIME
        log.info("mailbox: part not decodable as declared, read as UTF-8", exc_info=True)
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a payload that cannot be decoded at all
        log.info("mailbox: undecodable part", exc_info=True)
        return ""
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace")
    return ""


def body(message: EmailMessage, subtype: str) -> EmailMessage | None:
    try:
        return message.get_body(preferencelist=(subtype,))
    except Exception:  # broken multipart structures
        log.info("mailbox: no readable %s body", subtype, exc_info=True)
        return None


def links_of(html: str) -> list[Link]:
    try:
        tree = lxml_html.fromstring(html)
    except (etree.ParserError, ValueError):  # empty, comment-only, or not HTML at all
        return []
    return [Link(" ".join(a.text_content().split()), a.get("href", "")) for a in tree.iter("a")]


def read(stored: StoredMessage) -> ReadMessage:
    parsed = parse(stored.raw)
    html = part_text(body(parsed, "html"))
    return ReadMessage(
        id=stored.id, received_at=stored.received_at, mail_from=stored.mail_from,
        to=[t for t in stored.rcpt_tos.split(",") if t], subject=header(parsed, "Subject"),
        text=part_text(body(parsed, "plain")) or "", html=html, links=links_of(html) if html else [],
    )


def latest(db: Session, to: str | None = None, subject: str | None = None, limit: int = 50) -> list[StoredMessage]:
    """Newest first, optionally for one recipient and a subject containing ``subject``."""
    query = select(StoredMessage).order_by(StoredMessage.id.desc()).limit(limit)
    if to:
        query = query.where(StoredMessage.rcpt_tos.contains(to.lower()))
    if subject:
        query = query.where(StoredMessage.subject.contains(subject))
    return list(db.scalars(query))


def delete_all(db: Session) -> int:
    """Delete every message; how many there were."""
    found = list(db.scalars(select(StoredMessage)))
    for message in found:
        db.delete(message)
    db.commit()
    return len(found)
