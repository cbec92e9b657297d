"""The site policies (G15): read every page, tick the box, continue."""
from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    get_template_attribute,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from fedsim.db import Database
from fedsim.web import UserError
from modigia_sp.catalogue import PolicyDocument
from modigia_sp.gate import (
    current_user,
    current_user_and_missing,
    login_redirect,
    policies,
)
from modigia_sp.services import PolicyRefused

bp = Blueprint("policies", __name__, url_prefix="/politiques")


@bp.get("/")
def next_document():
    user, missing = current_user_and_missing()
    if user is None:
        return login_redirect()
    if not missing:
        return redirect(url_for("courses.home"))
    return redirect(url_for("policies.page", code=missing[0].code, number=1))


@bp.get("/<code>/<int:number>")
def page(code: str, number: int):
    user = current_user()
    if user is None:
        return login_redirect()
    document = policies().get(code)
    if document is None or not 1 <= number <= len(document.pages):
        raise UserError("Cette page des politiques d'utilisation n'existe pas.", code=404)
    # The server remembers which pages it served, so acceptance can require them all.
    seen = session.setdefault("policy_pages", {})
    key = f"{document.code}@{document.version}"
    seen[key] = sorted(set(seen.get(key, [])) | {number})
    session.modified = True
    return render_template("modigia_sp/policy.html", user=user, document=document, number=number,
                           text=_page_html(document, number), position=policies().position(document),
                           total=len(policies().documents), all_read=len(seen[key]) == len(document.pages))


def _page_html(document: PolicyDocument, number: int) -> Markup:
    """Page ``number`` of ``document`` in HTML (the ``render`` macro of
    _text.html), made once per app: the documents are read at start-up."""
    pages = current_app.extensions.setdefault("modigia.policy_pages_html", {})
    key = (document.code, document.version, number)
    html = pages.get(key)
    if html is None:
        html = pages[key] = get_template_attribute("modigia_sp/_text.html", "render")(document.pages[number - 1], 2)
    return html


@bp.post("/<code>/accepter")
def accept(code: str):
    user = current_user()
    if user is None:
        return login_redirect()
    document = policies().get(code)
    if document is None:
        raise UserError("Ce document n'existe pas.", code=404)
    if request.form.get("refuse"):
        session.clear()
        return render_template("modigia_sp/refused.html", document=document)
    if request.form.get("accept") != "yes":
        raise UserError("Cochez la case à la fin du document pour l'accepter, ou refusez-le.")
    seen = set(session.get("policy_pages", {}).get(f"{document.code}@{document.version}", []))
    try:
        policies().accept(Database.session(), user, document, seen)
    except PolicyRefused as refused:
        raise UserError(str(refused), code=409, title="Document pas encore parcouru") from None
    return redirect(url_for("policies.next_document"))
