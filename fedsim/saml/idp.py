"""A SAML identity provider as a service: accept a signed AuthnRequest
(HTTP-Redirect), keep it while the person authenticates, answer with a signed
Response holding a signed Assertion (HTTP-POST)."""
from __future__ import annotations

import base64
import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Mapping, Sequence

from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import Config
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.s_utils import decode_base64_and_inflate
from saml2.samlp import STATUS_NO_AUTHN_CONTEXT
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512
from sqlalchemy.orm import Session

from fedsim import clock
from fedsim.saml.errors import SamlRefused, explain
from fedsim.saml.state import PendingAuthn
from fedsim.xmlsafe import hardened_parser

log = logging.getLogger(__name__)

ALLOWED_SIG_ALGS = {SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512}


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


@dataclass(frozen=True)
class PostForm:
    """An HTTP-POST binding message: the browser posts ``fields`` to ``action``."""
    action: str
    fields: dict[str, str]


class IdentityProvider:
    def __init__(self, config: Config, *, pending_lifetime: timedelta = timedelta(minutes=30)) -> None:
        self.server = Server(config=config)
        self.pending_lifetime = pending_lifetime

    @property
    def entity_id(self) -> str:
        return self.server.config.entityid

    def parse_redirect(self, args: Mapping[str, str]) -> AuthnRequestInfo:
        """Verify and read an AuthnRequest sent with the HTTP-Redirect binding."""
        saml_request = args.get("SAMLRequest")
        if not saml_request:
            raise SamlRefused("Aucune demande SAML reçue (paramètre SAMLRequest absent).")
        sig_alg = args.get("SigAlg")
        if not args.get("Signature") or not sig_alg:
            raise SamlRefused("Demande d'authentification non signée : la signature est obligatoire.")
        if sig_alg not in ALLOWED_SIG_ALGS:
            raise SamlRefused("Algorithme de signature refusé : RSA-SHA256 ou plus fort est exigé.", sig_alg)
        refused = None
        try:
            request = self.server.parse_authn_request(
                saml_request, BINDING_HTTP_REDIRECT, relay_state=args.get("RelayState"),
                sigalg=sig_alg, signature=args.get("Signature"))
            if request is None:
                raise SamlRefused("Demande d'authentification illisible.")
            message = request.message
            response_args = self.server.response_args(message, [BINDING_HTTP_POST])
        except Exception as exc:
            refused = self._unregistered(saml_request, exc) or explain(exc)
            log.warning("AuthnRequest refused by %s: %s", self.entity_id, refused.detail)
        if refused is not None:  # outside the except block: see ServiceProvider.accept
            raise refused
        requested = message.requested_authn_context
        contexts: tuple[str, ...] = ()
        comparison = "exact"
        if requested is not None:
            contexts = tuple(ref.text.strip() for ref in requested.authn_context_class_ref or [])
            comparison = requested.comparison or "exact"
        return AuthnRequestInfo(
            request_id=message.id, sp_entity_id=response_args["sp_entity_id"],
            acs_url=response_args["destination"], relay_state=args.get("RelayState") or "",
            requested_contexts=contexts, comparison=comparison,
            force_authn=str(message.force_authn).lower() == "true",
        )

    def _unregistered(self, saml_request: str, exc: BaseException) -> SamlRefused | None:
        """For a refused request whose Issuer is no SP of this IdP's metadata,
        say so (pysaml2 only says the signature could not be checked)."""
        try:
            root = etree.fromstring(decode_base64_and_inflate(saml_request), hardened_parser())
            issuer = (root.findtext("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer") or "").strip()
        except Exception:  # noqa: BLE001 - unreadable: explain() says so
            return None
        if not issuer or issuer in self.server.metadata.service_providers():
            return None
        return SamlRefused(f"Service inconnu : {issuer} n'est pas enregistré auprès de ce fournisseur "
                           "d'identité (aucune métadonnée SAML ne le décrit).", f"{type(exc).__name__}: {exc}"[:500])

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
        return AuthnRequestInfo(**data)

    def mark_answered(self, db: Session, key: str) -> None:
        row = db.get(PendingAuthn, key)
        if row is not None:
            row.answered_at = clock.naive_utc_now()
            db.commit()

    # -- answering -----------------------------------------------------------

    def respond(self, info: AuthnRequestInfo, *, subject: str, attributes: dict[str, list[str]],
                authn_context: str, authenticating_authority: str | None = None) -> PostForm:
        # Empty values are left out: pysaml2 would type them xs:string without
        # declaring the xs prefix, which no schema-validating SP accepts.
        attributes = {name: [v for v in values if v] for name, values in attributes.items()}
        attributes = {name: values for name, values in attributes.items() if values}
        name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text=subject,
                         name_qualifier=self.entity_id, sp_name_qualifier=info.sp_entity_id)
        authn = {"class_ref": authn_context}
        if authenticating_authority:
            authn["authn_auth"] = authenticating_authority
        response = self.server.create_authn_response(
            identity=attributes, in_response_to=info.request_id, destination=info.acs_url,
            sp_entity_id=info.sp_entity_id, name_id=name_id, authn=authn,
            sign_response=True, sign_assertion=True,
            sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        return self._post(info, response)

    def respond_error(self, info: AuthnRequestInfo, status: str = STATUS_NO_AUTHN_CONTEXT,
                      message: str = "") -> PostForm:
        """A signed Response without assertion whose status is Responder with
        the second-level ``status`` (NoAuthnContext by default): the SP's
        request cannot be met, and the SP is told so rather than left waiting."""
        response = self.server.create_error_response(
            info.request_id, info.acs_url, (status, message or None), sign=True,
            sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        return self._post(info, response)

    @staticmethod
    def _post(info: AuthnRequestInfo, response) -> PostForm:  # noqa: ANN001 - pysaml2 type or signed str
        encoded = base64.b64encode(str(response).encode("utf-8")).decode("ascii")
        fields = {"SAMLResponse": encoded}
        if info.relay_state:
            fields["RelayState"] = info.relay_state
        return PostForm(action=info.acs_url, fields=fields)


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
