"""Front-channel SAML Single Logout (HTTP-Redirect both ways) for any of our
entities, SP or IdP: send a LogoutRequest, take one in, answer it, and take
the answer in. Signatures on the query string are mandatory and checked
against the peer's metadata only."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qs

from saml2 import BINDING_HTTP_REDIRECT
from saml2.entity import Entity
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.samlp import (
    STATUS_SUCCESS, LogoutResponse, logout_request_from_string, logout_response_from_string,
)
from saml2.xmldsig import SIG_RSA_SHA256

from fedsim.saml import redirect
from fedsim.saml.errors import SamlRefused

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedLogout:
    """A verified LogoutRequest or LogoutResponse, free of pysaml2 types."""
    kind: str                 # "request" or "response"
    issuer: str
    message_id: str
    in_response_to: str = ""  # responses
    name_id: str = ""         # requests
    success: bool = True      # responses
    relay_state: str = ""


class LogoutService:
    def __init__(self, entity: Entity) -> None:
        self.entity = entity  # a pysaml2 Saml2Client or Server
        self.peer_role = "idpsso" if entity.entity_type == "sp" else "spsso"

    @property
    def entity_id(self) -> str:
        return self.entity.config.entityid

    def _peer_slo_url(self, peer: str) -> str:
        try:
            services = self.entity.metadata.single_logout_service(peer, BINDING_HTTP_REDIRECT, self.peer_role)
        except Exception:  # noqa: BLE001 - unknown entity in pysaml2's mdstore
            services = []
        if not services:
            raise SamlRefused(f"Pas de service de déconnexion (SLO) pour {peer} dans les métadonnées.")
        return services[0]["location"]

    def _redirect(self, message, destination: str, relay_state: str, response: bool) -> str:
        info = self.entity.apply_binding(BINDING_HTTP_REDIRECT, str(message), destination, relay_state,
                                         response=response, sign=True, sigalg=SIG_RSA_SHA256)
        return dict(info["headers"])["Location"]

    def request(self, peer: str, name_id: str, session_index: str | None, relay_state: str = "") -> tuple[str, str]:
        """A signed LogoutRequest to ``peer``: (redirect URL, request ID)."""
        destination = self._peer_slo_url(peer)
        idp, sp = (peer, self.entity_id) if self.entity.entity_type == "sp" else (self.entity_id, peer)
        request_id, message = self.entity.create_logout_request(
            destination, peer, name_id=NameID(text=name_id, format=NAMEID_FORMAT_PERSISTENT,
                                              name_qualifier=idp, sp_name_qualifier=sp),
            session_indexes=[session_index] if session_index else None, sign=False)
        return self._redirect(message, destination, relay_state, response=False), request_id

    def receive(self, raw_query: str) -> ReceivedLogout:
        """Verify and read a LogoutRequest or LogoutResponse from the query
        string exactly as received (``request.query_string``)."""
        args = {k: v[0] for k, v in parse_qs(raw_query).items()}
        kind = "request" if "SAMLRequest" in args else "response" if "SAMLResponse" in args else None
        if kind is None:
            raise SamlRefused("Aucun message de déconnexion SAML reçu.")
        try:
            xml = self.entity.unravel(args["SAMLRequest" if kind == "request" else "SAMLResponse"],
                                      BINDING_HTTP_REDIRECT)
            parse = logout_request_from_string if kind == "request" else logout_response_from_string
            message = parse(xml)
        except Exception as exc:  # noqa: BLE001 - malformed input of any kind
            raise SamlRefused("Message de déconnexion illisible.", f"{type(exc).__name__}: {exc}") from None
        if message is None or message.issuer is None or not message.issuer.text:
            raise SamlRefused("Message de déconnexion sans émetteur.")
        issuer = message.issuer.text.strip()
        try:
            certs = [cert for _, cert in self.entity.metadata.certs(issuer, "any", "signing")]
        except Exception:  # noqa: BLE001
            certs = []
        if not certs:
            raise SamlRefused(f"Émetteur inconnu : {issuer[:200]} n'est pas dans les métadonnées.")
        redirect.verify(raw_query, certs)
        expected = self.entity.config.endpoint("single_logout_service", BINDING_HTTP_REDIRECT,
                                               self.entity.entity_type)
        if message.destination and message.destination not in expected:
            raise SamlRefused("Destination incorrecte : le message est adressé à une autre adresse.")
        relay_state = args.get("RelayState", "")
        if kind == "request":
            return ReceivedLogout("request", issuer, message.id,
                                  name_id=message.name_id.text if message.name_id is not None else "",
                                  relay_state=relay_state)
        success = message.status is not None and message.status.status_code.value == STATUS_SUCCESS
        return ReceivedLogout("response", issuer, message.id, in_response_to=message.in_response_to or "",
                              success=success, relay_state=relay_state)

    def respond(self, received: ReceivedLogout) -> str:
        """A signed LogoutResponse (success) to the peer that asked."""
        destination = self._peer_slo_url(received.issuer)
        # pysaml2's public create_logout_response picks the destination from
        # the entity's own role; ours is the peer's SLO endpoint from metadata.
        response = self.entity._status_response(  # noqa: SLF001
            LogoutResponse, self.entity._issuer(), None, False,  # noqa: SLF001
            destination=destination, in_response_to=received.message_id)
        return self._redirect(response, destination, received.relay_state, response=True)
