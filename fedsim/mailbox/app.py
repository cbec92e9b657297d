"""Web mailbox: read what the federation sent.

It answers only for the federation's host names (``FEDSIM_TRUSTED_HOSTS``,
any port, as the apps: ``FEDSIM_HOST``, localhost, 127.0.0.1, [::1]): a page
of another site whose name was made to point at this machine (DNS
rebinding) must not read activation links and codes. The refusal (400)
comes before any view, for every blueprint mounted on this app (the
harness's admin pages too)."""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template, request
from sqlalchemy.orm import sessionmaker

from fedsim import health
from fedsim.federation import Settings
from fedsim.mailbox import safe_html, store
from fedsim.web import default_trusted_hosts, is_trusted_host

log = logging.getLogger(__name__)

bp = Blueprint("mailbox", __name__, template_folder="templates", static_folder="static",
               static_url_path="/mailbox-static")

# The srcdoc iframe inherits this policy: its images and styles come from
# here or nowhere, and it runs no script (the sandbox forbids them anyway).
CSP = ("default-src 'self'; img-src 'self'; style-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; object-src 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _db():
    return current_app.extensions["mailbox.sessions"]()


@bp.get("/")
def index():
    with _db() as db:
        messages = [store.read(m) for m in store.latest(db, request.args.get("to"))]
    return render_template("mailbox/index.html", messages=messages, to=request.args.get("to", ""))


@bp.get("/messages/<int:message_id>")
def show(message_id: int):
    with _db() as db:
        stored = db.get(store.StoredMessage, message_id)
        if stored is None:
            abort(404, description=f"Aucun message n° {message_id} dans la boîte.")
        message = store.read(stored)
    srcdoc = safe_html.srcdoc(message.html) if message.html else None
    return render_template("mailbox/message.html", message=message, srcdoc=srcdoc, sandbox=safe_html.SANDBOX)


@bp.get("/api/messages")
def api_list():
    """JSON for scripts: ?to=<address>&subject=<part>&limit=<n> (newest first)."""
    limit = request.args.get("limit", default=50, type=int)
    if not 1 <= limit <= 500:
        return jsonify(error="limit must be between 1 and 500"), 400
    with _db() as db:
        found = store.latest(db, request.args.get("to"), request.args.get("subject"), limit)
        messages = [store.read(m).as_json() for m in found]
    return jsonify(messages=messages)


@bp.get("/api/messages/<int:message_id>")
def api_show(message_id: int):
    with _db() as db:
        stored = db.get(store.StoredMessage, message_id)
        if stored is None:
            return jsonify(error=f"no message {message_id}"), 404
        return jsonify(store.read(stored).as_json())


@bp.delete("/api/messages")
def api_delete_all():
    """Empty the mailbox: from this machine only, and never from another site's page."""
    if not _from_loopback(request.remote_addr):
        return jsonify(error="deleting messages is allowed from this machine (loopback) only"), 403
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
        return jsonify(error=f"cross-site request refused (Origin {origin})"), 403
    with _db() as db:
        deleted = store.delete_all(db)
    return jsonify(deleted=deleted)


def _from_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _secure_headers(response: Response) -> Response:
    """On the mailbox's own responses (other blueprints mounted on this app
    by the harness keep their own rules)."""
    if request.blueprint in (None, bp.name):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _trusted_host_first():  # noqa: ANN202 - None, or the refusal
    """Before any other hook: nothing of the mail for a Host this mailbox does not serve."""
    if is_trusted_host(current_app.config["FEDSIM_TRUSTED_HOSTS"]):
        return None
    log.warning("mailbox: untrusted Host header refused: %r", request.environ.get("HTTP_HOST"))
    if request.path.startswith(("/api/", "/admin/reset", "/health")):
        return jsonify(error="this mailbox does not answer for this Host header (not one of "
                             "FEDSIM_TRUSTED_HOSTS)"), 400
    # No url_for in this page: a Host that is no valid name leaves Flask without a URL adapter.
    return render_template("mailbox/refused_host.html"), 400


def trust_hosts(app: Flask, names: Iterable[str]) -> None:
    """Let the mailbox answer for these host names too (the federation's ``FEDSIM_HOST``)."""
    app.config["FEDSIM_TRUSTED_HOSTS"] = list(dict.fromkeys([*app.config["FEDSIM_TRUSTED_HOSTS"], *names]))


def create_app(sessions: sessionmaker, *, trusted_hosts: Iterable[str] | None = None) -> Flask:
    """``trusted_hosts``: the names it answers for [FEDSIM_HOST, localhost,
    127.0.0.1, [::1]]."""
    app = Flask(__name__)
    app.config["FEDSIM_TRUSTED_HOSTS"] = (list(trusted_hosts) if trusted_hosts is not None
                                          else default_trusted_hosts(Settings.from_env().host))
    app.before_request_funcs.setdefault(None, []).insert(0, _trusted_host_first)
    app.extensions["mailbox.sessions"] = sessions
    app.register_blueprint(bp)
    health.init_app(app, name="mailbox", checks={"mailbox database": health.database(sessions)})
    app.after_request(_secure_headers)

    @app.errorhandler(404)
    def _not_found(exc):  # noqa: ANN001, ANN202
        return render_template("mailbox/error.html", message=exc.description), 404

    return app
