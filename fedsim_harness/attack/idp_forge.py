"""Forging the AuthnRequests a hostile SP sends an IdP (HTTP-Redirect
binding, SAML Bindings §3.4).

``SpKey`` is the key of an SP the IdP knows (its key and certificate from
the certs folder) or one the attacker made (``rogue_key``). ``RequestForge``
builds a correct AuthnRequest for that SP (``request``: an lxml tree to
tamper with) and encodes it as the query string a browser carries to the
IdP's SSO endpoint (``redirect``), signed the way the binding says, or
signed wrongly when a case asks for it. What is sent is a ``Hostile``.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from fedsim_harness.attack.forge import instant

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NSMAP = {"samlp": SAMLP, "saml": SAML}
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
DSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#dsa-sha1"
HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
_HASHES = {RSA_SHA256: hashes.SHA256, RSA_SHA512: hashes.SHA512, RSA_SHA1: hashes.SHA1}


def p(local: str) -> str:
    return f"{{{SAMLP}}}{local}"


def a(local: str) -> str:
    return f"{{{SAML}}}{local}"


@dataclass(frozen=True)
class SpKey:
    """An SP's signing key and its certificate (PEM)."""
    entity_id: str
    key: rsa.RSAPrivateKey
    cert_pem: bytes = b""

    @classmethod
    def from_files(cls, entity_id: str, key_file: Path, cert_file: Path | None = None) -> SpKey:
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_file}: not an RSA private key")  # noqa: TRY004 - bad file content
        return cls(entity_id, key, Path(cert_file).read_bytes() if cert_file else b"")

    @property
    def cert_der(self) -> bytes:
        if not self.cert_pem:
            return b""
        return x509.load_pem_x509_certificate(self.cert_pem).public_bytes(serialization.Encoding.DER)


@functools.lru_cache(maxsize=4)
def rogue_key(entity_id: str) -> SpKey:
    """A key pair the attacker made, claiming ``entity_id`` (once per process)."""
    from fedsim import certs

    key_pem, cert_pem = certs.self_signed("attacker", years=1)
    key = serialization.load_pem_private_key(key_pem, password=None)
    return SpKey(entity_id, key, cert_pem)


def deflate(xml: bytes) -> str:
    """Raw DEFLATE then base64 (SAML Bindings §3.4.4.1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml) + compressor.flush()).decode("ascii")


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="utf-8")


def rsa_sign(key: rsa.RSAPrivateKey, data: str, algorithm: str = RSA_SHA256) -> str:
    digest = _HASHES.get(algorithm, hashes.SHA256)()
    return base64.b64encode(key.sign(data.encode("ascii"), padding.PKCS1v15(), digest)).decode("ascii")


def hmac_sign(secret: bytes, data: str) -> str:
    return base64.b64encode(hmac.new(secret, data.encode("ascii"), hashlib.sha256).digest()).decode("ascii")


@dataclass(frozen=True)
class Hostile:
    """What the hostile SP sends: a GET of ``url`` (the SSO URL and
    ``query``), or a POST of ``form`` when given; ``xml``: the request as
    built (for the report)."""
    query: str = ""
    form: dict[str, str] | None = None
    xml: str = ""
    relay_state: str | None = None
    url: str | None = None        # None: the IdP's SSO URL

    @property
    def method(self) -> str:
        return "GET" if self.form is None else "POST"


@dataclass
class RequestForge:
    """Builds AuthnRequests of ``sp`` for the IdP at ``sso_url``."""
    sp: SpKey
    sso_url: str
    acs_url: str
    now: datetime
    relay_state: str = field(default_factory=lambda: "rs-" + secrets.token_hex(6))

    def request(self, *, request_id: str | None = None, issue_instant: datetime | None = None,
                name_id_policy: bool = False) -> etree._Element:
        """A correct AuthnRequest, as Mon Espace or Modigia send one."""
        root = etree.Element(p("AuthnRequest"), nsmap=NSMAP)
        root.set("ID", request_id or "_" + secrets.token_hex(16))
        root.set("Version", "2.0")
        root.set("IssueInstant", instant(issue_instant or self.now))
        root.set("Destination", self.sso_url)
        root.set("ProtocolBinding", POST)
        root.set("AssertionConsumerServiceURL", self.acs_url)
        issuer = etree.SubElement(root, a("Issuer"), Format=ENTITY)
        issuer.text = self.sp.entity_id
        if name_id_policy:
            etree.SubElement(root, p("NameIDPolicy"), AllowCreate="true")
        return root

    def redirect(self, message: etree._Element | bytes | str | None = None, *, param: str = "SAMLRequest",
                 relay_state: str | None = "", sig_alg: str | None = RSA_SHA256, key: SpKey | None = None,
                 signature: str | None = None, signed_relay_state: str | None = None,
                 signed_string: str | None = None, extra: str = "") -> Hostile:
        """The query string for ``message`` (a tree; bytes are deflated;
        a str is the parameter's value as is): signed with the SP's key
        unless ``sig_alg`` is None. ``relay_state`` "" means the forge's,
        None none. ``signature`` replaces the computed one; ``signed_relay_state``
        is what the signature covers instead of the RelayState sent;
        ``signed_string`` what is signed instead; ``extra`` is appended."""
        if message is None:
            message = self.request()
        xml = ""
        if isinstance(message, etree._Element):
            data = to_bytes(message)
            value, xml = deflate(data), data.decode("utf-8", "replace")
        elif isinstance(message, bytes):
            value, xml = deflate(message), message.decode("utf-8", "replace")
        else:
            value = message
        relay = self.relay_state if relay_state == "" else relay_state
        parts = [f"{param}={quote_plus(value)}"]
        if relay is not None:
            parts.append(f"RelayState={quote_plus(relay)}")
        if sig_alg is not None:
            parts.append(f"SigAlg={quote_plus(sig_alg)}")
            covered = list(parts)
            if signed_relay_state is not None:
                covered = [part for part in covered if not part.startswith("RelayState=")]
                if signed_relay_state:
                    covered.insert(1, f"RelayState={quote_plus(signed_relay_state)}")
            text = signed_string if signed_string is not None else "&".join(covered)
            if signature is None:
                if sig_alg == HMAC_SHA256:
                    signature = hmac_sign((key or self.sp).cert_der, text)
                else:
                    signature = rsa_sign((key or self.sp).key, text, sig_alg)
            parts.append(f"Signature={quote_plus(signature)}")
        query = "&".join(parts) + extra
        return Hostile(query=query, xml=xml, relay_state=relay)

    def later(self, delta: timedelta) -> datetime:
        return self.now + delta
