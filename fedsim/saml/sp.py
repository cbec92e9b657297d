"""A strict SAML service provider as a service: start a login, accept its
answer, hand back a neutral ``SamlLogin``. State (outstanding requests,
replay cache) lives in the app's database through the session it is given."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import Config
from saml2.samlp import RequestedAuthnContext
from saml2.saml import AuthnContextClassRef
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from sqlalchemy import select
from sqlalchemy.orm import Session

from fedsim import clock
from fedsim.saml.errors import SamlRefused, explain
from fedsim.saml.state import OutstandingRequest, SeenAssertion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamlLogin:
    """The outcome of an accepted SAML Response, free of pysaml2 types."""
    issuer: str
    name_id: str
    attributes: dict[str, list[str]]
    authn_context: str | None
    session_index: str | None
    next_url: str
    relay_state: str = field(repr=False, default="")

    def first(self, name: str, default: str = "") -> str:
        values = self.attributes.get(name) or [default]
        return values[0]


class ServiceProvider:
    def __init__(self, config: Config, idp_entity_id: str, *,
                 request_lifetime: timedelta = timedelta(minutes=15)) -> None:
        self.client = Saml2Client(config=config)
        self.idp_entity_id = idp_entity_id
        self.request_lifetime = request_lifetime

    @property
    def entity_id(self) -> str:
        return self.client.config.entityid

    def start_login(self, db: Session, next_url: str,
                    authn_contexts: tuple[str, ...] = (), comparison: str = "minimum", *,
                    force_authn: bool = False, is_passive: bool = False) -> tuple[str, str]:
        """Record a signed AuthnRequest; return (redirect URL, relay state).
        ``force_authn``: the IdP must authenticate the person again, even
        with a session; ``is_passive``: the IdP must not show the person any
        page (it answers NoPassive when it has no session)."""
        relay_state = secrets.token_urlsafe(24)
        extra = {}
        if force_authn:
            extra["force_authn"] = "true"
        if is_passive:
            extra["is_passive"] = "true"
        if authn_contexts:
            extra["requested_authn_context"] = RequestedAuthnContext(
                authn_context_class_ref=[AuthnContextClassRef(text=c) for c in authn_contexts],
                comparison=comparison)
        request_id, info = self.client.prepare_for_authenticate(
            entityid=self.idp_entity_id, relay_state=relay_state,
            binding=BINDING_HTTP_REDIRECT, sign=True, sigalg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256, **extra)
        db.add(OutstandingRequest(request_id=request_id, relay_state=relay_state, next_url=next_url,
                                  expires_at=clock.naive_utc_now() + self.request_lifetime))
        db.commit()
        return dict(info["headers"])["Location"], relay_state

    def accept(self, db: Session, saml_response: str | None, relay_state: str | None,
               browser_relay_states: list[str],
               check: Callable[[SamlLogin], object] | None = None) -> SamlLogin:
        """Verify a POSTed Response. ``check`` may refuse the login by raising
        ValueError (e.g. a missing attribute) before anything is recorded.
        Raises SamlRefused; writes nothing then."""
        if not saml_response:
            raise SamlRefused("Aucune réponse SAML reçue (paramètre SAMLResponse absent).")
        pending = self._pending(db, relay_state)
        if relay_state not in browser_relay_states:
            raise SamlRefused("Cette réponse ne correspond à aucune connexion démarrée dans ce navigateur.")
        refused = None
        try:
            response = self.client.parse_authn_request_response(
                saml_response, BINDING_HTTP_POST, outstanding={pending.request_id: pending.next_url})
        except Exception as exc:  # pysaml2 raises many unrelated types
            refused = explain(exc)
            log.warning("SAML response refused by %s: %s", self.entity_id, refused.detail)
        if refused is not None:
            # Raised outside the except block: chaining pysaml2's exception (its
            # traceback holds open temporary certificate files) would make a
            # reference cycle that keeps them open until the cyclic GC runs.
            raise refused
        if response is None or response.assertion is None:
            raise SamlRefused("Réponse SAML invalide ou non vérifiable.")
        if response.in_response_to != pending.request_id:
            raise SamlRefused("Réponse non sollicitée : InResponseTo ne correspond pas à la demande.")
        login = self._login(response, pending)
        if check is not None:
            try:
                check(login)
            except ValueError as exc:
                raise SamlRefused(str(exc)) from None
        assertion_id = response.assertion.id
        if db.get(SeenAssertion, assertion_id) is not None:
            raise SamlRefused("Assertion rejouée : cet identifiant d'assertion a déjà été utilisé.",
                              f"assertion {assertion_id}")
        now = clock.naive_utc_now()
        db.add(SeenAssertion(assertion_id=assertion_id, issuer=login.issuer, seen_at=now))
        pending.answered_at = now
        db.commit()
        return login

    def _pending(self, db: Session, relay_state: str | None) -> OutstandingRequest:
        if not relay_state:
            raise SamlRefused("Réponse non sollicitée : RelayState absent.")
        pending = db.scalars(select(OutstandingRequest).where(
            OutstandingRequest.relay_state == relay_state)).first()
        if pending is None:
            raise SamlRefused("RelayState inconnu : aucune connexion en cours ne porte cet identifiant.")
        if pending.answered_at is not None:
            raise SamlRefused("Cette demande de connexion a déjà reçu sa réponse (réponse rejouée).")
        if pending.expires_at < clock.naive_utc_now():
            raise SamlRefused("La demande de connexion a expiré ; recommencez la connexion.")
        return pending

    @staticmethod
    def _login(response, pending: OutstandingRequest) -> SamlLogin:  # noqa: ANN001 - pysaml2 type
        name_id = response.name_id
        statement = response.assertion.authn_statement[0] if response.assertion.authn_statement else None
        context = None
        if statement is not None and statement.authn_context is not None and \
                statement.authn_context.authn_context_class_ref is not None:
            context = statement.authn_context.authn_context_class_ref.text.strip()
        return SamlLogin(
            issuer=response.issuer(),
            name_id=name_id.text.strip() if name_id is not None and name_id.text else "",
            attributes={k: [str(v) for v in vs] for k, vs in (response.ava or {}).items()},
            authn_context=context,
            session_index=statement.session_index if statement is not None else None,
            next_url=pending.next_url,
            relay_state=pending.relay_state,
        )
