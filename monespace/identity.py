"""The protocol-neutral model between Mon Espace's two SAML faces (the SP
toward CSAM, the Cerbère IdP toward FWB apps), and the explicit mapping of
levels of assurance from one to the other."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from fedsim.levels import FAS_ORDER, LEVEL200
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


class UnknownLevel(ValueError):
    pass


def satisfies(level: str, requested: tuple[str, ...] | list[str], comparison: str = "exact") -> bool:
    """Whether ``level`` meets a RequestedAuthnContext of ``requested`` with
    ``comparison`` (exact, minimum, better, maximum) over ``FAS_ORDER``."""
    return context_satisfies(level, tuple(requested), comparison, FAS_ORDER)


def upstream_levels_for(requested: tuple[str, ...] | list[str], comparison: str = "exact") -> tuple[str, ...]:
    """The CSAM levels whose Cerbère counterpart (``LEVELS``) meets a
    downstream request, weakest first: what to ask CSAM for (exactly). Empty
    when no CSAM level can meet it (an unknown context, say)."""
    found = [up for up, down in LEVELS.items() if satisfies(down, requested, comparison)]
    return tuple(sorted(found, key=lambda level: FAS_ORDER.index(level) if level in FAS_ORDER else -1))


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
    def from_saml(cls, login: SamlLogin) -> "UpstreamIdentity":
        if not login.first("egovNRN"):
            raise ValueError("CSAM n'a pas transmis le numéro de registre national (egovNRN).")
        if login.authn_context not in LEVELS:
            raise UnknownLevel(f"Niveau d'authentification inconnu : {login.authn_context!r}")
        return cls(nrn=login.first("egovNRN"), given_name=login.first("givenName"),
                   surname=login.first("surname"), email=login.first("mail"),
                   language=(login.first("PrefLanguage", "fr") or "fr")[:2].lower(),
                   level=login.authn_context, authority=login.issuer,
                   method=login.first("urn:be:fedict:iam:attr:authenticationmethod"))

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
