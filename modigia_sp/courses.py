"""Home page, courses, lessons and progress (G16)."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, session, url_for

from fedsim.db import Database
from fedsim.web import UserError
from modigia_sp.catalogue import Course, Lesson
from modigia_sp.gate import entered_user
from modigia_sp.services import Courses

bp = Blueprint("courses", __name__)


def _catalogue() -> Courses:
    return current_app.extensions["modigia.courses"]


def _course(code: str) -> Course:
    found = _catalogue().get(code)
    if found is None:
        raise UserError(f"Le cours « {code[:40]} » n'existe pas.", code=404)
    return found


@bp.get("/")
def home():
    user, elsewhere = entered_user()
    if elsewhere:
        return elsewhere
    catalogue, db = _catalogue(), Database.session()
    enrolled = catalogue.enrolled(db, user)
    return render_template("modigia_sp/home.html", user=user, courses=catalogue.courses, enrolled=enrolled,
                           progress={c.code: catalogue.progress(db, user, c) for c in catalogue.courses
                                     if c.code in enrolled},
                           demarche=session.get("demarche"))


@bp.get("/mes-cours")
def mine():
    user, elsewhere = entered_user()
    if elsewhere:
        return elsewhere
    db, catalogue = Database.session(), _catalogue()
    enrolled = catalogue.enrolled(db, user)
    rows = [(c, catalogue.progress(db, user, c)) for c in catalogue.courses if c.code in enrolled]
    return render_template("modigia_sp/mine.html", user=user, rows=rows)


@bp.get("/cours/<code>")
def course(code: str):
    user, elsewhere = entered_user()
    if elsewhere:
        return elsewhere
    found, db = _course(code), Database.session()
    _catalogue().enrol(db, user, found)
    done = _catalogue().completed(db, user, found)
    return render_template("modigia_sp/course.html", user=user, course=found, done=done,
                           progress=_catalogue().progress(db, user, found, done))


def _lesson(code: str, lesson_code: str) -> tuple[Course, Lesson]:
    found = _course(code)
    item = found.lesson(lesson_code)
    if item is None:
        raise UserError("Cette leçon n'existe pas dans ce cours.", code=404)
    return found, item


@bp.get("/cours/<code>/<lesson_code>")
def lesson(code: str, lesson_code: str):
    user, elsewhere = entered_user()
    if elsewhere:
        return elsewhere
    found, item = _lesson(code, lesson_code)
    db = Database.session()
    completed = _catalogue().completed(db, user, found)
    lessons = found.lessons
    at = lessons.index(item)
    return render_template("modigia_sp/lesson.html", user=user, course=found, lesson=item,
                           done=lesson_code in completed, completed=completed,
                           progress=_catalogue().progress(db, user, found, completed), number=at + 1,
                           previous=lessons[at - 1] if at > 0 else None,
                           following=lessons[at + 1] if at + 1 < len(lessons) else None)


@bp.post("/cours/<code>/<lesson_code>/terminer")
def complete(code: str, lesson_code: str):
    user, elsewhere = entered_user()
    if elsewhere:
        return elsewhere
    found, item = _lesson(code, lesson_code)
    _catalogue().complete(Database.session(), user, found, item)
    return redirect(url_for("courses.course", code=code))


@bp.get("/au-revoir")
def signed_out():
    """After logout; ``complete=0``: the identity provider did not confirm
    the whole Single Logout (who, and what it said, kept by modigia_sp.sso)."""
    return render_template("modigia_sp/signed_out.html", unconfirmed=session.pop("slo_unconfirmed", None))
