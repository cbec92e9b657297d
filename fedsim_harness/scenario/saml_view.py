"""SAML messages as a person reads them, for reports: what kind of message,
from whom to whom, about whom, with which attributes and level, valid when,
and which key signed it — verified, not taken on the message's word.

Signatures are checked as the federation's own SPs check them
(``fedsim.saml.xmlsec_backend.verify_enveloped``: key from metadata only,
never from KeyInfo; the one enveloped signature that references the
element's ID; exc-c14n, SHA-256+), against the certificates of the
federation's metadata files (:class:`Trust`, e.g. from its ``certs/``
folder). Redirect-binding signatures are checked on the query string as sent
(``fedsim.saml.redirect.verify``). A message that cannot be checked says why.

Everything here is plain picklable data; nothing is escaped here (message
content is attacker-controllable: whoever renders it escapes it)."""
from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from lxml import etree

from fedsim.saml import redirect
from fedsim.saml.errors import SamlRefused
from fedsim.saml.xmlsec_backend import SignatureRefused, certificate_key, parse_document, verify_enveloped
from fedsim.xmlsafe import hardened_parser
from fedsim_harness.scenario.saml_trust import NamedCertificate, Trust, short_fingerprint

__all__ = ["AssertionView", "NamedCertificate", "SamlView", "SignatureCheck", "Trust", "assertion_facts", "read",
           "read_all", "short_uri"]

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}
_SHORT_URIS = ("urn:oasis:names:tc:SAML:2.0:status:", "urn:oasis:names:tc:SAML:2.0:nameid-format:",
               "urn:oasis:names:tc:SAML:1.1:nameid-format:", "http://www.w3.org/2001/04/xmldsig-more#",
               "http://www.w3.org/2000/09/xmldsig#")


# -- what a message says ---------------------------------------------------------------


@dataclass(frozen=True)
class SignatureCheck:
    """One signature of a message (or the lack of one), checked."""
    what: str  # "Response", "Assertion", "AuthnRequest (query string)"…
    verified: bool | None  # None: could not be checked (no metadata given, no signed copy kept)
    signer: str = ""  # the key that verified it (NamedCertificate.label)
    algorithm: str = ""  # RSA-SHA256…
    reason: str = ""  # why it is not verified
    claimed: str = ""  # the certificate the message itself carries in KeyInfo (never trusted)

    @property
    def summary(self) -> str:
        """« signature verified: csam-idp (CSAM), certificate SHA-256 … » or
        « signature NOT verified: why »."""
        if self.verified:
            return f"signature verified ({self.algorithm or 'enveloped'}) with {self.signer}"
        if self.verified is None:
            return f"signature not checked: {self.reason}"
        return f"signature NOT verified: {self.reason}"


@dataclass(frozen=True)
class AssertionView:
    id: str = ""
    issuer: str = ""
    issue_instant: str = ""
    name_id: str = ""
    name_id_format: str = ""
    name_qualifiers: str = ""  # NameQualifier / SPNameQualifier
    audiences: tuple[str, ...] = ()
    not_before: str = ""
    not_on_or_after: str = ""
    confirmation: str = ""  # bearer, Recipient, NotOnOrAfter, InResponseTo
    level: tuple[str, ...] = ()  # AuthnContextClassRef
    authn_instant: str = ""
    session_index: str = ""
    session_not_on_or_after: str = ""
    authorities: tuple[str, ...] = ()  # AuthenticatingAuthority
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, values)
    signature: SignatureCheck | None = None


@dataclass(frozen=True)
class SamlView:
    """One SAML message, read."""
    parameter: str  # SAMLRequest / SAMLResponse
    binding: str  # HTTP-Redirect / HTTP-POST
    url: str  # where the browser carried it
    kind: str = ""  # AuthnRequest, Response, LogoutRequest, LogoutResponse…
    id: str = ""
    in_response_to: str = ""
    issuer: str = ""
    issuer_name: str = ""  # csam-idp (CSAM), when the issuer is one of the federation's entities
    destination: str = ""
    issue_instant: str = ""
    status: str = ""  # Success, or Responder / NoAuthnContext: message
    # AuthnRequest
    acs_url: str = ""
    options: tuple[str, ...] = ()  # ForceAuthn, IsPassive, NameIDPolicy…
    requested_level: str = ""  # RequestedAuthnContext: comparison and class refs
    # LogoutRequest
    name_id: str = ""
    name_id_format: str = ""
    session_index: str = ""
    not_on_or_after: str = ""
    relay_state: str = ""
    sig_alg: str = ""  # HTTP-Redirect: the query string's SigAlg
    assertions: tuple[AssertionView, ...] = ()
    signatures: tuple[SignatureCheck, ...] = ()  # of the message itself (enveloped or query string)
    xml: str = ""  # pretty-printed, as sent (signatures included when the trace kept them)
    error: str = ""  # why it could not be read

    @property
    def title(self) -> str:
        return f"{self.kind or self.parameter} ({self.binding})"

    @property
    def headline(self) -> str:
        """« Response (HTTP-POST): csam-idp (CSAM) → http://…/saml/sp/acs »."""
        source = self.issuer_name or self.issuer or "(no Issuer)"
        return f"{self.title}: {source} → {self.destination or self.url}"

    @property
    def verified(self) -> bool | None:
        """True when every signature verified, False when one did not, None when none was checked."""
        checks = [*self.signatures, *(a.signature for a in self.assertions if a.signature)]
        if any(c.verified is False for c in checks):
            return False
        return True if any(c.verified for c in checks) else None

    def facts(self) -> list[tuple[str, str]]:
        """The message's header as (label, value), empty ones left out (its
        kind and binding are in :attr:`headline`)."""
        sent_elsewhere = self.url if self.url != self.destination else ""  # shown when they differ
        rows = [("From (Issuer)", _named(self.issuer, self.issuer_name)),
                ("To (Destination)", self.destination), ("Sent to", sent_elsewhere), ("ID", self.id),
                ("InResponseTo", self.in_response_to), ("IssueInstant", self.issue_instant),
                ("Status", self.status), ("AssertionConsumerServiceURL", self.acs_url),
                ("Requested level (RequestedAuthnContext)", self.requested_level),
                ("Options", ", ".join(self.options)),
                ("NameID", _with_format(self.name_id, self.name_id_format)),
                ("SessionIndex", self.session_index), ("NotOnOrAfter", self.not_on_or_after),
                ("RelayState", self.relay_state), ("SigAlg (query string)", self.sig_alg)]
        return [(label, value) for label, value in rows if value]


def assertion_facts(assertion: AssertionView) -> list[tuple[str, str]]:
    """An assertion's content as (label, value), empty ones left out."""
    window = " → ".join(v for v in (assertion.not_before, assertion.not_on_or_after) if v)
    rows = [("Assertion ID", assertion.id), ("Issuer", assertion.issuer), ("IssueInstant", assertion.issue_instant),
            ("NameID", _with_format(assertion.name_id, assertion.name_id_format)),
            ("NameID qualifiers", assertion.name_qualifiers),
            ("Audience", ", ".join(assertion.audiences)),
            ("Valid (Conditions NotBefore → NotOnOrAfter)", window),
            ("SubjectConfirmation", assertion.confirmation),
            ("Level (AuthnContextClassRef)", ", ".join(assertion.level)),
            ("AuthnInstant", assertion.authn_instant), ("SessionIndex", assertion.session_index),
            ("SessionNotOnOrAfter", assertion.session_not_on_or_after),
            ("AuthenticatingAuthority", ", ".join(assertion.authorities))]
    return [(label, value) for label, value in rows if value]


def _named(entity_id: str, name: str) -> str:
    return f"{entity_id} — {name}" if entity_id and name else entity_id


def _with_format(value: str, name_format: str) -> str:
    return f"{value} (format {short_uri(name_format)})" if value and name_format else value


def short_uri(uri: str) -> str:
    """``urn:oasis:names:tc:SAML:2.0:status:Success`` → ``Success``."""
    for prefix in _SHORT_URIS:
        if uri.startswith(prefix):
            short = uri[len(prefix):]
            return short.upper() if prefix.startswith("http://www.w3.org/") else short  # RSA-SHA256
    return uri


# -- reading ---------------------------------------------------------------------------


def read(message: object, trust: Trust | None = None) -> SamlView:
    """The view of a ``SamlMessage`` of the scripted or the Chromium browser
    (``kind``, ``url``, ``xml``; ``raw`` and ``query`` when the trace kept
    them). Signatures are checked against ``trust`` (not checked without it)."""
    raw = getattr(message, "raw", "") or ""
    query = getattr(message, "query", "") or ""
    text = raw or message.xml
    base = {"parameter": message.kind, "binding": "HTTP-Redirect" if query else "HTTP-POST", "url": message.url}
    params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    base |= {"relay_state": params.get("RelayState", ""), "sig_alg": short_uri(params.get("SigAlg", ""))}
    if text.startswith("(undecodable"):
        return SamlView(**base, error=text, xml=text)
    try:
        root = parse_document(text.encode("utf-8")).getroot()
    except SignatureRefused as exc:
        return SamlView(**base, error=f"not readable XML: {exc}", xml=text)
    kind = etree.QName(root).localname
    issuer = _text(root, "saml:Issuer")
    checks = _message_signatures(root, kind, issuer, query, trust, bool(raw))
    view = SamlView(
        **base, kind=kind, id=root.get("ID", ""), in_response_to=root.get("InResponseTo", ""), issuer=issuer,
        issuer_name=trust.name_of(issuer) if trust else "", destination=root.get("Destination", ""),
        issue_instant=root.get("IssueInstant", ""), status=_status(root),
        acs_url=root.get("AssertionConsumerServiceURL", ""), options=_options(root), requested_level=_requested(root),
        name_id=_text(root, "saml:NameID"), name_id_format=_attr(root, "saml:NameID", "Format"),
        session_index=_text(root, "samlp:SessionIndex"), not_on_or_after=root.get("NotOnOrAfter", ""),
        assertions=tuple(_assertion(a, trust, bool(raw)) for a in root.iterfind(".//saml:Assertion", NS)),
        signatures=tuple(checks), xml=pretty(root))
    return view


def read_all(messages: Sequence[object], trust: Trust | None = None) -> list[SamlView]:
    return [read(m, trust) for m in messages]


def pretty(root: etree._Element) -> str:
    copy = etree.fromstring(etree.tostring(root), hardened_parser(remove_blank_text=True))
    etree.indent(copy, space="  ")
    return etree.tostring(copy, encoding="unicode")


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def _attr(element: etree._Element, path: str, name: str) -> str:
    found = element.find(path, NS)
    return found.get(name, "") if found is not None else ""


def _status(root: etree._Element) -> str:
    code = root.find("samlp:Status/samlp:StatusCode", NS)
    if code is None:
        return ""
    parts = [short_uri(code.get("Value", ""))]
    parts += [short_uri(sub.get("Value", "")) for sub in code.iterfind(".//samlp:StatusCode", NS)]
    message = _text(root, "samlp:Status/samlp:StatusMessage")
    return " / ".join(parts) + (f": {message}" if message else "")


def _options(root: etree._Element) -> tuple[str, ...]:
    options = [f"{name}={root.get(name)}" for name in ("ForceAuthn", "IsPassive", "ProtocolBinding", "Reason")
               if root.get(name)]
    policy = root.find("samlp:NameIDPolicy", NS)
    if policy is not None:
        details = ", ".join(f"{k}={short_uri(v)}" for k, v in policy.attrib.items())
        options.append(f"NameIDPolicy ({details})" if details else "NameIDPolicy")
    return tuple(options)


def _requested(root: etree._Element) -> str:
    requested = root.find("samlp:RequestedAuthnContext", NS)
    if requested is None:
        return ""
    refs = [(r.text or "").strip() for r in requested.iterfind("saml:AuthnContextClassRef", NS)]
    return f"{requested.get('Comparison', 'exact')}: {', '.join(refs)}"


def _assertion(assertion: etree._Element, trust: Trust | None, has_raw: bool) -> AssertionView:
    issuer = _text(assertion, "saml:Issuer")
    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    qualifiers = ", ".join(f"{k}={name_id.get(k)}" for k in ("NameQualifier", "SPNameQualifier")
                           if name_id is not None and name_id.get(k))
    confirmations = []
    for confirmation in assertion.iterfind("saml:Subject/saml:SubjectConfirmation", NS):
        data = confirmation.find("saml:SubjectConfirmationData", NS)
        details = [f"{k}={data.get(k)}" for k in ("Recipient", "NotOnOrAfter", "NotBefore", "InResponseTo")
                   if data is not None and data.get(k)]
        confirmations.append(short_uri(confirmation.get("Method", "")).rpartition(":")[2]
                             + (f" ({', '.join(details)})" if details else ""))
    conditions = assertion.find("saml:Conditions", NS)
    statement = assertion.find("saml:AuthnStatement", NS)
    attributes = []
    for attribute in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NS):
        name = attribute.get("Name", "")
        friendly = attribute.get("FriendlyName", "")
        label = f"{friendly} ({name})" if friendly and friendly != name else name
        values = tuple("".join(v.itertext()).strip() for v in attribute.iterfind("saml:AttributeValue", NS))
        attributes.append((label, values))
    return AssertionView(
        id=assertion.get("ID", ""), issuer=issuer, issue_instant=assertion.get("IssueInstant", ""),
        name_id=(name_id.text or "").strip() if name_id is not None else "",
        name_id_format=name_id.get("Format", "") if name_id is not None else "", name_qualifiers=qualifiers,
        audiences=tuple((a.text or "").strip() for a in assertion.iterfind(".//saml:Audience", NS)),
        not_before=conditions.get("NotBefore", "") if conditions is not None else "",
        not_on_or_after=conditions.get("NotOnOrAfter", "") if conditions is not None else "",
        confirmation="; ".join(confirmations),
        level=tuple((r.text or "").strip() for r in assertion.iterfind(".//saml:AuthnContextClassRef", NS)),
        authn_instant=statement.get("AuthnInstant", "") if statement is not None else "",
        session_index=statement.get("SessionIndex", "") if statement is not None else "",
        session_not_on_or_after=statement.get("SessionNotOnOrAfter", "") if statement is not None else "",
        authorities=tuple((a.text or "").strip() for a in assertion.iterfind(".//saml:AuthenticatingAuthority", NS)),
        attributes=tuple(attributes),
        signature=_enveloped(assertion, "Assertion", issuer, trust, has_raw, required=True))


# -- signatures ------------------------------------------------------------------------


def _message_signatures(root: etree._Element, kind: str, issuer: str, query: str, trust: Trust | None,
                        has_raw: bool) -> list[SignatureCheck]:
    checks = []
    if query:
        checks.append(_query_signature(kind, issuer, query, trust))
    # The Web SSO profile wants a Response signed; other messages may be signed
    # either way (query string or enveloped): say so only when they are.
    enveloped = _enveloped(root, kind, issuer, trust, has_raw, required=kind == "Response" and not query)
    if enveloped is not None:
        checks.append(enveloped)
    if not checks:
        checks.append(SignatureCheck(kind, False, reason="the message is not signed"))
    return checks


def _enveloped(element: etree._Element, what: str, issuer: str, trust: Trust | None, has_raw: bool,
               *, required: bool) -> SignatureCheck | None:
    signature = element.find("ds:Signature", NS)
    if signature is None:
        if not has_raw:
            return SignatureCheck(what, None, reason="the trace kept no signed copy of the message") \
                if required else None
        return SignatureCheck(what, False, reason=f"the {what} is not signed") if required else None
    algorithm = short_uri(_attr(signature, "ds:SignedInfo/ds:SignatureMethod", "Algorithm"))
    claimed = _claimed(signature, trust)
    if not has_raw:
        return SignatureCheck(what, None, algorithm=algorithm, reason="the trace kept no signed copy of the message")
    if trust is None:
        return SignatureCheck(what, None, algorithm=algorithm, claimed=claimed,
                              reason="no metadata given to check it against")
    if not issuer:
        return SignatureCheck(what, False, algorithm=algorithm, claimed=claimed,
                              reason=f"the {what} names no Issuer: whose key should sign it is unknown")
    published = trust.of(issuer)
    if not published:
        return SignatureCheck(what, False, algorithm=algorithm, claimed=claimed,
                              reason=f"the issuer {issuer} publishes no signing certificate in the "
                                     f"federation's metadata")
    failures = []
    for cert in published:
        try:
            verify_enveloped(element, [certificate_key(cert.certificate)])
        except SignatureRefused as exc:
            failures.append(str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - a report says why, it does not crash
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        return SignatureCheck(what, True, signer=cert.label, algorithm=algorithm, claimed=claimed)
    return SignatureCheck(what, False, algorithm=algorithm, claimed=claimed,
                          reason=f"no key of {issuer} in metadata verifies it ({_first(failures)})")


def _claimed(signature: etree._Element, trust: Trust | None) -> str:
    """The certificate in KeyInfo, named when it is one the federation publishes."""
    cert = "".join((signature.findtext(".//ds:X509Certificate", "", NS)).split())
    if not cert:
        return ""
    try:
        fingerprint = short_fingerprint(cert)
    except (binascii.Error, ValueError):
        return "KeyInfo carries an unreadable certificate"
    known = trust.named(cert) if trust else None
    return f"KeyInfo carries {known.label}" if known else f"KeyInfo carries a certificate {fingerprint}"


def _query_signature(kind: str, issuer: str, query: str, trust: Trust | None) -> SignatureCheck:
    what = f"{kind} (query string)"
    params = dict(parse_qsl(query, keep_blank_values=True))
    algorithm = short_uri(params.get("SigAlg", ""))
    if "Signature" not in params:
        return SignatureCheck(what, False, reason="the query string carries no Signature")
    if trust is None:
        return SignatureCheck(what, None, algorithm=algorithm, reason="no metadata given to check it against")
    published = trust.of(issuer) if issuer else []
    if not published:
        return SignatureCheck(what, False, algorithm=algorithm,
                              reason=f"the issuer {issuer or '(none)'} publishes no signing certificate "
                                     f"in the federation's metadata")
    failures = []
    for cert in published:
        try:
            redirect.verify(query, [cert.certificate])
        except SamlRefused as exc:
            failures.append(exc.reason)
            continue
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        return SignatureCheck(what, True, signer=cert.label, algorithm=algorithm)
    return SignatureCheck(what, False, algorithm=algorithm,
                          reason=f"no key of {issuer} in metadata verifies it ({_first(failures)})")


def _first(failures: list[str]) -> str:
    return (failures[0] if failures else "no key")[:300]
