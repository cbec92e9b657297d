"""The page « S'identifier à l'administration en ligne » (G02): the digital
keys in their three groups, only those that reach the level the service
asked for."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, session

from fedsim.db import Database
from fedsim.saml.errors import SamlRefused
from idp_csam import authn
from idp_csam.methods import GROUPS, Method
from idp_csam.oidc import front as oidc_front

bp = Blueprint("login", __name__)


def methods() -> tuple[Method, ...]:
    return current_app.extensions["idp_csam.methods"]


@bp.get("/")
def choose():
    info = None
    if session.get("pending_authn"):
        try:
            info = current_app.extensions["idp_csam.idp"].recall(Database.session(), session["pending_authn"])
        except SamlRefused:
            session.pop("pending_authn", None)
    oidc_minimum = oidc_front.pending_minimum()  # an OpenID Connect request's acr_values (idp_csam.oidc)
    offered = [m for m in methods() if authn.meets(m.level, info) and authn.reaches(m.level, oidc_minimum)]
    groups = [(title, [m for m in offered if m.group == code]) for code, title in GROUPS]
    return render_template("idp_csam/choose.html", groups=[g for g in groups if g[1]],
                           pending=info is not None or session.get(oidc_front.PENDING) is not None,
                           hidden=len(methods()) - len(offered))


@bp.get("/methode/<code>")
def unavailable(code: str):
    method = next((m for m in methods() if m.code == code), None)
    if method is None:
        return render_template("idp_csam/unavailable.html", label=None), 404
    return render_template("idp_csam/unavailable.html", label=method.label)
