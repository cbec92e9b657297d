"""Front-channel SAML Single Logout (HTTP-Redirect both ways) for any of our
entities, SP or IdP: send a LogoutRequest, take one in, answer it, and take
the answer in. Signatures on the query string are mandatory and checked
against the peer's metadata only. A LogoutRequest must be fresh (IssueInstant,
NotOnOrAfter, on fedsim.clock) and is accepted once (IDs remembered per
issuer in the app's database); whether it concerns the person's session
(NameID, qualifiers, SessionIndex) is ``mismatch``'s answer, and a request
that does not is answered Requester/UnknownPrincipal."""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from saml2 import BINDING_HTTP_REDIRECT, samlp
from saml2.entity import Entity
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.samlp import (
    STATUS_PARTIAL_LOGOUT, STATUS_REQUESTER, STATUS_SUCCESS, STATUS_UNKNOWN_PRINCIPAL, LogoutResponse,
    logout_request_from_string, logout_response_from_string,
)
from saml2.xmldsig import SIG_RSA_SHA256
from sqlalchemy.orm import Session

from fedsim import clock, protocol_log
from fedsim.saml import redirect
from fedsim.saml.errors import SamlRefused
from fedsim.saml.texts import said
from fedsim.saml.state import SeenLogoutRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedLogout:
    """A verified LogoutRequest or LogoutResponse, free of pysaml2 types
    (plain values only: a logout plan keeps it in the session)."""
    kind: str                 # "request" or "response"
    issuer: str
    message_id: str
    in_response_to: str = ""  # responses
    name_id: str = ""         # requests: the NameID, its format and qualifiers
    name_id_format: str = ""
    name_qualifier: str = ""
    sp_name_qualifier: str = ""
    session_indexes: tuple[str, ...] = ()
    success: bool = True      # responses: top-level status Success
    status: str = ""          # responses: the most specific status code
    status_message: str = ""
    relay_state: str = ""

    @property
    def partial(self) -> bool:
        """Success/PartialLogout: the peer could not end every session."""
        return self.status == STATUS_PARTIAL_LOGOUT

    @property
    def complete(self) -> bool:
        return self.success and not self.partial

    @classmethod
    def from_dict(cls, data: dict) -> "ReceivedLogout":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["session_indexes"] = tuple(values.get("session_indexes") or ())
        return cls(**values)


class LogoutService:
    def __init__(self, entity: Entity, *, max_age: timedelta = timedelta(minutes=5)) -> None:
        self.entity = entity  # a pysaml2 Saml2Client or Server
        self.peer_role = "idpsso" if entity.entity_type == "sp" else "spsso"
        self.max_age = max_age  # a message issued longer ago (plus the skew) is stale

    @property
    def entity_id(self) -> str:
        return self.entity.config.entityid

    def _peer_slo_url(self, peer: str) -> str:
        try:
            services = self.entity.metadata.single_logout_service(peer, BINDING_HTTP_REDIRECT, self.peer_role)
        except Exception:  # noqa: BLE001 - unknown entity in pysaml2's mdstore
            services = []
        if not services:
            raise SamlRefused(said("Pas de service de déconnexion (SLO) pour %(peer)s dans les "
                                   "métadonnées.",
                                   peer=peer))
        return services[0]["location"]

    def _redirect(self, message, destination: str, relay_state: str, response: bool) -> str:
        info = self.entity.apply_binding(BINDING_HTTP_REDIRECT, str(message), destination, relay_state,
                                         response=response, sign=True, sigalg=SIG_RSA_SHA256)
        return dict(info["headers"])["Location"]

    def _pair(self, peer: str) -> tuple[str, str]:
        """(IdP, SP) entity IDs of a NameID shared with ``peer``."""
        return (peer, self.entity_id) if self.entity.entity_type == "sp" else (self.entity_id, peer)

    @property
    def skew(self) -> timedelta:
        return timedelta(seconds=self.entity.config.accepted_time_diff or 0)

    def peer_name(self, entity_id: str) -> str:
        """A peer's name for people: its metadata's organization display
        name, else its entity ID."""
        try:
            found = self.entity.metadata.name(entity_id, "fr") or self.entity.metadata.name(entity_id, "en")
        except Exception:  # noqa: BLE001 - unknown entity in pysaml2's mdstore
            found = None
        return found or entity_id

    def request(self, peer: str, name_id: str, session_index: str | None, relay_state: str = "",
                name_id_format: str = NAMEID_FORMAT_PERSISTENT) -> tuple[str, str]:
        """A signed LogoutRequest to ``peer`` for the person it knows as
        ``name_id`` in session ``session_index`` (sent when known):
        (redirect URL, request ID)."""
        destination = self._peer_slo_url(peer)
        idp, sp = self._pair(peer)
        request_id, message = self.entity.create_logout_request(
            destination, peer, name_id=NameID(text=name_id, format=name_id_format or NAMEID_FORMAT_PERSISTENT,
                                              name_qualifier=idp, sp_name_qualifier=sp),
            session_indexes=[session_index] if session_index else None, sign=False)
        url = self._redirect(message, destination, relay_state, response=False)
        protocol_log.log_step("LogoutRequest", message_id=request_id, issuer=self.entity_id, destination=peer,
                              binding=BINDING_HTTP_REDIRECT, outcome="sent")
        return url, request_id

    def receive(self, raw_query: str, db: Session) -> ReceivedLogout:
        """Verify and read a LogoutRequest or LogoutResponse from the query
        string exactly as received (``request.query_string``). Stale,
        replayed or badly signed: SamlRefused. An accepted LogoutRequest's
        ID is remembered in ``db`` (committed). Logs one ``fedsim.protocol``
        line: accepted, or refused and why."""
        try:
            received = self._receive(raw_query, db)
        except SamlRefused as refused:
            event, head = self._head(raw_query)
            message_id, issuer = protocol_log.peek(head)
            protocol_log.log_step(event, message_id=message_id, issuer=issuer, destination=self.entity_id,
                                  binding=BINDING_HTTP_REDIRECT, outcome="refused",
                                  reason=protocol_log.refusal(refused.reason, refused.detail))
            raise
        protocol_log.log_step(
            "LogoutRequest" if received.kind == "request" else "LogoutResponse", message_id=received.message_id,
            issuer=received.issuer, destination=self.entity_id, binding=BINDING_HTTP_REDIRECT, outcome="accepted",
            reason="" if received.kind == "request" else f"InResponseTo {received.in_response_to}: "
                                                         f"{received.status or 'no status'}")
        return received

    @staticmethod
    def _head(raw_query: str) -> tuple[str, bytes]:
        """(event, the message's XML or nothing) of a refused query, for the log."""
        try:
            args = redirect.parse(raw_query)
        except SamlRefused:
            return "LogoutMessage", b""
        name = "SAMLRequest" if "SAMLRequest" in args else "SAMLResponse"
        event = "LogoutRequest" if name == "SAMLRequest" else "LogoutResponse"
        try:
            return event, redirect.inflate(args.get(name) or "", 64 * 1024)
        except SamlRefused:
            return event, b""

    def _receive(self, raw_query: str, db: Session) -> ReceivedLogout:
        args = redirect.parse(raw_query)
        kind = "request" if "SAMLRequest" in args else "response" if "SAMLResponse" in args else None
        if kind is None:
            raise SamlRefused(said("Aucun message de déconnexion SAML reçu."))
        try:
            xml = redirect.inflate(args["SAMLRequest" if kind == "request" else "SAMLResponse"]).decode("utf-8")
            parse = logout_request_from_string if kind == "request" else logout_response_from_string
            message = parse(xml)
        except SamlRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - malformed input of any kind
            raise SamlRefused(said("Message de déconnexion illisible."), f"{type(exc).__name__}: {exc}") from None
        if message is None or message.issuer is None or not message.issuer.text:
            raise SamlRefused(said("Message de déconnexion sans émetteur."))
        issuer = message.issuer.text.strip()
        try:
            certs = [cert for _, cert in self.entity.metadata.certs(issuer, "any", "signing")]
        except Exception:  # noqa: BLE001
            certs = []
        if not certs:
            raise SamlRefused(said("Émetteur inconnu : %(issuer)s n'est pas dans les métadonnées.",
                                   issuer=issuer[:200]))
        redirect.verify(raw_query, certs)
        expected = self.entity.config.endpoint("single_logout_service", BINDING_HTTP_REDIRECT,
                                               self.entity.entity_type)
        if message.destination and message.destination not in expected:
            raise SamlRefused(said("Destination incorrecte : le message est adressé à une autre adresse."))
        if not message.id:
            raise SamlRefused(said("Message de déconnexion sans identifiant (ID)."))
        issued = self._fresh(message, kind)
        relay_state = args.get("RelayState", "")
        if kind == "request":
            self._remember(db, issuer, message.id, issued)
            name_id = message.name_id
            return ReceivedLogout(
                "request", issuer, message.id,
                name_id=(name_id.text or "").strip() if name_id is not None else "",
                name_id_format=(name_id.format or "") if name_id is not None else "",
                name_qualifier=(name_id.name_qualifier or "") if name_id is not None else "",
                sp_name_qualifier=(name_id.sp_name_qualifier or "") if name_id is not None else "",
                session_indexes=tuple((i.text or "").strip() for i in message.session_index or ()),
                relay_state=relay_state)
        code = message.status.status_code if message.status is not None else None
        second = code.status_code if code is not None else None
        text = message.status.status_message.text if code is not None and message.status.status_message else ""
        return ReceivedLogout("response", issuer, message.id, in_response_to=message.in_response_to or "",
                              success=code is not None and code.value == STATUS_SUCCESS,
                              status=(second.value if second is not None else code.value if code else "") or "",
                              status_message=(text or "").strip()[:500], relay_state=relay_state)

    def _fresh(self, message, kind: str) -> datetime:  # noqa: ANN001 - pysaml2 message
        """IssueInstant within [now - max_age - skew, now + skew]; a
        request's NotOnOrAfter, if any, not passed. Returns IssueInstant."""
        now, skew = clock.now(), self.skew
        issued = _instant(message.issue_instant, "IssueInstant")
        if issued > now + skew:
            raise SamlRefused(said("Message de déconnexion daté du futur (IssueInstant) : il est refusé."),
                              f"IssueInstant {message.issue_instant}")
        if issued < now - self.max_age - skew:
            raise SamlRefused(said("Message de déconnexion périmé : émis il y a plus de %(minutes)s "
                                   "minutes (IssueInstant).",
                                   minutes=int(self.max_age.total_seconds() // 60)),
                              f"IssueInstant {message.issue_instant}")
        if kind == "request" and message.not_on_or_after:
            if _instant(message.not_on_or_after, "NotOnOrAfter") <= now - skew:
                raise SamlRefused(said("Demande de déconnexion expirée (NotOnOrAfter dépassé)."),
                                  f"NotOnOrAfter {message.not_on_or_after}")
        return issued

    def _remember(self, db: Session, issuer: str, request_id: str, issued: datetime) -> None:
        if db.get(SeenLogoutRequest, (issuer, request_id)) is not None:
            raise SamlRefused(said("Demande de déconnexion rejouée : ce message a déjà été reçu."),
                              f"LogoutRequest {request_id[:200]} de {issuer[:200]}")
        db.add(SeenLogoutRequest(issuer=issuer, request_id=request_id, seen_at=clock.naive_utc_now(),
                                 expires_at=(issued + self.max_age + self.skew).replace(tzinfo=None)))
        db.commit()

    def mismatch(self, received: ReceivedLogout, name_id: str, session_index: str | None) -> str:
        """Why a LogoutRequest does not concern the session that knows the
        person as ``name_id`` with ``session_index``; empty when it does.
        The NameID and, when given, its qualifiers must be the session's;
        when both sides have SessionIndexes, the session's must be listed
        (no SessionIndex in the request means every session: SAML core 3.7.3.2)."""
        idp, sp = self._pair(received.issuer)
        if not name_id or received.name_id != name_id:
            return "l'identifiant de la personne (NameID) n'est pas celui de la session ouverte."
        if received.name_qualifier and received.name_qualifier != idp:
            return f"NameQualifier « {received.name_qualifier[:200]} » au lieu de {idp}."
        if received.sp_name_qualifier and received.sp_name_qualifier != sp:
            return f"SPNameQualifier « {received.sp_name_qualifier[:200]} » au lieu de {sp}."
        if session_index and received.session_indexes and session_index not in received.session_indexes:
            return "la session désignée (SessionIndex) n'est pas la session ouverte."
        return ""

    def respond(self, received: ReceivedLogout, *, status: str = STATUS_SUCCESS, sub_status: str = "",
                message: str = "") -> str:
        """A signed LogoutResponse to the peer that asked: Success by
        default; ``status`` / ``sub_status`` (e.g. Success + PartialLogout)
        and a ``message`` say what really happened."""
        destination = self._peer_slo_url(received.issuer)
        second = samlp.StatusCode(value=sub_status) if sub_status else None
        status_element = samlp.Status(status_code=samlp.StatusCode(value=status, status_code=second),
                                      status_message=samlp.StatusMessage(text=message) if message else None)
        # pysaml2's public create_logout_response picks the destination from
        # the entity's own role; ours is the peer's SLO endpoint from metadata.
        response = self.entity._status_response(  # noqa: SLF001
            LogoutResponse, self.entity._issuer(), status_element, False,  # noqa: SLF001
            destination=destination, in_response_to=received.message_id)
        url = self._redirect(response, destination, received.relay_state, response=True)
        protocol_log.log_step("LogoutResponse", message_id=response.id, issuer=self.entity_id,
                              destination=received.issuer, binding=BINDING_HTTP_REDIRECT, outcome="sent",
                              reason=f"InResponseTo {received.message_id}: {status.rsplit(':', 1)[-1]}"
                                     f"{'/' + sub_status.rsplit(':', 1)[-1] if sub_status else ''} {message}".strip())
        return url

    def respond_partial(self, received: ReceivedLogout, message: str) -> str:
        """Success/PartialLogout: the session here is ended, some other
        session could not be (``message`` says which)."""
        return self.respond(received, sub_status=STATUS_PARTIAL_LOGOUT, message=message)

    def respond_unknown(self, received: ReceivedLogout, reason: str) -> str:
        """Requester/UnknownPrincipal: the request does not concern the
        session here, which stays open."""
        log.warning("%s: LogoutRequest %s of %s does not match the session: %s", self.entity_id,
                    received.message_id, received.issuer, reason)
        return self.respond(received, status=STATUS_REQUESTER, sub_status=STATUS_UNKNOWN_PRINCIPAL,
                            message=f"Demande de déconnexion refusée : {reason}")


def _instant(text: str | None, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise SamlRefused(said("Message de déconnexion sans %(name)s valide.",
                               name=name), f"{name} {text!r}"[:200]) from None
    if moment.tzinfo is None:
        raise SamlRefused(said("Message de déconnexion : %(name)s sans fuseau horaire (UTC « Z » "
                               "attendu).",
                               name=name))
    return moment
