"""What the OpenID Provider's endpoints share: the blueprint, the issuer and
endpoint URLs, the registered clients, OAuth errors (JSON or redirect) and
the protocol-log line of each step."""
from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, current_app, jsonify, redirect
from werkzeug.wrappers import Response

from fedsim import clock, protocol_log
from idp_csam.i18n import N_
from idp_csam.oidc.clients import Client, Registry

log = logging.getLogger("idp_csam.oidc")

bp = Blueprint("oidc", __name__)

REGISTRY = "idp_csam.oidc.clients"
FRONT, BACK = "OIDC front-channel", "OIDC back-channel"
SCOPE_CLAIMS = {"profile": ("given_name", "family_name", "name", "locale"), "email": ("email",),
                "egovnrn": ("egovNRN",)}
ERROR_TITLE = N_("Erreur OpenID Connect")  # the error pages' title: gettext(ERROR_TITLE) where shown


def issuer() -> str:
    return current_app.config["FEDSIM_SETTINGS"].base_url("idp_csam")


def endpoint_url(name: str) -> str:
    return issuer() + {"authorize": "/oidc/authorize", "token": "/oidc/token", "userinfo": "/oidc/userinfo",
                       "jwks": "/oidc/jwks.json", "logout": "/oidc/logout"}[name]


def registry() -> Registry:
    return current_app.extensions[REGISTRY]


def client(client_id: str) -> Client | None:
    return registry().get(client_id) if client_id else None


def lifetime(name: str) -> timedelta:
    return clock.duration(current_app.config[name])


class OAuthError(Exception):
    """An OAuth 2.0 / OIDC error (RFC 6749 4.1.2.1, 5.2): ``error`` code and
    a precise ``error_description``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        description = description if len(description) <= 300 else description[:299] + "…"  # echoes input
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def json_error(exc: OAuthError) -> Response:
    response = jsonify(error=exc.error, error_description=exc.description)
    response.status_code = exc.status
    response.headers["Cache-Control"] = "no-store"
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = (
            f'Bearer error="{exc.error}"' if exc.error == "invalid_token" else 'Basic realm="csam-oidc"')
    return response


def with_query(uri: str, params: dict[str, str]) -> str:
    """``uri`` (a registered one) with ``params`` added to its query."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def redirect_error(redirect_uri: str, state: str, exc: OAuthError) -> Response:
    """The error sent back to the client's registered redirect_uri (RFC 6749 4.1.2.1, RFC 9207 iss)."""
    params = {"error": exc.error, "error_description": exc.description, "iss": issuer()}
    if state:
        params["state"] = state
    return redirect(with_query(redirect_uri, params))


def log_step(event: str, message_id: str, client_id: str, outcome: str, reason: str = "", *,
             binding: str = FRONT, to_client: bool = False) -> None:
    """One protocol-log line for an OpenID Connect step (the trainer console's trace shows it)."""
    ends = (issuer(), client_id) if to_client else (client_id, issuer())
    protocol_log.log_step(event, message_id=message_id, issuer=ends[0], destination=ends[1], binding=binding,
                          outcome=outcome, reason=reason)
