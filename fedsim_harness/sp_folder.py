"""Registering and removing service providers in an IdP's metadata folder,
for ``fedsim sp`` and the admin page (``fedsim_harness.admin_sps``).

Both work on the folder (``fedsim.saml.registry``): the running federation
picks the change up by itself, within a second. A file is validated before
it is written (into a hidden temporary file, then renamed: the IdP never
reads half a file) and refused, with the reason, when the IdP could not use
it. ``sp add`` of a URL fetches it once and stores it as a file.
"""
from __future__ import annotations

import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from fedsim import trust
from fedsim.federation import Settings
from fedsim.saml.registry import PLACES, SpRegistry
from fedsim.xmlsafe import hardened_parser

MAX_BYTES = 1_000_000  # a metadata file larger than this is refused
FETCH_TIMEOUT = 10     # seconds, for `fedsim sp add URL`
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
_writing = threading.Lock()  # the admin page's request threads


class Refused(Exception):
    """What cannot be done, in one line a person can act on."""


@dataclass(frozen=True)
class Added:
    path: Path
    entity_ids: tuple[str, ...]
    replaced: bool  # an earlier version of that file was replaced


@dataclass(frozen=True)
class Removed:
    paths: tuple[Path, ...]
    entity_ids: tuple[str, ...]


def open_registry(settings: Settings, idp: str) -> SpRegistry:
    """The registry of ``idp`` ("cerbere", "csam") as ``fedsim up`` would read
    it (same settings and environment variables), outside the federation."""
    place = PLACES[idp]
    return SpRegistry.at(place, trust.entity_config(settings, place.entity), settings.instance_dir)


def fetch(url: str, timeout: float = FETCH_TIMEOUT) -> bytes:
    """The document at ``url`` (HTTP or HTTPS, 200 OK, at most MAX_BYTES)."""
    import requests

    if not re.match(r"https?://", url, re.IGNORECASE):
        raise Refused(f"Refused: {url} is neither an existing file nor an http(s) URL.")
    try:
        with requests.get(url, timeout=timeout, stream=True) as answer:
            if answer.status_code != 200:
                raise Refused(f"Refused: {url} answered HTTP {answer.status_code}, not 200 OK.")
            body = answer.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise Refused(f"Refused: cannot fetch {url}: {type(exc).__name__}: {exc}"[:400]) from None
    if len(body) > MAX_BYTES:
        raise Refused(f"Refused: {url} is larger than {MAX_BYTES} bytes: not a metadata file.")
    return body


def add(registry: SpRegistry, xml: bytes, label: Path | str) -> Added:
    """Write the metadata ``xml`` (read from ``label``: a file or a URL)
    into the registry's folder, if the IdP can use it. A new SP gets a
    file named after its entity ID; an SP already registered by a file of
    the folder gets that file replaced (an update)."""
    folder = _folder(registry)
    if len(xml) > MAX_BYTES:
        raise Refused(f"Refused: {label} is larger than {MAX_BYTES} bytes: not a metadata file.")
    with _writing:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".sp-", suffix=".tmp")  # not *.xml: never read
        candidate = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(xml)
            entity_ids, problem = registry.examine(candidate, label)
            if problem:
                raise Refused(f"Refused: {problem}")
            target = _target(registry, folder, entity_ids, label)
            before = target.read_bytes() if target.exists() else None
            os.replace(candidate, target)
        except OSError as exc:
            raise Refused(f"Cannot write into {folder}: {exc.strerror or exc}.") from None
        finally:
            candidate.unlink(missing_ok=True)
        registry.refresh(force=True)
        skipped = next((s for s in registry.state.skipped if s.source == str(target)), None)
        if skipped is not None:  # what only the whole registry can tell (another entity declared twice)
            if before is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(before)
            registry.refresh(force=True)
            raise Refused(f"Refused: {skipped.reason}")
    return Added(target, entity_ids, replaced=before is not None)


def _folder(registry: SpRegistry) -> Path:
    place = PLACES[registry.idp]
    if registry.folder is None or not registry.folder.is_dir():
        raise Refused(f"The metadata folder of {registry.title} does not exist: {registry.folder} "
                      f"(set by {place.dir_env}): create it first.")
    return registry.folder


def _target(registry: SpRegistry, folder: Path, entity_ids: tuple[str, ...], label: Path | str) -> Path:
    """Where the new metadata goes: the file of the folder that registers
    these entities now, or a new file named after the first one."""
    declared = registry.declared_by()
    owners = {declared[e] for e in entity_ids if e in declared}
    if "" in owners:
        raise Refused(f"Refused: {label} declares {registry.title} itself.")
    files = {o for o in owners if Path(o).parent == folder}
    for entity_id in entity_ids:
        owner = declared.get(entity_id)
        if owner is not None and owner not in files:
            sp = registry.state.find(entity_id)
            how = "built in" if sp is not None and sp.builtin else f"from {owner}"
            raise Refused(f"Refused: {label} declares {entity_id}, already registered at {registry.title} "
                          f"({how}).")
    if len(files) > 1:
        raise Refused(f"Refused: {label} declares entities registered by several files ({', '.join(sorted(files))}): "
                      "remove them first.")
    if files:
        return Path(files.pop())
    stem = re.sub(r"[^A-Za-z0-9]+", "-", re.sub(r"^[a-z]+://", "", entity_ids[0])).strip("-")[:80] or "sp"
    target, n = folder / f"{stem}.xml", 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}.xml"
    return target


def remove(registry: SpRegistry, what: str) -> Removed:
    """Remove the file(s) of the folder that declare entity ID ``what``, or
    the file named ``what`` (a skipped one, say)."""
    folder = _folder(registry)
    place = PLACES[registry.idp]
    files = sorted(p for p in folder.glob("*.xml") if p.is_file())
    named = [p for p in files if what in (p.name, p.stem)]
    if named:
        targets = named
    else:
        sp = registry.state.find(what)
        if sp is not None and sp.builtin:
            raise Refused(f"{what} is built into {registry.title}: it cannot be removed.")
        if sp is not None and sp.kind == "url":
            raise Refused(f"{what} comes from the URL {sp.source}, listed in {place.urls_env}: remove it there "
                          "and restart the federation.")
        targets = [p for p in files if what in _entity_ids(p)]
        if not targets:
            raise Refused(f"No service provider {what} is registered at {registry.title} "
                          f"(nor a file of that name in {folder}): see `fedsim sp list --idp {registry.idp}`.")
    entity_ids = tuple(dict.fromkeys(e for p in targets for e in _entity_ids(p)))
    with _writing:
        for path in targets:
            path.unlink(missing_ok=True)
    registry.refresh(force=True)
    return Removed(tuple(targets), entity_ids)


def _entity_ids(path: Path) -> list[str]:
    """The entity IDs a metadata file declares, read leniently (a file the
    registry skipped may still name them); none when it is not XML."""
    try:
        root = etree.fromstring(path.read_bytes(), hardened_parser())
    except (etree.XMLSyntaxError, OSError):
        return []
    found = [root] if root.tag == f"{{{MD}}}EntityDescriptor" else root.iter(f"{{{MD}}}EntityDescriptor")
    return [e.get("entityID") for e in found if e.get("entityID")]
