"""One secret per purpose, each in its own file of the app's instance folder.

An app names the purposes it needs; ``init_app`` keeps them in
``app.extensions["fedsim.keys"]`` and code asks for one with ``key(purpose)``:

- ``session``: Flask's SECRET_KEY (session cookie machinery, CSRF tokens).
  Rotating it logs nobody out of anything that matters and changes no
  stored value.
- ``pin``: the keyed hashes of eID PINs and PUKs.
- ``code``: the keyed hashes of one-time codes and links (e-mail codes, BEL
  links and paper codes, itsme codes).
- ``pairwise``: the salt of pairwise NameIDs (a different NameID per SP).
- ``identity``: derived identifiers (fedid, eIDAS BIS numbers).

Files live in ``<instance>/keys/<purpose>.key``, owner-only (0600), made on
first use. Upgrade from the single ``<instance>/secret_key`` of earlier
versions: a missing purpose file other than ``session`` takes that secret's
value (so NameIDs, PINs and fedids stay the same), the ``session`` key is
made fresh, and the old file is then removed (a purpose added later gets a
fresh key: it has no stored values to keep).
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

PURPOSES = ("session", "pin", "code", "pairwise", "identity")
FRESH_ONLY = ("session",)  # never inherited from the legacy secret
LEGACY_FILE = "secret_key"
FOLDER = "keys"


@dataclass(frozen=True)
class Keyring:
    """The secrets of one app, by purpose."""
    values: Mapping[str, str]

    def key(self, purpose: str) -> bytes:
        """The secret of ``purpose`` as bytes (KeyError for a purpose the app did not ask for)."""
        return self.values[purpose].encode()

    @classmethod
    def load(cls, instance_path: str | Path, purposes: Iterable[str] = PURPOSES) -> "Keyring":
        folder = Path(instance_path) / FOLDER
        legacy = Path(instance_path) / LEGACY_FILE
        inherited = legacy.read_text().strip() if legacy.is_file() else None
        found = {purpose: _read_or_make(folder / f"{purpose}.key",
                                        None if purpose in FRESH_ONLY else inherited)
                 for purpose in purposes}
        if inherited is not None:
            legacy.unlink()  # inherited once: each purpose the app uses now has its own file
        return cls(found)


def _read_or_make(path: Path, initial: str | None) -> str:
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        try:  # created owner-only from the start: never readable by others, even briefly
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: theirs it is
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(initial or secrets.token_hex(32))
    return path.read_text().strip()


def init_app(app: Flask, purposes: Iterable[str]) -> Keyring:
    """Load the app's keys; SECRET_KEY is the ``session`` key unless configured."""
    keyring = Keyring.load(app.instance_path, ("session", *purposes))
    app.extensions["fedsim.keys"] = keyring
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or keyring.values["session"]
    return keyring


def key(purpose: str) -> bytes:
    """The current app's secret for ``purpose``."""
    return current_app.extensions["fedsim.keys"].key(purpose)
