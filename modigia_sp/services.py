"""What Modigia does, free of HTTP: know users from Cerbère logins, track
policy acceptances, enrol in courses."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
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


def insert_once(db: Session, model: type[DeclarativeBase], **values: object) -> None:
    """Insert a row and commit, unless a row with the same unique key is
    there already: a double submit, or the same request at the same moment
    in another thread, is done once and is no error (INSERT … ON CONFLICT
    DO NOTHING on SQLite and PostgreSQL; elsewhere the IntegrityError of
    the unique constraint is caught)."""
    dialect = db.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        db.execute(insert(model).values(**values).on_conflict_do_nothing())
    else:
        try:
            with db.begin_nested():
                db.add(model(**values))
        except IntegrityError:
            pass  # the savepoint is rolled back; the row of the other request stays
    db.commit()


def _user(db: Session, login: SamlLogin) -> User | None:
    return db.scalars(select(User).where(User.name_id == login.name_id,
                                         User.idp_entity_id == login.issuer)).first()


def user_from_login(db: Session, login: SamlLogin, fields: dict[str, str] | None = None) -> User:
    """Find or create the user by the pairwise NameID; refresh attributes
    from ``fields`` (``check_login``'s; default: the attributes of these
    names). Two first logins of one person at the same moment create one user."""
    now = clock.naive_utc_now()
    field = (lambda name: fields.get(name, "")) if fields is not None else login.first
    user = _user(db, login)
    if user is None:
        insert_once(db, User, name_id=login.name_id, idp_entity_id=login.issuer, created_at=now,
                    cerbere_username="", given_name="", surname="", email="", attributes={},
                    context="", last_login_at=now)
        user = _user(db, login)
        if user is None:  # the NameID is taken by a user of another identity provider
            raise SamlRefused("Cet identifiant (NameID) est déjà celui d'un autre utilisateur de Modigia.",
                              f"NameID {login.name_id[:80]} known from another issuer than {login.issuer[:200]}")
    user.cerbere_username = field("cerbereUsername")
    user.given_name, user.surname = field("givenName"), field("surname")
    user.email, user.context, user.last_login_at = field("mail"), field("context"), now
    user.attributes = dict(login.attributes)
    db.commit()
    return user


@dataclass(frozen=True)
class Policies:
    documents: tuple[PolicyDocument, ...]

    def get(self, code: str) -> PolicyDocument | None:
        return next((d for d in self.documents if d.code == code), None)

    def missing(self, db: Session, user: User) -> list[PolicyDocument]:
        """Documents whose current version this user has not accepted."""
        accepted = {tuple(row) for row in db.execute(
            select(PolicyAcceptance.document, PolicyAcceptance.version).where(PolicyAcceptance.user_id == user.id))}
        return [d for d in self.documents if (d.code, d.version) not in accepted]

    def accept(self, db: Session, user: User, document: PolicyDocument, pages_seen: set[int]) -> None:
        unseen = set(range(1, len(document.pages) + 1)) - pages_seen
        if unseen:
            raise PolicyRefused(f"Parcourez d'abord toutes les pages du document « {document.title} » "
                                f"(pages non lues : {', '.join(map(str, sorted(unseen)))}).")
        exists = db.scalars(select(PolicyAcceptance).where(
            PolicyAcceptance.user_id == user.id, PolicyAcceptance.document == document.code,
            PolicyAcceptance.version == document.version)).first()
        if exists is None:  # accepted once, even when the form is sent twice at once
            insert_once(db, PolicyAcceptance, user_id=user.id, document=document.code,
                        version=document.version, accepted_at=clock.naive_utc_now())


@dataclass(frozen=True)
class Courses:
    courses: tuple[Course, ...]

    def get(self, code: str) -> Course | None:
        return next((c for c in self.courses if c.code == code), None)

    def enrolled(self, db: Session, user: User) -> set[str]:
        return set(db.scalars(select(Enrolment.course).where(Enrolment.user_id == user.id)))

    def enrol(self, db: Session, user: User, course: Course) -> None:
        if course.code not in self.enrolled(db, user):
            insert_once(db, Enrolment, user_id=user.id, course=course.code, enrolled_at=clock.naive_utc_now())

    @staticmethod
    def completed(db: Session, user: User, course: Course) -> set[str]:
        return set(db.scalars(select(LessonCompletion.lesson).where(
            LessonCompletion.user_id == user.id, LessonCompletion.course == course.code)))

    def progress(self, db: Session, user: User, course: Course) -> int:
        """Percentage of the course's lessons completed."""
        done = self.completed(db, user, course) & {lesson.code for lesson in course.lessons}
        return round(100 * len(done) / len(course.lessons)) if course.lessons else 0

    def complete(self, db: Session, user: User, course: Course, lesson: Lesson) -> None:
        self.enrol(db, user, course)
        if lesson.code not in self.completed(db, user, course):  # once, even when sent twice at once
            insert_once(db, LessonCompletion, user_id=user.id, course=course.code, lesson=lesson.code,
                        completed_at=clock.naive_utc_now())


@dataclass(frozen=True)
class Contact:
    """The contact form: the message is kept and mailed to the Modigia box."""
    mailer: Mailer
    mailbox: str

    def send(self, db: Session, user: User, subject: str, body: str) -> None:
        text = (f"Message de {user.given_name} {user.surname} <{user.email}> "
                f"(Cerbère : {user.cerbere_username})\n\n{body}")
        self.mailer.send(self.mailbox, f"[Modigia] {subject}", text)
        db.add(ContactMessage(user_id=user.id, subject=subject, body=body, sent_at=clock.naive_utc_now()))
        db.commit()
