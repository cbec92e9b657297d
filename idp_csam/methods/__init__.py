"""CSAM's digital keys (authentication methods). Each method is one module
of this package exposing ``METHOD`` (a ``Method``); adding a method means
adding a module and naming it in ``MODULES``."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module

from flask import Blueprint

from fedsim.levels import FAS_ORDER  # noqa: F401 - re-exported for the methods
from idp_csam.i18n import lazy_gettext as _l

# The three groups of the page « S'identifier à l'administration en ligne » (G02).
GROUPS = (
    ("eid", _l("Clé(s) numérique(s) avec l'eID ou identité numérique:")),
    ("code", _l("Clé(s) numérique(s) avec code de sécurité et nom d'utilisateur + mot de passe:")),
    ("europe", _l("Authentification européenne:")),
)


@dataclass(frozen=True)
class Method:
    code: str                 # also the value of urn:be:fedict:iam:attr:authenticationmethod
    group: str                # one of GROUPS
    label: str                # as on the G02 page
    level: str                # the AuthnContextClassRef it reaches
    blueprint: Blueprint | None = None  # None: listed but not available yet
    entry: str = ""           # endpoint that starts it
    extra_links: tuple[tuple[str, str], ...] = field(default=())  # (label, endpoint)

    @property
    def available(self) -> bool:
        return self.blueprint is not None


MODULES = ("eid", "itsme", "email_code", "app_code", "eidas")


def all_methods() -> tuple[Method, ...]:
    return tuple(import_module(f"idp_csam.methods.{name}").METHOD for name in MODULES)
