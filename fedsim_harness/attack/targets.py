"""Whom the hostile IdP attacks (``Target``), as which IdP, and the people
it names (the attacker and the victim identities).

Our own SPs have defaults (``BUILTIN``): ``modigia`` (an SP of Cerbère)
and ``monespace`` (Mon Espace's SP toward CSAM), with their login and
protected URLs. Any other SP is named by an entity ID registered at
Cerbère or CSAM, or by its metadata (a file or a URL), with the login and
protected URLs given.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from lxml import etree

from fedsim import personas
from fedsim.federation import Settings, entities
from fedsim.saml import config as saml_config
from fedsim.saml import encryption
from fedsim.saml.encryption import Recipient
from fedsim_harness.attack.forge import Identity, Signer

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
IDPS = {"cerbere": "cerbere-idp", "csam": "csam-idp"}
ATTACKER, VICTIM = "jean", "claire"


class TargetError(ValueError):
    """A target that cannot be attacked; the message says why."""


@dataclass(frozen=True)
class Target:
    sp_entity_id: str
    idp: str                 # "cerbere" or "csam": the IdP the SP trusts, whose key signs
    login_url: str
    protected_url: str
    pattern: str | None = None
    acs_url: str | None = None   # from metadata; the AuthnRequest's wins
    name: str = ""
    # the SP's encryption key, from its metadata (KeyDescriptor use="encryption"):
    # the certificate (base64 DER) and the EncryptionMethods it lists
    encryption_cert: str | None = None
    encryption_methods: tuple[str, ...] = ()
    demands_encryption: bool = False  # refuses a plain Assertion (our SPs: exactly when they publish a key)

    @property
    def label(self) -> str:
        return self.name or self.sp_entity_id

    def recipient(self) -> Recipient | None:
        """The key and algorithms our IdPs would encrypt with for this SP
        (``fedsim.saml.encryption``'s choice); None when it publishes none."""
        if not self.encryption_cert:
            return None
        try:
            public = x509.load_der_x509_certificate(base64.b64decode(self.encryption_cert)).public_key()
        except (ValueError, binascii.Error) as exc:
            raise TargetError(f"unreadable encryption certificate in the SP's metadata: {exc}") from None
        if not isinstance(public, RSAPublicKey):
            raise TargetError("the SP's encryption key is not an RSA key")
        methods = self.encryption_methods
        transport = encryption.RSA_OAEP if encryption.RSA_OAEP in methods else encryption.RSA_OAEP_MGF1P
        data = encryption.AES128_GCM if encryption.AES128_GCM in methods and encryption.AES256_GCM not in methods \
            else encryption.AES256_GCM
        return Recipient(public, transport, data)


def encryption_key(descriptor: etree._Element) -> tuple[str | None, tuple[str, ...]]:
    """(certificate as base64 DER, EncryptionMethod algorithms) of the first
    KeyDescriptor with ``use="encryption"`` of an SP's EntityDescriptor
    (an unqualified one is not enough: our IdPs encrypt only for an
    explicit one); (None, ()) when there is none."""
    for key in descriptor.iterfind(f"{{{MD}}}SPSSODescriptor/{{{MD}}}KeyDescriptor"):
        if key.get("use") != "encryption":
            continue
        certificate = key.findtext(f".//{{{DS}}}X509Certificate") or ""
        methods = tuple(m.get("Algorithm", "") for m in key.iterfind(f"{{{MD}}}EncryptionMethod"))
        return "".join(certificate.split()) or None, methods
    return None, ()


def _parse(xml: bytes) -> etree._Element:
    try:
        return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError as exc:
        raise TargetError(f"unreadable metadata: {exc}") from None


def builtin(settings: Settings, name: str) -> Target | None:
    """``modigia`` or ``monespace`` (also their entity IDs); None otherwise."""
    table = entities(settings)
    modigia, portal = table["modigia-sp"], table["monespace-sp"]
    known = {
        "modigia": Target(modigia.entity_id, "cerbere", modigia.base_url + "/saml/login?next=/profil",
                          modigia.base_url + "/profil", None, modigia.url("acs"), "Modigia"),
        "monespace": Target(portal.entity_id, "csam", portal.base_url + "/connexion?next=/tableau-de-bord",
                            portal.base_url + "/tableau-de-bord", None, portal.url("acs"), "Mon Espace (SP)"),
    }
    aliases = {modigia.entity_id: "modigia", portal.entity_id: "monespace"}
    target = known.get(aliases.get(name, name))
    if target is None:
        return None
    entity = modigia if target.sp_entity_id == modigia.entity_id else portal
    return _with_published_key(target, saml_config.metadata_file(settings.certs_dir, entity))


def _with_published_key(target: Target, metadata: Path) -> Target:
    """Our SP with the encryption key its metadata file publishes (written
    by ``fedsim.trust``): our SPs publish one exactly when they demand
    encrypted assertions (``fedsim.saml.config.ENCRYPTION_SETTINGS``)."""
    if not metadata.is_file():
        return target
    root = _parse(metadata.read_bytes())
    descriptor = root if etree.QName(root).localname == "EntityDescriptor" else \
        root.find(f".//{{{MD}}}EntityDescriptor")
    certificate, methods = encryption_key(descriptor) if descriptor is not None else (None, ())
    return replace(target, encryption_cert=certificate, encryption_methods=methods,
                   demands_encryption=certificate is not None)


def from_metadata(xml: bytes, *, idp: str, login_url: str, protected_url: str,
                  pattern: str | None = None) -> Target:
    """A target described by its SP metadata (entity ID, HTTP-POST ACS,
    encryption key if it publishes one: a third-party SP that publishes a
    key is not assumed to refuse plain assertions)."""
    root = _parse(xml)
    descriptor = root if etree.QName(root).localname == "EntityDescriptor" else \
        root.find(f".//{{{MD}}}EntityDescriptor")
    if descriptor is None or descriptor.find(f"{{{MD}}}SPSSODescriptor") is None:
        raise TargetError("the metadata describes no SP (SPSSODescriptor)")
    acs = [e.get("Location") for e in descriptor.iter(f"{{{MD}}}AssertionConsumerService")
           if e.get("Binding") == POST]
    certificate, methods = encryption_key(descriptor)
    return Target(descriptor.get("entityID", ""), idp, login_url, protected_url, pattern,
                  acs[0] if acs else None, encryption_cert=certificate, encryption_methods=methods)


def read_metadata(source: str) -> bytes:
    """Metadata from a file or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        import requests
        try:
            answer = requests.get(source, timeout=15)
        except requests.RequestException as exc:
            raise TargetError(f"cannot fetch {source}: {exc}") from None
        if answer.status_code != 200:
            raise TargetError(f"{source} answered {answer.status_code}")
        return answer.content
    if not _is_file(source):
        raise TargetError(f"{source}: neither a known SP, nor a metadata file, nor a URL")
    return Path(source).read_bytes()


def _is_file(name: str) -> bool:
    """Whether ``name`` names a readable file; False for names no file can
    have (too long, NUL bytes), which ``Path.is_file`` raises on."""
    try:
        return Path(name).is_file()
    except (OSError, ValueError):
        return False


def signer(settings: Settings, idp: str) -> Signer:
    """The IdP's real signing key and certificate, from the certs folder."""
    from fedsim import certs

    entity = entities(settings)[IDPS[idp]]
    pair = certs.key_pair(settings.certs_dir, entity.name)
    if not pair.exists():
        raise TargetError(f"no key for {entity.display_name} in {settings.certs_dir}: run `fedsim keys` first")
    return Signer.from_files(entity.entity_id, pair.key_file, pair.cert_file)


def identity(settings: Settings, idp: str, persona_id: str, sp_entity_id: str) -> Identity:
    """The NameID and attributes the IdP sends ``sp_entity_id`` for a persona
    (what monespace/cerbere.py and idp_csam/sso.py put in)."""
    person = personas.by_id(persona_id)
    username = person.monespace.cerbere_username if person.monespace else person.id
    name_id = hashlib.sha256(f"fedsim-attack|{username}|{sp_entity_id}".encode()).hexdigest()
    common = {"givenName": [person.given_name], "surname": [person.surname], "mail": [person.email],
              "PrefLanguage": [person.language]}
    if idp == "cerbere":
        attributes = {"cerbereUsername": [username], **common, "context": ["Citoyen"]}
        markers = (person.full_name, username)
    else:
        attributes = {"egovNRN": [person.nrn], **common,
                      "urn:be:fedict:iam:attr:fedid": [hashlib.md5(person.nrn.encode()).hexdigest()],
                      "urn:be:fedict:iam:attr:authenticationmethod": ["eid"]}
        markers = (person.full_name, person.nrn_formatted, person.nrn)
    return Identity(persona_id, name_id, attributes, markers)


def authority(settings: Settings, idp: str) -> str | None:
    """Cerbère names CSAM as the authenticating authority; CSAM names none."""
    return entities(settings)["csam-idp"].entity_id if idp == "cerbere" else None


def registered(settings: Settings, entity_id: str) -> tuple[str, bytes] | None:
    """(the IdP, the metadata) of an SP registered by file at Cerbère or CSAM
    (their registry folders, ``fedsim.saml.registry.PLACES``); None if not."""
    from fedsim.saml.registry import PLACES

    for idp, place in PLACES.items():
        folder, _ = place.folder(settings.instance_dir)
        for path in sorted(folder.glob("*.xml")) if folder.is_dir() else ():
            data = path.read_bytes()
            if f'entityID="{entity_id}"'.encode() in data:
                return idp, data
    return None


def resolve(settings: Settings, name: str, *, login_url: str | None, protected_url: str | None,
            pattern: str | None = None, idp: str | None = None) -> Target:
    """TARGET of ``fedsim attack sp`` that is not one of our SPs: a metadata
    file, an entity ID registered at Cerbère or CSAM, or a metadata URL
    (else an entity ID whose ACS the AuthnRequest names)."""
    if not login_url or not protected_url:
        raise TargetError(f"{name} is not one of our SPs (modigia, monespace): give --login and --protected")
    found = registered(settings, name)
    if found is not None:
        return from_metadata(found[1], idp=idp or found[0], login_url=login_url, protected_url=protected_url,
                             pattern=pattern)
    if _is_file(name) or name.startswith(("http://", "https://")):
        try:
            metadata = read_metadata(name)
        except TargetError:
            if _is_file(name):
                raise
        else:
            return from_metadata(metadata, idp=idp or "cerbere", login_url=login_url,
                                 protected_url=protected_url, pattern=pattern)
    return Target(name, idp or "cerbere", login_url, protected_url, pattern)
