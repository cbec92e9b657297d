"""Cases on the Web SSO profile's rules: time, binding to the request,
audience and endpoints, subject confirmation and NameID. Unless a case
says otherwise, the IdP's real key signs whatever it builds: the SP must
refuse on the rule itself, not on a broken signature."""
from __future__ import annotations

import base64
from datetime import timedelta

from lxml import etree

from fedsim_harness.attack.catalogue import Attack, Case, Forged, doc
from fedsim_harness.attack.forge import (
    NS,
    Forge,
    assertion_of,
    instant,
    q,
    remove,
)

PROFILES = "SAML Profiles §4.1.4.2–4.1.4.3"
CORE_COND = "SAML Core §2.5.1 (Conditions)"
BINDINGS = "SAML Bindings §3.5.5.2"
EVIL = "https://evil.example/"


def signed_edit(edit, *, victim: bool = False, sign_assertion: bool = True, sign_response: bool = True,
          assertions: int = 1, status: str | None = None):
    """Build the Response, let ``edit(root, forge, attack)`` change it, then sign."""
    def build(a: Attack) -> Forged:
        f: Forge = a.forge
        kwargs = {"status": status} if status else {}
        root = f.response(a.victim if victim else None, assertions=assertions, **kwargs)
        edit(root, f, a)
        return doc(f.signed(root, assertion=sign_assertion, response=sign_response))
    return build


def set_attribute(path: str, attribute: str, value):
    def edit(root, f, a) -> None:
        for element in root.xpath(path, namespaces=NS):
            element.set(attribute, value(f) if callable(value) else value)
    return edit


def drop_attribute(path: str, attribute: str):
    def edit(root, f, a) -> None:
        for element in root.xpath(path, namespaces=NS):
            element.attrib.pop(attribute, None)
    return edit


def drop(path: str):
    def edit(root, f, a) -> None:
        for element in root.xpath(path, namespaces=NS):
            remove(element)
    return edit


def set_text(path: str, value):
    def edit(root, f, a) -> None:
        for element in root.xpath(path, namespaces=NS):
            element.text = value(f) if callable(value) else value
    return edit


def _at(delta: timedelta, offset: str = ""):
    """An instant ``delta`` from now; with ``offset`` (e.g. "-12:00"), the same
    instant written in that time zone."""
    def value(f: Forge) -> str:
        moment = f.now + delta
        if not offset:
            return instant(moment)
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = (int(x) for x in offset[1:].split(":"))
        local = moment + sign * timedelta(hours=hours, minutes=minutes)
        return local.strftime("%Y-%m-%dT%H:%M:%S") + offset
    return value


COND = "//saml:Conditions"
SCD = "//saml:SubjectConfirmationData"
AUTHN = "//saml:AuthnStatement"
FAR, EDGE = timedelta(hours=1), timedelta(minutes=6)


def _time() -> list[Case]:
    return [
        Case("expired-conditions", "time", "Conditions NotOnOrAfter an hour ago", CORE_COND,
             signed_edit(set_attribute(COND, "NotOnOrAfter", _at(-FAR)))),
        Case("expired-conditions-edge", "time", "Conditions NotOnOrAfter 6 minutes ago (past any usual skew)",
             CORE_COND, signed_edit(set_attribute(COND, "NotOnOrAfter", _at(-EDGE)))),
        Case("expired-confirmation", "time", "SubjectConfirmationData NotOnOrAfter an hour ago", PROFILES,
             signed_edit(set_attribute(SCD, "NotOnOrAfter", _at(-FAR)))),
        Case("expired-confirmation-edge", "time", "SubjectConfirmationData NotOnOrAfter 6 minutes ago", PROFILES,
             signed_edit(set_attribute(SCD, "NotOnOrAfter", _at(-EDGE)))),
        Case("expired-everything", "time", "Every validity window closed an hour ago", CORE_COND,
             signed_edit(lambda r, f, a: [set_attribute(COND, "NotOnOrAfter", _at(-FAR))(r, f, a),
                                    set_attribute(COND, "NotBefore", _at(-2 * FAR))(r, f, a),
                                    set_attribute(SCD, "NotOnOrAfter", _at(-FAR))(r, f, a)])),
        Case("not-yet-valid", "time", "Conditions NotBefore in an hour", CORE_COND,
             signed_edit(set_attribute(COND, "NotBefore", _at(FAR)))),
        Case("not-yet-valid-edge", "time", "Conditions NotBefore in 6 minutes", CORE_COND,
             signed_edit(set_attribute(COND, "NotBefore", _at(EDGE)))),
        Case("inverted-window", "time", "Conditions NotBefore after NotOnOrAfter", CORE_COND,
             signed_edit(lambda r, f, a: [set_attribute(COND, "NotBefore", _at(FAR))(r, f, a),
                                    set_attribute(COND, "NotOnOrAfter", _at(-FAR))(r, f, a)])),
        Case("expired-written-with-offset", "time", "An expired NotOnOrAfter written in UTC-12:00 (naive parsers "
             "read it as future)", "SAML Core §1.3.3 (UTC); XML Schema dateTime",
             signed_edit(set_attribute(COND, "NotOnOrAfter", _at(-EDGE, "-12:00")))),
        Case("not-yet-valid-with-offset", "time", "A future NotBefore written in UTC+14:00", "SAML Core §1.3.3",
             signed_edit(set_attribute(COND, "NotBefore", _at(EDGE, "+14:00")))),
        Case("session-not-on-or-after-passed", "time", "AuthnStatement SessionNotOnOrAfter passed",
             "SAML Core §2.7.2", signed_edit(set_attribute(AUTHN, "SessionNotOnOrAfter", _at(-EDGE)))),
        Case("authn-instant-future", "time", "AuthnInstant an hour in the future", "SAML Core §2.7.2",
             signed_edit(set_attribute(AUTHN, "AuthnInstant", _at(FAR)))),
        Case("response-issued-future", "time", "Response IssueInstant an hour in the future", "SAML Core §3.2.2",
             signed_edit(set_attribute("/samlp:Response", "IssueInstant", _at(FAR)))),
        Case("response-issued-long-ago", "time", "Response and Assertion issued a day ago (before the request)",
             "SAML Core §3.2.2, §2.3.3", signed_edit(lambda r, f, a: [
                 set_attribute("/samlp:Response", "IssueInstant", _at(-timedelta(days=1)))(r, f, a),
                 set_attribute("//saml:Assertion", "IssueInstant", _at(-timedelta(days=1)))(r, f, a)])),
        Case("assertion-issued-future", "time", "Assertion IssueInstant an hour in the future", "SAML Core §2.3.3",
             signed_edit(set_attribute("//saml:Assertion", "IssueInstant", _at(FAR)))),
        Case("instant-not-a-date", "time", "NotOnOrAfter that is not an xs:dateTime", "SAML Core §1.3.3",
             signed_edit(set_attribute(COND, "NotOnOrAfter", "tomorrow"))),
    ]


# -- binding to the request ------------------------------------------------

def _replay(relay: str, victim: bool = True):
    """A Response another browser (the victim's) already used, posted again."""
    def build(a: Attack) -> Forged:
        other = a.other_login()
        f = a.forge.for_request(other.request.request_id)
        forged = doc(f.baseline(a.victim if victim else None))
        other.post(forged)
        return Forged(xml=forged.xml, relay_state=other.request.relay_state if relay == "theirs" else None)
    return build


def _replayed_assertion(sign_response: bool):
    """The victim's already consumed assertion in a new Response for this request."""
    def build(a: Attack) -> Forged:
        other = a.other_login()
        f = a.forge.for_request(other.request.request_id)
        used = f.baseline(a.victim)
        other.post(doc(used))
        root = a.forge.response()
        root.replace(assertion_of(root), assertion_of(used))
        if sign_response:
            a.forge.sign(root)
        return doc(root)
    return build


def _reused_assertion_id(a: Attack) -> Forged:
    """A fresh, IdP-signed assertion whose ID an earlier login already used."""
    other = a.other_login()
    used = a.forge.for_request(other.request.request_id).baseline()
    other.post(doc(used))
    root = a.forge.response()
    assertion_of(root).set("ID", assertion_of(used).get("ID"))
    return doc(a.forge.signed(root))


def _second_answer(a: Attack) -> Forged:
    """The request is answered (attacker logged in), then answered again for the victim."""
    a.post(doc(a.forge.baseline()))
    return doc(a.forge.baseline(a.victim))


def _other_browser(a: Attack) -> Forged:
    """Login CSRF: a Response to a login another browser started, with its RelayState."""
    other = a.other_login()
    return Forged(xml=doc(a.forge.for_request(other.request.request_id).baseline()).xml,
                  relay_state=other.request.relay_state)


OTHER_SP = "https://other-sp.example/saml/metadata"


def _for_other_sp(keep_request: bool):
    def edit(root, f, a) -> None:
        set_text("//saml:Audience", OTHER_SP)(root, f, a)
        set_attribute("/samlp:Response", "Destination", "https://other-sp.example/saml/acs")(root, f, a)
        set_attribute(SCD, "Recipient", "https://other-sp.example/saml/acs")(root, f, a)
        set_attribute("//saml:NameID", "SPNameQualifier", OTHER_SP)(root, f, a)
        if not keep_request:
            set_attribute("/samlp:Response", "InResponseTo", "_" + "a" * 32)(root, f, a)
            set_attribute(SCD, "InResponseTo", "_" + "a" * 32)(root, f, a)
    return edit


def _binding() -> list[Case]:
    wrong = "_" + "0" * 32
    return [
        Case("unsolicited", "binding", "No InResponseTo anywhere (IdP-initiated, unsolicited)", PROFILES + ", §4.1.5",
             signed_edit(lambda r, f, a: [drop_attribute("/samlp:Response", "InResponseTo")(r, f, a),
                                    drop_attribute(SCD, "InResponseTo")(r, f, a)])),
        Case("in-response-to-wrong", "binding", "InResponseTo of a request the SP never made", PROFILES,
             signed_edit(lambda r, f, a: [set_attribute("/samlp:Response", "InResponseTo", wrong)(r, f, a),
                                    set_attribute(SCD, "InResponseTo", wrong)(r, f, a)])),
        Case("in-response-to-wrong-response-only", "binding", "Response InResponseTo wrong, confirmation right",
             "SAML Core §3.2.2", signed_edit(set_attribute("/samlp:Response", "InResponseTo", wrong))),
        Case("in-response-to-wrong-confirmation-only", "binding", "Confirmation InResponseTo wrong, Response right",
             PROFILES, signed_edit(set_attribute(SCD, "InResponseTo", wrong))),
        Case("in-response-to-missing-response", "binding", "Response without InResponseTo, confirmation right",
             "SAML Core §3.2.2", signed_edit(drop_attribute("/samlp:Response", "InResponseTo"))),
        Case("replay-response-other-browser", "binding", "The victim's used Response replayed as it was posted "
             "(their RelayState)", PROFILES + " (one-time use)", _replay("theirs"), victim=True),
        Case("replay-response-own-relaystate", "binding", "The victim's used Response replayed with this "
             "browser's RelayState", PROFILES, _replay("ours"), victim=True),
        Case("replay-assertion-unsigned-response", "binding", "The victim's used assertion in a new, unsigned "
             "Response", PROFILES, _replayed_assertion(False), victim=True),
        Case("replay-assertion-signed-response", "binding", "The victim's used assertion in a new Response the "
             "IdP signed", PROFILES, _replayed_assertion(True), victim=True),
        Case("reused-assertion-id", "binding", "A fresh assertion reusing an already consumed assertion ID",
             PROFILES + " (replay cache by ID)", _reused_assertion_id),
        Case("second-answer-same-request", "binding", "A second Response to an already answered request, for the "
             "victim", "SAML Core §3.2.2 (InResponseTo)", _second_answer, victim=True, second_answer=True),
        Case("login-csrf-other-browser", "binding", "A Response to a login another browser started (login CSRF)",
             "SAML Profiles §4.1.4.3; OWASP login CSRF", _other_browser),
        Case("other-sp-request", "binding", "A Response made for another SP, answering another request",
             PROFILES, signed_edit(_for_other_sp(False))),
        Case("other-sp-this-request", "binding", "A Response made for another SP but carrying this request's ID",
             PROFILES, signed_edit(_for_other_sp(True))),
    ]


# -- audience, destination, recipient, issuer ---------------------------------

def _audience() -> list[Case]:
    response = "/samlp:Response"
    issuers = "//saml:Issuer"
    return [
        Case("audience-other", "audience", "Audience is another SP", CORE_COND + " §2.5.1.4",
             signed_edit(set_text("//saml:Audience", OTHER_SP))),
        Case("audience-prefix", "audience", "Audience is the SP's entity ID plus a suffix", "SAML Core §2.5.1.4",
             signed_edit(set_text("//saml:Audience", lambda f: f.sp_entity_id + ".evil.example"))),
        Case("audience-truncated", "audience", "Audience is the SP's entity ID minus its last character",
             "SAML Core §2.5.1.4", signed_edit(set_text("//saml:Audience", lambda f: f.sp_entity_id[:-1]))),
        Case("audience-case", "audience", "Audience is the SP's entity ID in upper case", "SAML Core §2.5.1.4 "
             "(URIs compare exactly, §1.3.2)",
             signed_edit(set_text("//saml:Audience", lambda f: f.sp_entity_id.upper()))),
        Case("audience-empty", "audience", "An empty Audience", "SAML Core §2.5.1.4",
             signed_edit(set_text("//saml:Audience", ""))),
        Case("audience-missing", "audience", "No AudienceRestriction", PROFILES,
             signed_edit(drop("//saml:AudienceRestriction"))),
        Case("conditions-missing", "audience", "No Conditions at all", PROFILES, signed_edit(drop(COND))),
        Case("audience-second-restriction-other", "audience", "A second AudienceRestriction naming only another SP",
             "SAML Core §2.5.1.4 (every restriction must hold)", signed_edit(_second_restriction)),
        Case("destination-other", "audience", "Destination is another ACS", BINDINGS,
             signed_edit(set_attribute(response, "Destination", "https://other-sp.example/saml/acs"))),
        Case("destination-prefix", "audience", "Destination is this ACS with a suffix", BINDINGS,
             signed_edit(set_attribute(response, "Destination", lambda f: f.acs_url + "/../evil"))),
        Case("destination-missing", "audience", "No Destination on a signed Response", BINDINGS,
             signed_edit(drop_attribute(response, "Destination"))),
        Case("recipient-other", "audience", "SubjectConfirmationData Recipient is another ACS", PROFILES,
             signed_edit(set_attribute(SCD, "Recipient", "https://other-sp.example/saml/acs"))),
        Case("recipient-missing", "audience", "No Recipient on the bearer confirmation", PROFILES,
             signed_edit(drop_attribute(SCD, "Recipient"))),
        Case("issuer-other", "audience", "Both Issuers name another IdP (signed with the real key)",
             "SAML Profiles §4.1.4.2", signed_edit(set_text(issuers, "https://other-idp.example/metadata"))),
        Case("issuer-response-other", "audience", "The Response's Issuer names another IdP", "SAML Profiles §4.1.4.2",
             signed_edit(set_text("/samlp:Response/saml:Issuer", "https://other-idp.example/metadata"))),
        Case("issuer-assertion-other", "audience", "The Assertion's Issuer names another IdP",
             "SAML Profiles §4.1.4.2", signed_edit(set_text("//saml:Assertion/saml:Issuer",
                                                   "https://other-idp.example/metadata"))),
        Case("issuer-assertion-missing", "audience", "The Assertion has no Issuer", "SAML Core §2.3.3",
             signed_edit(drop("//saml:Assertion/saml:Issuer"))),
        Case("issuer-format-transient", "audience", "Issuer with a transient NameID Format", "SAML Core §2.2.5",
             signed_edit(set_attribute(issuers, "Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"))),
        Case("issuer-whitespace", "audience", "Issuer with surrounding spaces", "SAML Core §1.3.2",
             signed_edit(set_text(issuers, lambda f: f" {f.signer.entity_id} "))),
    ]


def _second_restriction(root, f, a) -> None:
    restriction = etree.SubElement(root.find(f".//{q('saml', 'Conditions')}"), q("saml", "AudienceRestriction"))
    etree.SubElement(restriction, q("saml", "Audience")).text = OTHER_SP


# -- subject -----------------------------------------------------------------

def _method(uri: str):
    return signed_edit(set_attribute("//saml:SubjectConfirmation", "Method", uri))


NAMEID = "//saml:Subject/saml:NameID"


def _subject() -> list[Case]:
    formats = {
        "email": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "unspecified": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        "x509": "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
        "windows": "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName",
        "kerberos": "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos",
        "entity": "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
        "unknown": "urn:example:attacker:nameid-format",
    }
    cases = [
        Case("confirmation-holder-of-key", "subject", "Only a holder-of-key SubjectConfirmation", PROFILES,
             _method("urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")),
        Case("confirmation-sender-vouches", "subject", "Only a sender-vouches SubjectConfirmation", PROFILES,
             _method("urn:oasis:names:tc:SAML:2.0:cm:sender-vouches")),
        Case("confirmation-unknown-method", "subject", "A SubjectConfirmation of an unknown method", PROFILES,
             _method("urn:example:attacker:cm")),
        Case("confirmation-missing", "subject", "No SubjectConfirmation", PROFILES,
             signed_edit(drop("//saml:SubjectConfirmation"))),
        Case("confirmation-data-missing", "subject", "Bearer confirmation without SubjectConfirmationData",
             PROFILES, signed_edit(drop(SCD))),
        Case("confirmation-no-not-on-or-after", "subject", "Bearer confirmation without NotOnOrAfter", PROFILES,
             signed_edit(drop_attribute(SCD, "NotOnOrAfter"))),
        Case("confirmation-not-before", "subject", "Bearer confirmation with a NotBefore (forbidden)", PROFILES,
             signed_edit(set_attribute(SCD, "NotBefore", _at(timedelta(0))))),
        Case("nameid-empty", "subject", "An empty NameID", "SAML Core §2.2.3", signed_edit(set_text(NAMEID, ""))),
        Case("nameid-blank", "subject", "A NameID of white space only", "SAML Core §2.2.3",
             signed_edit(set_text(NAMEID, "  \n\t "))),
        Case("nameid-missing", "subject", "A Subject without NameID", PROFILES, signed_edit(drop(NAMEID))),
        Case("subject-missing", "subject", "No Subject at all", PROFILES, signed_edit(drop("//saml:Subject"))),
        Case("nameid-sp-qualifier-other", "subject", "NameID SPNameQualifier names another SP", "SAML Core §2.2.2",
             signed_edit(set_attribute(NAMEID, "SPNameQualifier", OTHER_SP))),
        Case("nameid-qualifier-other", "subject", "NameID NameQualifier names another IdP", "SAML Core §2.2.2",
             signed_edit(set_attribute(NAMEID, "NameQualifier", "https://other-idp.example/metadata"))),
        Case("nameid-encrypted-garbage", "subject", "An EncryptedID of garbage instead of the NameID",
             "SAML Core §2.2.4", signed_edit(_encrypted_id)),
        Case("authn-statement-missing", "subject", "No AuthnStatement", PROFILES, signed_edit(drop(AUTHN))),
    ]
    for label, uri in formats.items():
        cases.append(Case(f"nameid-format-{label}", "subject", f"NameID Format {uri.rsplit(':', 1)[-1]} "
                          "(the SP asked for persistent)", "SAML Core §3.4.1.1 (NameIDPolicy), §8.3",
                          signed_edit(set_attribute(NAMEID, "Format", uri))))
    return cases


def _encrypted_id(root, f, a) -> None:
    name_id = root.find(f".//{q('saml', 'NameID')}")
    encrypted = etree.Element(q("saml", "EncryptedID"))
    data = etree.SubElement(encrypted, "{http://www.w3.org/2001/04/xmlenc#}EncryptedData")
    cipher = etree.SubElement(etree.SubElement(data, "{http://www.w3.org/2001/04/xmlenc#}CipherData"),
                              "{http://www.w3.org/2001/04/xmlenc#}CipherValue")
    cipher.text = base64.b64encode(b"garbage" * 8).decode()
    name_id.getparent().replace(name_id, encrypted)


CASES: tuple[Case, ...] = (*_time(), *_binding(), *_audience(), *_subject())
