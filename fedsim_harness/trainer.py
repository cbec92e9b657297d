"""The trainer console, on the mailbox app (the harness's own app, port
5025): ``GET /formateur``, in French, for the person who demonstrates the
journey to a room.

- the personas with their credentials (eID card and PIN, the persona's other
  cards — expired, revoked —, CSAM username and password, itsme phone and
  code, e-mail) and what each one demonstrates, derived from their data;
  the foreign people of the simulated eIDAS nodes;
- « Réinitialiser la fédération » (POST): the very reset of ``POST
  /admin/reset`` (fedsim_harness.admin, its ``RESET`` extension), which this
  console wraps so that any reset also empties the trace;
- the federation's clock (fedsim.clock: ``FEDSIM_CLOCK_OFFSET``, read at
  every call) and buttons that move it. It is this process's environment:
  it moves the clock of every app served in this process (Werkzeug, the
  in-process federation), not of apps on gunicorn (their workers are other
  processes, whose environment was copied when they started) — there the
  page says so and the buttons are off;
- the mailbox: a link, and the 5 latest mails;
- the live trace: each protocol step (fedsim.protocol_log, one record per
  SAML message) received by this process, kept in memory (the last
  ``TRACE_SIZE``), newest first, served as JSON at ``/formateur/trace.json``
  and re-read by the page every 2 s. Under gunicorn the apps log in their
  own processes: the trace stays empty, and the page says so.

Local only, with the guard of every admin page (fedsim_harness.admin_guard)."""
from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from fedsim import clock, personas, protocol_log
from fedsim.federation import Settings, display_name
from fedsim.mailbox import store
from fedsim.mailbox.app import trust_hosts
from fedsim.web import csp_nonce
from fedsim_harness import admin, admin_guard

bp = Blueprint("fedsim_trainer", __name__, url_prefix="/formateur", template_folder="templates")

CONSOLE = "fedsim.trainer"  # mailbox.extensions key: a Console
TRACE_SIZE = 200
CLOCK_VARIABLE = "FEDSIM_CLOCK_OFFSET"
OIDC_NAMES = {"csam-fas": "CSAM"}  # itsme's client id for CSAM (idp_csam.itsme_op.CLIENT_ID)
MOVES = {"5min": (timedelta(minutes=5), "+5 min"), "30min": (timedelta(minutes=30), "+30 min"),
         "1jour": (timedelta(days=1), "+1 jour")}
EVENTS = {"AuthnRequest": "Demande d'authentification", "Response": "Réponse d'authentification",
          "LogoutRequest": "Demande de déconnexion", "LogoutResponse": "Réponse de déconnexion",
          "AuthorizationRequest": "Demande d'autorisation (OpenID Connect)",
          "TokenRequest": "Échange du code (OpenID Connect)", "IDToken": "Jeton d'identité (OpenID Connect)"}
EVENTS["QuickLogin"] = "Connexion rapide (raccourci du simulateur, CSAM)"  # idp_csam.quick_login
EVENTS.update({"UserInfo": "Données userinfo (OpenID Connect)",  # idp_csam.itsme_token, methods.itsme
               "UserInfoRequest": "Demande userinfo (OpenID Connect)", "JWKS": "Clés publiques JWKS (OpenID Connect)"})
OUTCOMES = {"accepted": "acceptée", "refused": "refusée", "issued": "émise", "sent": "envoyée",
            "received": "reçue"}
DONE = {"reset": "La fédération est revenue à son état de départ ({ms} ms) ; la trace est vide.",
        "clock": "L'horloge de la fédération a été déplacée.",
        "clock-back": "L'horloge de la fédération est revenue à l'heure réelle."}
CSP = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
       "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
IDP_DATA = Path(__file__).resolve().parent.parent / "idp_csam" / "data"


class Trace:
    """The last protocol steps this process saw, newest first (thread-safe)."""

    def __init__(self, settings: Settings, size: int = TRACE_SIZE) -> None:
        self.settings = settings
        self._entries: deque[dict] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._serial = 0

    def receive(self, record: logging.LogRecord) -> None:
        with self._lock:
            self._serial += 1
            self._entries.appendleft(self._entry(self._serial, clock.now().isoformat(timespec="seconds"),
                                                 record.protocol))

    def entries(self) -> list[dict]:
        """Newest first: this process's steps, or, when the apps run in
        other processes (gunicorn), those of the shared trace file."""
        if os.environ.get(protocol_log.TRACE_FILE_VARIABLE):
            return [self._entry(n, fields.get("time", ""), fields)
                    for n, fields in enumerate(protocol_log.read_trace_file(self._entries.maxlen), start=1)]
        with self._lock:
            return list(self._entries)

    def _entry(self, serial: int, time: str, fields: dict) -> dict:
        name = lambda entity: display_name(self.settings, entity) or OIDC_NAMES.get(entity or "") \
            or ("itsme" if (entity or "").endswith("/itsme-op") else entity) or "?"
        return {"n": serial, "time": time,
                "event": fields.get("event", ""), "label": EVENTS.get(fields.get("event", ""), fields.get("event", "")),
                "from": name(fields.get("issuer")), "to": name(fields.get("destination")),
                "outcome": fields.get("outcome", ""),
                "outcome_label": OUTCOMES.get(fields.get("outcome", ""), fields.get("outcome", "")),
                "reason": fields.get("reason", ""), "binding": fields.get("binding", ""),
                "message_id": fields.get("message_id", ""), "correlation_id": fields.get("correlation_id", "")}

    def clear(self) -> None:
        protocol_log.clear_trace_file()
        with self._lock:
            self._entries.clear()


@dataclass
class Console:
    """What the page needs: the names of this machine, the trace, and
    whether the apps share this process's clock and log (Werkzeug)."""
    settings: Settings
    hosts: frozenset[str]
    trace: Trace
    in_process: bool = True
    unsubscribe: Callable[[], None] = field(default=lambda: None)


def install(mailbox: Flask, settings: Settings, *, in_process: bool = True) -> Console:
    """Serve ``/formateur`` from ``mailbox``; ``in_process``: the apps run
    in this process (Werkzeug threads, or in-process), not on gunicorn.
    Install after fedsim_harness.admin (the reset it offers is that one)."""
    trace = Trace(settings)
    console = Console(settings, frozenset({"localhost", settings.host}), trace, in_process,
                      protocol_log.subscribe(trace.receive))
    reset = mailbox.extensions.get(admin.RESET)
    if reset is not None:
        def reset_and_clear() -> float:
            ms = reset()
            trace.clear()
            return ms
        mailbox.extensions[admin.RESET] = reset_and_clear
    mailbox.extensions[CONSOLE] = console
    trust_hosts(mailbox, sorted(console.hosts))
    mailbox.register_blueprint(bp)
    return console


# -- what the personas demonstrate --------------------------------------------------

def _yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        return {}


def roster() -> dict:
    """The personas with their credentials and what each one demonstrates
    (fedsim/data/personas.yaml and FEDSIM_PERSONAS), and the foreign people
    of the eIDAS nodes (idp_csam/data/eidas_personas.yaml and the personas
    with an ``eidas:`` block)."""
    people = []
    for persona in personas.load():
        itsme = ({"phone": persona.itsme.phone, "code": persona.itsme.code}
                 if persona.itsme and persona.card else None)
        others = [{"number": c.number, "pin": c.pin, "puk": c.puk, "state": c.state} for c in persona.cards]
        people.append({"persona": persona, "other_cards": others, "itsme": itsme,
                       "shows": demonstrates(persona, others, itsme)})
    foreign = [{"country": country, **person}
               for country, found in _yaml(IDP_DATA / "eidas_personas.yaml").items() for person in found or ()]
    foreign += [{"country": p.eidas.country, "id": p.id, "given_name": p.given_name, "family_name": p.surname,
                 "birth_date": p.eidas.birth_date, "national_id": p.eidas.national_id, "loa": p.eidas.loa}
                for p in personas.load() if p.eidas]
    return {"people": people, "foreign": foreign}


STATES = {"expired": "expirée", "revoked": "révoquée", "valid": "valide"}
LEVELS = {"low": "faible", "substantial": "substantiel", "high": "élevé"}


def demonstrates(persona: personas.Persona, other_cards: list[dict], itsme: dict | None) -> list[str]:
    """What a persona shows, in a few French phrases, from its properties
    (its own ``demonstrates`` line is shown above them)."""
    shows = []
    if persona.monespace is None:
        shows.append("première connexion : création et activation du compte Mon Espace (e-mail)")
    else:
        shows.append(f"compte Mon Espace existant ({persona.monespace.cerbere_username})")
        if len(persona.monespace.contexts) > 1:
            shows.append("choix du contexte à la connexion : " + ", ".join(persona.monespace.contexts))
        filled = [what for what, items in (("dossiers", persona.monespace.dossiers),
                                           ("documents", persona.monespace.documents),
                                           ("notifications", persona.monespace.notifications)) if items]
        if filled:
            shows.append("tableau de bord rempli : " + ", ".join(filled))
    if persona.csam is not None:
        shows.append("nom d'utilisateur et mot de passe CSAM : code par e-mail ou par application")
    elif persona.card is not None:
        shows.append("pas de mot de passe CSAM : carte eID ou itsme seulement")
    if itsme:
        shows.append("itsme (confirmation sur le téléphone)")
    for card in other_cards:
        state = str(card.get("state", "valid"))
        if state != "valid":
            shows.append(f"une carte {STATES.get(state, state)} : le refus de CSAM")
    if persona.language != "fr":
        shows.append(f"CSAM dans sa langue ({persona.language})")
    if persona.is_bis:
        shows.append(f"numéro BIS (nationalité : {persona.nationality})")
    if persona.eidas is not None:
        shows.append(f"clé eIDAS : nœud {persona.eidas.country}, niveau {LEVELS.get(persona.eidas.loa)}")
    if persona.attributes:
        shows.append("attributs propres dans l'assertion CSAM : " + ", ".join(persona.attributes))
    if persona.monespace is not None and persona.monespace.cerbere_password:
        shows.append("mot de passe Cerbère déjà choisi : connexion directe à Cerbère (G26)")
    if persona.bel_agent is not None:
        shows.append(f"agent BEL : {persona.bel_agent.username} / {persona.bel_agent.password}")
    return shows


# -- the page -----------------------------------------------------------------------

def _console() -> Console:
    return current_app.extensions[CONSOLE]


bp.context_processor(lambda: {"csp_nonce": csp_nonce})


@bp.before_request
def _local_only():
    reason = admin_guard.refusal(_console().hosts)
    if reason is None:
        return None
    return render_template("trainer/refused.html", message=reason), 403


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP.format(nonce=csp_nonce()))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _offset_seconds() -> float:
    """The clock's offset as fedsim.clock reads it (an unreadable value counts as 0)."""
    try:
        return float(os.environ.get(CLOCK_VARIABLE, "0") or 0) + clock.shared_shift()
    except ValueError:
        return clock.shared_shift()


def _shared_clock() -> bool:
    """Whether the apps run in other processes that share the clock through
    ``FEDSIM_CLOCK_FILE`` (``fedsim up`` on gunicorn)."""
    return bool(os.environ.get(clock.SHARED_FILE_VARIABLE))


def _latest_mails() -> list[store.ReadMessage]:
    with current_app.extensions["mailbox.sessions"]() as db:
        return [store.read(m) for m in store.latest(db, limit=5)]


@bp.get("")
def index():
    console = _console()
    offset = _offset_seconds()
    done = DONE.get(request.args.get("fait", ""), "")
    return render_template("trainer/index.html", roster=roster(), console=console, now=clock.now(),
                           offset=timedelta(seconds=round(offset)), moves=MOVES, mails=_latest_mails(),
                           done=done.replace("{ms}", request.args.get("ms", "?")),
                           can_reset=admin.RESET in current_app.extensions, shared_clock=_shared_clock(),
                           trace=console.trace.entries())


@bp.get("/trace.json")
def trace():
    console = _console()
    return jsonify(now=clock.now().isoformat(timespec="seconds"), in_process=console.in_process,
                   entries=console.trace.entries())


@bp.post("/reinitialiser")
def reset():
    do_reset = current_app.extensions.get(admin.RESET)
    if do_reset is None:
        return render_template("trainer/refused.html", message="Aucune réinitialisation n'est installée."), 409
    try:
        ms = do_reset()
    except Exception as exc:
        current_app.logger.exception("reset failed")
        return render_template("trainer/refused.html",
                               message=f"La réinitialisation a échoué : {type(exc).__name__}: {exc}"), 500
    return redirect(url_for(".index", fait="reset", ms=round(ms)), 303)


@bp.post("/horloge")
def move_clock():
    shared = _shared_clock()
    if not _console().in_process and not shared:
        return render_template("trainer/refused.html", message=(
            "Les applications tournent dans d'autres processus sans horloge partagée : elle ne peut pas être "
            f"déplacée d'ici. Relancez « fedsim up », ou « {CLOCK_VARIABLE}=<secondes> fedsim up ».")), 409
    move = request.form.get("move", "")
    if move == "back":
        if shared:
            clock.set_shared_shift(0)
        else:
            os.environ.pop(CLOCK_VARIABLE, None)
        return redirect(url_for(".index", fait="clock-back"), 303)
    if move not in MOVES:
        return render_template("trainer/refused.html", message="Déplacement de l'horloge inconnu."), 400
    step = MOVES[move][0].total_seconds()
    if shared:  # every worker of every app reads the shared file
        clock.set_shared_shift(clock.shared_shift() + step)
    else:
        os.environ[CLOCK_VARIABLE] = str(_offset_seconds() + step)
    return redirect(url_for(".index", fait="clock"), 303)
