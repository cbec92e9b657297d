"""Test personas: data in ``data/personas.yaml``, loaded as frozen dataclasses
by the apps (to seed cards and accounts) and by tests alike."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from fedsim import nrn

DEFAULT_FILE = Path(__file__).parent / "data" / "personas.yaml"


@dataclass(frozen=True)
class EidCard:
    number: str
    pin: str
    puk: str


@dataclass(frozen=True)
class CsamCredentials:
    """A CSAM username and password (for the e-mail and app code methods)."""
    username: str
    password: str


@dataclass(frozen=True)
class MonEspaceSeed:
    """An account that already exists and is active in Mon Espace."""
    cerbere_username: str
    contexts: tuple[str, ...] = ("Citoyen",)
    dossiers: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    notifications: tuple[str, ...] = ()


@dataclass(frozen=True)
class Persona:
    id: str
    given_name: str
    surname: str
    nrn: str  # 11 digits, no separators
    email: str
    language: str
    card: EidCard | None = None
    monespace: MonEspaceSeed | None = None
    csam: CsamCredentials | None = None

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.surname}"

    @property
    def nrn_formatted(self) -> str:
        return nrn.parse(self.nrn).formatted


def _persona(raw: dict) -> Persona:
    number = nrn.parse(raw["nrn"])  # refuses an invalid number at load time
    card = EidCard(**raw["card"]) if raw.get("card") else None
    seed = raw.get("monespace")
    account = MonEspaceSeed(
        cerbere_username=seed["cerbere_username"],
        contexts=tuple(seed.get("contexts", ("Citoyen",))),
        dossiers=tuple(seed.get("dossiers", ())),
        documents=tuple(seed.get("documents", ())),
        notifications=tuple(seed.get("notifications", ())),
    ) if seed else None
    csam = CsamCredentials(**raw["csam"]) if raw.get("csam") else None
    return Persona(
        id=raw["id"], given_name=raw["given_name"], surname=raw["surname"],
        nrn=number.digits, email=raw["email"], language=raw.get("language", "fr"),
        card=card, monespace=account, csam=csam,
    )


@lru_cache(maxsize=8)
def load(path: Path = DEFAULT_FILE) -> tuple[Persona, ...]:
    with open(path, encoding="utf-8") as fh:
        document = yaml.safe_load(fh)
    return tuple(_persona(raw) for raw in document["personas"])


def by_id(persona_id: str, path: Path = DEFAULT_FILE) -> Persona:
    for persona in load(path):
        if persona.id == persona_id:
            return persona
    raise KeyError(f"no persona {persona_id!r} in {path}")
