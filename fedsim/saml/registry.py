"""The service providers an IdP trusts besides its built-in peer, read from a
folder of metadata files and a list of metadata URLs, and followed while the
IdP runs.

``SpRegistry.refresh`` (each app calls it before a request) looks at the
folder's ``*.xml`` files (name, mtime, size, inode) at most once per
``check_every`` seconds per process; when they changed (or an entity's
``validUntil`` has passed) it loads the new and changed files, each on its
own, checks what the federation needs of an SP (``fedsim.trust``), and
swaps the IdP's pysaml2 metadata store to the result in one assignment.

Thread safety: one lock serialises refreshes; the store's source table
(``MetadataStore.metadata``) is never changed in place, a new dict replaces
it, so a request thread reading it sees the old or the new table, whole.

A source that cannot be used — unreadable, not SAML metadata, no
SPSSODescriptor, no signing certificate, no HTTP-POST assertion consumer
service, expired, an entity already declared, an unreachable URL — is
skipped and reported (``RegistryState.skipped``, and logged), never fatal.
A file that was good and is changed into a broken one keeps its last good
version in use (a half-written file does not cut an SP off), reported too.
URLs are fetched once, at the first refresh. The built-in peers (Modigia for
Cerbère, Mon Espace for CSAM) always stay."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from saml2.config import Config
from saml2.httpbase import HTTPBase

from fedsim import clock
from fedsim.saml.sp_metadata import (LoadedSource, RegisteredSp, SourceOutcome, expired_names, load_source,
                                     registered_sps)
from fedsim.trust import describe_source, no_peer_of_role, redeclared

log = logging.getLogger(__name__)

EXTENSION = "fedsim.sp_registry"  # app.extensions key of an app's SpRegistry


@dataclass(frozen=True)
class RegistryPlace:
    """Where an IdP's registry lives: the app config keys and environment
    variables naming its folder and URLs (the app's own config first),
    and its default folder, ``<instance_dir>/<app>/sp-metadata``."""
    idp: str           # the name tools use: "cerbere", "csam"
    entity: str        # the IdP in fedsim.federation.entities
    title: str
    app: str           # whose instance folder holds the default folder
    dir_key: str
    dir_env: str
    urls_key: str
    urls_env: str

    def folder(self, instance_dir: Path, config: Mapping | None = None,
               environ: Mapping[str, str] | None = None) -> tuple[Path, bool]:
        """(the folder, whether it was configured rather than the default)."""
        env = os.environ if environ is None else environ
        configured = (config or {}).get(self.dir_key) or env.get(self.dir_env)
        return (Path(configured), True) if configured else (instance_dir / self.app / "sp-metadata", False)

    def urls(self, config: Mapping | None = None, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
        env = os.environ if environ is None else environ
        urls = (config or {}).get(self.urls_key) or env.get(self.urls_env, "")
        if isinstance(urls, str):
            urls = urls.split(",")
        return tuple(u.strip() for u in urls if u.strip())


PLACES = {
    "cerbere": RegistryPlace("cerbere", "cerbere-idp", "Cerbère Citoyen", "monespace",
                             "CERBERE_SP_METADATA_DIR", "MONESPACE_SP_METADATA_DIR",
                             "CERBERE_SP_METADATA_URLS", "MONESPACE_SP_METADATA_URLS"),
    "csam": RegistryPlace("csam", "csam-idp", "CSAM", "idp_csam",
                          "SP_METADATA_DIR", "IDP_CSAM_SP_METADATA_DIR",
                          "SP_METADATA_URLS", "IDP_CSAM_SP_METADATA_URLS"),
}


@dataclass(frozen=True)
class SkippedSource:
    """A source that is not (or, ``still_in_use``, no longer) read: why."""
    source: str
    reason: str
    still_in_use: bool = False    # a changed file is broken: its last good version stays in use


@dataclass(frozen=True)
class RegistryState:
    idp: str
    folder: Path | None
    urls: tuple[str, ...]
    sps: tuple[RegisteredSp, ...]
    skipped: tuple[SkippedSource, ...]
    checked_at: datetime

    def find(self, entity_id: str) -> RegisteredSp | None:
        return next((sp for sp in self.sps if sp.entity_id == entity_id), None)


@dataclass
class _FileEntry:
    fingerprint: tuple
    outcome: SourceOutcome
    last_good: LoadedSource | None = None


@dataclass
class SpRegistry:
    """The registry of one IdP whose pysaml2 ``config`` (with its metadata
    store) trusts its built-in peers; ``folder`` and ``urls`` add the rest."""
    config: Config
    idp: str
    title: str
    folder: Path | None
    urls: tuple[str, ...] = ()
    folder_hint: str = ""         # where the folder was configured, for the "missing folder" reason
    check_every: float = 1.0
    fetch_timeout: float = 10
    monotonic: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _next_check: float = field(default=float("-inf"), init=False)
    _files: dict[Path, _FileEntry] = field(default_factory=dict, init=False, repr=False)
    _fetched: list[tuple[str, SourceOutcome]] | None = field(default=None, init=False, repr=False)
    _fingerprint: dict | None = field(default=None, init=False, repr=False)
    _expires: datetime | None = field(default=None, init=False)
    _state: RegistryState | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        store = self.config.metadata
        self._builtin: dict = dict(store.metadata)
        self._declared_by = {self.config.entityid: f"{self.title} lui-même"}
        for key, metadata in self._builtin.items():
            for entity_id in metadata.entity:
                self._declared_by[entity_id] = describe_source(Path(key))
        self._http = HTTPBase(verify=True, http_client_timeout=self.fetch_timeout)

    @classmethod
    def at(cls, place: RegistryPlace, config: Config, instance_dir: Path, app_config: Mapping | None = None,
           environ: Mapping[str, str] | None = None, **options) -> "SpRegistry":  # noqa: ANN003
        """The registry of ``place``'s IdP; its default folder is made if missing."""
        folder, configured = place.folder(instance_dir, app_config, environ)
        if not configured:
            folder.mkdir(parents=True, exist_ok=True)
        hint = f"{place.dir_key} / {place.dir_env}" if configured else ""
        return cls(config, place.idp, place.title, folder, place.urls(app_config, environ), hint, **options)

    # -- reading ----------------------------------------------------------------

    @property
    def state(self) -> RegistryState:
        if self._state is None:
            self.refresh(force=True)
        return self._state

    def refresh(self, force: bool = False) -> None:
        """Pick up the folder's changes (at most once per ``check_every``
        seconds unless ``force``). Never raises: whatever goes wrong keeps
        the last good state, logged. Returns None (a Flask before_request)."""
        if not force and self.monotonic() < self._next_check:
            return None
        with self._lock:
            now = self.monotonic()
            if not force and now < self._next_check:
                return None
            self._next_check = now + self.check_every
            try:
                self._refresh(force)
            except Exception as exc:  # noqa: BLE001 - a registry problem must never fail a request
                log.exception("SP registry of %s: refresh failed, the previous state stays", self.idp)
                if self._state is None:
                    self._state = RegistryState(self.idp, self.folder, self.urls, (), (SkippedSource(
                        str(self.folder), f"{type(exc).__name__}: {exc}"[:400]),), clock.now())
        return None

    def _refresh(self, force: bool) -> None:
        fingerprint, folder_problem = self._scan()
        expired = self._expires is not None and clock.now() >= self._expires
        if not force and not expired and fingerprint == self._fingerprint and self._state is not None:
            return
        if self._fetched is None:
            self._fetched = [(url, self._load(url)) for url in self.urls]
        files = []
        for path, print_ in sorted(fingerprint.items()):
            entry = self._files.get(path)
            if entry is None or entry.fingerprint != print_:
                outcome = self._load(path)
                last_good = outcome.loaded or (entry.last_good if entry else None)
                entry = _FileEntry(print_, outcome, last_good)
                self._files[path] = entry
            files.append((path, entry))
        for gone in set(self._files) - set(fingerprint):
            del self._files[gone]
        self._publish(files, folder_problem)
        self._fingerprint = fingerprint

    def _scan(self) -> tuple[dict[Path, tuple], SkippedSource | None]:
        """The folder's ``*.xml`` files and what identifies their version."""
        if self.folder is None:
            return {}, None
        try:
            with os.scandir(self.folder) as found:
                entries = [e for e in found if e.name.endswith(".xml") and not e.name.startswith(".")]
        except FileNotFoundError:
            where = f" ({self.folder_hint})" if self.folder_hint else ""
            reason = f"Le dossier de métadonnées des services de {self.title} n'existe pas : {self.folder}{where}."
        except OSError as exc:
            reason = f"Le dossier de métadonnées des services de {self.title} est illisible : {self.folder} ({exc})."
        else:
            prints = {}
            for entry in entries:
                try:
                    if entry.is_file():
                        st = entry.stat()
                        prints[self.folder / entry.name] = (entry.name, st.st_mtime_ns, st.st_size, st.st_ino)
                except OSError:  # removed meanwhile
                    continue
            return prints, None
        return {}, SkippedSource(str(self.folder), reason)

    def _publish(self, files: list[tuple[Path, _FileEntry]], folder_problem: SkippedSource | None) -> None:
        """Combine the sources (URLs in their order, then files by name) and
        swap the metadata store's source table."""
        declared_by = dict(self._declared_by)
        table = dict(self._builtin)
        sps = [sp for key, md in self._builtin.items() for sp in registered_sps(md, Path(key), builtin=True)]
        skipped = [folder_problem] if folder_problem else []
        expires: list[datetime] = []
        now = clock.now()
        candidates = [(url, outcome, None) for url, outcome in self._fetched or []]
        candidates += [(path, entry.outcome, entry.last_good) for path, entry in files]
        for source, outcome, last_good in candidates:
            used = outcome.loaded or last_good
            if outcome.problem:
                skipped.append(SkippedSource(str(source), outcome.problem, still_in_use=used is not None))
            if used is None:
                continue
            if used.expires is not None and used.expires <= now:
                skipped.append(SkippedSource(str(source), no_peer_of_role(source, "idp", expired_names(used.sps))))
                continue
            twice = next((e for e in used.entity_ids if e in declared_by), None)
            if twice is not None:
                skipped.append(SkippedSource(str(source), redeclared(source, twice, declared_by[twice])))
                continue
            for entity_id in used.entity_ids:
                declared_by[entity_id] = describe_source(source)
            table[used.key] = used.metadata
            sps.extend(used.sps)
            if used.expires is not None:
                expires.append(used.expires)
        before = self._state
        self.config.metadata.metadata = table  # one assignment: readers see the old table or the new one
        self._expires = min(expires, default=None)
        self._state = RegistryState(self.idp, self.folder, self.urls, tuple(sps), tuple(skipped), now)
        self._log_changes(before, self._state)

    def _log_changes(self, before: RegistryState | None, after: RegistryState) -> None:
        old = {sp.entity_id: sp.source for sp in before.sps} if before else {}
        new = {sp.entity_id: sp.source for sp in after.sps}
        for entity_id in new.keys() - old.keys():
            log.info("SP registry of %s: serves %s (%s)", self.idp, entity_id, new[entity_id])
        for entity_id in old.keys() - new.keys():
            log.info("SP registry of %s: no longer serves %s (was %s)", self.idp, entity_id, old[entity_id])
        known = set(before.skipped) if before else set()
        for problem in after.skipped:
            if problem not in known:
                kept = " (its last good version stays in use)" if problem.still_in_use else ""
                log.warning("SP registry of %s: skipped %s%s: %s", self.idp, problem.source, kept, problem.reason)

    def _load(self, source: Path | str, label: Path | str | None = None) -> SourceOutcome:
        return load_source(source, self.config.attribute_converters, self._http, label)

    def examine(self, path: Path, label: Path | str | None = None) -> tuple[tuple[str, ...], str]:
        """Check a candidate metadata file on its own, before it joins the
        registry: (the entity IDs it declares, why it cannot be used — empty
        when it can). Whether another source declares them already is for
        the caller to see (``declared_by``)."""
        label = label or path
        outcome = self._load(path, label)
        if outcome.loaded is None:
            return (), outcome.problem
        loaded = outcome.loaded
        if loaded.expires is not None and loaded.expires <= clock.now():
            return loaded.entity_ids, no_peer_of_role(label, "idp", expired_names(loaded.sps))
        return loaded.entity_ids, ""

    def declared_by(self) -> dict[str, str]:
        """Entity ID -> the source (path, URL) declaring it, ``""`` for the
        IdP itself, for what the registry serves now."""
        found = {self.config.entityid: ""}
        for sp in self.state.sps:
            found[sp.entity_id] = sp.source
        return found


def init_app(app, place: str, config: Config, instance_dir: Path) -> SpRegistry:  # noqa: ANN001 - a Flask app
    """Give ``app``'s IdP (built on ``config``) the registry of ``PLACES[place]``,
    read now, then followed before each request (``app.extensions[EXTENSION]``).
    ``SP_METADATA_CHECK_SECONDS`` (default 1): how often the folder is looked at."""
    registry = SpRegistry.at(PLACES[place], config, instance_dir, app.config,
                             check_every=float(app.config.get("SP_METADATA_CHECK_SECONDS", 1.0)))
    registry.refresh(force=True)
    app.extensions[EXTENSION] = registry
    app.before_request(registry.refresh)
    return registry
