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
