"""Who is logged into Modigia, and whether they may enter yet."""
from __future__ import annotations

from flask import current_app, redirect, request, session, url_for
from werkzeug.wrappers import Response

from fedsim.db import Database
from modigia_sp.models import User
from modigia_sp.services import Policies


def current_user() -> User | None:
    user_id = session.get("user_id")
    return Database.session().get(User, user_id) if user_id else None


def policies() -> Policies:
    return current_app.extensions["modigia.policies"]


def login_redirect() -> Response:
    return redirect(url_for("sso.login", next=request.path))


def entered_user() -> tuple[User | None, Response | None]:
    """The user, when logged in and every policy is accepted; else where to go."""
    user = current_user()
    if user is None:
        return None, login_redirect()
    if policies().missing(Database.session(), user):
        return None, redirect(url_for("policies.next_document"))
    return user, None
