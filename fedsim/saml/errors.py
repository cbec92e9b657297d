"""Why a SAML message was refused, in words a tester can act on."""
from __future__ import annotations

from saml2.response import IncorrectlySigned, StatusError, UnsolicitedResponse, VerificationError
from saml2.sigver import MissingKey, SignatureError
from saml2.validate import ResponseLifetimeExceed, ToEarly


class SamlRefused(Exception):
    """A SAML message was refused. ``reason`` is shown to the user (French),
    ``detail`` is the technical cause, logged and shown in small print."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def explain(exc: BaseException) -> SamlRefused:
    """Turn a pysaml2 exception into a SamlRefused with a precise reason."""
    text = f"{type(exc).__name__}: {exc}"[:500]
    lowered = text.lower()
    if isinstance(exc, SamlRefused):
        return exc
    if isinstance(exc, UnsolicitedResponse):
        return SamlRefused("Réponse non sollicitée : elle ne répond à aucune demande "
                           "d'authentification envoyée par ce service (InResponseTo inconnu ou déjà utilisé).", text)
    if isinstance(exc, ResponseLifetimeExceed) or "notonorafter" in lowered or "too old" in lowered:
        return SamlRefused("L'assertion a expiré (NotOnOrAfter dépassé).", text)
    if isinstance(exc, ToEarly):
        return SamlRefused("L'assertion n'est pas encore valide (NotBefore dans le futur).", text)
    if isinstance(exc, MissingKey):
        return SamlRefused("Émetteur inconnu : aucune clé de signature pour lui dans les métadonnées.", text)
    if isinstance(exc, (SignatureError, IncorrectlySigned)) or "signature" in lowered or "signed" in lowered:
        return SamlRefused("Signature absente ou invalide : le message n'est pas signé par une clé "
                           "de l'émetteur publiée dans ses métadonnées, ou il a été modifié.", text)
    if "audience" in lowered:
        return SamlRefused("Audience incorrecte : l'assertion est destinée à un autre service.", text)
    if "recipient" in lowered or "destination" in lowered or "not destined for me" in lowered:
        return SamlRefused("Destination incorrecte : le message est adressé à une autre adresse.", text)
    if isinstance(exc, StatusError):
        return SamlRefused("Le fournisseur d'identité a répondu par une erreur.", text)
    if "doctype" in lowered or "dtd" in lowered or "entities" in lowered:
        return SamlRefused("Message refusé : les déclarations DOCTYPE sont interdites.", text)
    if isinstance(exc, VerificationError):
        return SamlRefused("Les conditions de l'assertion ne sont pas remplies.", text)
    return SamlRefused("Message SAML illisible ou invalide.", text)
