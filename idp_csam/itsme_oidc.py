"""What the simulated itsme OP (idp_csam.itsme_op) and its token and userinfo
endpoints (idp_csam.itsme_token) share: the OpenID Connect names and
lifetimes, the registered client (CSAM), the OP's URLs, OAuth errors, the
client's JWKS fetched over the back-channel, and the protocol-log line of
each OpenID Connect step."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, jsonify
from werkzeug.wrappers import Response

from fedsim import protocol_log
from idp_csam.itsme_backchannel import Unreachable, backchannel

log = logging.getLogger("idp_csam.itsme_op")

PREFIX = "/itsme-op"  # where the OP is served, in the CSAM app
ACR_BASIC = "http://itsme.services/v2/claim/acr_basic"
ACR_ADVANCED = "http://itsme.services/v2/claim/acr_advanced"
NRN_CLAIM = "http://itsme.services/v2/claim/BENationalNumber"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_ID = "csam-fas"
TOKEN_LIFETIME = timedelta(minutes=5)     # ID and access tokens
MAX_ASSERTION_LIFETIME = timedelta(minutes=5)
SUPPORTED_CLAIMS = ("sub", NRN_CLAIM, "given_name", "family_name", "email")
FRONT, BACK = "OIDC front-channel", "OIDC back-channel"


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    jwks_uri: str


def issuer() -> str:
    return current_app.config["FEDSIM_SETTINGS"].base_url("idp_csam") + PREFIX


def endpoint_url(name: str) -> str:
    return issuer() + {"authorize": "/authorize", "token": "/token", "userinfo": "/userinfo",
                       "jwks": "/jwks.json"}[name]


def clients() -> dict[str, Client]:
    """The relying parties registered with this OP: CSAM only."""
    csam = current_app.config["FEDSIM_SETTINGS"].base_url("idp_csam")
    return {CLIENT_ID: Client(CLIENT_ID, (csam + "/itsme/callback",), csam + "/itsme/jwks.json")}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def json_error(exc: OAuthError) -> Response:
    log.warning("itsme OP refused: %s (%s)", exc.error, exc.description)
    response = jsonify(error=exc.error, error_description=exc.description)
    response.status_code = exc.status
    return response


class ClientKeysUnavailable(Exception):
    pass


def client_jwks(client: Client) -> dict:
    """The client's JWKS, fetched from its jwks_uri over the back-channel
    (``ClientKeysUnavailable`` says why not)."""
    try:
        reply = backchannel().request("GET", client.jwks_uri)
    except Unreachable as exc:
        raise ClientKeysUnavailable(f"client JWKS unreachable: {exc}") from None
    document = reply.json()
    if reply.status != 200 or not isinstance(document.get("keys"), list):
        raise ClientKeysUnavailable(f"client JWKS unreadable (HTTP {reply.status})")
    return document


def log_step(event: str, message_id: str, client_id: str, outcome: str, reason: str = "", *,
             binding: str = FRONT, to_client: bool = False) -> None:
    """One protocol-log line for an OpenID Connect step (as fedsim.protocol_log
    writes one per SAML step): the trainer console's trace shows both."""
    ends = (issuer(), client_id) if to_client else (client_id, issuer())
    protocol_log.log_step(event, message_id=message_id, issuer=ends[0], destination=ends[1], binding=binding,
                          outcome=outcome, reason=reason)
