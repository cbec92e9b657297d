"""Modigia records: users known by their Cerbère pairwise NameID, policy
acceptances and course enrolments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name_id: Mapped[str] = mapped_column(String(200), unique=True)
    idp_entity_id: Mapped[str] = mapped_column(String(500))
    cerbere_username: Mapped[str]
    given_name: Mapped[str]
    surname: Mapped[str]
    email: Mapped[str]
    context: Mapped[str] = mapped_column(default="")
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)  # as received at the last login
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime]


class PolicyAcceptance(Base):
    __tablename__ = "policy_acceptance"
    __table_args__ = (UniqueConstraint("user_id", "document", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    document: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(20))
    accepted_at: Mapped[datetime]


class Enrolment(Base):
    __tablename__ = "enrolment"
    __table_args__ = (UniqueConstraint("user_id", "course"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    course: Mapped[str] = mapped_column(String(40))
    enrolled_at: Mapped[datetime]


class LessonCompletion(Base):
    __tablename__ = "lesson_completion"
    __table_args__ = (UniqueConstraint("user_id", "lesson"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    course: Mapped[str] = mapped_column(String(40))
    lesson: Mapped[str] = mapped_column(String(40))
    completed_at: Mapped[datetime]


class ContactMessage(Base):
    """A message sent from the contact form (also mailed to the Modigia box)."""
    __tablename__ = "contact_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str]
    sent_at: Mapped[datetime]
