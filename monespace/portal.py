"""The portal pages: home (G01), dashboard (G11), démarches (G12-G13)."""
from __future__ import annotations

import math

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from fedsim import clock
from fedsim.db import Database
from fedsim.web import UserError
from monespace import session as who_is
from monespace.demarches import Registry
from monespace.models import Account, Dossier

bp = Blueprint("portal", __name__)

PAGE_SIZES = (15, 30, 50)
CONTEXT_MAX = 100  # longer than any context's name


class ContextForm(FlaskForm):
    contexte = StringField(validators=[
        InputRequired("Choisissez un contexte."),
        Length(max=CONTEXT_MAX, message=f"Un contexte compte au plus {CONTEXT_MAX} caractères.")])


def _registry() -> Registry:
    return current_app.extensions["monespace.demarches"]


def _here() -> str:
    return request.full_path.rstrip("?")


def _in_context(account: Account | who_is.Viewer | None) -> tuple[Account | who_is.Viewer | None,
                                                                   Response | None]:
    """``account`` in a chosen context, or where to go first."""
    if account is None:
        return None, redirect(url_for("auth.login", next=_here()))
    if who_is.context(account) is None:
        return None, redirect(url_for("portal.choose_context", next=_here()))
    return account, None


def gate() -> tuple[Account | None, Response | None]:
    """The logged-in account in a chosen context, or where to go first."""
    return _in_context(who_is.current_account(Database.session()))


def viewer_gate() -> tuple[who_is.Viewer | None, Response | None]:
    """``gate`` for pages that only show who is logged in: the account read
    with one Core SELECT, no ORM object."""
    return _in_context(who_is.current_viewer(Database.session()))


@bp.get("/")
def home():
    """G01; a person already logged in is told so, with the way to their dashboard."""
    return render_template("monespace/home.html", expired=session.pop("expired", False),
                           account=who_is.current_viewer(Database.session()))


@bp.route("/contexte", methods=["GET", "POST"])
def choose_context():
    """G10: a person with several contexts says in which one they work."""
    account = who_is.current_viewer(Database.session())
    if account is None:
        return redirect(url_for("auth.login", next=_here()))
    next_url = who_is.safe_next(request.values.get("next"))
    if request.method == "POST":
        form = ContextForm()
        if not form.validate():
            raise UserError(" ".join(e for errs in form.errors.values() for e in errs), code=400,
                            title="Contexte inconnu")
        if not who_is.choose_context(account, form.contexte.data):
            raise UserError("Ce contexte n'est pas l'un des vôtres.", code=400, title="Contexte inconnu")
        return redirect(next_url)
    return render_template("monespace/context.html", account=account, next_url=next_url,
                           current=session.get("context"))


@bp.get("/tableau-de-bord")
def dashboard():
    account, elsewhere = gate()
    if elsewhere:
        return elsewhere
    return render_template("monespace/dashboard.html", account=account,
                           available=_registry().for_dashboard())


@bp.get("/demarches/")
def demarches():
    account, elsewhere = viewer_gate()
    if elsewhere:
        return elsewhere
    registry = _registry()
    category = request.args.get("categorie") or None
    if category is not None and category not in registry.categories:
        raise UserError(f"La catégorie « {category} » n'existe pas.", code=404)
    size = request.args.get("taille", type=int) or PAGE_SIZES[0]
    if size not in PAGE_SIZES:
        raise UserError("Taille de page non prévue : choisissez 15, 30 ou 50 résultats.")
    query = request.args.get("q", "").strip()[:100]
    found = registry.search(category, query)
    pages = max(1, math.ceil(len(found) / size))
    page = request.args.get("page", type=int) or 1
    if not 1 <= page <= pages:
        raise UserError(f"La page {page} n'existe pas (il y en a {pages}).", code=404)
    return render_template("monespace/demarches.html", account=account, registry=registry,
                           category=category, query=query, size=size, sizes=PAGE_SIZES,
                           page=page, pages=pages, total=len(found),
                           rows=found[(page - 1) * size: page * size])


@bp.get("/demarches/<code>")
def demarche_details(code: str):
    account, elsewhere = viewer_gate()
    if elsewhere:
        return elsewhere
    demarche = _registry().get(code)
    if demarche is None:
        raise UserError(f"La démarche « {code[:40]} » n'existe pas.", code=404, title="Démarche inconnue")
    return render_template("monespace/demarche_details.html", account=account, demarche=demarche)


@bp.get("/demarrer-demarche/")
def start_demarche():
    registry = _registry()
    code = request.args.get("codeDemarche", "")
    demarche = registry.get(code)
    if demarche is None:
        raise UserError(f"La démarche « {code[:40]} » n'existe pas.", code=404, title="Démarche inconnue")
    account, elsewhere = viewer_gate()
    if elsewhere:
        return elsewhere
    db = Database.session()
    db.add(Dossier(account_id=account.id, title=demarche.title, demarche_code=demarche.code,
                   created_at=clock.naive_utc_now()))
    db.commit()
    session["demarche"] = demarche.code
    target = current_app.config["DEMARCHE_TARGETS"].get(demarche.target or "")
    if target:
        return redirect(target)
    return render_template("monespace/demarche_started.html", account=account, demarche=demarche)
