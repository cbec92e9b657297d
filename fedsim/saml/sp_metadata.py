"""One SAML metadata source (a file, a URL) as an IdP of this federation
reads it: the service providers it describes, or why it cannot be used
(fedsim.trust's reasons). Used by fedsim.saml.registry."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.httpbase import HTTPBase
from saml2.mdstore import MetaData, MetaDataExtern, MetaDataFile

from fedsim.saml.encryption import recipient_for
from fedsim.saml.errors import SamlRefused
from fedsim.trust import describe_source, descriptor_problem, no_peer_of_role, unreadable

SPSSO = "spsso_descriptor"


@dataclass(frozen=True)
class RegisteredSp:
    """A service provider the IdP answers."""
    entity_id: str
    name: str                     # md:Organization display name, else ""
    source: str                   # the file's path or the URL; the metadata file of a built-in peer
    builtin: bool
    acs: tuple[str, ...]          # HTTP-POST assertion consumer services
    slo: tuple[str, ...]          # HTTP-Redirect single logout services: empty, it cannot be logged out
    requested: tuple[str, ...]    # RequestedAttribute names (empty: it asks for none)
    valid_until: datetime | None = None

    @property
    def kind(self) -> str:
        return "built-in" if self.builtin else "url" if "://" in self.source else "file"


@dataclass(frozen=True)
class LoadedSource:
    """One usable source, as pysaml2 read it."""
    key: str                      # its key in the metadata store
    source: Path | str
    metadata: MetaData
    sps: tuple[RegisteredSp, ...]
    expires: datetime | None

    @property
    def entity_ids(self) -> tuple[str, ...]:
        return tuple(self.metadata.entity)


@dataclass(frozen=True)
class SourceOutcome:
    loaded: LoadedSource | None
    problem: str = ""


def load_source(source: Path | str, attribute_converters: list, http: HTTPBase,
                label: Path | str | None = None) -> SourceOutcome:
    """Read one file or URL on its own (pysaml2) and check what an IdP of
    this federation needs of an SP; ``label`` names it in the reasons
    (default: itself)."""
    label = label or source
    try:
        if isinstance(source, Path):
            metadata = MetaDataFile(attribute_converters, str(source))
        else:  # unsigned metadata accepted: no cert to check it against
            metadata = MetaDataExtern(attribute_converters, source, None, None, http)
        metadata.load()
    except Exception as exc:  # noqa: BLE001 - pysaml2 raises many unrelated types
        return SourceOutcome(None, unreadable(label, exc))
    sps = registered_sps(metadata, label, builtin=False)
    if not sps:
        return SourceOutcome(None, no_peer_of_role(label, "idp", _expired(metadata)))
    for entity_id, entity in metadata.entity.items():
        for descriptor in entity.get(SPSSO, []):
            problem = descriptor_problem(label, entity_id, descriptor, "idp")
            if problem:
                return SourceOutcome(None, problem)
        problem = encryption_problem(label, entity_id, entity)
        if problem:
            return SourceOutcome(None, problem)
    expires = min((sp.valid_until for sp in sps if sp.valid_until), default=None)
    return SourceOutcome(LoadedSource(str(source), label, metadata, sps, expires))



def encryption_problem(source: Path | str, entity_id: str, entity: dict) -> str | None:
    """Why the SP's encryption key (KeyDescriptor use="encryption") cannot
    be used: an unreadable or weak certificate, or EncryptionMethods naming
    none of the algorithms the IdP encrypts with. None when it publishes
    none (its assertions go in clear) or a usable one."""
    try:
        recipient_for(entity)
    except SamlRefused as exc:
        return f"{describe_source(source, start=True)} ({entity_id}) : {exc.reason}"
    return None


def _descriptors(metadata: MetaData) -> list:
    outer = getattr(metadata, "entities_descr", None)
    if outer is not None:
        return list(outer.entity_descriptor or [])
    inner = getattr(metadata, "entity_descr", None)
    return [inner] if inner is not None else []


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _expired(metadata: MetaData) -> list[str]:
    """The entities pysaml2 left out because their validUntil has passed, with it."""
    until = {d.entity_id: d.valid_until for d in _descriptors(metadata)}
    return [f"{entity_id} (validUntil {until.get(entity_id)})" if until.get(entity_id) else entity_id
            for entity_id in getattr(metadata, "to_old", [])]


def expired_names(sps: tuple[RegisteredSp, ...]) -> list[str]:
    return [f"{sp.entity_id} (validUntil {sp.valid_until:%Y-%m-%dT%H:%M:%SZ})" for sp in sps if sp.valid_until]


def registered_sps(metadata: MetaData, source: Path | str, *, builtin: bool) -> tuple[RegisteredSp, ...]:
    outer = getattr(metadata, "entities_descr", None)
    outer_until = _instant(outer.valid_until) if outer is not None else None
    until = {d.entity_id: _instant(d.valid_until) for d in _descriptors(metadata)}
    found = []
    for entity_id, entity in metadata.entity.items():
        descriptors = entity.get(SPSSO, [])
        if not descriptors:
            continue
        names = entity.get("organization", {}).get("organization_display_name", [])
        valid = [moment for moment in (until.get(entity_id), outer_until) if moment]
        found.append(RegisteredSp(
            entity_id=entity_id, name=names[0].get("text", "") if names else "", source=str(source),
            builtin=builtin,
            acs=tuple(s["location"] for d in descriptors for s in d.get("assertion_consumer_service", [])
                      if s.get("binding") == BINDING_HTTP_POST),
            slo=tuple(s["location"] for d in descriptors for s in d.get("single_logout_service", [])
                      if s.get("binding") == BINDING_HTTP_REDIRECT),
            requested=tuple(dict.fromkeys(a.get("name", "") for d in descriptors
                                          for service in d.get("attribute_consuming_service", [])
                                          for a in service.get("requested_attribute", []))),
            valid_until=min(valid, default=None)))
    return tuple(found)
