"""The hostile-SP catalogue: what a SAML IdP must refuse.

An ``IdpCase`` has an id, a group, a one-line explanation, a reference
(SAML spec section, CVE) and a ``build`` function that, given the
``IdpAttack`` under way (a ``RequestForge`` for an SP the IdP knows, with
that SP's real key), returns the ``Hostile`` request to send to the IdP's
SSO endpoint. ``expect``: "refused" for a hostile case (an error page or an
error Response, no assertion, nothing posted to an ACS the SP's metadata
does not list), "assertion" for the baseline, "no_assertion" for requests
that may be accepted but must not be answered with an assertion without a
(new) login. ``session``: "shared" runs the case in a browser holding the
run's open IdP session (a vulnerable IdP answers at once), "own" in a
browser that logged in for this case alone (cases that change the
session), "none" in a browser without any session.

This module holds the groups signature, acs, issuer and replay;
``idp_cases_profile`` holds time, destination and nameid;
``idp_cases_message`` holds message, binding and session;
``idp_catalogue.CATALOGUE`` all of them, baseline first.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from fedsim_harness.attack.idp_forge import (
    DSA_SHA1,
    HMAC_SHA256,
    RSA_SHA1,
    RSA_SHA256,
    RSA_SHA512,
    Hostile,
    RequestForge,
    SpKey,
    a,
    rogue_key,
)


class IdpAttack(Protocol):
    """What a case can use while it is built (the driver provides it)."""
    forge: RequestForge     # a correct request of the SP the IdP knows, signed with its key
    other_key: SpKey        # a key of the federation that is not this SP's (or the attacker's own)
    slo_url: str | None     # the IdP's SingleLogoutService (HTTP-Redirect), when known

    def prime(self, hostile: Hostile) -> bool: ...  # send it first; True if an assertion was issued


@dataclass(frozen=True)
class IdpCase:
    id: str
    group: str
    title: str
    reference: str
    build: Callable[[IdpAttack], Hostile]
    expect: str = "refused"     # "refused" | "assertion" | "no_assertion"
    session: str = "shared"     # "shared" | "own" | "none"


GROUPS = {
    "baseline": "A correct AuthnRequest: the IdP must answer it with an assertion",
    "signature": "Unsigned, wrongly signed or tampered-after-signing requests",
    "acs": "AssertionConsumerService URL, index and binding not in the SP's metadata",
    "issuer": "Unknown, missing or malformed Issuer",
    "replay": "A request ID or a whole request sent twice",
    "time": "IssueInstant out of its window",
    "destination": "Missing or wrong Destination",
    "nameid": "NameIDPolicy the IdP cannot or must not meet",
    "message": "Malformed, hostile or oversized messages",
    "binding": "Wrong binding or endpoint",
    "session": "ForceAuthn / IsPassive / no session: no assertion without a login",
}

BINDINGS = "SAML Bindings §3.4.4.1"
PROFILES = "SAML Profiles §4.1.4.1"
CORE_REQ = "SAML Core §3.4.1"


def _baseline(x: IdpAttack) -> Hostile:
    return x.forge.redirect()


BASELINE = IdpCase("baseline", "baseline", "A correct AuthnRequest of the SP, signed with its key (RSA-SHA256): "
                   "the IdP holding a session must answer with an assertion", PROFILES, _baseline,
                   expect="assertion")


def edited(edit: Callable[[etree._Element, IdpAttack], None], **redirect) -> Callable[[IdpAttack], Hostile]:
    """A correct request changed by ``edit``, then signed (the SP's key)."""
    def build(x: IdpAttack) -> Hostile:
        root = x.forge.request()
        edit(root, x)
        return x.forge.redirect(root, **redirect)
    return build


def attr(name: str, value: str | Callable[[IdpAttack], str] | None) -> Callable[[etree._Element, IdpAttack], None]:
    def edit(root: etree._Element, x: IdpAttack) -> None:
        if value is None:
            root.attrib.pop(name, None)
        else:
            root.set(name, value(x) if callable(value) else value)
    return edit


# -- signature ---------------------------------------------------------------

def _signed(**options) -> Callable[[IdpAttack], Hostile]:
    return lambda x: x.forge.redirect(**options)


def _unknown_key(x: IdpAttack) -> Hostile:
    return x.forge.redirect(key=rogue_key(x.forge.sp.entity_id))


def _other_key(x: IdpAttack) -> Hostile:
    return x.forge.redirect(key=x.other_key)


def _stripped(x: IdpAttack) -> Hostile:
    hostile = x.forge.redirect()
    return Hostile(query=hostile.query.split("&Signature=")[0], xml=hostile.xml, relay_state=hostile.relay_state)


def _altered_request(x: IdpAttack) -> Hostile:
    """The signature of one request, sent with another (ForceAuthn dropped, another ID)."""
    genuine = x.forge.redirect()
    other = x.forge.redirect(x.forge.request(), sig_alg=None)
    signature = genuine.query.split("&SigAlg=")[1]
    return Hostile(query=f"{other.query}&SigAlg={signature}", xml=other.xml, relay_state=other.relay_state)


def _other_order(x: IdpAttack) -> Hostile:
    from urllib.parse import quote_plus

    root = x.forge.request()
    parts = x.forge.redirect(root, sig_alg=None).query.split("&")
    reordered = "&".join([f"SigAlg={quote_plus(RSA_SHA256)}", *reversed(parts)])
    return x.forge.redirect(root, signed_string=reordered)


def _duplicate(name: str) -> Callable[[IdpAttack], Hostile]:
    def build(x: IdpAttack) -> Hostile:
        genuine = x.forge.redirect()
        if name == "SAMLRequest":
            forged = x.forge.redirect(x.forge.request(), sig_alg=None, relay_state=None)
            return Hostile(query=f"{genuine.query}&{forged.query}", xml=forged.xml, relay_state=genuine.relay_state)
        return Hostile(query=f"{genuine.query}&Signature=AAAA", xml=genuine.xml, relay_state=genuine.relay_state)
    return build


def _embedded_signature(x: IdpAttack) -> Hostile:
    """An enveloped XML signature by the attacker's key (its certificate in
    KeyInfo) inside the request, and no signature on the query."""
    from fedsim_harness.attack.forge import rogue_signer, sign

    root = x.forge.request()
    sign(root, rogue_signer(x.forge.sp.entity_id))
    return x.forge.redirect(root, sig_alg=None)


def _signature_cases() -> list[IdpCase]:
    meta = "SAML Metadata §2.4.4 (WantAuthnRequestsSigned); " + BINDINGS
    return [
        IdpCase("sig-unsigned", "signature", "No SigAlg, no Signature, while the IdP's metadata says "
                "WantAuthnRequestsSigned", meta, _signed(sig_alg=None)),
        IdpCase("sig-stripped-sigalg-kept", "signature", "Signature removed, SigAlg kept", BINDINGS, _stripped),
        IdpCase("sig-empty", "signature", "An empty Signature parameter", BINDINGS, _signed(signature="")),
        IdpCase("sig-not-base64", "signature", "A Signature that is not base64", BINDINGS,
                _signed(signature="not*base64!")),
        IdpCase("sig-truncated", "signature", "A genuine signature with its last bytes cut off", BINDINGS,
                lambda x: Hostile(query=x.forge.redirect().query[:-12], xml="", relay_state=x.forge.relay_state)),
        IdpCase("sig-unknown-key", "signature", "Signed with a key the attacker made (not in the SP's metadata)",
                BINDINGS + "; Profiles §4.1.4.1", _unknown_key),
        IdpCase("sig-other-federation-key", "signature", "Signed with the key of another entity of the federation",
                BINDINGS, _other_key),
        IdpCase("sig-rsa-sha1", "signature", "A valid signature made with RSA-SHA1 (downgrade)",
                "SAML Bindings §3.4.4.1; NIST SP 800-131A (SHA-1 signatures)", _signed(sig_alg=RSA_SHA1)),
        IdpCase("sig-hmac-cert-key", "signature", "HMAC-SHA256 keyed with the SP's public certificate "
                "(key confusion)", "CVE-2016-5697 class; XMLDSig §6.3", _signed(sig_alg=HMAC_SHA256)),
        IdpCase("sig-dsa-label", "signature", "SigAlg says DSA-SHA1 over an RSA-SHA256 signature", BINDINGS,
                _mislabelled(DSA_SHA1)),
        IdpCase("sig-unknown-alg", "signature", "An unknown SigAlg URI", BINDINGS,
                _signed(sig_alg="urn:example:attacker:no-signature")),
        IdpCase("sig-alg-mismatch", "signature", "SigAlg says RSA-SHA512, the signature is RSA-SHA256", BINDINGS,
                _mislabelled(RSA_SHA512)),
        IdpCase("sig-relaystate-altered", "signature", "RelayState changed after signing", BINDINGS,
                _signed(relay_state="https://evil.example/", signed_relay_state="rs-genuine")),
        IdpCase("sig-relaystate-added", "signature", "A RelayState added to a query signed without one", BINDINGS,
                _signed(signed_relay_state="")),
        IdpCase("sig-relaystate-removed", "signature", "The signed RelayState dropped from the query", BINDINGS,
                lambda x: _drop_relay_state(x)),
        IdpCase("sig-request-altered", "signature", "The signature of one request sent with another", BINDINGS,
                _altered_request),
        IdpCase("sig-other-order", "signature", "Signed over the parameters in another order", BINDINGS,
                _other_order),
        IdpCase("sig-duplicate-samlrequest", "signature", "A second, unsigned SAMLRequest after the signed one "
                "(parameter pollution)", BINDINGS, _duplicate("SAMLRequest")),
        IdpCase("sig-duplicate-signature", "signature", "A second Signature parameter", BINDINGS,
                _duplicate("Signature")),
        IdpCase("sig-embedded-xml-rogue", "signature", "An enveloped XML signature with the attacker's key in "
                "KeyInfo, no query signature", BINDINGS + " (no XML signature in this binding)", _embedded_signature),
    ]


def _mislabelled(label: str) -> Callable[[IdpAttack], Hostile]:
    """An RSA-SHA256 signature over the very query sent, whose SigAlg says ``label``."""
    def build(x: IdpAttack) -> Hostile:
        from urllib.parse import quote_plus

        from fedsim_harness.attack.idp_forge import rsa_sign
        root = x.forge.request()
        unsigned = x.forge.redirect(root, sig_alg=None).query
        signature = rsa_sign(x.forge.sp.key, f"{unsigned}&SigAlg={quote_plus(label)}", RSA_SHA256)
        return x.forge.redirect(root, sig_alg=label, signature=signature)
    return build


def _drop_relay_state(x: IdpAttack) -> Hostile:
    genuine = x.forge.redirect()
    parts = [part for part in genuine.query.split("&") if not part.startswith("RelayState=")]
    return Hostile(query="&".join(parts), xml=genuine.xml, relay_state=None)


# -- acs -----------------------------------------------------------------------

def _acs(url: Callable[[str], str]) -> Callable[[IdpAttack], Hostile]:
    return edited(attr("AssertionConsumerServiceURL", lambda x: url(x.forge.acs_url)))


def _scheme_swap(url: str) -> str:
    return ("https://" + url[7:]) if url.startswith("http://") else ("http://" + url.split("://", 1)[-1])


def _userinfo(url: str) -> str:
    scheme, rest = url.split("://", 1)
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}@evil.example/{rest.split('/', 1)[-1]}"


def _index(value: str, keep_url: bool) -> Callable[[etree._Element, IdpAttack], None]:
    def edit(root: etree._Element, x: IdpAttack) -> None:
        if not keep_url:
            root.attrib.pop("AssertionConsumerServiceURL", None)
            root.attrib.pop("ProtocolBinding", None)
        root.set("AssertionConsumerServiceIndex", value)
    return edit


def _acs_cases() -> list[IdpCase]:
    return [
        IdpCase("acs-other-path", "acs", "An ACS URL on the SP's host but not in its metadata", PROFILES,
                _acs(lambda u: u.rsplit("/", 1)[0] + "/attacker-acs")),
        IdpCase("acs-other-host", "acs", "An ACS URL on the attacker's host", PROFILES,
                _acs(lambda u: "https://evil.example/acs")),
        IdpCase("acs-scheme-swapped", "acs", "The listed ACS with http and https swapped", PROFILES, _acs(_scheme_swap)),
        IdpCase("acs-with-query", "acs", "The listed ACS with a query string added", PROFILES,
                _acs(lambda u: u + "?next=https://evil.example/")),
        IdpCase("acs-with-fragment", "acs", "The listed ACS with a fragment added", PROFILES,
                _acs(lambda u: u + "#evil")),
        IdpCase("acs-trailing-slash", "acs", "The listed ACS with a trailing slash", PROFILES, _acs(lambda u: u + "/")),
        IdpCase("acs-userinfo", "acs", "The listed host as userinfo before the attacker's host", "RFC 3986 §3.2.1; "
                + PROFILES, _acs(_userinfo)),
        IdpCase("acs-javascript", "acs", "A javascript: URL as ACS", PROFILES,
                _acs(lambda u: "javascript:alert(document.domain)")),
        IdpCase("acs-index-unknown", "acs", "An AssertionConsumerServiceIndex the metadata does not list",
                CORE_REQ + "; SAML Metadata §2.4.4", edited(_index("97", keep_url=False))),
        IdpCase("acs-url-and-index", "acs", "Both AssertionConsumerServiceURL and an unknown index (mutually "
                "exclusive)", CORE_REQ, edited(_index("97", keep_url=True))),
        IdpCase("acs-binding-artifact", "acs", "ProtocolBinding HTTP-Artifact, which the SP's metadata does not "
                "list for that ACS", CORE_REQ + "; " + PROFILES,
                edited(attr("ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"))),
        IdpCase("acs-binding-redirect", "acs", "ProtocolBinding HTTP-Redirect (never allowed for a Response in "
                "Web SSO)", "SAML Profiles §4.1.2",
                edited(attr("ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"))),
    ]


# -- issuer --------------------------------------------------------------------

def _issuer(text: str | None = None, fmt: str | None = "keep", drop: bool = False):
    def edit(root: etree._Element, x: IdpAttack) -> None:
        issuer = root.find(a("Issuer"))
        if drop:
            root.remove(issuer)
            return
        if text is not None:
            issuer.text = text.replace("{sp}", x.forge.sp.entity_id)
        if fmt != "keep":
            issuer.set("Format", fmt)
    return edited(edit)


def _issuer_cases() -> list[IdpCase]:
    return [
        IdpCase("issuer-unknown", "issuer", "An Issuer no metadata describes, signed with the SP's key",
                PROFILES, _issuer("https://unknown.example/sp")),
        IdpCase("issuer-unknown-own-key", "issuer", "An unknown Issuer signed with the attacker's own key",
                PROFILES, lambda x: edited(_issuer_text("https://attacker.example/sp"),
                                           key=rogue_key("https://attacker.example/sp"))(x)),
        IdpCase("issuer-missing", "issuer", "No Issuer element", PROFILES + " (Issuer MUST be present)",
                _issuer(drop=True)),
        IdpCase("issuer-empty", "issuer", "An empty Issuer", PROFILES, _issuer("")),
        IdpCase("issuer-wrong-format", "issuer", "Issuer with a Format other than entity",
                PROFILES + " (Format omitted or entity)",
                _issuer(fmt="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")),
        IdpCase("issuer-whitespace", "issuer", "The SP's entity ID with white space around it",
                "SAML Core §1.3.2, §8.3.6 (URIs compare exactly)", _issuer("  {sp}\n")),
        IdpCase("issuer-case-changed", "issuer", "The SP's entity ID in upper case", "SAML Core §8.3.6",
                _issuer_upper),
    ]


def _issuer_text(value: str) -> Callable[[etree._Element, IdpAttack], None]:
    def edit(root: etree._Element, x: IdpAttack) -> None:
        root.find(a("Issuer")).text = value
    return edit


def _issuer_upper(x: IdpAttack) -> Hostile:
    root = x.forge.request()
    root.find(a("Issuer")).text = x.forge.sp.entity_id.upper()
    return x.forge.redirect(root)


# -- replay --------------------------------------------------------------------

def _same_id(x: IdpAttack) -> Hostile:
    first = x.forge.request()
    if not x.prime(x.forge.redirect(first)):
        raise RuntimeError("the first request of the replay was not answered with an assertion")
    return x.forge.redirect(x.forge.request(request_id=first.get("ID")))


def _same_query(x: IdpAttack) -> Hostile:
    hostile = x.forge.redirect()
    if not x.prime(hostile):
        raise RuntimeError("the first request of the replay was not answered with an assertion")
    return hostile


def _replay_cases() -> list[IdpCase]:
    core = "SAML Core §1.3.4 (ID uniqueness); " + PROFILES
    return [
        IdpCase("replay-request-id", "replay", "A new request reusing the ID of one the IdP already answered",
                core, _same_id),
        IdpCase("replay-answered-request", "replay", "The very same signed request sent again after its answer",
                core, _same_query),
    ]


CASES: tuple[IdpCase, ...] = (*_signature_cases(), *_acs_cases(), *_issuer_cases(), *_replay_cases())
