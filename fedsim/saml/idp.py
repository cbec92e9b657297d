"""A SAML identity provider as a service: accept a signed AuthnRequest
(HTTP-Redirect, signature checked on the query string as received), keep it
while the person authenticates, answer with a signed Response holding a
signed Assertion (HTTP-POST), or a signed error Response (NoPassive,
NoAuthnContext, InvalidNameIDPolicy...). NameIDPolicy: persistent (pairwise)
by default, transient (a fresh random value per Response) when asked.
The Assertion is encrypted (signed first, then an EncryptedAssertion;
``fedsim.saml.encryption``) for an SP whose metadata publishes a key with
``use="encryption"``."""
from __future__ import annotations

import json
import logging
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping, Sequence

from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import Config
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, NAMEID_FORMAT_UNSPECIFIED
from saml2.samlp import (STATUS_INVALID_NAMEID_POLICY, STATUS_NO_AUTHN_CONTEXT, STATUS_NO_PASSIVE,
                         STATUS_REQUESTER, STATUS_RESPONDER)
from saml2.server import Server
from saml2.xmldsig import SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fedsim import clock, protocol_log
from fedsim.db import Database
from fedsim.saml import authn_request, build, encryption, redirect, release
from fedsim.saml.build import saml_instant  # noqa: F401 - part of this module's interface
from fedsim.saml.errors import SamlRefused
from fedsim.saml.texts import said
from fedsim.saml.profile import ENTITY_FORMAT
from fedsim.saml.state import PendingAuthn, SeenAuthnRequest
from fedsim.xmlsafe import hardened_parser

log = logging.getLogger(__name__)

ALLOWED_SIG_ALGS = {SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512}
SAML_NS = "{urn:oasis:names:tc:SAML:2.0:assertion}"
# NameIDPolicy formats that mean « the IdP's persistent identifier ».
PERSISTENT_FORMATS = {"", NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_UNSPECIFIED}
# The kept requests and the replay cache through SQLAlchemy Core: they are
# read and written on every SSO request, where the ORM's unit of work cost
# more than the statements.
PENDING_AUTHN = PendingAuthn.__table__
SEEN_AUTHN_REQUEST = SeenAuthnRequest.__table__
# Built once, parameters bound at execution (building costs as much as running).
_REMEMBER_ID = insert(SEEN_AUTHN_REQUEST)
_REMEMBER = insert(PENDING_AUTHN)
_ANSWERED = update(PENDING_AUTHN).where(PENDING_AUTHN.c.key == bindparam("pending")).values(
    answered_at=bindparam("at"))
_RECALL = select(PENDING_AUTHN.c.payload, PENDING_AUTHN.c.expires_at, PENDING_AUTHN.c.answered_at).where(
    PENDING_AUTHN.c.key == bindparam("key"))


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
    accept_until: str = ""     # ISO instant past which the request is refused as too old (its replay window)

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


_local = threading.local()


def _parser() -> etree.XMLParser:
    """A hardened parser per thread (making one costs as much as parsing a request)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = hardened_parser()
    return parser


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
        self.signer = build.signer(config.key_file, config.cert_file)
        self._receivers = config.endpoint("single_sign_on_service", BINDING_HTTP_REDIRECT, "idp")

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
            raise SamlRefused(said("Aucune demande SAML reçue (paramètre SAMLRequest absent)."))
        sig_alg = args.get("SigAlg")
        if not args.get("Signature") or not sig_alg:
            raise SamlRefused(said("Demande d'authentification non signée : la signature est obligatoire."))
        if sig_alg not in ALLOWED_SIG_ALGS:
            raise SamlRefused(said("Algorithme de signature refusé : RSA-SHA256 ou plus fort est exigé."), sig_alg)
        root, issuer = self._read(saml_request)
        redirect.verify(raw, [cert for _, cert in self.server.metadata.certs(issuer, "spsso", "signing")])
        try:
            services = self.server.metadata.assertion_consumer_service(issuer, BINDING_HTTP_POST) or []
        except Exception:  # noqa: BLE001 - pysaml2's mdstore: KeyError and others for a vanished entity
            services = []
        config = self.server.config
        now = clock.now()  # one instant: the one checked against is the one recorded as received
        request = authn_request.read(root, issuer=issuer, receivers=self._receivers, acs_services=services,
                                     now=now, skew=timedelta(seconds=config.accepted_time_diff or 0))
        name_id_format, name_id_refusal = self._name_id_policy(request.name_id_policy, issuer)
        return AuthnRequestInfo(
            request_id=request.request_id, sp_entity_id=issuer, acs_url=request.acs_url,
            relay_state=args.get("RelayState") or "",
            requested_contexts=request.requested_contexts, comparison=request.comparison,
            force_authn=request.force_authn, is_passive=request.is_passive,
            name_id_format=name_id_format, name_id_refusal=name_id_refusal,
            received_at=now.isoformat(),
            accept_until=request.accept_until.isoformat() if request.accept_until else "",
        )

    def _read(self, saml_request: str) -> tuple[etree._Element, str]:
        """Inflate the request and find its Issuer, before anything trusts
        it: an SP no metadata describes is named as such, and a DOCTYPE is
        refused even when the signature is good."""
        xml = redirect.inflate(saml_request)  # or SamlRefused: unreadable, or over the size limit
        try:
            root = etree.fromstring(xml, _parser())
        except Exception as exc:  # noqa: BLE001 - base64, zlib or XML: unreadable all the same
            detail = f"{type(exc).__name__}: {exc}"[:500]
        else:
            detail = ""
        if detail:
            raise SamlRefused(said("Demande d'authentification illisible (base64, DEFLATE ou XML invalide)."), detail)
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise SamlRefused(said("Message refusé : les déclarations DOCTYPE sont interdites."))
        element = root.find(f"{SAML_NS}Issuer")
        issuer = "" if element is None else element.text or ""
        if not issuer.strip():
            raise SamlRefused(said("Demande d'authentification sans émetteur (Issuer) : le service est inconnu."))
        if element.get("Format") not in (None, ENTITY_FORMAT):
            raise SamlRefused(said("Émetteur (Issuer) au format %(format)s : le format entity "
                                   "(%(entity_format)s) est exigé, ou aucun (SAML Profiles "
                                   "§4.1.4.1).",
                                   format=repr(element.get("Format")[:200]), entity_format=ENTITY_FORMAT))
        if issuer != issuer.strip():
            raise SamlRefused(said("Émetteur (Issuer) entouré d'espaces : un identifiant d'entité (URI) se compare "
                                   "à l'identique, sans normalisation (SAML Core §1.3.2, §8.3.6)."),
                              repr(issuer[:200]))
        if issuer not in self.server.metadata.service_providers():
            raise SamlRefused(said("Service inconnu : %(issuer)s n'est pas enregistré auprès de ce"
                                   " fournisseur d'identité (aucune métadonnée SAML ne le décrit).",
                                   issuer=issuer[:200]))
        return root, issuer

    def _name_id_policy(self, policy: authn_request.NameIdPolicy | None, sp_entity_id: str) -> tuple[str, str]:
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
        """Keep a request that has just arrived from the browser (at the SSO
        endpoint, right after ``parse_redirect``) while the person
        authenticates; return its key. Its ID is recorded in the same
        transaction (the replay cache, per SP, until the request would be
        refused as too old): a request whose ID the IdP has already received
        from that SP is refused, « demande déjà reçue » (SAML Core §1.3.4),
        whether it is the same signed request sent again or a new one
        reusing the ID. Call it once per arriving request: re-reading a kept
        request is ``recall``'s job."""
        key = secrets.token_urlsafe(24)
        now = clock.naive_utc_now()
        # Core statements on the request's own transaction (no ORM unit of
        # work: two plain INSERTs, one commit).
        connection = db.connection()
        try:
            connection.execute(_REMEMBER_ID, {"sp_entity_id": info.sp_entity_id, "request_id": info.request_id,
                                              "seen_at": now, "expires_at": self._replay_until(info, now)})
            connection.execute(_REMEMBER, {"key": key, "payload": json.dumps(asdict(info)),
                                           "expires_at": now + self.pending_lifetime, "answered_at": None})
            db.commit()
        except IntegrityError:
            db.rollback()
            refused = SamlRefused(said("Demande d'authentification déjà reçue : ce fournisseur d'identité a déjà "
                                       "traité une demande de ce service portant le même identifiant (rejeu "
                                       "refusé). Recommencez depuis le service."),
                                  f"replayed AuthnRequest ID {info.request_id[:200]} from {info.sp_entity_id[:200]}")
            protocol_log.log_step("AuthnRequest", message_id=info.request_id, issuer=info.sp_entity_id,
                                  destination=self.entity_id, binding=BINDING_HTTP_REDIRECT, outcome="refused",
                                  reason=protocol_log.refusal(refused.reason, refused.detail))
            raise refused from None
        return key

    def _replay_until(self, info: AuthnRequestInfo, now: datetime) -> datetime:
        """Until when the request's ID must be remembered: as long as its
        IssueInstant would let it be accepted (naive UTC, as stored)."""
        if info.accept_until:
            until = datetime.fromisoformat(info.accept_until)
            return until.astimezone(timezone.utc).replace(tzinfo=None) if until.tzinfo else until
        skew = timedelta(seconds=self.server.config.accepted_time_diff or 0)
        return now + 2 * (authn_request.ISSUE_WINDOW + skew)  # issued up to a window in the future

    def recall(self, db: Session, key: str | None) -> AuthnRequestInfo:
        row = db.connection().execute(_RECALL, {"key": key}).first() if key else None
        if row is None:
            raise SamlRefused(said("Aucune demande d'authentification en cours : recommencez depuis le service."))
        if row.answered_at is not None:
            raise SamlRefused(said("Cette demande d'authentification a déjà reçu sa réponse."))
        if row.expires_at < clock.naive_utc_now():
            raise SamlRefused(said("La demande d'authentification a expiré : recommencez depuis le service."))
        data = json.loads(row.payload)
        data["requested_contexts"] = tuple(data["requested_contexts"])
        info = AuthnRequestInfo(**data)
        if info.sp_entity_id not in self.server.metadata.service_providers():  # its registry changed since
            raise SamlRefused(said("Service inconnu : %(issuer)s n'est plus enregistré "
                                   "auprès de ce fournisseur d'identité.",
                                   issuer=info.sp_entity_id[:200]))
        return info

    def requested_attributes(self, sp_entity_id: str) -> set[str]:
        """The Names of the RequestedAttributes of the SP's metadata
        (AttributeConsumingService, required or not); empty when it lists none."""
        wanted = self.server.metadata.attribute_requirement(sp_entity_id) or {}  # None: an unknown SP
        return {attribute["name"] for kind in ("required", "optional") for attribute in wanted.get(kind) or []}

    def mark_answered(self, db: Session, key: str) -> None:
        """The kept request has had its answer: committed now, or with the
        server-side session's row before the response leaves (one commit
        for both; ``Database.commit_with_response``)."""
        marked = db.connection().execute(_ANSWERED, {"pending": key, "at": clock.naive_utc_now()}).rowcount
        if marked and not Database.commit_with_response(db):
            db.commit()

    # -- answering -----------------------------------------------------------

    def respond(self, info: AuthnRequestInfo, *, subject: str, attributes: dict[str, list[str]],
                authn_context: str, authenticating_authority: str | None = None,
                authn_instant: datetime | None = None, session_index: str | None = None,
                session_not_on_or_after: datetime | None = None,
                shape_assertion: Callable[[etree._Element], None] | None = None) -> Answer:
        """The signed Response + signed Assertion for an accepted request.
        ``shape_assertion``: called on the unsigned assertion before it is
        signed (a profile's own typing of values: fedsim.saml.eidas).
        ``subject``: the persistent (pairwise) identifier, used unless the SP
        asked for a transient one; ``authn_instant``: when the person really
        authenticated (default: now); ``session_index``: the IdP session
        (default: a new one); ``session_not_on_or_after``: when it ends."""
        # Empty values are left out (pysaml2, which built these before, did the same).
        attributes = {name: [v for v in values if v] for name, values in attributes.items()}
        attributes = {name: values for name, values in attributes.items() if values}
        transient = info.name_id_format == NAMEID_FORMAT_TRANSIENT
        name_id = new_transient_id() if transient else subject
        name_id_format = NAMEID_FORMAT_TRANSIENT if transient else NAMEID_FORMAT_PERSISTENT
        session_index = session_index or new_session_index()
        recipient = self.encryption_for(info.sp_entity_id)  # or SamlRefused: its key is unusable
        now = clock.now()
        config = self.server.config
        root = build.response(issuer=self.entity_id, destination=info.acs_url, in_response_to=info.request_id,
                              issued_at=now, assertion_nsmap=True)
        assertion = build.add_assertion(
            root, issuer=self.entity_id, issued_at=now, name_id=name_id, name_id_format=name_id_format,
            name_qualifier=self.entity_id, sp_name_qualifier=info.sp_entity_id, recipient=info.acs_url,
            in_response_to=info.request_id, not_on_or_after=now + release.assertion_lifetime(config, info.sp_entity_id),
            audience=info.sp_entity_id, authn_instant=(authn_instant or now).replace(microsecond=0),
            session_index=session_index, authn_context=authn_context,
            authenticating_authority=authenticating_authority, session_not_on_or_after=session_not_on_or_after,
            attributes=release.released(config, info.sp_entity_id, attributes))
        if shape_assertion is not None:
            shape_assertion(assertion)
        build.sign(assertion, self.signer)
        if recipient is not None:  # signed, then encrypted; the Response is signed over the encrypted form
            encryption.encrypt_assertion(assertion, recipient)
        build.sign(root, self.signer)
        self._log_response(info, root, "Success, assertion chiffrée" if recipient is not None else "Success")
        return Answer(info.acs_url, self._fields(info, root), name_id=name_id,
                      name_id_format=name_id_format, session_index=session_index)

    def encryption_for(self, sp_entity_id: str) -> encryption.Recipient | None:
        """The SP's encryption key (KeyDescriptor use="encryption" in its
        metadata, parsed once per certificate), or None: it gets a plain
        Assertion. SamlRefused when the key or its algorithms are unusable."""
        try:
            entity = self.server.metadata[sp_entity_id]
        except KeyError:
            return None
        return encryption.recipient_for(entity)

    def respond_error(self, info: AuthnRequestInfo, status: str = STATUS_NO_AUTHN_CONTEXT,
                      message: str = "", *, top: str = STATUS_RESPONDER) -> PostForm:
        """A signed Response without assertion whose status is ``top``
        (Responder by default) with the second-level ``status``
        (NoAuthnContext by default): the SP's request cannot be met, and the
        SP is told so rather than left waiting."""
        root = build.response(issuer=self.entity_id, destination=info.acs_url, in_response_to=info.request_id,
                              issued_at=clock.now(), status=top, second_status=status, message=message)
        build.sign(root, self.signer)
        self._log_response(info, root, f"{top.rsplit(':', 1)[-1]}/{status.rsplit(':', 1)[-1]} {message}".strip())
        return PostForm(info.acs_url, self._fields(info, root))

    def _log_response(self, info: AuthnRequestInfo, root: etree._Element, status: str = "Success") -> None:
        protocol_log.log_step("Response", message_id=root.get("ID") or "", issuer=self.entity_id,
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
    def _fields(info: AuthnRequestInfo, root: etree._Element) -> dict[str, str]:
        fields = {"SAMLResponse": build.post_value(root)}
        if info.relay_state:
            fields["RelayState"] = info.relay_state
        return fields


def new_session_index() -> str:
    return "_" + secrets.token_hex(16)


def new_transient_id() -> str:
    """A transient NameID: random, used for one Response only."""
    return "_" + secrets.token_hex(20)


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
