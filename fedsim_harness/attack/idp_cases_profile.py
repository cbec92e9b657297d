"""Hostile-SP cases on the request's profile rules: IssueInstant out of its
window, a missing or wrong Destination, a NameIDPolicy the IdP cannot or
must not meet."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from lxml import etree

from fedsim_harness.attack.idp_cases import IdpAttack, IdpCase, attr, edited
from fedsim_harness.attack.idp_forge import p


def _issued(delta: timedelta):
    return edited(attr("IssueInstant", lambda x: (x.forge.now + delta).strftime("%Y-%m-%dT%H:%M:%SZ")))


def _cases() -> list[IdpCase]:
    core_time = "SAML Core §3.2.1 (IssueInstant), §1.3.3"
    nameid = "SAML Core §3.4.1.1 (NameIDPolicy); §3.2.2.2 (InvalidNameIDPolicy)"
    fmt = "urn:oasis:names:tc:SAML:"
    dest = "SAML Bindings §3.4.5.2 (Destination of a signed message)"
    return [
        IdpCase("time-future", "time", "IssueInstant more than a day in the future", core_time,
                _issued(timedelta(days=2))),
        IdpCase("time-past", "time", "IssueInstant three days ago", core_time, _issued(timedelta(days=-3))),
        IdpCase("time-far-past", "time", "IssueInstant in 2001", core_time,
                edited(attr("IssueInstant", "2001-01-01T00:00:00Z"))),
        IdpCase("time-missing", "time", "No IssueInstant", core_time, edited(attr("IssueInstant", None))),
        IdpCase("time-garbage", "time", "An IssueInstant that is not a date", core_time,
                edited(attr("IssueInstant", "yesterday"))),
        IdpCase("destination-missing", "destination", "No Destination on a signed request", dest,
                edited(attr("Destination", None))),
        IdpCase("destination-other-idp", "destination", "Destination of another IdP", dest,
                edited(attr("Destination", "https://idp.example/sso"))),
        IdpCase("destination-other-endpoint", "destination", "Destination of another endpoint of this IdP",
                dest, edited(attr("Destination", lambda x: x.forge.sso_url.rsplit("/", 1)[0] + "/slo"))),
        IdpCase("nameid-email", "nameid", "NameIDPolicy Format emailAddress (not offered)", nameid,
                edited(_policy(fmt + "1.1:nameid-format:emailAddress"))),
        IdpCase("nameid-encrypted", "nameid", "NameIDPolicy Format encrypted (not offered)", nameid,
                edited(_policy(fmt + "2.0:nameid-format:encrypted"))),
        IdpCase("nameid-entity", "nameid", "NameIDPolicy Format entity (never for a person)", nameid,
                edited(_policy(fmt + "2.0:nameid-format:entity"))),
        IdpCase("nameid-spnq-other-sp", "nameid", "SPNameQualifier of another SP (the victim SP's identifier "
                "for the person)", nameid, edited(_policy(None, "https://victim-sp.example/metadata"))),
    ]


def _policy(fmt: str | None, qualifier: str | None = None) -> Callable[[etree._Element, IdpAttack], None]:
    def edit(root: etree._Element, x: IdpAttack) -> None:
        policy = etree.SubElement(root, p("NameIDPolicy"), AllowCreate="true")
        if fmt:
            policy.set("Format", fmt)
        if qualifier:
            policy.set("SPNameQualifier", qualifier)
    return edit


CASES: tuple[IdpCase, ...] = tuple(_cases())
