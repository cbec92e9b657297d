"""Cases on the message as a whole: status codes and number of assertions,
XML-level attacks (DOCTYPE, external entities, entity expansion, depth,
size, encodings), RelayState and redirect abuse."""
from __future__ import annotations

from lxml import etree

from fedsim_harness.attack.cases_profile import (
    BINDINGS,
    PROFILES,
    drop,
    set_attribute,
    signed_edit,
)
from fedsim_harness.attack.catalogue import Attack, Case, Forged, doc
from fedsim_harness.attack.forge import assertion_of, encode, q, signature_of, to_bytes

EVIL = "https://evil.example/"


# -- status and number of assertions -------------------------------------------

STATUS = "urn:oasis:names:tc:SAML:2.0:status:"


def _status_with_assertion(top: str, second: str | None = None):
    def edit(root, f, a) -> None:
        code = root.find(f".//{q('samlp', 'StatusCode')}")
        code.set("Value", top)
        if second:
            etree.SubElement(code, q("samlp", "StatusCode"), Value=second)
    return signed_edit(edit)


def _two_assertions(victim_first: bool):
    def build(a: Attack) -> Forged:
        f = a.forge
        root = f.response()
        extra = f.assertion(a.victim)
        index = root.index(assertion_of(root))
        root.insert(index if victim_first else index + 1, extra)
        return doc(f.signed(root))
    return build


def _nested_assertion(a: Attack) -> Forged:
    f = a.forge
    root = f.response()
    inner = f.assertion(a.victim)
    f.sign(inner)
    advice = etree.Element(q("saml", "Advice"))
    outer = assertion_of(root)
    outer.insert(outer.index(outer.find(q("saml", "Conditions"))) + 1, advice)
    advice.append(inner)
    return doc(f.signed(root))


def _status() -> list[Case]:
    core = "SAML Core §3.2.2.2; Profiles §4.1.4.2"
    return [
        Case("status-requester-with-assertion", "status", "Requester status carrying a signed assertion", core,
             _status_with_assertion(STATUS + "Requester")),
        Case("status-responder-with-assertion", "status", "Responder status carrying a signed assertion", core,
             _status_with_assertion(STATUS + "Responder")),
        Case("status-authn-failed-with-assertion", "status", "Responder/AuthnFailed carrying a signed assertion",
             core, _status_with_assertion(STATUS + "Responder", STATUS + "AuthnFailed")),
        Case("status-unknown-with-assertion", "status", "An unknown status carrying a signed assertion", core,
             _status_with_assertion("urn:example:attacker:status:Fine")),
        Case("status-missing", "status", "No Status element", "SAML Core §3.2.2", signed_edit(drop("//samlp:Status"))),
        Case("no-assertion", "status", "Success without any assertion", PROFILES,
             signed_edit(drop("//saml:Assertion"), sign_assertion=False)),
        Case("two-assertions-victim-second", "status", "Two signed assertions, the second for the victim",
             PROFILES + " (exactly one assertion)", _two_assertions(False), victim=True),
        Case("two-assertions-victim-first", "status", "Two signed assertions, the first for the victim", PROFILES,
             _two_assertions(True), victim=True),
        Case("nested-assertion-in-advice", "status", "A signed victim assertion nested in the Advice of the "
             "attacker's", "SAML Core §2.6.1 (Advice)", _nested_assertion, victim=True),
        Case("version-1-1", "status", "Response and Assertion with Version 1.1", "SAML Core §3.2.2, §2.3.3",
             signed_edit(set_attribute("//*[@Version]", "Version", "1.1"))),
    ]


# -- XML -------------------------------------------------------------------

def _with_doctype(dtd: str, replace: tuple[str, str] | None = None, encoding: str = "utf-8"):
    def build(a: Attack) -> Forged:
        root = a.forge.baseline()
        text = to_bytes(root).decode("utf-8")
        if replace:
            text = text.replace(replace[0], replace[1], 1)
        body = text.partition("?>")[2]
        text = f"<?xml version='1.0' encoding='{encoding.upper()}'?><!DOCTYPE samlp:Response [{dtd}]>{body}"
        return Forged(xml=text.encode(encoding))
    return build


def _first_value(a_text: str) -> tuple[str, str]:
    return ('xsi:type="xs:string">', 'xsi:type="xs:string">' + a_text)


LAUGHS = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))


def _huge(a: Attack) -> Forged:
    root = a.forge.response()
    value = etree.SubElement(etree.SubElement(root.find(f".//{q('saml', 'AttributeStatement')}"),
                                              q("saml", "Attribute"), Name="padding"), q("saml", "AttributeValue"))
    value.text = "A" * (2 * 1024 * 1024)
    return doc(a.forge.signed(root))


def _deep(a: Attack) -> Forged:
    root = a.forge.baseline()
    extensions = etree.Element(q("samlp", "Extensions"))
    root.insert(root.index(signature_of(root)) + 1, extensions)
    text = to_bytes(root).decode()
    nest = "<x:d xmlns:x='urn:example:deep'>" * 1 + "<x:d>" * 20000 + "</x:d>" * 20001
    text = text.replace("<samlp:Extensions/>", f"<samlp:Extensions>{nest}</samlp:Extensions>")
    return Forged(xml=text.encode())


def _xinclude(a: Attack) -> Forged:
    root = a.forge.baseline()
    text = to_bytes(root).decode()
    text = text.replace('xsi:type="xs:string">', 'xsi:type="xs:string"><xi:include '
                        'xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/hostname" parse="text"/>', 1)
    return Forged(xml=text.encode())


def _xml() -> list[Case]:
    owasp = "OWASP XXE Prevention Cheat Sheet; SAML Security Considerations §6.5"
    return [
        Case("doctype-declared", "xml", "A DOCTYPE declaration on an otherwise correct Response",
             "SAML Bindings §3.5.5.1 (no DTD); " + owasp, _with_doctype("")),
        Case("xxe-file", "xml", "An external entity reading /etc/passwd into an attribute value", "CWE-611; " + owasp,
             _with_doctype('<!ENTITY x SYSTEM "file:///etc/passwd">', _first_value("&x;"))),
        Case("xxe-http", "xml", "An external entity fetching an http URL (SSRF)", "CWE-611, CWE-918",
             _with_doctype('<!ENTITY x SYSTEM "http://127.0.0.1:9/xxe">', _first_value("&x;"))),
        Case("xxe-parameter-entity", "xml", "An external parameter entity (out-of-band XXE)", "CWE-611",
             _with_doctype('<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;')),
        Case("billion-laughs", "xml", "Nested entities expanding to a billion « lol »", "CWE-776 (billion laughs)",
             _with_doctype(LAUGHS, _first_value("&l9;"))),
        Case("quadratic-blowup", "xml", "One large entity referenced thousands of times", "CWE-776",
             _with_doctype(f'<!ENTITY a "{"a" * 20000}">', _first_value("&a;" * 2000))),
        Case("doctype-utf16", "xml", "A DOCTYPE with an entity, the document in UTF-16 (dodges byte checks)",
             "CWE-611; XML 1.0 §4.3.3", _with_doctype('<!ENTITY x SYSTEM "file:///etc/passwd">',
                                                      _first_value("&x;"), "utf-16")),
        Case("xinclude", "xml", "An XInclude of a local file in an attribute value", "CWE-611 (XInclude)",
             _xinclude),
        Case("deep-nesting", "xml", "20,000 nested elements in samlp:Extensions", "CWE-674; libxml2 depth limit",
             _deep),
        Case("huge-message", "xml", "A 2 MB attribute value (a real Response is a few kB)", "CWE-400",
             _huge),
        Case("not-base64", "xml", "A SAMLResponse that is not base64", BINDINGS,
             lambda a: Forged(encoded="%%%not-base64%%%")),
        Case("not-xml", "xml", "A SAMLResponse that decodes to something other than XML", BINDINGS,
             lambda a: Forged(encoded=encode(b"\x00\x01not xml at all"))),
        Case("empty-response", "xml", "An empty SAMLResponse", BINDINGS, lambda a: Forged(encoded="")),
        Case("deflated-response", "xml", "A DEFLATE-compressed Response on the POST binding", BINDINGS + " (POST is "
             "not deflated)", _deflated),
    ]


def _deflated(a: Attack) -> Forged:
    import zlib
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(doc(a.forge.baseline()).xml) + compressor.flush()
    return Forged(encoded=encode(data))


# -- RelayState and redirects ---------------------------------------------------

def _relay(value: str | None, omit: bool = False):
    def build(a: Attack) -> Forged:
        return Forged(xml=doc(a.forge.baseline()).xml, relay_state=value, omit_relay_state=omit)
    return build


def _redirect() -> list[Case]:
    relay = "SAML Bindings §3.4.3, §3.5.3 (RelayState); CWE-601 (open redirect)"
    targets = {
        "offsite": EVIL, "scheme-relative": "//evil.example/", "backslash": "/\\evil.example/",
        "backslashes": "\\\\evil.example/", "javascript": "javascript:alert(document.domain)",
        "data": "data:text/html,<script>alert(1)</script>", "http-no-slashes": "http:evil.example",
        "tab": "/\t/evil.example/", "userinfo": "https://sp@evil.example/",
    }
    cases = []
    for label, value in targets.items():
        cases.append(Case(f"relaystate-{label}", "redirect", f"RelayState « {value[:40]} » with a correct "
                          "Response: the SP must not send the browser there", relay, _relay(value),
                          expect="no_offsite"))
    for label, value in targets.items():
        if label in ("tab", "userinfo"):
            continue
        cases.append(Case(f"login-next-{label}", "redirect", f"Login started with next={value[:40]}: the SP must not "
                          "send the browser there after login", "CWE-601 (open redirect)", _relay(None),
                          expect="no_offsite", login_next=value))
    cases += [
        Case("relaystate-crlf", "redirect", "RelayState with CR LF (header injection)", "CWE-113",
             _relay("/\r\nSet-Cookie: injected=1"), expect="no_offsite"),
        Case("relaystate-huge", "redirect", "RelayState of 100 kB (80 bytes allowed)", "SAML Bindings §3.5.3",
             _relay("/" + "a" * 100_000), expect="no_offsite"),
        Case("relaystate-missing", "redirect", "No RelayState with a correct Response", "SAML Bindings §3.5.3",
             _relay(None, omit=True), expect="no_offsite"),
    ]
    return cases


CASES: tuple[Case, ...] = (*_status(), *_xml(), *_redirect())
