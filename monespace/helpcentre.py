"""The public help centre (G18): FAQ search and categories, the connection
guide online (G19, with the foreign-national procedure of G20-G21) and as a
PDF. Works without JavaScript: tabs are links, the checkbox a GET form."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from fedsim.web import UserError
from monespace.guide import MAX_QUERY_LENGTH, PDF_FILENAME, HelpCentre

bp = Blueprint("helpcentre", __name__, url_prefix="/centre-aide")


@bp.record_once
def _load_content(state) -> None:  # noqa: ANN001 - BlueprintSetupState
    state.app.extensions["monespace.helpcentre"] = HelpCentre.load()


def _centre() -> HelpCentre:
    return current_app.extensions["monespace.helpcentre"]


@bp.get("/")
def index():
    centre = _centre()
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    results = centre.faq.search(query) if query else None
    return render_template("monespace/help/index.html", faq=centre.faq, contact=centre.guide.contact,
                           query=query, results=results)


@bp.get("/categorie/<category>")
def category(category: str):
    centre = _centre()
    label = centre.faq.categories.get(category)
    if label is None:
        raise UserError(f"La rubrique « {category[:40]} » n'existe pas dans le centre d'aide.",
                        code=404, title="Rubrique inconnue")
    return render_template("monespace/help/category.html", label=label, category=category,
                           entries=centre.faq.in_category(category), contact=centre.guide.contact)


@bp.get("/guide")
def guide():
    content = _centre().guide
    foreign = request.args.get("etranger") == "1"
    code = content.foreign.method if foreign else request.args.get("methode") or content.methods[0].code
    method = content.method(code)
    if method is None:
        raise UserError(f"La méthode de connexion « {code[:40]} » n'existe pas dans le guide.",
                        code=404, title="Méthode inconnue")
    return render_template("monespace/help/guide.html", guide=content, method=method, foreign=foreign)


@bp.get("/bureaux-enregistrement")
def offices():
    content = _centre().guide
    return render_template("monespace/help/offices.html", guide=content, offices=content.foreign.offices)


@bp.get("/guide.pdf")
def guide_pdf():
    return Response(_centre().pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{PDF_FILENAME}"',
                             "Cache-Control": "public, max-age=3600"})
