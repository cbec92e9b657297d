"""What a service provider takes from its identity provider, read from a
YAML data file: which incoming attributes (Name, NameFormat, several
candidates, or the subject's NameID) give each local field, which fields
are required, and how the IdP's AuthnContextClassRef values map to the
SP's levels. With it, an SP of the federation works behind another IdP
(a SimpleSAMLphp one, say) without a code change.

The file::

    idp_name: Cerbère Citoyen          # how refusals name the IdP (default: its entity ID)
    attributes:
      givenName:                       # the local field (the key SamlLogin.first reads)
        label: prénom                  # how refusals name it
        required: true
        sources:                       # candidates, in order
          - {name: "urn:oid:2.5.4.42", name_format: uri, friendly_name: givenName}
          - {name: givenName}          # name_format: basic | uri | unspecified | any (default)
      cerbereUsername:
        sources: [{name_id: true}]     # the subject's NameID
    levels:                            # AuthnContextClassRef received -> the SP's level
      "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport": "urn:be:fedict:iam:fas:Level200"

``install`` adds attribute converters to the SP's pysaml2 configuration (before
the ``ServiceProvider`` is built), so that an attribute is renamed to its field
only when both its Name and its NameFormat match a candidate; ``apply`` is the
``check=`` of ``ServiceProvider.accept``: a missing required attribute or an
unknown level raises ValueError (the login is refused, nothing recorded).
An attribute the file does not map keeps its name as sent (so an unmapped
attribute whose Name is a field's key counts for that field too).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from saml2.attribute_converter import AttributeConverter
from saml2.config import Config
from saml2.saml import NAME_FORMAT_BASIC, NAME_FORMAT_UNSPECIFIED, NAME_FORMAT_URI

from fedsim.saml.sp import SamlLogin

NAME_FORMATS = {"basic": (NAME_FORMAT_BASIC,), "uri": (NAME_FORMAT_URI,),
                # no NameFormat on the Attribute means unspecified (SAML core 2.7.3.1)
                "unspecified": (NAME_FORMAT_UNSPECIFIED, "")}
NAME_FORMATS["any"] = tuple(f for formats in NAME_FORMATS.values() for f in formats)


class MappingError(ValueError):
    """A mapping file that cannot be used: the message names the file and the key."""


class MissingAttribute(ValueError):
    """A required attribute is not in the assertion (a refusal of the login)."""


class UnknownLevel(ValueError):
    """The assertion's AuthnContextClassRef is not in the mapping (a refusal of the login)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    name: str | None = Field(default=None, min_length=1)
    name_format: Literal["basic", "uri", "unspecified", "any"] = "any"
    friendly_name: str | None = None
    name_id: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> "Source":
        if (self.name is None) == (not self.name_id):
            raise ValueError("une source est soit un attribut (name), soit le NameID (name_id: true), pas les deux "
                             "ni aucun")
        return self

    def describe(self) -> str:
        if self.name_id:
            return "NameID"
        if self.friendly_name and self.friendly_name != self.name:
            return f"{self.name} « {self.friendly_name} »"
        return self.name or ""


class FieldRule(_Strict):
    label: str | None = None
    required: bool = False
    sources: tuple[Source, ...] = Field(min_length=1)


class MappingFile(_Strict):
    idp_name: str | None = None
    attributes: dict[str, FieldRule] = Field(min_length=1)
    levels: dict[str, str] = Field(min_length=1)


@dataclass(frozen=True)
class Mapped:
    """A login seen through the mapping: one value per local field ("" when
    absent) and the SP's level."""
    fields: dict[str, str]
    level: str


@dataclass(frozen=True)
class AttributeMapping:
    file: MappingFile
    source: Path

    def converters(self) -> list[AttributeConverter]:
        """One converter per NameFormat: (NameFormat, Name) of each candidate -> its field."""
        by_format: dict[str, dict[str, str]] = {}
        for field, rule in self.file.attributes.items():
            for candidate in rule.sources:
                for name_format in () if candidate.name_id else NAME_FORMATS[candidate.name_format]:
                    by_format.setdefault(name_format, {})[candidate.name] = field
        converters = []
        for name_format, names in by_format.items():
            converter = AttributeConverter(name_format)
            converter.from_dict({"identifier": name_format, "fro": names, "to": {}})
            converters.append(converter)
        return converters

    def install(self, config: Config) -> Config:
        """Add the converters to an SP's configuration; they take precedence
        over the attribute maps already there. Before ``ServiceProvider(config, …)``."""
        config.attribute_converters.extend(self.converters())
        return config

    def require_levels(self, known: Iterable[str]) -> "AttributeMapping":
        """MappingError naming the key when a level maps to one the SP does not know."""
        known = set(known)
        for incoming, level in self.file.levels.items():
            if level not in known:
                raise MappingError(f"Fichier de correspondance {self.source} invalide — levels.{incoming} : "
                                   f"{level} n'est pas un niveau de ce service ({', '.join(sorted(known))}).")
        return self

    def require_fields(self, needed: Iterable[str]) -> "AttributeMapping":
        """MappingError naming the key when a field the SP reads is not mapped."""
        missing = [name for name in needed if name not in self.file.attributes]
        if missing:
            raise MappingError(f"Fichier de correspondance {self.source} invalide — attributes : "
                               f"{', '.join(missing)} manque (champ{'s' if len(missing) > 1 else ''} "
                               "dont ce service a besoin).")
        return self

    def idp_label(self, issuer: str) -> str:
        return f"{self.file.idp_name} ({issuer})" if self.file.idp_name else issuer

    def apply(self, login: SamlLogin) -> Mapped:
        """The fields and level of ``login``; MissingAttribute or UnknownLevel
        (ValueErrors: ``ServiceProvider.accept`` turns them into a refusal)
        naming what is missing or unknown."""
        fields = {}
        for field, rule in self.file.attributes.items():
            value = ""
            for candidate in rule.sources:
                value = login.name_id if candidate.name_id else login.first(field)
                if value:
                    break
            if rule.required and not value:
                names = " ou ".join(c.describe() for c in rule.sources)
                raise MissingAttribute(f"L'attribut {rule.label or field} ({names}) manque dans l'assertion de "
                                 f"{self.idp_label(login.issuer)}.")
            fields[field] = value
        level = self.file.levels.get(login.authn_context or "")
        if level is None:
            raise UnknownLevel(f"Niveau d'authentification inconnu : « {login.authn_context or '(aucun)'} » "
                             f"envoyé par {self.idp_label(login.issuer)} ; la correspondance des niveaux "
                             f"({self.source.name}) ne le connaît pas.")
        return Mapped(fields, level)


def _where(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(racine)"


def load(path: Path | str) -> AttributeMapping:
    """Read and validate a mapping file; MappingError names the file and the key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MappingError(f"Fichier de correspondance {path} illisible : {type(exc).__name__}: {exc}"[:600]) \
            from None
    try:
        parsed = MappingFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'])} : {e['msg']}" for e in exc.errors()[:5])
        raise MappingError(f"Fichier de correspondance {path} invalide — {problems}") from None
    seen: dict[tuple[str, str], str] = {}
    for field, rule in parsed.attributes.items():
        for index, candidate in enumerate(rule.sources):
            for name_format in () if candidate.name_id else NAME_FORMATS[candidate.name_format]:
                key = (name_format, (candidate.name or "").lower())
                if seen.setdefault(key, field) != field:
                    raise MappingError(f"Fichier de correspondance {path} invalide — "
                                       f"attributes.{field}.sources.{index} : l'attribut {candidate.name} "
                                       f"est déjà la source de {seen[key]}.")
    return AttributeMapping(parsed, path)
