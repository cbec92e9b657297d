"""Single Logout through the proxy: ending the Mon Espace session ends the
sessions Cerbère opened at downstream services (Modigia…) and the CSAM
session upstream, one front-channel hop at a time; a logout started at a
downstream service comes back to it when all is done."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for

from fedsim.saml.errors import SamlRefused
from fedsim.saml.slo import LogoutService, ReceivedLogout
from monespace import session as who_is

bp = Blueprint("logout", __name__)

LOGIN_KEYS = ("account_id", "upstream", "csam", "cerbere_sps", "demarche", "cerbere_pending", "sp_relay_states",
              "context", "seen")


def install_idle_timeout(app: Flask) -> None:
    """End a Mon Espace session idle for longer than IDLE_TIMEOUT."""
    @app.before_request
    def _idle_timeout():  # noqa: ANN202
        if request.endpoint in (None, "static"):
            return None
        if who_is.idle_for_too_long(app.config["IDLE_TIMEOUT"]):
            for key in LOGIN_KEYS:
                session.pop(key, None)
            session["expired"] = True
            # Pages of the logged-in portal say so on the home page; public
            # pages (activation links, help centre, SAML endpoints) go on.
            if request.endpoint.startswith("portal.") and request.endpoint != "portal.home":
                return redirect(url_for("portal.home"))
        elif "upstream" in session:
            who_is.touch()
        return None


def _cerbere() -> LogoutService:
    return current_app.extensions["monespace.cerbere_slo"]


def _sp() -> LogoutService:
    return current_app.extensions["monespace.sp_slo"]


def _begin(initiator: ReceivedLogout | None) -> None:
    """Plan every hop from what this session opened, then forget the login."""
    steps = [{"to": "sp", "entity": sp["sp"], "name_id": sp["name_id"]}
             for sp in session.get("cerbere_sps", [])
             if initiator is None or sp["sp"] != initiator.issuer]
    if session.get("csam"):
        steps.append({"to": "csam", **session["csam"]})
    for key in LOGIN_KEYS:
        session.pop(key, None)
    session["logout"] = {"initiator": asdict(initiator) if initiator else None, "steps": steps, "waiting": None}


@bp.route("/deconnexion", methods=["GET", "POST"])
def start():
    _begin(None)
    return redirect(url_for("logout.next_hop"))


@bp.get("/deconnexion/suite")
def next_hop():
    plan = session.get("logout")
    if plan is None:
        return redirect(url_for("portal.home"))
    if plan["steps"]:
        step = plan["steps"].pop(0)
        if step["to"] == "sp":
            location, request_id = _cerbere().request(step["entity"], step["name_id"], None)
        else:
            location, request_id = _sp().request(step["idp"], step["name_id"], step.get("session_index"))
        plan["waiting"] = request_id
        session["logout"] = plan
        return redirect(location)
    session.pop("logout")
    if plan["initiator"]:
        return redirect(_cerbere().respond(ReceivedLogout(**plan["initiator"])))
    return render_template("monespace/logged_out.html")


def _answered(received: ReceivedLogout) -> None:
    plan = session.get("logout")
    if plan is None or not plan["waiting"] or received.in_response_to != plan["waiting"]:
        raise SamlRefused("Réponse de déconnexion non sollicitée : elle ne répond à aucune demande de ce navigateur.")
    plan["waiting"] = None
    session["logout"] = plan


@bp.get("/cerbere/slo")
def cerbere_slo():
    """Cerbère's SLO endpoint: a downstream SP logs out, or answers us."""
    received = _cerbere().receive(request.query_string.decode("latin-1"))
    if received.kind == "request":
        _begin(received)
    else:
        _answered(received)
    return redirect(url_for("logout.next_hop"))


@bp.get("/saml/sp/slo")
def sp_slo():
    """Mon Espace SP's SLO endpoint: CSAM answers our logout, or asks for one."""
    received = _sp().receive(request.query_string.decode("latin-1"))
    if received.kind == "request":
        for key in LOGIN_KEYS:
            session.pop(key, None)
        return redirect(_sp().respond(received))
    _answered(received)
    return redirect(url_for("logout.next_hop"))
