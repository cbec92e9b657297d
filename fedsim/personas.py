"""Test personas: data in ``data/personas.yaml``, loaded as frozen dataclasses
by the apps (to seed citizens, cards, CSAM, itsme and Mon Espace accounts,
BEL agents) and by the harness and tests alike.

``FEDSIM_PERSONAS=/path/file.yaml`` adds personas on top of the shipped ones,
or replaces a shipped one that has the same ``id``. Every file is checked
with pydantic (the schema is below, documented in the shipped file's header);
anything wrong raises one :class:`PersonaFileError` that names the file, the
persona and the field, printable on one line.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fedsim import nrn

DEFAULT_FILE = Path(__file__).parent / "data" / "personas.yaml"
ENV_VARIABLE = "FEDSIM_PERSONAS"
LANGUAGES = ("fr", "nl", "de", "en")
CARD_STATES = ("valid", "expired", "revoked")
LEVELS = ("low", "substantial", "high")
# what CSAM always releases: a persona's own attributes may not take these names
STANDARD_ATTRIBUTES = frozenset({"egovNRN", "givenName", "surname", "mail", "PrefLanguage",
                                 "urn:be:fedict:iam:attr:fedid", "urn:be:fedict:iam:attr:authenticationmethod"})


class PersonaFileError(ValueError):
    """A personas file that cannot be used: what is wrong, where, in one line."""

    def __init__(self, file: Path | str, problems: list[str]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__(f"{file}: " + "; ".join(problems))


# -- the dataclasses the apps use ----------------------------------------------------


@dataclass(frozen=True)
class EidCard:
    number: str
    pin: str
    puk: str


@dataclass(frozen=True)
class OtherCard:
    """Another card of the persona's, in a given state (valid, expired, revoked)."""
    number: str
    pin: str
    puk: str
    state: str = "valid"


@dataclass(frozen=True)
class CsamCredentials:
    """A CSAM username and password (for the e-mail and app code methods)."""
    username: str
    password: str


@dataclass(frozen=True)
class ItsmeAccount:
    """An itsme account: the mobile number and the 5-digit itsme code."""
    phone: str
    code: str


@dataclass(frozen=True)
class MonEspaceSeed:
    """An account that already exists and is active in Mon Espace."""
    cerbere_username: str
    contexts: tuple[str, ...] = ("Citoyen",)
    dossiers: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    notifications: tuple[str, ...] = ()
    cerbere_password: str | None = None  # set: a direct Cerbère login (G26) works at once


@dataclass(frozen=True)
class EidasIdentity:
    """How a foreign eIDAS node knows the persona."""
    country: str
    national_id: str
    birth_date: str  # YYYY-MM-DD
    loa: str  # low, substantial, high

    @property
    def person_identifier(self) -> str:
        return f"{self.country}/BE/{self.national_id}"


@dataclass(frozen=True)
class AgentLogin:
    """An agent of a Bureau d'Enregistrement Local (BEL)."""
    username: str
    password: str


@dataclass(frozen=True)
class Persona:
    id: str
    given_name: str
    surname: str
    nrn: str  # 11 digits, no separators: a national register or a BIS number
    email: str
    language: str
    card: EidCard | None = None
    monespace: MonEspaceSeed | None = None
    csam: CsamCredentials | None = None
    nationality: str = "belge"
    cards: tuple[OtherCard, ...] = ()
    itsme: ItsmeAccount | None = None
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    eidas: EidasIdentity | None = None
    bel_agent: AgentLogin | None = None
    demonstrates: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.surname}"

    @property
    def nrn_formatted(self) -> str:
        return nrn.parse(self.nrn).formatted

    @property
    def is_bis(self) -> bool:
        return nrn.parse(self.nrn).is_bis

    @property
    def birth_date(self) -> date | None:
        return nrn.parse(self.nrn).birth_date


# -- the schema of a file --------------------------------------------------------------

Name = Annotated[str, Field(min_length=1, max_length=80)]
Line = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\n\r]*$")]
Password = Annotated[str, Field(min_length=10, max_length=128)]
Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{4,80}$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CardSpec(_Spec):
    number: Annotated[str, Field(pattern=r"^\d{3}-\d{7}-\d{2}$",
                                 description="card number, NNN-NNNNNNN-NN")]
    pin: Annotated[str, Field(pattern=r"^\d{4,12}$", description="4 to 12 digits")]
    puk: Annotated[str, Field(pattern=r"^\d{6,12}$", description="6 to 12 digits")]


class OtherCardSpec(CardSpec):
    state: Literal["valid", "expired", "revoked"] = "valid"


class CsamSpec(_Spec):
    username: Username
    password: Password


class ItsmeSpec(_Spec):
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ./-]{8,24}$")]
    code: Annotated[str, Field(pattern=r"^\d{5}$")]

    @field_validator("phone")
    @classmethod
    def _international(cls, phone: str) -> str:
        digits = re.sub(r"[\s./-]", "", phone)
        if not (digits.startswith("+") or digits.startswith("0")):
            raise ValueError(f"{phone!r}: an international (+32 …) or Belgian (04…) mobile number")
        return phone


class MonEspaceSpec(_Spec):
    cerbere_username: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{3,64}$")]
    cerbere_password: Password | None = None
    contexts: Annotated[list[Line], Field(min_length=1)] = ["Citoyen"]
    dossiers: list[Line] = []
    documents: list[Line] = []
    notifications: list[Line] = []

    @field_validator("contexts")
    @classmethod
    def _distinct(cls, contexts: list[str]) -> list[str]:
        if len(set(contexts)) != len(contexts):
            raise ValueError("a context is listed twice")
        return contexts


class EidasSpec(_Spec):
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    national_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9+._-]{1,30}$")]
    birth_date: date
    loa: Literal["low", "substantial", "high"] = "substantial"

    @field_validator("country")
    @classmethod
    def _foreign(cls, country: str) -> str:
        if country == "BE":
            raise ValueError("an eIDAS node of another country than BE")
        return country


class AgentSpec(_Spec):
    username: Username
    password: Password


class PersonaSpec(_Spec):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
    given_name: Name
    surname: Name
    nrn: str
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$", max_length=120)]
    language: Literal["fr", "nl", "de", "en"] = "fr"
    nationality: Name = "belge"
    card: CardSpec | None = None
    cards: list[OtherCardSpec] = []
    csam: CsamSpec | None = None
    itsme: ItsmeSpec | None = None
    monespace: MonEspaceSpec | None = None
    attributes: dict[Annotated[str, Field(min_length=1, max_length=120)],
                     Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1)]] = {}
    eidas: EidasSpec | None = None
    bel_agent: AgentSpec | None = None
    demonstrates: Line | None = None

    @field_validator("nrn")
    @classmethod
    def _number(cls, text: str) -> str:
        try:
            return nrn.parse(text).digits
        except nrn.InvalidNRN as exc:
            raise ValueError(f"not a valid national register or BIS number ({exc})") from None

    @field_validator("attributes")
    @classmethod
    def _own_names(cls, attributes: dict[str, list[str]]) -> dict[str, list[str]]:
        taken = sorted(STANDARD_ATTRIBUTES & set(attributes))
        if taken:
            raise ValueError(f"{', '.join(taken)}: CSAM releases it already, choose another name")
        return attributes

    @model_validator(mode="after")
    def _coherent(self) -> PersonaSpec:
        number = nrn.parse(self.nrn)
        if number.is_bis and self.nationality.casefold() in ("belge", "belgian", "belgique"):
            raise ValueError("nrn: a BIS number is for a foreign national: set `nationality`")
        if self.itsme is not None and self.card is None:
            raise ValueError("itsme: an itsme account needs a Belgian eID card (`card`)")
        if self.eidas is not None and number.birth_date is not None and self.eidas.birth_date != number.birth_date:
            raise ValueError(f"eidas.birth_date: {self.eidas.birth_date} is not the birth date of the "
                             f"nrn ({number.birth_date})")
        return self


class PersonaFile(_Spec):
    personas: list[PersonaSpec]


# -- reading files -----------------------------------------------------------------------


def _where(document: object, loc: tuple) -> tuple[str, str]:
    """(the persona, the field) of an error location."""
    if len(loc) >= 2 and loc[0] == "personas" and isinstance(loc[1], int):
        raw = document.get("personas") if isinstance(document, dict) else None
        item = raw[loc[1]] if isinstance(raw, list) and loc[1] < len(raw) else None
        ident = item.get("id") if isinstance(item, dict) else None
        who = f"persona {ident!r} (#{loc[1] + 1})" if isinstance(ident, str) else f"persona #{loc[1] + 1}"
        return who, ".".join(str(part) for part in loc[2:])
    return "file", ".".join(str(part) for part in loc)


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "missing"
    if error["type"] == "literal_error":
        return f"{error['msg'].replace('Input should be', 'must be')}, got {error['input']!r}"
    if error["type"] == "string_pattern_mismatch":
        return f"wrong format, got {error['input']!r} (expected {error['ctx']['pattern']})"
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if error["type"] in ("string_type", "list_type", "dict_type", "model_type", "date_type", "date_from_datetime_parsing"):
        message += f", got {type(error['input']).__name__} {error['input']!r}"
    return message


def _problems(document: object, exc: ValidationError) -> list[str]:
    found = []
    for error in exc.errors():
        who, where = _where(document, tuple(error["loc"]))
        found.append(f"{who}, field {where or '(persona)'}: {_message(error)}" if who != "file"
                     else f"{where or 'file'}: {_message(error)}")
    return found


def _specs(path: Path) -> list[PersonaSpec]:
    try:
        with open(path, encoding="utf-8") as fh:
            document = yaml.safe_load(fh)
    except OSError as exc:
        raise PersonaFileError(path, [f"cannot read it ({exc.strerror or exc})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PersonaFileError(path, [f"not YAML{where}: {getattr(exc, 'problem', None) or exc}"]) from None
    if not isinstance(document, dict):
        raise PersonaFileError(path, ["must be a mapping with a `personas:` list"])
    try:
        parsed = PersonaFile.model_validate(document)
    except ValidationError as exc:
        raise PersonaFileError(path, _problems(document, exc)) from None
    seen: dict[str, int] = {}
    for index, spec in enumerate(parsed.personas):
        if spec.id in seen:
            raise PersonaFileError(path, [f"persona {spec.id!r} (#{index + 1}), field id: duplicate id "
                                          f"(already persona #{seen[spec.id] + 1})"])
        seen[spec.id] = index
    return parsed.personas


def _check_unique(path: Path, specs: list[PersonaSpec], origin: dict[str, Path]) -> None:
    """Numbers, cards, usernames and phones belong to one persona each."""
    claims: dict[tuple[str, str], str] = {}
    problems = []
    for spec in specs:
        keys = [("nrn", spec.nrn)]
        keys += [("card number", c.number) for c in ([spec.card] if spec.card else []) + list(spec.cards)]
        if spec.csam:
            keys.append(("csam.username", spec.csam.username.casefold()))
        if spec.itsme:
            keys.append(("itsme.phone", re.sub(r"\D", "", spec.itsme.phone)[-9:]))
        if spec.monespace:
            keys.append(("monespace.cerbere_username", spec.monespace.cerbere_username))
        if spec.bel_agent:
            keys.append(("bel_agent.username", spec.bel_agent.username.casefold()))
        if spec.eidas:
            keys.append(("eidas", spec.eidas.country + "/" + spec.eidas.national_id))
        for kind, value in keys:
            other = claims.setdefault((kind, value), spec.id)
            if other != spec.id:
                problems.append(f"persona {spec.id!r}, field {kind}: {value} is already persona {other!r}'s"
                                + (f" (in {origin[other]})" if origin.get(other) != origin.get(spec.id) else ""))
    if problems:
        raise PersonaFileError(path, problems)


def _persona(spec: PersonaSpec) -> Persona:
    seed = spec.monespace
    return Persona(
        id=spec.id, given_name=spec.given_name, surname=spec.surname, nrn=spec.nrn, email=spec.email,
        language=spec.language, nationality=spec.nationality,
        card=EidCard(spec.card.number, spec.card.pin, spec.card.puk) if spec.card else None,
        cards=tuple(OtherCard(c.number, c.pin, c.puk, c.state) for c in spec.cards),
        csam=CsamCredentials(spec.csam.username, spec.csam.password) if spec.csam else None,
        itsme=ItsmeAccount(spec.itsme.phone, spec.itsme.code) if spec.itsme else None,
        monespace=MonEspaceSeed(
            cerbere_username=seed.cerbere_username, contexts=tuple(seed.contexts), dossiers=tuple(seed.dossiers),
            documents=tuple(seed.documents), notifications=tuple(seed.notifications),
            cerbere_password=seed.cerbere_password) if seed else None,
        attributes={name: tuple(values) for name, values in spec.attributes.items()},
        eidas=EidasIdentity(spec.eidas.country, spec.eidas.national_id, spec.eidas.birth_date.isoformat(),
                            spec.eidas.loa) if spec.eidas else None,
        bel_agent=AgentLogin(spec.bel_agent.username, spec.bel_agent.password) if spec.bel_agent else None,
        demonstrates=spec.demonstrates or "",
    )


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError:
        return str(path), -1, -1
    return str(path), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=16)
def _load(base: tuple[str, int, int], overlay: tuple[str, int, int] | None) -> tuple[Persona, ...]:
    base_path = Path(base[0])
    specs = {spec.id: spec for spec in _specs(base_path)}
    origin = {ident: base_path for ident in specs}
    checked = base_path
    if overlay is not None:
        checked = Path(overlay[0])
        for spec in _specs(checked):
            specs[spec.id] = spec  # added, or replacing the shipped persona of that id
            origin[spec.id] = checked
    _check_unique(checked, list(specs.values()), origin)
    return tuple(_persona(spec) for spec in specs.values())


def overlay_file() -> Path | None:
    """The file named by ``FEDSIM_PERSONAS``, if set."""
    value = os.environ.get(ENV_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def load(path: Path | str | None = None) -> tuple[Persona, ...]:
    """The personas of ``path`` (default: the shipped file), with those of
    ``FEDSIM_PERSONAS`` added or replacing by id. Re-read when a file changes."""
    extra = overlay_file()
    return _load(_stamp(Path(path or DEFAULT_FILE)), _stamp(extra) if extra else None)


def check(path: Path | str) -> tuple[Persona, ...]:
    """Validate ``path`` as a ``FEDSIM_PERSONAS`` file on top of the shipped
    personas; returns the merged personas or raises PersonaFileError."""
    return _load(_stamp(DEFAULT_FILE), _stamp(Path(path)))


def by_id(persona_id: str, path: Path | str | None = None) -> Persona:
    for persona in load(path):
        if persona.id == persona_id:
            return persona
    raise KeyError(f"no persona {persona_id!r} in {path or DEFAULT_FILE}"
                   + (f" nor {overlay_file()}" if overlay_file() else ""))
