"""The registry of démarches (G11-G13), read from YAML."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).parent / "data" / "demarches.yaml"


@dataclass(frozen=True)
class Demarche:
    code: str
    title: str
    categories: tuple[str, ...]
    target: str | None = None


def sort_key(text: str) -> str:
    """French-ish collation: accents and case do not change the order."""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Registry:
    categories: tuple[str, ...]
    demarches: tuple[Demarche, ...]
    dashboard: tuple[str, ...]

    @classmethod
    def load(cls, path: Path | None = None) -> "Registry":
        with open(path or DEFAULT_FILE, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
        items = tuple(sorted(
            (Demarche(d["code"], d["title"], tuple(d["categories"]), d.get("target")) for d in raw["demarches"]),
            key=lambda d: sort_key(d.title)))
        return cls(tuple(raw["categories"]), items, tuple(raw.get("dashboard", ())))

    def get(self, code: str | None) -> Demarche | None:
        return next((d for d in self.demarches if d.code == code), None)

    def search(self, category: str | None = None, query: str = "") -> list[Demarche]:
        words = sort_key(query).split()
        return [d for d in self.demarches
                if (not category or category in d.categories)
                and all(w in sort_key(d.title) for w in words)]

    def for_dashboard(self) -> list[Demarche]:
        return [d for d in (self.get(code) for code in self.dashboard) if d is not None]
