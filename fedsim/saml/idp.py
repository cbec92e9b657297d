"""A SAML identity provider as a service: accept a signed AuthnRequest
(HTTP-Redirect, signature checked on the query string as received), keep it
while the person authenticates, answer with a signed Response holding a
signed Assertion (HTTP-POST), or a signed error Response (NoPassive,
NoAuthnContext, InvalidNameIDPolicy...). NameIDPolicy: persistent (pairwise)
by default, transient (a fresh random value per Response) when asked."""
from __future__ import annotations

import base64
import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping, Sequence

from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.assertion import authn_statement
from saml2.config import Config
from saml2.request import AuthnRequest
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.samlp import (STATUS_INVALID_NAMEID_POLICY, STATUS_NO_AUTHN_CONTEXT, STATUS_NO_PASSIVE,
                         STATUS_REQUESTER, STATUS_RESPONDER)
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512
from sqlalchemy.orm import Session

from fedsim import clock, protocol_log
from fedsim.saml import redirect
from fedsim.saml.errors import SamlRefused, explain
from fedsim.saml.state import PendingAuthn
from fedsim.xmlsafe import hardened_parser

log = logging.getLogger(__name__)

ALLOWED_SIG_ALGS = {SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512}
SAML_NS = "{urn:oasis:names:tc:SAML:2.0:assertion}"
# NameIDPolicy formats that mean « the IdP's persistent identifier ».
PERSISTENT_FORMATS = {"", NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_UNSPECIFIED}


@dataclass(frozen=True)
class AuthnRequestInfo:
    """An accepted AuthnRequest, free of pysaml2 types."""
    request_id: str
    sp_entity_id: str
    acs_url: str
    relay_state: str
    requested_contexts: tuple[str, ...] = ()
    comparison: str = "exact"
    force_authn: bool = False
    is_passive: bool = False
    name_id_format: str = NAMEID_FORMAT_PERSISTENT  # the one to answer with (or the unsupported one asked)
    name_id_refusal: str = ""  # why the NameIDPolicy cannot be met (answer InvalidNameIDPolicy)
    received_at: str = ""      # ISO instant the IdP accepted the request (ForceAuthn: authenticate after it)

    def authenticated_since_received(self, authenticated_at: datetime) -> bool:
        """Whether an authentication at ``authenticated_at`` happened after
        this request arrived (what ForceAuthn asks for)."""
        return bool(self.received_at) and authenticated_at >= datetime.fromisoformat(self.received_at)


@dataclass(frozen=True)
class PostForm:
    """An HTTP-POST binding message: the browser posts ``fields`` to ``action``."""
    action: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Answer(PostForm):
    """A signed Response with an assertion, and what the IdP must remember
    of it to log the person out of that SP later (Single Logout)."""
    name_id: str = ""
    name_id_format: str = ""
    session_index: str = ""


class NoAssertionStore:
    """pysaml2's IdP keeps every assertion it issues in a process-global dict
    (``saml2.sdb.SessionStorage``) for the assertion-ID-request and
    authn-query services, which this federation does not offer: in a
    long-running IdP it grows without bound. What an IdP must remember of a
    login (NameID, SessionIndex, for Single Logout) lives in its server-side
    session instead; this store keeps nothing."""

    def store_assertion(self, assertion, to_sign) -> None:  # noqa: ANN001 - pysaml2's interface
        return None

    def get_assertion(self, cid):  # noqa: ANN001, ANN201
        raise KeyError(cid)

    def get_authn_statements(self, name_id, session_index=None, requested_context=None) -> list:  # noqa: ANN001
        return []

    def remove_authn_statements(self, name_id) -> None:  # noqa: ANN001
        return None


class IdentityProvider:
    def __init__(self, config: Config, *, pending_lifetime: timedelta = timedelta(minutes=30)) -> None:
        self.server = Server(config=config)
        self.server.session_db = NoAssertionStore()
        self.pending_lifetime = pending_lifetime

    @property
    def entity_id(self) -> str:
        return self.server.config.entityid

    def parse_redirect(self, query: str | Mapping[str, str]) -> AuthnRequestInfo:
        """Verify and read an AuthnRequest sent with the HTTP-Redirect binding.
        ``query`` is the query string exactly as received
        (``request.query_string`` decoded latin-1): the signature is checked
        on it, never on re-encoded values. A mapping of decoded values is
        accepted too (tests, tools): it is encoded the way pysaml2 signs.
        Logs one ``fedsim.protocol`` line: accepted, or refused and why."""
        raw = query if isinstance(query, str) else redirect.query_string(query)
        try:
            info = self._parse_redirect(raw)
        except SamlRefused as refused:
            message_id, issuer = protocol_log.peek(self._head(raw))
            protocol_log.log_step("AuthnRequest", message_id=message_id, issuer=issuer, destination=self.entity_id,
                                  binding=BINDING_HTTP_REDIRECT, outcome="refused",
                                  reason=protocol_log.refusal(refused.reason, refused.detail))
            raise
        protocol_log.log_step("AuthnRequest", message_id=info.request_id, issuer=info.sp_entity_id,
                              destination=self.entity_id, binding=BINDING_HTTP_REDIRECT, outcome="accepted")
        return info

    @staticmethod
    def _head(raw: str) -> bytes:
        """The request's XML for the log, or nothing if it cannot be read."""
        try:
            return redirect.inflate(redirect.parse(raw).get("SAMLRequest") or "", 64 * 1024)
        except SamlRefused:
            return b""

    def _parse_redirect(self, raw: str) -> AuthnRequestInfo:
        args = redirect.parse(raw)
        saml_request = args.get("SAMLRequest")
        if not saml_request:
            raise SamlRefused("Aucune demande SAML reçue (paramètre SAMLRequest absent).")
        sig_alg = args.get("SigAlg")
        if not args.get("Signature") or not sig_alg:
            raise SamlRefused("Demande d'authentification non signée : la signature est obligatoire.")
        if sig_alg not in ALLOWED_SIG_ALGS:
            raise SamlRefused("Algorithme de signature refusé : RSA-SHA256 ou plus fort est exigé.", sig_alg)
        xml, issuer = self._read(saml_request)
        redirect.verify(raw, [cert for _, cert in self.server.metadata.certs(issuer, "spsso", "signing")])
        refused = None
        try:
            message = self._load(xml, saml_request)
            response_args = self.server.response_args(message, [BINDING_HTTP_POST])
        except Exception as exc:  # pysaml2 raises many unrelated types
            refused = explain(exc)  # logged by parse_redirect, with the causes pysaml2 wraps
        if refused is not None:  # outside the except block: no implicit chaining to pysaml2's exception
            raise refused
        requested = message.requested_authn_context
        contexts: tuple[str, ...] = ()
        comparison = "exact"
        if requested is not None:
            contexts = tuple(ref.text.strip() for ref in requested.authn_context_class_ref or [])
            comparison = requested.comparison or "exact"
        name_id_format, name_id_refusal = self._name_id_policy(message.name_id_policy, response_args["sp_entity_id"])
        return AuthnRequestInfo(
            request_id=message.id, sp_entity_id=response_args["sp_entity_id"],
            acs_url=response_args["destination"], relay_state=args.get("RelayState") or "",
            requested_contexts=contexts, comparison=comparison,
            force_authn=str(message.force_authn).lower() == "true",
            is_passive=str(message.is_passive).lower() == "true",
            name_id_format=name_id_format, name_id_refusal=name_id_refusal,
            received_at=clock.now().isoformat(),
        )

    def _read(self, saml_request: str) -> tuple[bytes, str]:
        """Inflate the request and find its Issuer, before anything trusts
        it: an SP no metadata describes is named as such, and a DOCTYPE is
        refused even when the signature is good."""
        xml = redirect.inflate(saml_request)  # or SamlRefused: unreadable, or over the size limit
        try:
            root = etree.fromstring(xml, hardened_parser())
        except Exception as exc:  # noqa: BLE001 - base64, zlib or XML: unreadable all the same
            detail = f"{type(exc).__name__}: {exc}"[:500]
        else:
            detail = ""
        if detail:
            raise SamlRefused("Demande d'authentification illisible (base64, DEFLATE ou XML invalide).", detail)
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise SamlRefused("Message refusé : les déclarations DOCTYPE sont interdites.")
        issuer = (root.findtext(f"{SAML_NS}Issuer") or "").strip()
        if not issuer:
            raise SamlRefused("Demande d'authentification sans émetteur (Issuer) : le service est inconnu.")
        if issuer not in self.server.metadata.service_providers():
            raise SamlRefused(f"Service inconnu : {issuer[:200]} n'est pas enregistré auprès de ce fournisseur "
                              "d'identité (aucune métadonnée SAML ne le décrit).")
        return xml, issuer

    def _load(self, xml: bytes, saml_request: str):  # noqa: ANN202 - pysaml2's AuthnRequest message
        """pysaml2 reads the request whose query signature was verified:
        schema, version, Destination, IssueInstant (±1 day)."""
        config = self.server.config
        receivers = config.endpoint("single_sign_on_service", BINDING_HTTP_REDIRECT, "idp")
        request = AuthnRequest(self.server.sec, receivers, config.attribute_converters,
                               timeslack=config.accepted_time_diff or 0)
        request = request.loads(xml, BINDING_HTTP_REDIRECT, origdoc=saml_request, must=False)
        if not request.verify():
            raise SamlRefused("Demande d'authentification hors délai : IssueInstant trop ancien ou dans le futur.")
        return request.message

    def _name_id_policy(self, policy, sp_entity_id: str) -> tuple[str, str]:  # noqa: ANN001 - samlp.NameIDPolicy
        """The NameID format to answer with, and why the policy cannot be
        met (empty when it can). No policy, unspecified or persistent: the
        pairwise persistent identifier; transient: a fresh one per answer."""
        if policy is None:
            return NAMEID_FORMAT_PERSISTENT, ""
        asked = (policy.format or "").strip()
        qualifier = (policy.sp_name_qualifier or "").strip()
        if qualifier and qualifier != sp_entity_id:
            return asked or NAMEID_FORMAT_PERSISTENT, (
                f"SPNameQualifier « {qualifier[:200]} » refusé : seul le service demandeur peut qualifier "
                "l'identifiant qu'il reçoit.")
        if asked in PERSISTENT_FORMATS:
            return NAMEID_FORMAT_PERSISTENT, ""
        if asked == NAMEID_FORMAT_TRANSIENT:
            return NAMEID_FORMAT_TRANSIENT, ""
        return asked, (f"Format d'identifiant non pris en charge : {asked[:200]} (seuls persistent et "
                       "transient sont proposés).")

    # -- keeping the request while the person authenticates -----------------

    def remember(self, db: Session, info: AuthnRequestInfo) -> str:
        key = secrets.token_urlsafe(24)
        db.add(PendingAuthn(key=key, payload=json.dumps(asdict(info)),
                            expires_at=clock.naive_utc_now() + self.pending_lifetime))
        db.commit()
        return key

    def recall(self, db: Session, key: str | None) -> AuthnRequestInfo:
        row = db.get(PendingAuthn, key) if key else None
        if row is None:
            raise SamlRefused("Aucune demande d'authentification en cours : recommencez depuis le service.")
        if row.answered_at is not None:
            raise SamlRefused("Cette demande d'authentification a déjà reçu sa réponse.")
        if row.expires_at < clock.naive_utc_now():
            raise SamlRefused("La demande d'authentification a expiré : recommencez depuis le service.")
        data = json.loads(row.payload)
        data["requested_contexts"] = tuple(data["requested_contexts"])
        info = AuthnRequestInfo(**data)
        if info.sp_entity_id not in self.server.metadata.service_providers():  # its registry changed since
            raise SamlRefused(f"Service inconnu : {info.sp_entity_id[:200]} n'est plus enregistré auprès de ce "
                              "fournisseur d'identité.")
        return info

    def requested_attributes(self, sp_entity_id: str) -> set[str]:
        """The Names of the RequestedAttributes of the SP's metadata
        (AttributeConsumingService, required or not); empty when it lists none."""
        wanted = self.server.metadata.attribute_requirement(sp_entity_id) or {}  # None: an unknown SP
        return {attribute["name"] for kind in ("required", "optional") for attribute in wanted.get(kind) or []}

    def mark_answered(self, db: Session, key: str) -> None:
        row = db.get(PendingAuthn, key)
        if row is not None:
            row.answered_at = clock.naive_utc_now()
            db.commit()

    # -- answering -----------------------------------------------------------

    def respond(self, info: AuthnRequestInfo, *, subject: str, attributes: dict[str, list[str]],
                authn_context: str, authenticating_authority: str | None = None,
                authn_instant: datetime | None = None, session_index: str | None = None,
                session_not_on_or_after: datetime | None = None) -> Answer:
        """The signed Response + signed Assertion for an accepted request.
        ``subject``: the persistent (pairwise) identifier, used unless the SP
        asked for a transient one; ``authn_instant``: when the person really
        authenticated (default: now); ``session_index``: the IdP session
        (default: a new one); ``session_not_on_or_after``: when it ends."""
        # Empty values are left out: pysaml2 would type them xs:string without
        # declaring the xs prefix, which no schema-validating SP accepts.
        attributes = {name: [v for v in values if v] for name, values in attributes.items()}
        attributes = {name: values for name, values in attributes.items() if values}
        transient = info.name_id_format == NAMEID_FORMAT_TRANSIENT
        name_id = NameID(format=NAMEID_FORMAT_TRANSIENT if transient else NAMEID_FORMAT_PERSISTENT,
                         text=new_transient_id() if transient else subject,
                         name_qualifier=self.entity_id, sp_name_qualifier=info.sp_entity_id)
        statement = authn_statement(
            authn_class=authn_context, authn_auth=authenticating_authority,
            authn_instant=int((authn_instant or clock.now()).timestamp()),
            session_not_on_or_after=saml_instant(session_not_on_or_after) if session_not_on_or_after else None)
        statement.session_index = session_index or new_session_index()
        # pysaml2's create_authn_response always makes up a SessionIndex of
        # its own; its inner _authn_response takes the statement as it is.
        response = self.server._authn_response(  # noqa: SLF001
            info.request_id, info.acs_url, info.sp_entity_id, identity=attributes, name_id=name_id,
            authn_statement=statement, policy=self.server.config.getattr("policy", "idp"),
            sign_assertion=True, sign_response=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        self._log_response(info, response)
        return Answer(info.acs_url, self._fields(info, response), name_id=name_id.text,
                      name_id_format=name_id.format, session_index=statement.session_index)

    def respond_error(self, info: AuthnRequestInfo, status: str = STATUS_NO_AUTHN_CONTEXT,
                      message: str = "", *, top: str = STATUS_RESPONDER) -> PostForm:
        """A signed Response without assertion whose status is ``top``
        (Responder by default) with the second-level ``status``
        (NoAuthnContext by default): the SP's request cannot be met, and the
        SP is told so rather than left waiting."""
        status_element = samlp.Status(
            status_code=samlp.StatusCode(value=top, status_code=samlp.StatusCode(value=status)),
            status_message=samlp.StatusMessage(text=message) if message else None)
        response = self.server._response(  # noqa: SLF001 - create_error_response knows only Responder
            info.request_id, info.acs_url, status_element, None, True,
            sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        self._log_response(info, response, f"{top.rsplit(':', 1)[-1]}/{status.rsplit(':', 1)[-1]} {message}".strip())
        return PostForm(info.acs_url, self._fields(info, response))

    def _log_response(self, info: AuthnRequestInfo, response, status: str = "Success") -> None:  # noqa: ANN001
        message_id, _ = protocol_log.peek(str(response))
        protocol_log.log_step("Response", message_id=message_id, issuer=self.entity_id,
                              destination=info.sp_entity_id, binding=BINDING_HTTP_POST, outcome="issued",
                              reason=f"InResponseTo {info.request_id}: {status}")

    def respond_no_passive(self, info: AuthnRequestInfo, message: str = "") -> PostForm:
        """Responder/NoPassive: the request said IsPassive and the IdP cannot
        answer without showing the person a page (no session, or one it must
        renew)."""
        return self.respond_error(info, STATUS_NO_PASSIVE, message or (
            "Aucune session ne permet de répondre sans interaction (IsPassive)."))

    def refuse_policy(self, info: AuthnRequestInfo) -> PostForm | None:
        """Requester/InvalidNameIDPolicy when the request's NameIDPolicy
        cannot be met; None when it can. Check it before anything else."""
        if not info.name_id_refusal:
            return None
        return self.respond_error(info, STATUS_INVALID_NAMEID_POLICY, info.name_id_refusal, top=STATUS_REQUESTER)

    @staticmethod
    def _fields(info: AuthnRequestInfo, response) -> dict[str, str]:  # noqa: ANN001 - pysaml2 type or signed str
        encoded = base64.b64encode(str(response).encode("utf-8")).decode("ascii")
        fields = {"SAMLResponse": encoded}
        if info.relay_state:
            fields["RelayState"] = info.relay_state
        return fields


def new_session_index() -> str:
    return "_" + secrets.token_hex(16)


def new_transient_id() -> str:
    """A transient NameID: random, used for one Response only."""
    return "_" + secrets.token_hex(20)


def saml_instant(moment: datetime) -> str:
    """An xs:dateTime in UTC, as SAML writes them."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def context_satisfies(level: str, requested: Sequence[str], comparison: str, order: Sequence[str]) -> bool:
    """Whether authenticating at ``level`` meets a RequestedAuthnContext
    (SAML core 3.3.2.2.1), ``order`` listing the known contexts weakest first.
    exact: one of them; minimum: at least as strong as one of them; better:
    stronger than one of them; maximum: no stronger than one of them.
    Contexts outside ``order`` can only match exactly; no request: satisfied."""
    if not requested:
        return True
    if comparison == "exact":
        return level in requested
    ranks = [order.index(r) for r in requested if r in order]
    if level not in order or not ranks or comparison not in ("minimum", "better", "maximum"):
        return False
    rank = order.index(level)
    if comparison == "minimum":
        return rank >= min(ranks)
    if comparison == "better":
        return rank > min(ranks)
    return rank <= max(ranks)


def pairwise_id(secret: bytes, local_id: str, sp_entity_id: str) -> str:
    """A persistent NameID that differs for each SP, so SPs cannot correlate."""
    import hashlib
    import hmac
    return hmac.new(secret, f"{local_id}|{sp_entity_id}".encode(), hashlib.sha256).hexdigest()
