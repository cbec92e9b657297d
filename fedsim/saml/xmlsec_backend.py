"""pysaml2 crypto backend on the in-process ``xmlsec`` package (no xmlsec1 child process).

Verification fails closed: the key comes only from the certificate file that
pysaml2 hands over (taken from metadata), the signature must be enveloped in
the one element carrying the referenced ID, and only exc-c14n, enveloped
signature, SHA-256+ digests and RSA/ECDSA-SHA256+ signatures are accepted.
Any refusal raises :class:`saml2.sigver.SignatureError`: pysaml2's metadata
store ignores the boolean result of ``verify_signature`` and only reacts to
exceptions, so this backend never returns ``False``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from typing import Any, NoReturn

import xmlsec
from lxml import etree

import saml2.sigver as sigver
from saml2 import SamlBase
from saml2.s_utils import Unsupported

from fedsim.xmlsafe import hardened_parser

__all__ = ["XmlsecBackend", "SignatureRefused", "certificate_key", "install", "parse_document",
           "security_context", "sign_enveloped", "signing_key", "verify_enveloped"]

logger = logging.getLogger(__name__)

DS = "http://www.w3.org/2000/09/xmldsig#"
_EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = DS + "enveloped-signature"
_T = "{" + DS + "}"  # Clark prefix for ds: element tags
_C = xmlsec.constants
CANONICALIZATIONS = {_EC: _C.TransformExclC14N, _EC + "WithComments": _C.TransformExclC14NWithComments}
DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": _C.TransformSha256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": _C.TransformSha384,
    "http://www.w3.org/2001/04/xmlenc#sha512": _C.TransformSha512,
}
SIGNATURES = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": _C.TransformRsaSha256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": _C.TransformRsaSha384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": _C.TransformRsaSha512,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": _C.TransformEcdsaSha256,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": _C.TransformEcdsaSha384,
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": _C.TransformEcdsaSha512,
}
# Attribute local names (any namespace, case-insensitive) treated as IDs for uniqueness checks.
ID_ATTRIBUTES = frozenset({"id", "assertionid", "requestid", "responseid"})
_CERT_FORMATS = {"pem": xmlsec.KeyFormat.CERT_PEM, "der": xmlsec.KeyFormat.CERT_DER}
_local = threading.local()


class _Refused(Exception):
    """A document, template or key that this backend will not sign or accept."""


def _parser() -> etree.XMLParser:
    """Per-thread hardened parser: no DTD, no entities, no network, no ID collection."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = hardened_parser(collect_ids=False)
    return parser


def _parse(text: str | bytes) -> etree._ElementTree:
    try:  # UTF-8 only, so that the byte check below cannot be dodged (UTF-16…)
        if isinstance(text, str):
            data = text.encode("utf-8")
        else:  # strict UTF-8 decodes only canonical sequences: encoding them again would give the same bytes
            data = bytes(text)
            data.decode("utf-8")
    except UnicodeError as exc:
        raise _Refused(f"documents must be UTF-8: {exc}") from exc
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _Refused("DOCTYPE/ENTITY declarations are not allowed")
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except (etree.LxmlError, ValueError) as exc:
        raise _Refused(f"not well-formed XML: {exc}") from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise _Refused("DOCTYPE declarations are not allowed")
    return tree


def _refuse_duplicate_ids(root: etree._Element) -> None:
    seen: Counter[str] = Counter()
    for element in root.iter(etree.Element):
        for name, value in element.items():
            if name.rpartition("}")[2].lower() in ID_ATTRIBUTES:
                seen[value] += 1
    duplicates = sorted(value for value, count in seen.items() if count > 1)
    if duplicates:
        raise _Refused(f"duplicate IDs in document: {duplicates[:5]}")


def _target(tree: etree._ElementTree, node_name: str, node_id: str | None) -> tuple[etree._Element, str]:
    """The one element of type ``node_name`` whose ID is ``node_id`` (the root if no ID is given)."""
    root = tree.getroot()
    if node_id is None:
        node_id = root.get("ID")
        if not node_id:
            raise _Refused("no node ID given and the root element has no ID")
    _refuse_duplicate_ids(root)
    matches = root.xpath("//*[@ID=$i]", i=node_id)
    if len(matches) != 1:
        raise _Refused(f"{len(matches)} elements carry ID {node_id!r}")
    target = matches[0]
    namespace, _, local = node_name.rpartition(":")
    qname = etree.QName(target)
    if qname.localname != local or (namespace and qname.namespace != namespace):
        raise _Refused(f"element with ID {node_id!r} is {target.tag}, not {node_name}")
    return target, node_id


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _algorithm(element: etree._Element, allowed: dict[str, Any] | set[str], what: str) -> str:
    algorithm = element.get("Algorithm", "")
    if algorithm not in allowed:
        raise _Refused(f"{what} {algorithm!r} is not allowed")
    if any(child.tag != "{" + _EC + "}InclusiveNamespaces" for child in _children(element)):
        raise _Refused(f"{what} {algorithm!r} has unexpected child elements")
    return algorithm


def _signature(target: etree._Element, node_id: str) -> etree._Element:
    """The single enveloped ds:Signature of ``target``, checked against the SAML signature profile."""
    signatures = [child for child in target if child.tag == _T + "Signature"]
    if len(signatures) != 1:
        raise _Refused(f"{len(signatures)} ds:Signature direct children in element {node_id!r} (need 1)")
    parts = _children(signatures[0])
    tags = [part.tag for part in parts]
    if tags[:2] != [_T + "SignedInfo", _T + "SignatureValue"] or tags[2:] not in ([], [_T + "KeyInfo"]):
        raise _Refused(f"ds:Signature content {tags} (ds:Object or other extras are refused)")
    info = _children(parts[0])
    if [i.tag for i in info] != [_T + "CanonicalizationMethod", _T + "SignatureMethod", _T + "Reference"]:
        raise _Refused("SignedInfo must hold CanonicalizationMethod, SignatureMethod and exactly one Reference")
    _algorithm(info[0], CANONICALIZATIONS, "CanonicalizationMethod")
    _algorithm(info[1], SIGNATURES, "SignatureMethod")
    reference = info[2]
    if reference.get("URI") != "#" + node_id:
        raise _Refused(f"Reference URI {reference.get('URI')!r} is not '#{node_id}'")
    ref_parts = _children(reference)
    if [r.tag for r in ref_parts] != [_T + "Transforms", _T + "DigestMethod", _T + "DigestValue"]:
        raise _Refused("Reference must hold Transforms, DigestMethod and DigestValue")
    transforms = _children(ref_parts[0])
    allowed = {ENVELOPED, *CANONICALIZATIONS}
    algorithms = [_algorithm(t, allowed, "Transform") for t in transforms if t.tag == _T + "Transform"]
    if len(algorithms) != len(transforms) or not 1 <= len(algorithms) <= 2 or algorithms.count(ENVELOPED) != 1:
        raise _Refused(f"transforms {algorithms} (need enveloped-signature, optionally one exc-c14n)")
    _algorithm(ref_parts[1], DIGESTS, "DigestMethod")
    return signatures[0]


@functools.lru_cache(maxsize=128)
def _key_from_bytes(data: bytes, key_format: int) -> xmlsec.Key:
    """Cached on file content: pysaml2 writes metadata certs to fresh temp files."""
    return xmlsec.Key.from_memory(data, key_format)


def _load_key(path: str, key_format: int) -> xmlsec.Key:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return _key_from_bytes(data, key_format)
    except xmlsec.Error as exc:
        raise _Refused(f"cannot load key/certificate from {path}: {exc}") from exc


class SignatureRefused(Exception):
    """An enveloped signature that :func:`verify_enveloped` does not accept; the message says why."""


def parse_document(data: bytes) -> etree._ElementTree:
    """Parse a whole SAML message as this backend does before verifying it:
    UTF-8 only, no DOCTYPE or entity declaration, hardened parser.
    Raises SignatureRefused (the message says what is wrong)."""
    try:
        return _parse(data)
    except _Refused as exc:
        raise SignatureRefused(str(exc)) from None


@functools.lru_cache(maxsize=128)
def certificate_key(certificate_b64: str) -> xmlsec.Key:
    """An xmlsec key for a certificate as metadata carries it (base64 DER,
    any white space): its public key only. Trust comes from the metadata, not
    from the certificate; and xmlsec duplicates a key into every signature
    context, which for a certificate key costs more than the RSA check."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = base64.b64decode("".join(certificate_b64.split()), validate=True)
    try:
        public = x509.load_der_x509_certificate(der).public_key()
    except ValueError as exc:
        raise xmlsec.Error(f"unreadable certificate: {exc}") from None
    return xmlsec.Key.from_memory(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
                                  xmlsec.KeyFormat.PEM)


def _verify(target: etree._Element, node_id: str, key: xmlsec.Key, signature: etree._Element | None = None) -> None:
    """``signature``: what ``_signature(target, node_id)`` returned for this same (unchanged) tree."""
    if signature is None:
        signature = _signature(target, node_id)
    ctx = xmlsec.SignatureContext()
    for transform in (_C.TransformEnveloped, *CANONICALIZATIONS.values(), *DIGESTS.values()):
        ctx.enable_reference_transform(transform)
    for transform in (*CANONICALIZATIONS.values(), *SIGNATURES.values()):
        ctx.enable_signature_transform(transform)
    # KeyInfo is not consulted once ctx.key is set; also leave it nothing it could resolve.
    ctx.set_enabled_key_data([_C.KeyDataName])
    ctx.register_id(target, "ID")
    ctx.key = key
    ctx.verify(signature)


def verify_enveloped(element: etree._Element, keys: list[xmlsec.Key], *, ids_checked: bool = False) -> None:
    """Verify, in place, the enveloped signature of ``element`` (an element of
    a parsed document, which is neither copied nor re-parsed) with one of
    ``keys`` (from metadata; KeyInfo is never used). The same rules as
    :meth:`XmlsecBackend.validate_signature`: the element's ID is unique in the
    document, its one direct-child ds:Signature references it, only enveloped
    + exc-c14n transforms, SHA-256+. Raises SignatureRefused.
    ``ids_checked``: the caller already verified, on this very (unchanged)
    tree, another signature, and with it the uniqueness of the IDs."""
    node_id = element.get("ID")
    if not node_id:
        raise SignatureRefused(f"{etree.QName(element).localname} has no ID attribute to sign")
    if not keys:
        raise SignatureRefused("no signing key for the issuer in metadata")
    try:
        if not ids_checked:
            _refuse_duplicate_ids(element.getroottree().getroot())
        signature = _signature(element, node_id)  # its shape is refused before any key is tried
    except _Refused as exc:
        raise SignatureRefused(str(exc)) from None
    failures = []
    for key in keys:
        try:
            _verify(element, node_id, key, signature)
            return
        except (xmlsec.Error, _Refused) as exc:
            failures.append(str(exc))
    raise SignatureRefused(f"signature of {etree.QName(element).localname} {node_id!r} does not verify "
                           f"with the issuer's metadata key(s): {'; '.join(failures)[:300]}")


@functools.lru_cache(maxsize=32)
def signing_key(key_file: str, cert_file: str | None = None) -> xmlsec.Key:
    """An entity's private key (PEM), with its certificate for KeyInfo when given."""
    key = xmlsec.Key.from_file(key_file, xmlsec.KeyFormat.PEM)
    if cert_file:
        key.load_cert_from_file(cert_file, xmlsec.KeyFormat.PEM)
    return key


def sign_enveloped(element: etree._Element, key: xmlsec.Key) -> etree._Element:
    """Sign ``element`` in place as SAML wants it: an enveloped ds:Signature
    right after its saml:Issuer (or first), referencing its ID, exc-c14n,
    RSA-SHA256 over a SHA-256 digest, the certificate in KeyInfo when the key
    carries one. Returns the ds:Signature element."""
    node_id = element.get("ID")
    if not node_id:
        raise SignatureRefused(f"{etree.QName(element).localname} has no ID attribute to sign")
    signature = xmlsec.template.create(element, _C.TransformExclC14N, _C.TransformRsaSha256, ns="ds")
    reference = xmlsec.template.add_reference(signature, _C.TransformSha256, uri="#" + node_id)
    xmlsec.template.add_transform(reference, _C.TransformEnveloped)
    xmlsec.template.add_transform(reference, _C.TransformExclC14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    issuer = element.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer")
    element.insert(element.index(issuer) + 1 if issuer is not None else 0, signature)
    ctx = xmlsec.SignatureContext()
    ctx.register_id(element, "ID")
    ctx.key = key
    ctx.sign(signature)
    return signature


class XmlsecBackend(sigver.CryptoBackend):
    """Sign and verify enveloped SAML signatures with python-xmlsec, in process."""

    @property
    def version(self) -> str:
        return ".".join(str(part) for part in xmlsec.get_libxmlsec_version())

    def sign_statement(self, statement: str | bytes | SamlBase, node_name: str, key_file: str,
                       node_id: str | None) -> str:
        """Fill the ds:Signature template of the ``node_name`` element with ID ``node_id``; return the document."""
        if isinstance(statement, SamlBase):
            statement = str(statement)
        try:
            tree = _parse(statement)
            target, node_id = _target(tree, node_name, node_id)
            signature = _signature(target, node_id)
            ctx = xmlsec.SignatureContext()
            ctx.register_id(target, "ID")
            ctx.key = _load_key(key_file, xmlsec.KeyFormat.PEM)
            ctx.sign(signature)
        except (_Refused, xmlsec.Error, OSError) as exc:
            logger.error("signing %s %r refused: %s", node_name, node_id, exc)
            raise sigver.SignatureError(f"cannot sign {node_name} {node_id!r}: {exc}") from exc
        return etree.tostring(tree, encoding="UTF-8", xml_declaration=True).decode("utf-8")

    def validate_signature(self, signedtext: str | bytes, cert_file: str, cert_type: str, node_name: str,
                           node_id: str | None) -> bool:
        """Return True if the signature is valid under ``cert_file``; raise SignatureError otherwise."""
        try:
            key_format = _CERT_FORMATS.get(cert_type)
            if key_format is None:
                raise _Refused(f"unsupported certificate type {cert_type!r}")
            tree = _parse(signedtext)
            target, node_id = _target(tree, node_name, node_id)
            _verify(target, node_id, _load_key(cert_file, key_format))
        except Exception as exc:  # fail closed: whatever went wrong, the signature is not accepted
            logger.warning("signature on %s %r refused: %s", node_name, node_id, exc)
            raise sigver.SignatureError(f"signature on {node_name} {node_id!r} refused: {exc}") from exc
        return True

    def encrypt(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise Unsupported("XmlsecBackend does not encrypt (SAML encryption is not used by fedsim)")

    def encrypt_assertion(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise Unsupported("XmlsecBackend does not encrypt assertions (SAML encryption is not used by fedsim)")

    def decrypt(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise Unsupported("XmlsecBackend does not decrypt (SAML encryption is not used by fedsim)")


def security_context(conf: Any) -> sigver.SecurityContext | None:
    """Like ``saml2.sigver.security_context`` but always on XmlsecBackend, whatever ``conf.crypto_backend`` says."""
    if not conf:
        return None
    sec_backend = None  # RSACrypto for HTTP-Redirect binding signatures, as pysaml2 sets it up
    key_file = conf.getattr("key_file", "")
    if key_file:
        sec_backend = sigver.RSACrypto(sigver.import_rsa_key_from_file(key_file))
    enc_key_files = [pair["key_file"] for pair in conf.encryption_keypairs or [] if "key_file" in pair]
    return sigver.SecurityContext(
        XmlsecBackend(),
        conf.key_file,
        cert_file=conf.cert_file,
        metadata=getattr(conf, "metadata", None),
        only_use_keys_in_metadata=conf.only_use_keys_in_metadata,
        cert_handler_extra_class=conf.cert_handler_extra_class,
        generate_cert_info=conf.generate_cert_info,
        tmp_cert_file=conf.tmp_cert_file,
        tmp_key_file=conf.tmp_key_file,
        validate_certificate=conf.validate_certificate,
        enc_key_files=enc_key_files,
        encryption_keypairs=conf.encryption_keypairs,
        sec_backend=sec_backend,
        delete_tmpfiles=conf.delete_tmpfiles,
    )


def _xmlsec1_disabled(*args: Any, **kwargs: Any) -> NoReturn:
    raise sigver.SigverError("the xmlsec1 binary is disabled: fedsim.saml.xmlsec_backend.install() is in effect")


# Every pysaml2 module that does ``from saml2.sigver import security_context``.
PATCHED_MODULES = ("saml2.sigver", "saml2.entity", "saml2.metadata", "saml2.response", "saml2.mdstore",
                   "saml2.tools.make_metadata")


def install() -> None:
    """Route every pysaml2 security context through XmlsecBackend and make xmlsec1 unusable. Idempotent.

    Also makes pysaml2 check signed elements against the SAML schemas with libxml2 (fedsim.saml.schema).
    """
    import importlib

    from fedsim.saml import schema

    schema.install()

    for name in PATCHED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # saml2.tools.make_metadata is optional
            continue
        module.security_context = security_context  # type: ignore[attr-defined]
    import saml2.algsupport as algsupport

    for module in (sigver, algsupport):
        module.get_xmlsec_binary = _xmlsec1_disabled  # type: ignore[assignment]
    sigver._get_xmlsec_cryptobackend = _xmlsec1_disabled  # type: ignore[assignment]
    algsupport.get_algorithm_support = _xmlsec1_disabled  # type: ignore[assignment]
    for cls in (sigver.CryptoBackendXmlSec1, sigver.CryptoBackendXMLSecurity):
        cls.__init__ = _xmlsec1_disabled  # type: ignore[method-assign]
        cls.sign_statement = _xmlsec1_disabled  # type: ignore[method-assign]
        cls.validate_signature = _xmlsec1_disabled  # type: ignore[method-assign]
    sigver.CryptoBackendXmlSec1._run_xmlsec = _xmlsec1_disabled  # type: ignore[method-assign]
    sigver.CryptoBackendXmlSec1.version = property(_xmlsec1_disabled)  # type: ignore[assignment,method-assign]
