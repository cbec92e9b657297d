"""Flask plumbing every app shares: error pages that say what was wrong
(never a stack trace), the SAML POST form, and a blueprint that serves the
shared templates. (Secret keys: fedsim.keys.)"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from fedsim.mail import MailNotSent
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import PostForm

log = logging.getLogger(__name__)

shared = Blueprint("fedsim", __name__, template_folder="templates")


class UserError(HTTPException):
    """Bad input from the person or their browser: shown as a 4xx page."""
    code = 400

    def __init__(self, message: str, *, code: int = 400, title: str = "Demande refusée") -> None:
        super().__init__(description=message)
        self.code = code
        self.title = title


def error_page(title: str, message: str, status: int, detail: str = "") -> tuple[str, int]:
    return render_template("fedsim/error.html", title=title, message=message,
                           detail=detail, status=status), status


def post_form(form: PostForm) -> str:
    """Auto-submitting page for the SAML HTTP-POST binding."""
    return render_template("fedsim/post_form.html", form=form)


def configure_errors(app: Flask) -> None:
    @app.errorhandler(SamlRefused)
    def _saml_refused(exc: SamlRefused):  # noqa: ANN202
        log.warning("%s: SAML refused: %s (%s)", app.name, exc.reason, exc.detail)
        return error_page("Message SAML refusé", exc.reason, 400, exc.detail)

    @app.errorhandler(MailNotSent)
    def _mail_not_sent(exc: MailNotSent):  # noqa: ANN202
        log.error("%s: e-mail not sent: %s", app.name, exc)
        return error_page("E-mail non envoyé", "Le serveur de courrier n'a pas accepté le message ; "
                          "rien n'a été enregistré. Réessayez dans un instant.", 503, str(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):  # noqa: ANN202
        log.warning("%s: CSRF refused: %s", app.name, exc.description)
        return error_page("Formulaire refusé", "Ce formulaire a expiré ou ne vient pas de cette page "
                          "(jeton anti-falsification absent ou invalide). Rechargez la page et recommencez.",
                          400, exc.description)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # noqa: ANN202
        title = getattr(exc, "title", None) or exc.name
        return error_page(title, exc.description or exc.name, exc.code or 400)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # noqa: ANN202
        log.exception("%s: unexpected error", app.name)
        return error_page("Erreur interne", "Une erreur inattendue s'est produite ; elle a été "
                          "journalisée. Recommencez l'opération.", 500)


def configure_shared(app: Flask, *, layout: str) -> None:
    """Register the shared templates and tell them which layout to extend."""
    app.register_blueprint(shared)
    app.jinja_env.globals["layout"] = layout
    configure_errors(app)


def metadata_response(entity_name: str) -> Response:
    """The SAML metadata of one of this app's entities, built once per app."""
    from flask import current_app

    from fedsim.federation import entities
    from fedsim.trust import metadata_xml

    cache = current_app.extensions.setdefault("fedsim.metadata", {})
    if entity_name not in cache:
        settings = current_app.config["FEDSIM_SETTINGS"]
        cache[entity_name] = metadata_xml(entities(settings)[entity_name], settings.certs_dir)
    return plain(cache[entity_name], mimetype="application/samlmetadata+xml")


def plain(text: str, status: int = 200, mimetype: str = "text/plain") -> Response:
    return Response(text, status=status, mimetype=mimetype)
