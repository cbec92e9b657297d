"""Web mailbox: read what the federation sent."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, jsonify, render_template, request
from sqlalchemy.orm import sessionmaker

from fedsim import health
from fedsim.mailbox import store

bp = Blueprint("mailbox", __name__, template_folder="templates")


def _db():
    from flask import current_app
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
    return render_template("mailbox/message.html", message=message)


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


def create_app(sessions: sessionmaker) -> Flask:
    app = Flask(__name__)
    app.extensions["mailbox.sessions"] = sessions
    app.register_blueprint(bp)
    health.init_app(app, name="mailbox", checks={"mailbox database": health.database(sessions)})

    @app.errorhandler(404)
    def _not_found(exc):  # noqa: ANN001, ANN202
        return render_template("mailbox/error.html", message=exc.description), 404

    return app
