"""Keys, certificates and SAML metadata for every entity of the federation.

Keys are made once (``certs/<entity>.key|.crt``); metadata is rewritten from
the entity table each time ``ensure`` runs, so a port change is picked up.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from saml2 import BINDING_HTTP_POST
from saml2.metadata import entity_descriptor

from fedsim import certs
from fedsim.federation import TRUST, Entity, Settings, entities
from fedsim.saml import config as saml_config


def metadata_xml(entity: Entity, certs_dir: Path, encryption: bool | None = None) -> str:
    """``encryption``: whether an SP publishes its encryption key (with
    ``use="encryption"`` and the algorithms it accepts as EncryptionMethod);
    None: as its environment variable says (``saml_config.wants_encryption``)."""
    if encryption is None:
        encryption = saml_config.wants_encryption(entity.name)
    conf = saml_config.load(saml_config.config_dict(entity, certs_dir, encryption=encryption))
    descriptor = entity_descriptor(conf)
    if encryption:
        from saml2 import md

        from fedsim.saml.encryption import PUBLISHED_METHODS

        sps = descriptor.spsso_descriptor
        for sp in sps if isinstance(sps, list) else [sps] if sps is not None else []:
            keys = sp.key_descriptor
            for key in keys if isinstance(keys, list) else [keys] if keys is not None else []:
                if key.use == "encryption":
                    key.encryption_method = [md.EncryptionMethod(algorithm=a) for a in PUBLISHED_METHODS]
    return str(descriptor)


def write_metadata(settings: Settings, name: str, text: str) -> bool:
    """Make ``certs/<name>.xml`` say ``text`` (an app whose configuration
    changes its metadata, e.g. its encryption key); whether it changed.
    Peers read it when they start. A folder that cannot be written (certs
    mounted read-only) is logged, not fatal: the app still serves its metadata."""
    target = saml_config.metadata_file(settings.certs_dir, entities(settings)[name])
    try:
        if target.exists() and target.read_text(encoding="utf-8") == text:
            return False
        _write_atomic(target, text)
    except OSError as exc:
        logging.getLogger(__name__).warning("metadata of %s not written to %s: %s", name, target, exc)
        return False
    return True


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def ensure(settings: Settings, *, force: bool = False, refresh_metadata: bool = True) -> dict[str, Entity]:
    """Make missing keys (all of them when ``force``) and write metadata."""
    table = entities(settings)
    for entity in table.values():
        certs.ensure(settings.certs_dir, entity.name, entity.entity_id, force=force)
    for entity in table.values():
        target = saml_config.metadata_file(settings.certs_dir, entity)
        if refresh_metadata or force or not target.exists():
            _write_atomic(target, metadata_xml(entity, settings.certs_dir))
    return table


class MetadataUnavailable(RuntimeError):
    """Metadata that cannot be used (a file, a URL, a folder): the message
    says which one and why, in words a person can act on."""


def entity_config(settings: Settings, name: str, **options):  # -> saml2.config.Config
    """pysaml2 config of one entity, trusting its peers' metadata files
    (the built-in ones of ``TRUST``; an IdP's other service providers come
    from its registry, ``fedsim.saml.registry``). ``options`` go to
    ``fedsim.saml.config.config_dict`` (lifetimes, skew)."""
    table = entities(settings)
    entity = table[name]
    peers = [saml_config.metadata_file(settings.certs_dir, table[p]) for p in TRUST[name]]
    if not all(p.exists() for p in peers) or not certs.key_pair(settings.certs_dir, name).exists():
        ensure(settings, refresh_metadata=False)
    return saml_config.load(saml_config.config_dict(entity, settings.certs_dir, peers, **options))


# -- why a metadata source cannot be used: the reasons the registries report --


def describe_source(source: Path | str, *, start: bool = False) -> str:
    """« le fichier de métadonnées … » / « l'URL de métadonnées … »."""
    text = f"le fichier de métadonnées {source}" if isinstance(source, Path) else f"l'URL de métadonnées {source}"
    return text[0].upper() + text[1:] if start else text


def failure_reason(exc: BaseException) -> str:
    """An exception and its causes, in one short line."""
    from saml2.mdstore import SourceNotFound

    causes = []
    while exc is not None and len(causes) < 3:
        # pysaml2 logs the HTTP status and puts only the URL in the exception
        said = "le serveur n'a pas répondu « 200 OK »" if isinstance(exc, SourceNotFound) else str(exc)
        causes.append(f"{type(exc).__name__}: {said}")
        exc = exc.__cause__
    return " <- ".join(causes)[:400]


def unreadable(source: Path | str, exc: BaseException) -> str:
    return f"Impossible de charger {describe_source(source)} : {failure_reason(exc)}"


def no_peer_of_role(source: Path | str, role: str, expired: Iterable[str] = ()) -> str:
    """``source`` describes no peer an entity of ``role`` talks to."""
    wanted = "fournisseur de services (SPSSODescriptor)" if role == "idp" else \
        "fournisseur d'identité (IDPSSODescriptor)"
    expired = list(expired)
    if expired:
        return (f"{describe_source(source, start=True)} ne décrit aucun {wanted} valide : "
                f"{', '.join(expired)} a expiré.")
    return f"{describe_source(source, start=True)} ne décrit aucun {wanted} (ou seulement des entités expirées)."


def redeclared(source: Path | str, entity_id: str, declared_by: str) -> str:
    return (f"{describe_source(source, start=True)} déclare l'entité {entity_id}, "
            f"déjà déclarée par {declared_by}.")


def descriptor_problem(source: Path | str, entity_id: str, descriptor: dict, role: str) -> str | None:
    """What this federation needs of a peer: a signing certificate (signed
    AuthnRequests / Responses are required) and, for an SP, an assertion
    consumer service with the HTTP-POST binding. None when it has them."""
    where = f"{describe_source(source, start=True)} ({entity_id})"
    keys = [k for k in descriptor.get("key_descriptor", []) if k.get("use") in (None, "signing")]
    if not keys:
        return (f"{where} ne publie aucun certificat de signature (KeyDescriptor "
                'use="signing") : ses messages signés ne pourraient pas être vérifiés.')
    if role == "idp" and not any(acs.get("binding") == BINDING_HTTP_POST
                                 for acs in descriptor.get("assertion_consumer_service", [])):
        return f"{where} n'a aucun AssertionConsumerService avec le binding HTTP-POST."
    return None


# -- an SP of the federation behind another identity provider --


def upstream_source(value: str | Path) -> Path | str:
    """A metadata source as configured: an http(s) URL stays a string, anything else is a file path."""
    text = str(value).strip()
    return text if text.lower().startswith(("http://", "https://")) else Path(text).expanduser()


def upstream_idp_config(settings: Settings, name: str, source: Path | str, idp_entity_id: str,
                        *, fetch_timeout: float = 10, **options):  # -> saml2.config.Config
    """pysaml2 config of the SP ``name`` trusting, instead of its built-in
    IdP, the IdP ``idp_entity_id`` described by ``source`` (a metadata file
    or an http(s) URL). MetadataUnavailable, naming the source, when it
    cannot be read or does not describe that IdP with an HTTP-Redirect SSO
    endpoint and a signing certificate."""
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.httpbase import HTTPBase
    from saml2.mdstore import MetaDataExtern, MetaDataFile

    table = entities(settings)
    if not certs.key_pair(settings.certs_dir, name).exists():
        ensure(settings, refresh_metadata=False)
    try:
        if isinstance(source, Path):
            metadata = MetaDataFile([], str(source))
        else:  # unsigned metadata accepted: no cert to check it against
            http = HTTPBase(verify=True, http_client_timeout=fetch_timeout)
            metadata = MetaDataExtern([], source, None, None, http)
        metadata.load()
    except Exception as exc:  # noqa: BLE001 - pysaml2 raises many unrelated types
        raise MetadataUnavailable(unreadable(source, exc)) from None
    descriptors = metadata.entity.get(idp_entity_id, {}).get("idpsso_descriptor", [])
    if not descriptors:
        known = ", ".join(sorted(metadata.entity)) or "aucune entité"
        if not any(entity.get("idpsso_descriptor") for entity in metadata.entity.values()):
            raise MetadataUnavailable(f"{no_peer_of_role(source, 'sp').rstrip('.')} ; entités décrites : {known}.")
        raise MetadataUnavailable(f"{describe_source(source, start=True)} ne décrit pas le fournisseur d'identité "
                                  f"{idp_entity_id} (entités : {known}).")
    for descriptor in descriptors:
        problem = descriptor_problem(source, idp_entity_id, descriptor, "sp")
        if problem:
            raise MetadataUnavailable(problem)
    if not any(service.get("binding") == BINDING_HTTP_REDIRECT
               for descriptor in descriptors for service in descriptor.get("single_sign_on_service", [])):
        raise MetadataUnavailable(f"{describe_source(source, start=True)} ({idp_entity_id}) n'a aucun "
                                  "SingleSignOnService avec le binding HTTP-Redirect.")
    places = {"metadata_urls": [source], "metadata_fetch_timeout": fetch_timeout} if isinstance(source, str) \
        else {"peer_metadata": [source]}
    return saml_config.load(saml_config.config_dict(table[name], settings.certs_dir, **places, **options))


def sp_config(settings: Settings, name: str, idp_metadata: str | Path | None = None,
              idp_entity_id: str | None = None, **options):  # -> (saml2.config.Config, str)
    """The SP ``name``'s config and the entity ID of its IdP: the built-in
    one of ``TRUST`` when ``idp_metadata`` is not set, otherwise the IdP
    ``idp_entity_id`` of that file or URL (``upstream_idp_config``)."""
    if not idp_metadata:
        if idp_entity_id:
            raise MetadataUnavailable(f"Entité du fournisseur d'identité {idp_entity_id} donnée sans ses "
                                      "métadonnées (fichier ou URL) : indiquez les deux.")
        return entity_config(settings, name, **options), entities(settings)[TRUST[name][0]].entity_id
    source = upstream_source(idp_metadata)
    if not idp_entity_id:
        raise MetadataUnavailable(f"{describe_source(source, start=True)} est configuré sans l'entity ID du "
                                  "fournisseur d'identité à utiliser : indiquez-le aussi.")
    return upstream_idp_config(settings, name, source, idp_entity_id, **options), idp_entity_id
