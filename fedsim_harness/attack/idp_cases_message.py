"""Hostile-SP cases on the message as a whole (not deflated, not base64,
not XML, DTDs and entities, depth, size, wrong root element, Version, ID),
on the binding and endpoint, and on the session: requests the IdP may
accept but must not answer with an assertion without a (new) login."""
from __future__ import annotations

import base64
import secrets
from collections.abc import Callable

from lxml import etree

from fedsim_harness.attack.idp_cases import (
    BINDINGS,
    CORE_REQ,
    IdpAttack,
    IdpCase,
    attr,
    edited,
)
from fedsim_harness.attack.idp_forge import SAML, SAMLP, Hostile, a, p, to_bytes

XML_1_0 = "XML 1.0 §2.8 (DTD); OWASP XXE Prevention"


def _xml_with_doctype(x: IdpAttack, dtd: str, issuer_text: str) -> bytes:
    """The request's XML with a DOCTYPE and the Issuer's text replaced (entity references)."""
    root = x.forge.request()
    root.find(a("Issuer")).text = "@@ISSUER@@"
    body = to_bytes(root).decode("utf-8").replace("@@ISSUER@@", issuer_text)
    return f"<!DOCTYPE samlp:AuthnRequest [{dtd}]>\n{body}".encode()


def _doctype(dtd: str, issuer_text: str) -> Callable[[IdpAttack], Hostile]:
    return lambda x: x.forge.redirect(_xml_with_doctype(x, dtd, issuer_text))


def _laughs() -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
                                           for i in range(1, 10)]
    return "".join(entities)


def _extension(payload: Callable[[IdpAttack], str]) -> Callable[[IdpAttack], Hostile]:
    """The request with samlp:Extensions holding ``payload`` (raw XML) after the Issuer."""
    def build(x: IdpAttack) -> Hostile:
        root = x.forge.request()
        extensions = etree.Element(p("Extensions"))
        extensions.text = "@@PAYLOAD@@"
        root.insert(1, extensions)
        xml = to_bytes(root).decode("utf-8").replace("@@PAYLOAD@@", payload(x))
        return x.forge.redirect(xml.encode())
    return build


def _deep(depth: int) -> Callable[[IdpAttack], str]:
    return lambda x: '<x:e xmlns:x="urn:example:attacker">' * depth + "</x:e>" * depth


def _padding(size: int, random: bool) -> Callable[[IdpAttack], str]:
    def text(x: IdpAttack) -> str:
        filler = base64.b64encode(secrets.token_bytes(size * 3 // 4)).decode() if random else " " * size
        return f'<x:pad xmlns:x="urn:example:attacker">{filler}</x:pad>'
    return text


def _root(local: str, ns: str = SAMLP) -> Callable[[IdpAttack], Hostile]:
    """A correct request's attributes and Issuer under another root element."""
    def build(x: IdpAttack) -> Hostile:
        request = x.forge.request()
        root = etree.Element(f"{{{ns}}}{local}", nsmap={"samlp": SAMLP, "saml": SAML})
        for name in ("ID", "Version", "IssueInstant", "Destination"):
            root.set(name, request.get(name))
        root.append(request.find(a("Issuer")))
        if local == "LogoutRequest":
            name_id = etree.SubElement(root, a("NameID"))
            name_id.text = "victim"
        if local == "Response":
            status = etree.SubElement(root, p("Status"))
            etree.SubElement(status, p("StatusCode"), Value="urn:oasis:names:tc:SAML:2.0:status:Success")
        return x.forge.redirect(root)
    return build


def _child(x: IdpAttack) -> Hostile:
    root = x.forge.request()
    etree.SubElement(root, p("Evil")).text = "not in the schema"
    return x.forge.redirect(root)


def _message_cases() -> list[IdpCase]:
    schema = "SAML Core §3.2.1, §3.4.1 (saml-schema-protocol-2.0.xsd)"
    return [
        IdpCase("msg-not-deflated", "message", "SAMLRequest base64 but not DEFLATE-compressed", BINDINGS,
                lambda x: x.forge.redirect(base64.b64encode(to_bytes(x.forge.request())).decode())),
        IdpCase("msg-not-base64", "message", "SAMLRequest that is not base64", BINDINGS,
                lambda x: x.forge.redirect("%%%not-base64%%%")),
        IdpCase("msg-empty", "message", "An empty SAMLRequest (signed)", BINDINGS, lambda x: x.forge.redirect("")),
        IdpCase("msg-not-xml", "message", "SAMLRequest that inflates to text, not XML", BINDINGS,
                lambda x: x.forge.redirect(b"this is not XML <samlp:AuthnRequest")),
        IdpCase("msg-doctype", "message", "A DOCTYPE with an internal entity used in the Issuer", XML_1_0,
                _doctype('<!ENTITY sp "x">', "&sp;")),
        IdpCase("msg-xxe-file", "message", "An external entity reading /etc/hostname", XML_1_0 + "; CWE-611",
                _doctype('<!ENTITY xxe SYSTEM "file:///etc/hostname">', "&xxe;")),
        IdpCase("msg-xxe-network", "message", "An external parameter entity fetching a URL", XML_1_0 + "; CWE-611",
                _doctype('<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;', "x")),
        IdpCase("msg-billion-laughs", "message", "Nested entity expansion (billion laughs)", "CWE-776",
                _doctype(_laughs(), "&lol9;")),
        IdpCase("msg-deep-nesting", "message", "5,000 nested elements in Extensions", "CWE-674",
                _extension(_deep(5000))),
        IdpCase("msg-zip-bomb", "message", "A few kB that inflate to 8 MB", "CWE-409; " + BINDINGS,
                _extension(_padding(8 * 1024 * 1024, random=False))),
        IdpCase("msg-oversized", "message", "A 400 kB request that does not compress", "CWE-400",
                _extension(_padding(400 * 1024, random=True))),
        IdpCase("msg-root-response", "message", "A samlp:Response sent as SAMLRequest to the SSO endpoint",
                "SAML Profiles §4.1.4.1", _root("Response")),
        IdpCase("msg-root-logout", "message", "A LogoutRequest sent to the SSO endpoint", "SAML Profiles §4.1.4.1",
                _root("LogoutRequest")),
        IdpCase("msg-root-foreign-namespace", "message", "An AuthnRequest in another namespace", schema,
                _root("AuthnRequest", "urn:example:attacker:protocol")),
        IdpCase("msg-version-1-1", "message", "Version 1.1", "SAML Core §3.2.1, §4.1.3 (VersionMismatch)",
                edited(attr("Version", "1.1"))),
        IdpCase("msg-missing-version", "message", "No Version", schema, edited(attr("Version", None))),
        IdpCase("msg-missing-id", "message", "No ID", schema, edited(attr("ID", None))),
        IdpCase("msg-id-not-ncname", "message", "An ID that is not an NCName (starts with a digit)",
                "SAML Core §1.3.4 (xs:ID)", edited(attr("ID", "1234-not-an-ncname"))),
        IdpCase("msg-schema-child", "message", "An element the schema does not allow (samlp:Evil)", schema, _child),
        IdpCase("msg-as-samlresponse", "message", "The signed AuthnRequest sent as a SAMLResponse parameter",
                BINDINGS, lambda x: x.forge.redirect(x.forge.request(), param="SAMLResponse")),
    ]


# -- binding -------------------------------------------------------------------------

def _post(x: IdpAttack) -> Hostile:
    signed = x.forge.redirect()
    from urllib.parse import parse_qsl
    fields = dict(parse_qsl(signed.query))
    fields["SAMLRequest"] = base64.b64encode(signed.xml.encode()).decode()
    return Hostile(form=fields, xml=signed.xml, relay_state=signed.relay_state)


def _post_and_query(x: IdpAttack) -> Hostile:
    signed = x.forge.redirect()
    other = x.forge.request()
    return Hostile(query=signed.query, form={"SAMLRequest": base64.b64encode(to_bytes(other)).decode()},
                   xml=signed.xml, relay_state=signed.relay_state)


def _artifact(x: IdpAttack) -> Hostile:
    artifact = base64.b64encode(b"\x00\x04\x00\x00" + secrets.token_bytes(40)).decode()
    from urllib.parse import quote_plus
    return Hostile(query=f"SAMLart={quote_plus(artifact)}&RelayState={x.forge.relay_state}",
                   relay_state=x.forge.relay_state)


def _to_slo(x: IdpAttack) -> Hostile:
    signed = x.forge.redirect()
    url = x.slo_url or x.forge.sso_url.rsplit("/", 1)[0] + "/slo"
    return Hostile(query=signed.query, xml=signed.xml, relay_state=signed.relay_state, url=url)


def _binding_cases() -> list[IdpCase]:
    profiles = "SAML Profiles §4.1.3.1; SAML Metadata §2.4.3 (SingleSignOnService bindings)"
    return [
        IdpCase("binding-post", "binding", "HTTP-POST of the request to an endpoint published for HTTP-Redirect "
                "only", profiles + "; SAML Bindings §3.5", _post),
        IdpCase("binding-post-and-query", "binding", "A POST carrying a signed request in the URL and another in "
                "the body", profiles, _post_and_query),
        IdpCase("binding-artifact", "binding", "A made-up SAMLart sent to the SSO endpoint", "SAML Bindings §3.6",
                _artifact),
        IdpCase("binding-slo-endpoint", "binding", "The signed AuthnRequest sent to the SingleLogoutService",
                "SAML Profiles §4.4", _to_slo),
    ]


# -- session: may be accepted, must not be answered with an assertion ------------------

def _flags(**values: str) -> Callable[[IdpAttack], Hostile]:
    def edit(root: etree._Element, x: IdpAttack) -> None:
        for name, value in values.items():
            root.set(name, value)
    return edited(edit)


def _unknown_context(x: IdpAttack) -> Hostile:
    root = x.forge.request()
    requested = etree.SubElement(root, p("RequestedAuthnContext"), Comparison="exact")
    etree.SubElement(requested, a("AuthnContextClassRef")).text = "urn:example:attacker:level:unreachable"
    return x.forge.redirect(root)


def _session_cases() -> list[IdpCase]:
    force = CORE_REQ + " (ForceAuthn: the IdP MUST authenticate the presenter directly)"
    passive = CORE_REQ + " (IsPassive); §3.2.2.2 (NoPassive)"
    return [
        IdpCase("session-force-authn", "session", "ForceAuthn with an open session: a new login, no assertion at "
                "once", force, _flags(ForceAuthn="true"), expect="no_assertion", session="own"),
        IdpCase("session-force-authn-1", "session", "ForceAuthn=\"1\" (xs:boolean true) with an open session",
                force, _flags(ForceAuthn="1"), expect="no_assertion", session="own"),
        IdpCase("session-passive-force", "session", "IsPassive and ForceAuthn together: NoPassive, no assertion",
                force + "; " + passive, _flags(ForceAuthn="true", IsPassive="true"), expect="no_assertion",
                session="own"),
        IdpCase("session-none", "session", "A correct request from a browser without a session: a login page, "
                "no assertion", "SAML Profiles §4.1.4.1", lambda x: x.forge.redirect(), expect="no_assertion",
                session="none"),
        IdpCase("session-passive-none", "session", "IsPassive from a browser without a session: NoPassive",
                passive, _flags(IsPassive="true"), expect="no_assertion", session="none"),
        IdpCase("session-unknown-context", "session", "A RequestedAuthnContext no method reaches: "
                "NoAuthnContext, no assertion", "SAML Core §3.3.2.2.1; §3.2.2.2 (NoAuthnContext)",
                _unknown_context, expect="no_assertion"),
    ]


CASES: tuple[IdpCase, ...] = (*_message_cases(), *_binding_cases(), *_session_cases())
