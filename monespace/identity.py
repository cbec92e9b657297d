"""The protocol-neutral model between Mon Espace's two SAML faces (the SP
toward CSAM, the Cerbère IdP toward FWB apps), and the explicit mapping of
levels of assurance from one to the other."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from flask import current_app, has_app_context

from fedsim.levels import FAS_ORDER, LEVEL200
from fedsim.saml import mapping
from fedsim.saml.idp import context_satisfies
from fedsim.saml.sp import SamlLogin

# CSAM (FAS) level received upstream -> AuthnContextClassRef Cerbère asserts.
LEVELS = {
    "urn:be:fedict:iam:fas:Level500": "urn:be:fedict:iam:fas:Level500",
    "urn:be:fedict:iam:fas:Level450": "urn:be:fedict:iam:fas:Level450",
    "urn:be:fedict:iam:fas:Level400": "urn:be:fedict:iam:fas:Level400",
    "urn:be:fedict:iam:fas:Level300": "urn:be:fedict:iam:fas:Level300",
    "urn:be:fedict:iam:fas:Level200": "urn:be:fedict:iam:fas:Level200",
    "urn:be:fedict:iam:fas:Level100": "urn:be:fedict:iam:fas:Level100",
}


# A direct Cerbère Citoyen login (username + password) is asserted at the FAS
# username/password level.
PASSWORD_LEVEL = LEVEL200


UnknownLevel = mapping.UnknownLevel  # the level CSAM (or the IdP configured) sent is not in the mapping
MAPPING_FILE = Path(__file__).parent / "data" / "csam_mapping.yaml"


def load_mapping(path: Path | str | None = None) -> mapping.AttributeMapping:
    """The upstream IdP's attribute names and levels (MONESPACE_CSAM_MAPPING;
    default: CSAM's, data/csam_mapping.yaml): the NRN must be mapped, and
    every level to a FAS level Cerbère can assert (``LEVELS``)."""
    return mapping.load(path or MAPPING_FILE).require_fields(("egovNRN",)).require_levels(LEVELS)


@lru_cache(maxsize=1)
def _default_mapping() -> mapping.AttributeMapping:
    return load_mapping()


def current_mapping() -> mapping.AttributeMapping:
    """The app's mapping (``monespace.csam_mapping``), or the default one outside an app."""
    found = current_app.extensions.get("monespace.csam_mapping") if has_app_context() else None
    return found or _default_mapping()


def satisfies(level: str, requested: tuple[str, ...] | list[str], comparison: str = "exact") -> bool:
    """Whether ``level`` meets a RequestedAuthnContext of ``requested`` with
    ``comparison`` (exact, minimum, better, maximum) over ``FAS_ORDER``."""
    return context_satisfies(level, tuple(requested), comparison, FAS_ORDER)


def upstream_levels_for(requested: tuple[str, ...] | list[str], comparison: str = "exact",
                        idp_mapping: mapping.AttributeMapping | None = None) -> tuple[str, ...]:
    """The upstream IdP's levels (CSAM's FAS levels, or those of the IdP
    configured, through its mapping: ``current_mapping()`` by default) whose
    Cerbère counterpart (``LEVELS``) meets a downstream request, weakest
    first: what to ask the IdP for (exactly). Empty when none can meet it
    (an unknown context, say)."""
    received = (idp_mapping or current_mapping()).file.levels  # upstream level -> FAS level
    found = [up for up, fas in received.items() if satisfies(LEVELS[fas], requested, comparison)]
    return tuple(sorted(found, key=lambda up: FAS_ORDER.index(received[up]) if received[up] in FAS_ORDER else -1))


@dataclass(frozen=True)
class UpstreamIdentity:
    """Who CSAM says the person is, and how sure it is."""
    nrn: str
    given_name: str
    surname: str
    email: str
    language: str
    level: str
    method: str
    authority: str

    @classmethod
    def from_saml(cls, login: SamlLogin, idp_mapping: mapping.AttributeMapping | None = None) -> "UpstreamIdentity":
        """Through ``idp_mapping`` (default: ``current_mapping()``); a missing
        required attribute or an unknown level: ValueError naming it."""
        mapped = (idp_mapping or current_mapping()).apply(login)
        fields = mapped.fields
        if not fields.get("egovNRN"):  # a mapping that does not require it
            raise mapping.MissingAttribute(f"L'attribut numéro de registre national (egovNRN) manque dans "
                                           f"l'assertion de {login.issuer}.")
        return cls(nrn=fields["egovNRN"], given_name=fields.get("givenName", ""),
                   surname=fields.get("surname", ""), email=fields.get("mail", ""),
                   language=(fields.get("PrefLanguage") or "fr")[:2].lower(),
                   level=mapped.level, authority=login.issuer,
                   method=fields.get("urn:be:fedict:iam:attr:authenticationmethod", ""))

    @classmethod
    def from_cerbere_password(cls, account, authority: str) -> "UpstreamIdentity":  # noqa: ANN001 - Account
        """A direct login with the Cerbère identifier: a username/password level."""
        return cls(nrn=account.nrn, given_name=account.given_name, surname=account.surname,
                   email=account.email, language=account.language, level=PASSWORD_LEVEL,
                   method="cerbere-password", authority=authority)

    def to_session(self) -> dict:
        return asdict(self)

    @classmethod
    def from_session(cls, data: dict | None) -> "UpstreamIdentity | None":
        return cls(**data) if data else None

    @property
    def downstream_level(self) -> str:
        return LEVELS[self.level]
