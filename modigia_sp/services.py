"""What Modigia does, free of HTTP: know users from Cerbère logins, track
policy acceptances, enrol in courses."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Insert, Row, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session

from fedsim import clock
from fedsim.saml.errors import SamlRefused
from fedsim.saml.mapping import AttributeMapping, Mapped
from fedsim.saml.sp import SamlLogin
from fedsim.mail import Mailer
from modigia_sp.catalogue import Course, Lesson, PolicyDocument
from modigia_sp.models import ContactMessage, Enrolment, LessonCompletion, PolicyAcceptance, User


class PolicyRefused(Exception):
    pass


def check_login(login: SamlLogin, idp_mapping: AttributeMapping) -> Mapped:
    """What Modigia needs from its IdP (Cerbère, or the one configured), its
    fields and level through ``idp_mapping`` (data/idp_mapping.yaml by
    default); raises ValueError before anything is stored."""
    if not login.name_id:
        raise ValueError(f"{idp_mapping.idp_label(login.issuer)} n'a pas transmis d'identifiant (NameID).")
    return idp_mapping.apply(login)


def insert_once(db: Session, model: type[DeclarativeBase], **values: object) -> bool:
    """Insert a row and commit, unless a row with the same unique key is
    there already: a double submit, or the same request at the same moment
    in another thread, is done once and is no error (INSERT … ON CONFLICT
    DO NOTHING on SQLite and PostgreSQL; elsewhere the IntegrityError of
    the unique constraint is caught). Whether this call inserted it."""
    dialect = db.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        inserted = db.connection().execute(_insert_ignoring_duplicates(model.__table__, dialect), values).rowcount == 1
    else:
        try:
            with db.begin_nested():
                db.add(model(**values))
            inserted = True
        except IntegrityError:
            inserted = False  # the savepoint is rolled back; the row of the other request stays
    db.commit()
    return inserted


@cache
def _insert_ignoring_duplicates(table: Table, dialect: str) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING into ``table``, built once per table
    and dialect (the values are bound at execution)."""
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    return insert(table).on_conflict_do_nothing()


# At every login, with SQLAlchemy Core (no ORM object is needed: the login
# only writes): the user's id by pairwise NameID, and the refresh of what
# the identity provider sent (the values are bound at execution).
_USERS = User.__table__
_USER_ID = select(_USERS.c.id).where(_USERS.c.name_id == bindparam("name_id"),
                                     _USERS.c.idp_entity_id == bindparam("issuer"))
_REFRESH = update(_USERS).where(_USERS.c.id == bindparam("user_id"))


def user_from_login(db: Session, login: SamlLogin, fields: dict[str, str] | None = None) -> Row:
    """Find or create the user by the pairwise NameID; refresh attributes
    from ``fields`` (``check_login``'s; default: the attributes of these
    names). Two first logins of one person at the same moment create one
    user. The user's id, as a row (``.id``)."""
    now = clock.naive_utc_now()
    field = (lambda name: fields.get(name, "")) if fields is not None else login.first
    profile = {"cerbere_username": field("cerbereUsername"), "given_name": field("givenName"),
               "surname": field("surname"), "email": field("mail"), "context": field("context"),
               "attributes": dict(login.attributes), "last_login_at": now}
    who = {"name_id": login.name_id, "issuer": login.issuer}
    user = db.connection().execute(_USER_ID, who).first()
    if user is None:
        created = insert_once(db, User, name_id=login.name_id, idp_entity_id=login.issuer, created_at=now,
                              **profile)
        user = db.connection().execute(_USER_ID, who).first()
        if user is None:  # the NameID is taken by a user of another identity provider
            raise SamlRefused("Cet identifiant (NameID) est déjà celui d'un autre utilisateur de Modigia.",
                              f"NameID {login.name_id[:80]} known from another issuer than {login.issuer[:200]}")
        if created:  # with the attributes of this login: nothing to refresh
            db.commit()  # ends the transaction of the read, as the refresh's commit would
            return user
    db.connection().execute(_REFRESH, {"user_id": user.id, **profile})
    db.commit()
    return user


# Built once (building a statement costs about as much as running it); the
# values are bound at execution, on the request's connection (Core rows).
_ACCEPTED_ONE = select(PolicyAcceptance.id).where(
    PolicyAcceptance.user_id == bindparam("user_id"), PolicyAcceptance.document == bindparam("document"),
    PolicyAcceptance.version == bindparam("version")).limit(1)
_ENROLLED = select(Enrolment.course).where(Enrolment.user_id == bindparam("user_id"))
_COMPLETED = select(LessonCompletion.lesson).where(LessonCompletion.user_id == bindparam("user_id"),
                                                   LessonCompletion.course == bindparam("course"))


@dataclass(frozen=True)
class Policies:
    documents: tuple[PolicyDocument, ...]

    def get(self, code: str) -> PolicyDocument | None:
        return next((d for d in self.documents if d.code == code), None)

    def position(self, document: PolicyDocument) -> int:
        """1 for the first document to accept, and so on."""
        return self.documents.index(document) + 1

    def not_in(self, accepted: set[tuple[str, str]]) -> list[PolicyDocument]:
        """Documents whose current version is not among the ``accepted``
        (document code, version) pairs."""
        return [d for d in self.documents if (d.code, d.version) not in accepted]

    def accept(self, db: Session, user: User | Row, document: PolicyDocument, pages_seen: set[int]) -> None:
        unseen = set(range(1, len(document.pages) + 1)) - pages_seen
        if unseen:
            raise PolicyRefused(f"Parcourez d'abord toutes les pages du document « {document.title} » "
                                f"(pages non lues : {', '.join(map(str, sorted(unseen)))}).")
        exists = db.connection().execute(_ACCEPTED_ONE, {"user_id": user.id, "document": document.code,
                                                         "version": document.version}).first()
        if exists is None:  # accepted once, even when the form is sent twice at once
            insert_once(db, PolicyAcceptance, user_id=user.id, document=document.code,
                        version=document.version, accepted_at=clock.naive_utc_now())


@dataclass(frozen=True)
class Courses:
    courses: tuple[Course, ...]

    def get(self, code: str) -> Course | None:
        return next((c for c in self.courses if c.code == code), None)

    @staticmethod
    def enrolled(db: Session, user: User | Row) -> set[str]:
        return set(db.connection().execute(_ENROLLED, {"user_id": user.id}).scalars())

    def enrol(self, db: Session, user: User | Row, course: Course) -> None:
        if course.code not in self.enrolled(db, user):
            insert_once(db, Enrolment, user_id=user.id, course=course.code, enrolled_at=clock.naive_utc_now())

    @staticmethod
    def completed(db: Session, user: User | Row, course: Course) -> set[str]:
        return set(db.connection().execute(_COMPLETED, {"user_id": user.id, "course": course.code}).scalars())

    def progress(self, db: Session, user: User | Row, course: Course, completed: set[str] | None = None) -> int:
        """Percentage of the course's lessons completed; ``completed``: the
        user's completed lessons of this course, when the caller has read them already."""
        done = (self.completed(db, user, course) if completed is None else completed) \
            & {lesson.code for lesson in course.lessons}
        return round(100 * len(done) / len(course.lessons)) if course.lessons else 0

    def complete(self, db: Session, user: User | Row, course: Course, lesson: Lesson) -> None:
        self.enrol(db, user, course)
        if lesson.code not in self.completed(db, user, course):  # once, even when sent twice at once
            insert_once(db, LessonCompletion, user_id=user.id, course=course.code, lesson=lesson.code,
                        completed_at=clock.naive_utc_now())


@dataclass(frozen=True)
class Contact:
    """The contact form: the message is kept and mailed to the Modigia box."""
    mailer: Mailer
    mailbox: str

    def send(self, db: Session, user: User | Row, subject: str, body: str) -> None:
        text = (f"Message de {user.given_name} {user.surname} <{user.email}> "
                f"(Cerbère : {user.cerbere_username})\n\n{body}")
        self.mailer.send(self.mailbox, f"[Modigia] {subject}", text)
        db.add(ContactMessage(user_id=user.id, subject=subject, body=body, sent_at=clock.naive_utc_now()))
        db.commit()
