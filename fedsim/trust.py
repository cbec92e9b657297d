"""Keys, certificates and SAML metadata for every entity of the federation.

Keys are made once (``certs/<entity>.key|.crt``); metadata is rewritten from
the entity table each time ``ensure`` runs, so a port change is picked up.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

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


def entity_config(settings: Settings, name: str, **options):  # -> saml2.config.Config
    """pysaml2 config of one entity, trusting its peers' metadata files.
    ``options`` go to ``fedsim.saml.config.config_dict`` (lifetimes, skew)."""
    table = entities(settings)
    entity = table[name]
    peers = [saml_config.metadata_file(settings.certs_dir, table[p]) for p in TRUST[name]]
    if not all(p.exists() for p in peers) or not certs.key_pair(settings.certs_dir, name).exists():
        ensure(settings, refresh_metadata=False)
    return saml_config.load(saml_config.config_dict(entity, settings.certs_dir, peers, **options))
