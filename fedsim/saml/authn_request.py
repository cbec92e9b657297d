"""Reading an AuthnRequest, on the lxml tree whose query-string signature
the IdP verified (fedsim.saml.redirect): what pysaml2's ``AuthnRequest``
and ``Server.response_args`` checked (message type, Version 2.0,
Destination, IssueInstant within a day, the ACS URL from the SP's
metadata), plus the SAML schema, without pysaml2's object model; and what
the Web SSO profile requires beyond that: Destination on a signed request,
AssertionConsumerServiceURL and ...Index never together, no ProtocolBinding
but HTTP-POST (the only one this IdP answers with)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from fedsim.saml import schema
from fedsim.saml.errors import SamlRefused
from fedsim.saml.texts import said
from fedsim.saml.profile import instant

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
_P = "{" + SAMLP + "}"
_A = "{" + SAML + "}"
ISSUE_WINDOW = timedelta(days=1)  # pysaml2's Request.issue_instant_ok, plus the accepted clock skew
REQUEST_ID_MAX = 200  # the replay cache's column (fedsim.saml.state.SeenAuthnRequest)


@dataclass(frozen=True)
class NameIdPolicy:
    format: str = ""
    sp_name_qualifier: str = ""


@dataclass(frozen=True)
class ReadRequest:
    request_id: str
    acs_url: str
    requested_contexts: tuple[str, ...] = ()
    comparison: str = "exact"
    force_authn: bool = False
    is_passive: bool = False
    name_id_policy: NameIdPolicy | None = None
    accept_until: datetime | None = None  # past it, IssueInstant is too old: the request is refused anyway


def _boolean(value: str | None) -> bool:
    return (value or "").strip() in ("true", "1")


def read(root: etree._Element, *, issuer: str, receivers: list[str], acs_services: list[dict],
         now: datetime, skew: timedelta, signed: bool = True) -> ReadRequest:
    """``root``: the verified request; ``receivers``: this IdP's SSO
    endpoints; ``acs_services``: the SP's HTTP-POST AssertionConsumerServices
    from metadata (pysaml2's dicts); ``signed``: the request came signed
    (then Destination is required). Raises SamlRefused."""
    if root.tag != _P + "AuthnRequest":
        raise SamlRefused(said("Message SAML illisible ou invalide."),
                          f"{etree.QName(root).localname} received where an AuthnRequest is expected")
    if root.get("Version") != "2.0":
        raise SamlRefused(said("Message SAML illisible ou invalide."),
                          f"VersionMismatch: Invalid version {root.get('Version')} should be 2.0"[:500])
    try:
        schema.validate_tree(root.getroottree())
    except schema.XMLSchemaError as exc:
        first = str(exc).split(" | ")[0].rpartition(": ")[2]
        raise SamlRefused(said("Demande d'authentification non conforme au schéma SAML 2.0 : "
                               "%(problem)s",
                               problem=first[:300]),
                          str(exc)[:500]) from None
    request_id = root.get("ID", "")
    if len(request_id) > REQUEST_ID_MAX:
        raise SamlRefused(said("Identifiant de demande (ID) trop long : %(maximum)s "
                               "caractères au plus.",
                               maximum=REQUEST_ID_MAX),
                          f"ID of {len(request_id)} characters")
    destination = root.get("Destination")
    if destination is None and signed:
        raise SamlRefused(said("Destination absente : une demande d'authentification signée doit porter l'attribut "
                               "Destination (SAML Bindings §3.4.5.2)."), "signed AuthnRequest without Destination")
    if destination is not None and receivers and destination not in receivers:
        raise SamlRefused(said("Destination incorrecte : le message est adressé à une autre adresse."),
                          f"{destination[:200]} not in {receivers}")
    issued = instant(root.get("IssueInstant"), "IssueInstant de la demande")
    if not now - ISSUE_WINDOW - skew < issued < now + ISSUE_WINDOW + skew:
        raise SamlRefused(said("Demande d'authentification hors délai : IssueInstant trop ancien ou dans le futur."))
    _protocol_binding(root)
    requested = root.find(_P + "RequestedAuthnContext")
    contexts: tuple[str, ...] = ()
    comparison = "exact"
    if requested is not None:
        contexts = tuple((ref.text or "").strip() for ref in requested.iterfind(_A + "AuthnContextClassRef"))
        comparison = requested.get("Comparison") or "exact"
    policy = root.find(_P + "NameIDPolicy")
    return ReadRequest(
        request_id=request_id, acs_url=_acs_url(root, issuer, acs_services),
        requested_contexts=contexts, comparison=comparison,
        force_authn=_boolean(root.get("ForceAuthn")), is_passive=_boolean(root.get("IsPassive")),
        name_id_policy=None if policy is None else NameIdPolicy(policy.get("Format") or "",
                                                                policy.get("SPNameQualifier") or ""),
        accept_until=issued + ISSUE_WINDOW + skew)


def _protocol_binding(root: etree._Element) -> None:
    """This IdP answers with HTTP-POST only: a request asking for another
    binding cannot be met (SAML Core §3.4.1; HTTP-Redirect is never allowed
    for a Web SSO Response, Profiles §4.1.2). Refused with a page: the SP
    asked to be answered at an address and in a way the IdP does not offer,
    so even an error Response (Requester/UnsupportedBinding) has nowhere
    trustworthy to go."""
    binding = root.get("ProtocolBinding")
    if binding is None or binding == BINDING_HTTP_POST:
        return
    name = binding.rsplit(":", 1)[-1][:100]
    raise SamlRefused(said("Liaison de réponse non prise en charge : la demande veut une réponse "
                           "en %(name)s ; ce fournisseur d'identité ne répond qu'en HTTP-POST "
                           "(SAML Core §3.4.1, Profiles §4.1.2).",
                           name=name),
                      f"UnsupportedBinding: ProtocolBinding {binding[:200]}")


def _acs_url(root: etree._Element, issuer: str, services: list[dict]) -> str:
    """Where to post the answer: the AssertionConsumerServiceURL if the SP's
    metadata lists it (HTTP-POST), else the one of the index asked, else the
    first; never an address the metadata does not list."""
    if not services:
        raise SamlRefused(said("Aucun service de réception HTTP-POST (AssertionConsumerService) "
                               "pour %(issuer)s dans ses métadonnées.",
                               issuer=issuer[:200]))
    url = root.get("AssertionConsumerServiceURL")
    index = root.get("AssertionConsumerServiceIndex")
    if url is not None and index is not None:
        raise SamlRefused(said("Adresse de retour ambiguë : la demande porte à la fois AssertionConsumerServiceURL "
                               "et AssertionConsumerServiceIndex, qui s'excluent mutuellement (SAML Core §3.4.1)."),
                          f"AssertionConsumerServiceURL {url[:200]} with AssertionConsumerServiceIndex {index[:20]}")
    if url:
        if any(service.get("location") == url for service in services):
            return url
        raise SamlRefused(said("Adresse de retour refusée : l'AssertionConsumerServiceURL de la demande n'est pas "
                               "dans les métadonnées du service (HTTP-POST)."), url[:300])
    if index:
        for service in services:
            if str(service.get("index")) == index:
                return service["location"]
        raise SamlRefused(said("Adresse de retour refusée : aucun AssertionConsumerService d'index"
                               " %(index)s dans les métadonnées du service (HTTP-POST).",
                               index=index[:20]))
    locations = [s["response_location"] for s in services if s.get("response_location")]
    locations += [s["location"] for s in services if s.get("location")]
    return locations[0]
