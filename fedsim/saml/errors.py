"""Why a SAML message was refused, in words a tester can act on."""
from __future__ import annotations

from saml2.response import (IncorrectlySigned, StatusError, StatusNoAuthnContext, UnsolicitedResponse,
                            VerificationError)
from saml2.sigver import MissingKey, SignatureError
from saml2.validate import ResponseLifetimeExceed, ToEarly

from fedsim.saml.texts import said


class SamlRefused(Exception):
    """A SAML message was refused. ``reason`` is shown to the user (French),
    ``detail`` is the technical cause, logged and shown in small print."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class IdpStatus(SamlRefused):
    """The IdP answered with a non-Success status (and no assertion).
    ``status`` is the most specific status code it sent (the second-level
    one when there is one), ``message`` its StatusMessage."""

    def __init__(self, reason: str, detail: str = "", *, status: str = "", message: str = "") -> None:
        super().__init__(reason, detail)
        self.status = status
        self.message = message


class AuthnContextUnavailable(IdpStatus):
    """The IdP answered with status NoAuthnContext: it cannot authenticate the
    person at the level of assurance that was asked for."""


class PassiveUnavailable(IdpStatus):
    """The IdP answered with status NoPassive: the request said IsPassive and
    the person has no session there, so it could not answer silently."""


class NameIdPolicyRefused(IdpStatus):
    """The IdP answered with status InvalidNameIDPolicy: it does not support
    the NameID format the request asked for."""


def explain(exc: BaseException) -> SamlRefused:
    """Turn a pysaml2 exception into a SamlRefused with a precise reason."""
    if isinstance(exc, SamlRefused):
        return exc
    text = _with_causes(exc)
    lowered = f"{type(exc).__name__}: {exc}".lower()
    if isinstance(exc, StatusNoAuthnContext):
        return AuthnContextUnavailable(said("Le niveau d'authentification demandé n'est pas disponible."), text)
    cause = exc.__cause__
    if isinstance(exc, IncorrectlySigned) and cause is not None and not isinstance(cause, SignatureError):
        # pysaml2 reports any failure to read a request (parser, schema...) as "not signed correctly"
        return SamlRefused(explain(cause).reason, text)
    if isinstance(exc, UnsolicitedResponse):
        return SamlRefused(said("Réponse non sollicitée : elle ne répond à aucune demande d'authentification "
                                "envoyée par ce service (InResponseTo inconnu ou déjà utilisé)."), text)
    if isinstance(exc, ResponseLifetimeExceed) or "notonorafter" in lowered or "too old" in lowered:
        return SamlRefused(said("L'assertion a expiré (NotOnOrAfter dépassé)."), text)
    if isinstance(exc, ToEarly):
        return SamlRefused(said("L'assertion n'est pas encore valide (NotBefore dans le futur)."), text)
    if isinstance(exc, MissingKey):
        return SamlRefused(said("Émetteur inconnu : aucune clé de signature pour lui dans les métadonnées."), text)
    if isinstance(exc, (SignatureError, IncorrectlySigned)) or "signature" in lowered or "signed" in lowered:
        return SamlRefused(said("Signature absente ou invalide : le message n'est pas signé par une clé "
                                "de l'émetteur publiée dans ses métadonnées, ou il a été modifié."), text)
    if "audience" in lowered:
        return SamlRefused(said("Audience incorrecte : l'assertion est destinée à un autre service."), text)
    if "recipient" in lowered or "destination" in lowered or "not destined for me" in lowered:
        return SamlRefused(said("Destination incorrecte : le message est adressé à une autre adresse."), text)
    if isinstance(exc, StatusError):
        return SamlRefused(said("Le fournisseur d'identité a répondu par une erreur."), text)
    if _forbids_doctype(lowered):
        return SamlRefused(said("Message refusé : les déclarations DOCTYPE sont interdites."), text)
    if isinstance(exc, VerificationError):
        return SamlRefused(said("Les conditions de l'assertion ne sont pas remplies."), text)
    return SamlRefused(said("Message SAML illisible ou invalide."), text)


def _with_causes(exc: BaseException) -> str:
    """``Type: message`` of ``exc`` and of its causes (``<-``): pysaml2 turns
    any failure while reading a message (schema, parser, temp file...) into
    « not signed correctly », and only the cause says what really failed."""
    parts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 4:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)[:500]


def _forbids_doctype(lowered: str) -> bool:
    return "doctype" in lowered or "dtd" in lowered or "entities" in lowered
