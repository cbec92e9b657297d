"""Which IdP the hostile SP attacks, and as which SP.

Our IdPs (``csam``, ``cerbere``) are attacked as the SP each of them knows
(Mon Espace's SP for CSAM, Modigia for Cerbère) with that SP's real key from
the certs folder, the browser first logged in as a persona (an open IdP
session: a vulnerable IdP would answer a hostile request at once). Any other
IdP is described by its metadata (file or URL) and attacked as an SP
registered there whose key, certificate, entity ID and ACS URL are given.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from fedsim import personas
from fedsim.federation import Settings, entities
from fedsim_harness.attack.idp_driver import IdpTarget, origin
from fedsim_harness.attack.idp_forge import SpKey, rogue_key
from fedsim_harness.scenario.browser import Browser, Transport

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
PERSONA = "jean"
# Which SP of the federation plays the attacker at each IdP, which other key
# the federation has, and the SP's login URL that opens the IdP session.
OURS = {
    "csam": ("csam-idp", "monespace-sp", "modigia-sp", "/connexion?next=/tableau-de-bord"),
    "cerbere": ("cerbere-idp", "modigia-sp", "monespace-sp", "/saml/login?next=/profil"),
}
CSAM_LOGIN_MARKERS = ("IDENTIFICATION avec",)


class IdpTargetError(ValueError):
    """A target that cannot be attacked; the message says why."""


def sp_key(settings: Settings, name: str) -> SpKey:
    """The real key of one of the federation's SPs (``monespace-sp``, ``modigia-sp``)."""
    from fedsim import certs

    entity = entities(settings)[name]
    pair = certs.key_pair(settings.certs_dir, entity.name)
    if not pair.exists():
        raise IdpTargetError(f"no key for {entity.display_name} in {settings.certs_dir}: run `fedsim keys` first")
    return SpKey.from_files(entity.entity_id, pair.key_file, pair.cert_file)


def ours(settings: Settings, name: str, urls: dict[str, str]) -> IdpTarget:
    """CSAM or Cerbère, attacked as the SP it knows; ``urls``: the
    federation's base URLs (the mailbox, for a first Mon Espace login)."""
    if name not in OURS:
        raise IdpTargetError(f"{name}: not one of our IdPs ({', '.join(OURS)})")
    idp_name, sp_name, other_name, login_path = OURS[name]
    table = entities(settings)
    idp, sp = table[idp_name], table[sp_name]
    origins = {origin(idp.base_url)}
    if name == "cerbere":  # Cerbère is a proxy: its way goes through CSAM
        origins.add(origin(table["csam-idp"].base_url))
    login_url = sp.base_url + login_path

    def login(transport: Transport) -> None:
        from fedsim_harness.outside import Journey

        page = Journey(Browser(transport), urls, personas.by_id(PERSONA)).run(login_url, "eid", None)
        if origin(page.url) != origin(sp.base_url) or page.status != 200:
            raise IdpTargetError(f"the login of {PERSONA} through {idp.display_name} ended at {page.url} "
                                 f"({page.status}), not at {sp.display_name}")

    return IdpTarget(idp.display_name, idp.url("sso"), sp_key(settings, sp_name), (sp.url("acs"),),
                     frozenset(origins), sp_key(settings, other_name), idp.url("slo"), login, CSAM_LOGIN_MARKERS)


def read_metadata(source: str) -> bytes:
    from fedsim_harness.attack.targets import TargetError
    from fedsim_harness.attack.targets import read_metadata as read

    try:
        return read(source)
    except TargetError as exc:
        raise IdpTargetError(str(exc)) from None


def from_metadata(xml: bytes, *, sp_entity_id: str, sp_key_file: Path, sp_cert_file: Path | None,
                  acs: tuple[str, ...], cookies: dict[str, str] | None = None) -> IdpTarget:
    """Any IdP by its metadata (its HTTP-Redirect SingleSignOnService), as
    the SP ``sp_entity_id`` registered there; ``cookies``: an open session
    at the IdP (name → value), else none (assertions are then unseen: a
    hostile request must be refused before any login page)."""
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError as exc:
        raise IdpTargetError(f"unreadable metadata: {exc}") from None
    descriptor = root if etree.QName(root).localname == "EntityDescriptor" else root.find(f".//{{{MD}}}EntityDescriptor")
    idp = descriptor.find(f"{{{MD}}}IDPSSODescriptor") if descriptor is not None else None
    if idp is None:
        raise IdpTargetError("the metadata describes no IdP (IDPSSODescriptor)")
    sso = [e.get("Location") for e in idp.iter(f"{{{MD}}}SingleSignOnService") if e.get("Binding") == REDIRECT]
    if not sso:
        raise IdpTargetError("the IdP's metadata has no HTTP-Redirect SingleSignOnService")
    slo = [e.get("Location") for e in idp.iter(f"{{{MD}}}SingleLogoutService") if e.get("Binding") == REDIRECT]
    if not acs:
        raise IdpTargetError("give the SP's ACS URL (--sp-acs), as its metadata at the IdP lists it")
    try:
        key = SpKey.from_files(sp_entity_id, sp_key_file, sp_cert_file)
    except (OSError, ValueError) as exc:
        raise IdpTargetError(f"cannot read the SP's key: {exc}") from None
    login = _cookie_login(sso[0], cookies) if cookies else None
    return IdpTarget(descriptor.get("entityID", ""), sso[0], key, acs, frozenset({origin(sso[0])}),
                     rogue_key("https://other-sp.example/metadata"), slo[0] if slo else None, login)


def _cookie_login(sso_url: str, cookies: dict[str, str]) -> Callable[[Transport], None]:
    host = urlsplit(sso_url).hostname or ""

    def login(transport: Transport) -> None:
        jar = getattr(transport, "session", None)
        if jar is None:
            raise IdpTargetError("session cookies need a transport over HTTP")
        for name, value in cookies.items():
            jar.cookies.set(name, value, domain=host)
    return login
