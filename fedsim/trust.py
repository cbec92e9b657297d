"""Keys, certificates and SAML metadata for every entity of the federation.

Keys are made once (``certs/<entity>.key|.crt``); metadata is rewritten from
the entity table each time ``ensure`` runs, so a port change is picked up.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from saml2 import BINDING_HTTP_POST
from saml2.metadata import entity_descriptor

from fedsim import certs
from fedsim.federation import TRUST, Entity, Settings, entities
from fedsim.saml import config as saml_config


def metadata_xml(entity: Entity, certs_dir: Path) -> str:
    conf = saml_config.load(saml_config.config_dict(entity, certs_dir))
    return str(entity_descriptor(conf))


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
    """Metadata the configuration names (a file, a URL) cannot be used: the
    message says which one and why, for a startup error a person can act on."""


def entity_config(settings: Settings, name: str, *, extra_metadata_files: Iterable[Path] = (),
                  metadata_urls: Iterable[str] = (), **options):  # -> saml2.config.Config
    """pysaml2 config of one entity, trusting its peers' metadata files, plus
    ``extra_metadata_files`` and the metadata at ``metadata_urls`` (fetched
    now). A source that cannot be read, fetched or parsed, that describes no
    peer of the right role, or that redeclares a known entity raises
    ``MetadataUnavailable`` naming it.
    ``options`` go to ``fedsim.saml.config.config_dict`` (lifetimes, skew)."""
    table = entities(settings)
    entity = table[name]
    peers = [saml_config.metadata_file(settings.certs_dir, table[p]) for p in TRUST[name]]
    if not all(p.exists() for p in peers) or not certs.key_pair(settings.certs_dir, name).exists():
        ensure(settings, refresh_metadata=False)
    extra = [Path(p) for p in extra_metadata_files]
    urls = [u.strip() for u in metadata_urls if u.strip()]
    conf = saml_config.config_dict(entity, settings.certs_dir, peers + extra, metadata_urls=urls, **options)
    if not extra and not urls:
        return saml_config.load(conf)
    failure = None
    try:
        config = saml_config.load(conf)
    except Exception as exc:  # pysaml2 raises many unrelated types
        failure = _which_source_fails(conf, extra, urls, exc)
    if failure is not None:  # raised outside the except block: no chained pysaml2 traceback
        raise failure
    _check_sources(config, entity, peers, extra, urls)
    return config


def _describe(source: Path | str, *, start: bool = False) -> str:
    text = f"le fichier de métadonnées {source}" if isinstance(source, Path) else f"l'URL de métadonnées {source}"
    return text[0].upper() + text[1:] if start else text


def _reason(exc: BaseException) -> str:
    from saml2.mdstore import SourceNotFound

    causes = []
    while exc is not None and len(causes) < 3:
        # pysaml2 logs the HTTP status and puts only the URL in the exception
        said = "le serveur n'a pas répondu « 200 OK »" if isinstance(exc, SourceNotFound) else str(exc)
        causes.append(f"{type(exc).__name__}: {said}")
        exc = exc.__cause__
    return " <- ".join(causes)[:400]


def _which_source_fails(conf: dict, extra: list[Path], urls: list[str], exc: BaseException) -> MetadataUnavailable:
    """pysaml2 does not always say which metadata source failed: load the
    added ones one by one (only on this failure path) to find it."""
    from saml2.mdstore import MetadataStore

    bare = saml_config.load({k: v for k, v in conf.items() if k != "metadata"})
    for source in [*extra, *urls]:
        store = MetadataStore(bare.attribute_converters, bare, http_client_timeout=conf.get("http_client_timeout"))
        try:
            if isinstance(source, Path):
                if not source.is_file():
                    raise FileNotFoundError(f"{source} n'existe pas")
                store.load("local", str(source))
            else:
                store.load("remote", url=source, cert=None)
        except Exception as alone:  # noqa: BLE001 - any failure is reported, with its cause
            return MetadataUnavailable(f"Impossible de charger {_describe(source)} : {_reason(alone)}")
    return MetadataUnavailable(f"Impossible de charger les métadonnées SAML de {conf['entityid']} : {_reason(exc)}")


def _check_sources(config, entity: Entity, peers: list[Path], extra: list[Path], urls: list[str]) -> None:
    """Each added source must describe at least one entity of the role this
    entity talks to, and none may redeclare an entity already known."""
    wanted = "spsso_descriptor" if entity.role == "idp" else "idpsso_descriptor"
    role = "fournisseur de services (SPSSODescriptor)" if entity.role == "idp" else \
        "fournisseur d'identité (IDPSSODescriptor)"
    stores = config.metadata.metadata
    declared_by = {entity.entity_id: f"{entity.display_name} lui-même"}
    for peer in peers:
        for entity_id in stores[str(peer)].entity:
            declared_by[entity_id] = _describe(peer)
    for source in [*extra, *urls]:
        found = stores[str(source)].entity
        if not any(wanted in descriptor for descriptor in found.values()):
            raise MetadataUnavailable(f"{_describe(source, start=True)} ne décrit aucun {role} "
                                      "(ou seulement des entités expirées).")
        for entity_id in found:
            if entity_id in declared_by:
                raise MetadataUnavailable(f"{_describe(source, start=True)} déclare l'entité {entity_id}, "
                                          f"déjà déclarée par {declared_by[entity_id]}.")
            declared_by[entity_id] = _describe(source)
            for descriptor in found[entity_id].get(wanted, []):
                _check_descriptor(source, entity_id, descriptor, entity.role)


def _check_descriptor(source: Path | str, entity_id: str, descriptor: dict, role: str) -> None:
    """What this federation needs of a peer: a signing certificate (signed
    AuthnRequests / Responses are required) and, for an SP, an assertion
    consumer service with the HTTP-POST binding."""
    where = f"{_describe(source, start=True)} ({entity_id})"
    keys = [k for k in descriptor.get("key_descriptor", []) if k.get("use") in (None, "signing")]
    if not keys:
        raise MetadataUnavailable(f"{where} ne publie aucun certificat de signature (KeyDescriptor "
                                  'use="signing") : ses messages signés ne pourraient pas être vérifiés.')
    if role == "idp" and not any(acs.get("binding") == BINDING_HTTP_POST
                                 for acs in descriptor.get("assertion_consumer_service", [])):
        raise MetadataUnavailable(f"{where} n'a aucun AssertionConsumerService avec le binding HTTP-POST.")
