"""Flask plumbing every app shares: error pages that say what was wrong
(never a stack trace), the SAML POST form, and a blueprint that serves the
shared templates. (Secret keys: fedsim.keys.)"""
from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadHost, HTTPException, RequestEntityTooLarge

from fedsim import links, protocol_log
from fedsim.mail import MailNotSent
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import PostForm
from fedsim.saml.texts import Said

log = logging.getLogger(__name__)

shared = Blueprint("fedsim", __name__, template_folder="templates")


class UserError(HTTPException):
    """Bad input from the person or their browser: shown as a 4xx page."""
    code = 400

    def __init__(self, message: str, *, code: int = 400, title: str = "Demande refusée") -> None:
        super().__init__(description=message)
        self.code = code
        self.title = title


def safe_next(url: str | None, default: str) -> str:
    """``url`` when it is a path on this very host, else ``default``: one
    leading ``/`` (never ``//``), no backslash, no control character or
    whitespace, no scheme or host — also once percent-decoded, as browsers
    strip tabs and newlines and read ``\\`` as ``/``. For every redirect
    target taken from a request (``next``)."""
    if not url or len(url) > 2000:
        return default
    if any(ch.isspace() for ch in url):
        return default
    for candidate in (url, unquote(url), unquote(unquote(url))):  # a percent-encoded space stays allowed
        if not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
            return default
        if any((ch.isspace() and ch != " ") or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
               for ch in candidate):
            return default
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return default
    return url


def shown_reason(reason: str) -> str:
    """A SAML refusal's reason in the page's language: a ``Said`` (fedsim/saml
    marks its reasons with ``said``) through ``translated`` — its variables
    that are ``Said`` too (fragments such as « la Response »), the others
    (entity IDs, URLs, IDs) inserted as they are; any other text as it is."""
    if not isinstance(reason, Said):
        return reason
    return translated(reason.template, **{name: shown_reason(value) if isinstance(value, Said) else value
                                          for name, value in reason.variables.items()})


def translated(text: str, **variables) -> str:
    """``text`` (French, ``%(name)s`` placeholders) in the page's language
    where the app translates with Flask-Babel — CSAM, whose catalogues hold
    these texts (idp_csam/shared_texts.py) — else in French (Mon Espace,
    Modigia). For the error pages' fixed texts."""
    if "babel" in current_app.extensions:
        from flask_babel import gettext
        return gettext(text, **variables)
    return text % variables if variables else text


# The title and description of Werkzeug's own HTTP errors (a page that does
# not exist, a method a route does not take, …), in French: Werkzeug's are
# English. Every app shows these; CSAM translates them (``translated``; the
# texts are marked for its catalogues in idp_csam/shared_texts.py). A
# description given when the error was raised (``abort(404, "…")``, a
# UserError) is shown as given.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("Demande incorrecte", "Le navigateur a envoyé une demande que ce serveur ne comprend pas."),
    401: ("Authentification requise", "Cette adresse demande une authentification que la demande n'apportait pas."),
    403: ("Accès interdit", "Vous n'avez pas le droit d'accéder à cette page."),
    404: ("Page introuvable", "Aucune page ne se trouve à cette adresse : vérifiez-la, ou repartez de l'accueil."),
    405: ("Méthode non autorisée", "Cette adresse n'accepte pas ce type de demande (méthode HTTP)."),
    409: ("Conflit", "La demande entre en conflit avec l'état actuel : rechargez la page et recommencez."),
    410: ("Page disparue", "Cette page n'existe plus."),
    413: ("Demande trop volumineuse", "Le contenu envoyé est trop volumineux : il n'a pas été lu."),
    429: ("Trop de demandes", "Trop de demandes en peu de temps : patientez un instant, puis réessayez."),
    500: ("Erreur interne", "Une erreur inattendue s'est produite ; elle a été journalisée. Recommencez l'opération."),
    502: ("Passerelle en erreur", "Un service dont cette page dépend a mal répondu. Réessayez dans un instant."),
    503: ("Service indisponible", "Le service est momentanément indisponible. Réessayez dans un instant."),
}


def http_error_texts(exc: HTTPException) -> tuple[str, str]:
    """The page's title and message for ``exc``, in the page's language:
    a UserError's own (translated by their author), else the French texts
    of HTTP_ERRORS for Werkzeug's errors, keeping a description given at
    the raise."""
    french = HTTP_ERRORS.get(exc.code or 0)
    title = getattr(exc, "title", None)
    if title is None:
        title = translated(french[0]) if french else exc.name
    else:
        title = translated(title)  # UserError's default title; an author's translation stays as it is
    description = exc.description
    if not description or (french and description == type(exc).description):
        description = translated(french[1]) if french else exc.name
    return title, description


def error_page(title: str, message: str, status: int, detail: str = "") -> tuple[str | Response, int]:
    """``title`` and ``message`` as given (translated by their author), the
    page's own labels with ``translated``."""
    if isinstance(request.routing_exception, BadHost):  # a Host that is no valid name (a label of
        # 64+ characters): Flask has no URL adapter, no URL can be built, so no page with the layout's links
        return Response(f"{title}\n\n{message}\n", mimetype="text/plain"), status
    labels = {"detail": translated("Détail technique"), "home": translated("Retour à l'accueil")}
    return render_template("fedsim/error.html", title=title, message=message,
                           detail=detail, status=status, labels=labels), status


def post_form(form: PostForm) -> str:
    """Auto-submitting page for the SAML HTTP-POST binding: a small page of
    its own (not the app's layout), rendered without the app's context
    processors, which it does not use; its script carries the response's
    CSP nonce."""
    template = current_app.jinja_env.get_template("fedsim/post_form.html")  # cached by Jinja
    return template.render(form=form, csp_nonce=csp_nonce())


def configure_errors(app: Flask) -> None:
    @app.errorhandler(SamlRefused)
    def _saml_refused(exc: SamlRefused):  # noqa: ANN202
        log.warning("%s: SAML refused: %s (%s)", app.name, exc.reason, exc.detail)
        return error_page(translated("Message SAML refusé"), shown_reason(exc.reason), 400, exc.detail)

    @app.errorhandler(MailNotSent)
    def _mail_not_sent(exc: MailNotSent):  # noqa: ANN202
        log.error("%s: e-mail not sent: %s", app.name, exc)
        return error_page(translated("E-mail non envoyé"),
                          translated("Le serveur de courrier n'a pas accepté le message ; "
                                     "rien n'a été enregistré. Réessayez dans un instant."), 503, str(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):  # noqa: ANN202
        log.warning("%s: CSRF refused: %s", app.name, exc.description)
        return error_page(translated("Formulaire refusé"),
                          translated("Ce formulaire a expiré ou ne vient pas de cette page (jeton "
                                     "anti-falsification absent ou invalide). Rechargez la page et recommencez."),
                          400, exc.description)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):  # noqa: ANN202
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        log.warning("%s: request body over %s bytes refused", app.name, limit)
        return error_page(translated("Demande trop volumineuse"),
                          translated("Le contenu envoyé dépasse la limite de %(kib)d Kio (%(bytes)d octets) : "
                                     "il n'a pas été lu.", kib=limit // 1024, bytes=limit), 413)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # noqa: ANN202
        title, message = http_error_texts(exc)
        return error_page(title, message, exc.code or 400)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # noqa: ANN202
        log.exception("%s: unexpected error", app.name)
        return error_page(translated("Erreur interne"),
                          translated("Une erreur inattendue s'est produite ; elle a été "
                                     "journalisée. Recommencez l'opération."), 500)


def configure_shared(app: Flask, *, layout: str) -> None:
    """Register the shared templates and tell them which layout to extend
    (their ``url_for`` remembers the links it built: fedsim.links);
    error pages, limits, trusted hosts, security headers, the correlation
    id of protocol log lines (``X-Correlation-Id``)."""
    app.register_blueprint(shared)
    app.jinja_env.globals["layout"] = layout
    links.install(app)  # the templates' url_for, remembered per app
    configure_errors(app)
    configure_limits(app)
    configure_security_headers(app)
    protocol_log.configure(app)


MAX_BODY = 1024 * 1024  # bytes of request body an app reads at most


def default_trusted_hosts(federation_host: str) -> list[str]:
    return list(dict.fromkeys([federation_host, "localhost", "127.0.0.1", "[::1]"]))


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port: ``[::1]:5000`` → ``[::1]``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def is_trusted_host(trusted: Iterable[str]) -> bool:
    """Whether the current request's Host header (any port; without one,
    the server's name) names one of ``trusted``. A page of another site
    whose name was made to point at 127.0.0.1 (DNS rebinding) sends its own
    name: it is not one of them."""
    names = {name.lower() for name in trusted}
    return host_name(request.environ.get("HTTP_HOST") or request.environ.get("SERVER_NAME", "")) in names


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def configure_limits(app: Flask) -> None:
    """Request body size (Flask's ``MAX_CONTENT_LENGTH``: 413) and the names
    the app answers for (``FEDSIM_TRUSTED_HOSTS``, any port: else 400; not
    Flask's ``TRUSTED_HOSTS``, whose check refuses ``[::1]``)."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    if app.config.get("FEDSIM_TRUSTED_HOSTS") is None:
        settings = app.config.get("FEDSIM_SETTINGS")
        app.config["FEDSIM_TRUSTED_HOSTS"] = default_trusted_hosts(settings.host if settings else "localhost")

    def _trusted_host_first() -> None:
        """Before any other hook: nothing runs for a Host the app does not
        serve, nor for a query string that is not ASCII."""
        if not is_trusted_host(app.config["FEDSIM_TRUSTED_HOSTS"]):
            log.warning("%s: untrusted Host header refused: %r", app.name, request.environ.get("HTTP_HOST"))
            raise UserError(translated("Ce serveur ne répond pas pour cet hôte (en-tête Host non reconnu ; voir "
                                       "FEDSIM_TRUSTED_HOSTS)."), title=translated("Hôte refusé"))
        if not request.query_string.isascii():  # browsers percent-encode; raw bytes would fail to decode
            request.query_string = b""  # the error page (its language, its links) must not read it
            raise UserError(translated("Adresse refusée : l'URL contient un octet non ASCII non encodé."), title=translated("Adresse invalide"))
        # A NUL character is never meaningful in a page's address or a form
        # field, and PostgreSQL refuses it in a string (a 500, on SQLite a
        # stored oddity): refused before any view reads it.
        if "\x00" in request.path or b"%00" in request.query_string:
            request.query_string = b""
            raise UserError(translated("Adresse refusée : l'URL contient un caractère nul (%00)."), title=translated("Adresse invalide"))
        if request.method == "POST" and request.mimetype in FORM_TYPES and any(
                "\x00" in value for value in request.form.values()):
            raise UserError(translated("Formulaire refusé : un champ contient un caractère nul."), title=translated("Formulaire invalide"))

    app.before_request_funcs.setdefault(None, []).insert(0, _trusted_host_first)


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def configure_security_headers(app: Flask) -> None:
    """CSP (scripts and styles from this app only, inline scripts with the
    request's nonce), no framing, no sniffing, no referrer to other sites.
    No form-action: SAML forms post to peers and to registered SPs."""
    app.context_processor(lambda: {"csp_nonce": csp_nonce()})

    @app.after_request
    def _security_headers(response: Response) -> Response:
        nonce = g.get("csp_nonce")
        script = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src {script}; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


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
