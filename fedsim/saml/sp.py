"""A strict SAML service provider as a service: start a login, accept its
answer, hand back a neutral ``SamlLogin``. State (outstanding requests,
replay cache) lives in the app's database through the session it is given."""
from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import Config
from saml2.samlp import RequestedAuthnContext
from saml2.saml import AuthnContextClassRef
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from fedsim import clock, protocol_log
from fedsim.saml import build, encryption, profile
from fedsim.saml.errors import SamlRefused
from fedsim.saml.texts import said
from fedsim.saml.state import OutstandingRequest, SeenAssertion
from fedsim.saml.xmlsec_backend import certificate_key

log = logging.getLogger(__name__)
# The SP's state on every login's path goes through Core statements on the
# tables (no ORM unit of work, identity map or bulk-persistence layer).
_OUTSTANDING = OutstandingRequest.__table__
_SEEN = SeenAssertion.__table__
# Built once, parameters bound at execution, run on the session's connection
# (building a statement, and the ORM's execute path, cost as much as the
# statement itself; every login goes through these).
_OUTSTAND = insert(_OUTSTANDING)
_CLAIM = update(_OUTSTANDING).where(_OUTSTANDING.c.request_id == bindparam("request"),
                                    _OUTSTANDING.c.answered_at.is_(None)).values(answered_at=bindparam("at"))
_REMEMBER = insert(_SEEN)
_LOG_HEAD = 88_000  # characters of a SAMLResponse decoded to name it in the log (peek reads 64 KiB)
_BY_RELAY_STATE = select(_OUTSTANDING).where(_OUTSTANDING.c.relay_state == bindparam("relay"))


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
    name_id_format: str = profile.PERSISTENT
    authn_instant: datetime | None = None
    session_not_on_or_after: datetime | None = None
    authenticating_authorities: tuple[str, ...] = ()
    # each value's xsi:type as {namespace}local, by attribute (fedsim.saml.eidas checks them)
    attribute_types: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def first(self, name: str, default: str = "") -> str:
        values = self.attributes.get(name) or [default]
        return values[0]


class ServiceProvider:
    def __init__(self, config: Config, idp_entity_id: str, *,
                 request_lifetime: timedelta = timedelta(minutes=15),
                 name_id_formats: frozenset[str] = frozenset({profile.PERSISTENT, profile.TRANSIENT}),
                 want_assertions_encrypted: bool = False) -> None:
        """pysaml2 reads the metadata (and builds the AuthnRequests that carry
        extensions); ``fedsim.saml.build`` builds the others with lxml and
        signs the redirect; Responses are read by ``fedsim.saml.profile``. The clock skew tolerated either
        way is the configuration's ``accepted_time_diff`` (seconds).
        The configuration's first ``encryption_keypairs`` entry (its own key,
        not the signing key) decrypts EncryptedAssertions; without one, they
        are refused. ``want_assertions_encrypted``: a plain Assertion is
        refused (needs that key)."""
        self.client = Saml2Client(config=config)
        self.idp_entity_id = idp_entity_id
        self.request_lifetime = request_lifetime
        self.name_id_formats = name_id_formats
        self.skew = timedelta(seconds=config.accepted_time_diff or 0)
        self.acs_url = config.endpoint("assertion_consumer_service", BINDING_HTTP_POST, "sp")[0]
        # Requests without extensions are built with lxml (fedsim.saml.build);
        # the others (eIDAS, a configured NameIDPolicy) by pysaml2.
        self._plain_requests = not any(config.getattr(name, "sp") for name in (
            "sp_type", "requested_attributes", "name_id_policy_format", "virtual_organization"))
        self._key = load_pem_private_key(Path(config.key_file).read_bytes(), password=None)
        pairs = config.encryption_keypairs or []
        self.decrypter = encryption.Decrypter.from_file(pairs[0]["key_file"]) if pairs else None
        if want_assertions_encrypted and self.decrypter is None:
            raise ValueError("want_assertions_encrypted needs an encryption key pair (encryption_keypairs)")
        self.want_assertions_encrypted = want_assertions_encrypted
        self._local_names = {(converter.name_format, remote): local
                             for converter in config.attribute_converters
                             for remote, local in (converter._fro or {}).items()}  # noqa: SLF001 - pysaml2's map

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
        if self._plain_requests:
            request_id = build.new_id()
            location = self._sso_location()
            request = build.authn_request(
                request_id=request_id, issuer=self.entity_id, destination=location, acs_url=self.acs_url,
                issued_at=clock.now(), provider_name=self.client.config.name, force_authn=force_authn,
                is_passive=is_passive, authn_contexts=authn_contexts, comparison=comparison)
            url = f"{location}{'&' if '?' in location else '?'}{build.redirect_query(request, relay_state, self._key)}"
        else:
            request_id, url = self._pysaml2_request(relay_state, authn_contexts, comparison, force_authn, is_passive)
        db.connection().execute(_OUTSTAND, {"request_id": request_id, "relay_state": relay_state,
                                            "next_url": next_url, "answered_at": None,
                                            "expires_at": clock.naive_utc_now() + self.request_lifetime})
        db.commit()
        return url, relay_state

    def _sso_location(self) -> str:
        """The IdP's HTTP-Redirect SSO endpoint, from its metadata (read at
        each login, so that reloaded metadata is honoured)."""
        services = self.client.metadata.single_sign_on_service(self.idp_entity_id, BINDING_HTTP_REDIRECT)
        location = next((service.get("location") for service in services or [] if service.get("location")), None)
        if not location:
            raise SamlRefused(said("Fournisseur d'identité inconnu : aucun service SSO "
                                   "HTTP-Redirect pour %(idp_entity_id)s dans les métadonnées.",
                                   idp_entity_id=self.idp_entity_id))
        return location

    def _pysaml2_request(self, relay_state: str, authn_contexts: tuple[str, ...], comparison: str,
                         force_authn: bool, is_passive: bool) -> tuple[str, str]:
        """pysaml2 builds requests that carry extensions (eIDAS SPType and
        RequestedAttributes) or a NameIDPolicy from the configuration."""
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
        return request_id, dict(info["headers"])["Location"]

    def accept(self, db: Session, saml_response: str | None, relay_state: str | None,
               browser_relay_states: list[str],
               check: Callable[[SamlLogin], object] | None = None) -> SamlLogin:
        """Verify a POSTed Response against every rule of ``fedsim.saml.profile``.
        ``check`` may refuse the login by raising ValueError (e.g. a missing
        attribute) before anything is recorded. Raises SamlRefused (or one of
        its ``IdpStatus`` kinds); writes nothing then. Of several concurrent
        posts of one Response, exactly one is accepted. Logs one
        ``fedsim.protocol`` line: accepted, or refused and why."""
        try:
            login = self._accept(db, saml_response, relay_state, browser_relay_states, check)
        except SamlRefused as refused:
            self._log_response(saml_response, "refused", protocol_log.refusal(refused.reason, refused.detail))
            raise
        self._log_response(saml_response, "accepted")
        return login

    def _log_response(self, saml_response: str | None, outcome: str, reason: str = "") -> None:
        if not protocol_log.wanted(outcome):
            return  # nobody gets the line: spare decoding the message to name it
        try:  # the start of the message is enough to name it; it may be anything
            head = base64.b64decode((saml_response or "")[:_LOG_HEAD], validate=False)
        except ValueError:
            head = b""
        message_id, issuer = protocol_log.peek(head)
        protocol_log.log_step("Response", message_id=message_id, issuer=issuer, destination=self.entity_id,
                              binding=BINDING_HTTP_POST, outcome=outcome, reason=reason)

    def _accept(self, db: Session, saml_response: str | None, relay_state: str | None,
                browser_relay_states: list[str], check: Callable[[SamlLogin], object] | None) -> SamlLogin:
        if not saml_response:
            raise SamlRefused(said("Aucune réponse SAML reçue (paramètre SAMLResponse absent)."))
        pending = self._pending(db, relay_state)
        if relay_state not in browser_relay_states:
            raise SamlRefused(said("Cette réponse ne correspond à aucune connexion démarrée dans ce navigateur."))
        checked = profile.read_response(profile.decode(saml_response), self._expected(pending),
                                        self._idp_keys(), self._attribute_name, decrypter=self.decrypter)
        login = SamlLogin(
            issuer=checked.issuer, name_id=checked.name_id, attributes=checked.attributes,
            authn_context=checked.authn_context, session_index=checked.session_index,
            next_url=pending.next_url, relay_state=pending.relay_state, name_id_format=checked.name_id_format,
            authn_instant=checked.authn_instant, session_not_on_or_after=checked.session_not_on_or_after,
            authenticating_authorities=checked.authenticating_authorities, attribute_types=checked.attribute_types)
        if check is not None:
            try:
                check(login)
            except ValueError as exc:  # its text as given: a said() one stays translatable
                raise SamlRefused(exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str)
                                  else str(exc)) from None
        self._record(db, pending, checked)
        return login

    def _expected(self, pending: Row) -> profile.Expected:
        return profile.Expected(
            sp_entity_id=self.entity_id, acs_url=self.acs_url, idp_entity_id=self.idp_entity_id,
            request_id=pending.request_id,
            requested_at=(pending.expires_at - self.request_lifetime).replace(tzinfo=timezone.utc),
            skew=self.skew, name_id_formats=self.name_id_formats,
            assertions_encrypted=self.want_assertions_encrypted)

    def _idp_keys(self) -> list:
        """The IdP's signing keys, from metadata only (read at each answer, so
        that reloaded metadata is honoured)."""
        try:
            certificates = [cert for _, cert in self.client.metadata.certs(self.idp_entity_id, "idpsso", "signing")]
        except Exception:  # noqa: BLE001 - pysaml2's mdstore raises KeyError and others for an unknown entity
            certificates = []
        if not certificates:
            raise SamlRefused(said("Émetteur inconnu : aucune clé de signature pour "
                                   "%(idp_entity_id)s dans les métadonnées.",
                                   idp_entity_id=self.idp_entity_id))
        return [certificate_key(cert) for cert in certificates]

    def _attribute_name(self, name_format: str | None, name: str) -> str:
        """The local name of an attribute, through the configuration's
        attribute maps (eIDAS URIs become their friendly names); unknown
        names are kept as sent."""
        return self._local_names.get((name_format or "", name.lower()), name)

    def _record(self, db: Session, pending: Row, checked: profile.CheckedAssertion) -> None:
        """Answer the request and remember the assertion, atomically: the
        request is claimed with a conditional UPDATE, so that of several
        concurrent posts exactly one wins; the replay cache's primary key
        stops the same assertion under another request."""
        replayed = SamlRefused(said("Assertion rejouée : cet identifiant d'assertion a déjà été utilisé."),
                               f"assertion {checked.assertion_id}")
        now = clock.naive_utc_now()
        try:  # two statements and a commit, no ORM unit of work: this is on every login's path
            connection = db.connection()
            claimed = connection.execute(_CLAIM, {"request": pending.request_id, "at": now}).rowcount
            if claimed != 1:
                db.rollback()
                raise SamlRefused(said("Cette demande de connexion a déjà reçu sa réponse (réponse rejouée)."))
            # An assertion ID seen before: the primary key refuses it, and the claim is rolled back.
            connection.execute(_REMEMBER, {"assertion_id": checked.assertion_id, "issuer": checked.issuer,
                                           "seen_at": now})
            db.commit()
        except IntegrityError:
            db.rollback()
            raise replayed from None
        except OperationalError as exc:  # e.g. SQLite busy past its timeout: nothing was written
            db.rollback()
            raise SamlRefused(said("Base de données occupée : la réponse n'a pas pu être enregistrée ; "
                                   "recommencez la connexion."), str(exc)[:300]) from None

    def _pending(self, db: Session, relay_state: str | None) -> Row:
        """The outstanding request (a row of its table) that ``relay_state`` names."""
        if not relay_state:
            raise SamlRefused(said("Réponse non sollicitée : RelayState absent."))
        pending = db.connection().execute(_BY_RELAY_STATE, {"relay": relay_state}).first()
        if pending is None:
            raise SamlRefused(said("RelayState inconnu : aucune connexion en cours ne porte cet identifiant."))
        if pending.answered_at is not None:
            raise SamlRefused(said("Cette demande de connexion a déjà reçu sa réponse (réponse rejouée)."))
        if pending.expires_at < clock.naive_utc_now():
            raise SamlRefused(said("La demande de connexion a expiré ; recommencez la connexion."))
        return pending
