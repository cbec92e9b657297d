"""Policies (G15) and courses (G16): the pages behind the login."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from fedsim.db import Database
from fedsim.web import UserError
from modigia_sp.models import User
from modigia_sp.services import Courses, Policies, PolicyRefused

bp = Blueprint("courses", __name__)


def _policies() -> Policies:
    return current_app.extensions["modigia.policies"]


def _courses() -> Courses:
    return current_app.extensions["modigia.courses"]


def _user() -> User | None:
    user_id = session.get("user_id")
    return Database.session().get(User, user_id) if user_id else None


def _gate():
    """The logged-in user who accepted every policy, or the page to go to."""
    user = _user()
    if user is None:
        return None, redirect(url_for("sso.login", next=request.path))
    if _policies().missing(Database.session(), user):
        return None, redirect(url_for("courses.policies"))
    return user, None


@bp.get("/")
def home():
    user, elsewhere = _gate()
    if elsewhere:
        return elsewhere
    catalogue = _courses()
    return render_template("modigia_sp/home.html", user=user, courses=catalogue.courses,
                           enrolled=catalogue.enrolled(Database.session(), user),
                           demarche=session.get("demarche"))


@bp.get("/politiques")
def policies():
    user = _user()
    if user is None:
        return redirect(url_for("sso.login", next="/"))
    missing = _policies().missing(Database.session(), user)
    if not missing:
        return redirect(url_for("courses.home"))
    return redirect(url_for("courses.policy_page", code=missing[0].code, page=1))


@bp.get("/politiques/<code>/<int:page>")
def policy_page(code: str, page: int):
    user = _user()
    if user is None:
        return redirect(url_for("sso.login", next="/"))
    document = _policies().get(code)
    if document is None or not 1 <= page <= len(document.pages):
        raise UserError("Cette page de politique n'existe pas.", code=404)
    seen = session.setdefault("policy_pages", {})
    seen[code] = sorted(set(seen.get(code, [])) | {page})
    session.modified = True
    missing = _policies().missing(Database.session(), user)
    return render_template("modigia_sp/policy.html", document=document, page=page,
                           missing=missing, position=[d.code for d in _policies().documents].index(code) + 1,
                           total=len(_policies().documents))


@bp.post("/politiques/<code>/accepter")
def accept_policy(code: str):
    user = _user()
    if user is None:
        return redirect(url_for("sso.login", next="/"))
    document = _policies().get(code)
    if document is None:
        raise UserError("Ce document n'existe pas.", code=404)
    if request.form.get("refuse"):
        session.clear()
        return render_template("modigia_sp/refused.html", document=document)
    if request.form.get("accept") != "yes":
        raise UserError("Cochez la case pour accepter le document, ou refusez-le.")
    try:
        _policies().accept(Database.session(), user, document,
                           set(session.get("policy_pages", {}).get(code, [])))
    except PolicyRefused as refused:
        raise UserError(str(refused), code=409) from None
    return redirect(url_for("courses.policies"))


@bp.get("/cours/<code>")
def course(code: str):
    user, elsewhere = _gate()
    if elsewhere:
        return elsewhere
    found = _courses().get(code)
    if found is None:
        raise UserError(f"Le cours « {code[:40]} » n'existe pas.", code=404)
    _courses().enrol(Database.session(), user, found)
    return render_template("modigia_sp/course.html", user=user, course=found)


@bp.get("/au-revoir")
def signed_out():
    return render_template("modigia_sp/signed_out.html")
