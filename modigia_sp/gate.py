"""Who is logged into Modigia, and whether they may enter yet."""
from __future__ import annotations

from flask import current_app, redirect, request, session, url_for
from sqlalchemy import Row, bindparam, select
from werkzeug.wrappers import Response

from fedsim.db import Database
from modigia_sp.catalogue import PolicyDocument
from modigia_sp.models import PolicyAcceptance, User
from modigia_sp.services import Policies

# The logged-in user as a read-only row of every column of ``User`` (the
# pages and the services only read it), with SQLAlchemy Core: on every
# request, loading the ORM object (identity map, instance state) cost more
# than the query. Built once; the id is bound at execution.
_USERS, _ACCEPTANCES = User.__table__, PolicyAcceptance.__table__
_USER = select(*_USERS.columns).where(_USERS.c.id == bindparam("id"))
# The same with the policies the user accepted, in one query: one row per
# acceptance (``accepted_document``, ``accepted_version``), or one row with
# None there when there is none.
_USER_AND_ACCEPTED = select(
    *_USERS.columns, _ACCEPTANCES.c.document.label("accepted_document"),
    _ACCEPTANCES.c.version.label("accepted_version"),
).select_from(_USERS.outerjoin(_ACCEPTANCES, _ACCEPTANCES.c.user_id == _USERS.c.id)).where(
    _USERS.c.id == bindparam("id"))


def current_user() -> Row | None:
    """The user of this session, as a row with the attributes of ``User``."""
    user_id = session.get("user_id")
    return Database.session().connection().execute(_USER, {"id": user_id}).first() if user_id else None


def current_user_and_missing() -> tuple[Row | None, list[PolicyDocument]]:
    """``current_user()`` and the documents it has still to accept
    (their current version not accepted), with one query."""
    user_id = session.get("user_id")
    if not user_id:
        return None, []
    rows = Database.session().connection().execute(_USER_AND_ACCEPTED, {"id": user_id}).all()
    if not rows:
        return None, []
    accepted = {(row.accepted_document, row.accepted_version) for row in rows if row.accepted_document is not None}
    return rows[0], policies().not_in(accepted)


def policies() -> Policies:
    return current_app.extensions["modigia.policies"]


def login_redirect() -> Response:
    return redirect(url_for("sso.login", next=request.path))


def entered_user() -> tuple[Row | None, Response | None]:
    """The user, when logged in and every policy is accepted; else where to go."""
    user, missing = current_user_and_missing()
    if user is None:
        return None, login_redirect()
    if missing:
        return None, redirect(url_for("policies.next_document"))
    return user, None
