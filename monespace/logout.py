"""Single Logout through the proxy: ending the Mon Espace session ends the
sessions Cerbère opened at downstream services (Modigia…) and the CSAM
session upstream, one front-channel hop at a time; a logout started at a
downstream service comes back to it when all is done. Each hop that does not
answer Success (or cannot be reached) is recorded: the last page says the
logout is partial and names those services, and a downstream initiator gets
Success/PartialLogout. A LogoutRequest that does not concern this session
(NameID, SessionIndex) is answered UnknownPrincipal and ends nothing.

A logout starts only with a POST carrying the CSRF token (the « Déconnexion »
button); a GET of ``/deconnexion`` shows that button and ends nothing, so
another site cannot log a person out. Every logout (and the idle timeout) destroys the server-side session: a copy
of the cookie opens nothing afterwards; what the logout still has to do (its
plan) goes on in a fresh session that carries nothing else."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm

from fedsim import sessions
from fedsim.db import Database
from fedsim.federation import display_name
from fedsim.saml.errors import SamlRefused
from fedsim.saml.slo import LogoutService, ReceivedLogout
from monespace import session as who_is

bp = Blueprint("logout", __name__)


def install_idle_timeout(app: Flask) -> None:
    """End a Mon Espace session idle for longer than IDLE_TIMEOUT."""
    @app.before_request
    def _idle_timeout():  # noqa: ANN202
        if request.endpoint in (None, "static"):
            return None
        if who_is.idle_for_too_long(app.config["IDLE_TIMEOUT"]):
            sessions.destroy()
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
    """Plan every hop from what this session opened, then end the session:
    the plan goes on in a new one."""
    steps = [{"to": "sp", "entity": sp["sp"], "name_id": sp["name_id"], "format": sp.get("format"),
              "session_index": sp.get("session_index")}
             for sp in session.get("cerbere_sps", [])
             if initiator is None or sp["sp"] != initiator.issuer]
    if session.get("csam"):
        csam = session["csam"]
        steps.append({"to": "csam", "entity": csam["idp"], "name_id": csam["name_id"],
                      "session_index": csam.get("session_index")})
    sessions.destroy()
    session["logout"] = {"initiator": asdict(initiator) if initiator else None, "steps": steps,
                         "waiting": None, "waiting_for": None, "unconfirmed": []}


class LogoutForm(FlaskForm):
    """The « Déconnexion » button: a POST with the CSRF token."""


@bp.route("/deconnexion", methods=["GET", "POST"])
def start():
    """Only the « Déconnexion » button (a POST carrying the form's CSRF
    token) logs out. A GET (an old bookmark, or an image or link on another
    site) and a POST without a valid token show a page asking to confirm,
    and end nothing. (Exempt from CSRFProtect: a failed check shows that
    page rather than an error.)"""
    form = LogoutForm()
    if request.method == "POST" and form.validate_on_submit():
        _begin(None)
        return redirect(url_for("logout.next_hop"))
    refused = request.method == "POST"
    return render_template("monespace/logout_confirm.html", form=form, refused=refused), 400 if refused else 200


@bp.get("/deconnexion/suite")
def next_hop():
    plan = session.get("logout")
    if plan is None:
        return redirect(url_for("portal.home"))
    while plan["steps"]:
        step = plan["steps"].pop(0)
        slo = _cerbere() if step["to"] == "sp" else _sp()
        try:
            location, request_id = slo.request(step["entity"], step["name_id"], step.get("session_index"),
                                               name_id_format=step.get("format") or "")
        except SamlRefused:  # no logout endpoint for it in the metadata: it cannot be told
            plan.setdefault("unconfirmed", []).append(step["entity"])
            continue
        plan["waiting"], plan["waiting_for"] = request_id, step["entity"]
        session["logout"] = plan
        return redirect(location)
    session.pop("logout")
    unconfirmed = [_service_name(entity) for entity in plan.get("unconfirmed", [])]
    if plan["initiator"]:
        initiator = ReceivedLogout.from_dict(plan["initiator"])
        if unconfirmed:
            message = f"Déconnexion partielle : {_not_confirmed(unconfirmed)}"
            return redirect(_cerbere().respond_partial(initiator, message))
        return redirect(_cerbere().respond(initiator))
    return render_template("monespace/logged_out.html", unconfirmed=unconfirmed,
                           not_confirmed=_not_confirmed(unconfirmed))


def _not_confirmed(names: list[str]) -> str:
    if len(names) > 1:
        return f"{', '.join(names[:-1])} et {names[-1]} n'ont pas confirmé la déconnexion."
    return f"{names[0]} n'a pas confirmé la déconnexion." if names else ""


def _service_name(entity_id: str) -> str:
    """The name people know a service by: the federation's entity table,
    else its metadata, else its entity ID."""
    known = display_name(current_app.config["FEDSIM_SETTINGS"], entity_id)
    name = known or _cerbere().peer_name(entity_id)
    return name if name != entity_id else _sp().peer_name(entity_id)


def _answered(received: ReceivedLogout) -> None:
    plan = session.get("logout")
    if plan is None or not plan["waiting"] or received.in_response_to != plan["waiting"] \
            or received.issuer != plan.get("waiting_for", received.issuer):
        raise SamlRefused("Réponse de déconnexion non sollicitée : elle ne répond à aucune demande de ce navigateur.")
    if not received.complete:
        plan.setdefault("unconfirmed", []).append(received.issuer)
    plan["waiting"] = plan["waiting_for"] = None
    session["logout"] = plan


def _mismatch_at_cerbere(received: ReceivedLogout) -> str:
    """Why a downstream SP's LogoutRequest does not concern this session
    (empty when it does, or when there is no session left to end)."""
    opened = next((s for s in session.get("cerbere_sps", []) if s["sp"] == received.issuer), None)
    if opened is None:
        has_session = who_is.upstream() is not None or bool(session.get("csam"))
        return "Cerbère n'a ouvert aucune session pour ce service dans ce navigateur." if has_session else ""
    return _cerbere().mismatch(received, opened["name_id"], opened.get("session_index"))


@bp.get("/cerbere/slo")
def cerbere_slo():
    """Cerbère's SLO endpoint: a downstream SP logs out, or answers us."""
    received = _cerbere().receive(request.query_string.decode("latin-1"), Database.session())
    if received.kind == "request":
        mismatch = _mismatch_at_cerbere(received)
        if mismatch:
            return redirect(_cerbere().respond_unknown(received, mismatch))
        _begin(received)
    else:
        _answered(received)
    return redirect(url_for("logout.next_hop"))


@bp.get("/saml/sp/slo")
def sp_slo():
    """Mon Espace SP's SLO endpoint: CSAM answers our logout, or asks for one."""
    received = _sp().receive(request.query_string.decode("latin-1"), Database.session())
    if received.kind == "request":
        csam = session.get("csam")
        mismatch = _sp().mismatch(received, csam["name_id"], csam.get("session_index")) if csam else ""
        if mismatch:
            return redirect(_sp().respond_unknown(received, mismatch))
        sessions.destroy()
        return redirect(_sp().respond(received))
    _answered(received)
    return redirect(url_for("logout.next_hop"))
