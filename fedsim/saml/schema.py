"""SAML XML Schema validation on libxml2 (lxml) instead of the pure-Python ``xmlschema`` package.

pysaml2 checks every signed element against the SAML schemas before it looks at
the signature (``saml2.sigver.SecurityContext._check_signature`` calls
``validate_doc_with_schema(str(item))``). Its validator, ``saml2.xml.schema.validate``,
runs on ``xmlschema`` and costs milliseconds per call. This module validates
against the very same XSD files that pysaml2 ships (``saml2/data/schemas``, the
same namespace → file map as ``saml2.xml.schema``) with a compiled libxml2
``XMLSchema``, built once per process.

* The schema set is loaded only from those local files. The XSDs import each
  other partly by remote URL (``http://www.w3.org/TR/...``); a resolver maps
  these to the local copies and refuses anything else, and the build fails
  loudly if any import could not be resolved. No network access, ever.
* Documents are parsed with a hardened parser (no DTD loading, no entity
  expansion, no network, no external resource of any kind) and refused if
  they carry a DOCTYPE (pysaml2's validator accepts those: stricter here).
* Failures raise :class:`saml2.xml.schema.XMLSchemaError`, the type pysaml2's
  callers catch, with libxml2's error log in the message.

:func:`install` makes pysaml2 use :func:`validate`; ``fedsim.saml.xmlsec_backend.install()`` calls it.
"""

from __future__ import annotations

import re
import threading
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

import saml2.data.schemas
from saml2.xml.schema import XMLSchemaError

from fedsim.xmlsafe import NothingExternal

__all__ = ["BASE64_ELEMENTS", "NAMESPACE_FILES", "REMOTE_LOCATIONS", "XMLSchemaError", "install", "schema", "validate",
           "validate_tree"]

# Same namespace → file map as saml2.xml.schema._create_xml_schema_validator: every namespace that
# pysaml2's validator knows is known here too, so lax wildcards (Extensions, AttributeValue...) see
# the same global declarations.
NAMESPACE_FILES: dict[str, str] = {
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
    "http://schemas.xmlsoap.org/soap/envelope/": "envelope.xsd",
    "http://www.w3.org/2001/04/xmlenc#": "xenc-schema.xsd",
    "http://www.w3.org/2009/xmlenc11#": "xenc-schema-11.xsd",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig-core-schema.xsd",
    "urn:oasis:names:tc:SAML:2.0:assertion": "saml-schema-assertion-2.0.xsd",
    "urn:oasis:names:tc:SAML:2.0:metadata": "saml-schema-metadata-2.0.xsd",
    "urn:oasis:names:tc:SAML:2.0:protocol": "saml-schema-protocol-2.0.xsd",
    "http://eidas.europa.eu/metadata/servicelist": "eidas-schema-metadata-servicelist.xsd",
    "http://eidas.europa.eu/saml-extensions": "eidas-schema-saml-extensions.xsd",
    "http://eidas.europa.eu/attributes/naturalperson": "eidas-schema-attribute-naturalperson.xsd",
    "http://eidas.europa.eu/attributes/legalperson": "eidas-schema-attribute-legalperson.xsd",
}
# Remote schemaLocations used by xs:import inside those files, and the local copy each one stands for.
REMOTE_LOCATIONS: dict[str, str] = {
    "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
    "http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd": "xenc-schema.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://schemas.xmlsoap.org/soap/envelope/": "envelope.xsd",
}
_XS = "http://www.w3.org/2001/XMLSchema"
_DS = "{http://www.w3.org/2000/09/xmldsig#}"
_XENC = "{http://www.w3.org/2001/04/xmlenc#}"
_XENC11 = "{http://www.w3.org/2009/xmlenc11#}"
# libxml2 skips any character that is not base64 in xs:base64Binary values ("!!" and "abcd!" are
# valid there), xmlschema does not. Every element declared (globally or locally) in the schema set
# with a type derived from xs:base64Binary, as listed by xmlschema's component model (see the tests);
# no attribute has such a type. These are checked again below, with xmlschema's rule.
BASE64_ELEMENTS: frozenset[str] = frozenset({
    *(_DS + name for name in ("DigestValue", "SignatureValue", "X509Certificate", "X509CRL", "X509SKI", "PGPKeyID",
                              "PGPKeyPacket", "SPKISexp", "Modulus", "Exponent", "P", "Q", "G", "Y", "J", "Seed",
                              "PgenCounter")),
    _XENC + "CipherValue", _XENC + "KA-Nonce", _XENC + "OAEPparams", _XENC11 + "Specified",
})
# The lexical space of xs:base64Binary (XSD 1.1 part 2, 3.3.16), once all white space is removed:
# what xmlschema (elementpath.datatypes.Base64Binary) accepts, that is the regular expression
#   (?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==)?
# checked without its repeated group (whose per-quad steps were most of a Response's validation, for
# its two certificates): a length that is a multiple of 4, every character but the last four in the
# alphabet, and a last quad that is plain or correctly padded (_is_base64; a test compares the two).
_ALPHABET = re.compile(r"[A-Za-z0-9+/]*")
_LAST_QUAD = re.compile(r"[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/][AQgw]==")
# libxml2 reports a second xs:import of an already imported namespace (under another URL) like this.
_SKIPPED_IMPORT = re.compile(r"Skipping import of schema located at '([^']*)' for the namespace '([^']*)'")

_build_lock = threading.Lock()
_validate_lock = threading.Lock()
_schema: etree.XMLSchema | None = None
_local = threading.local()


class _LocalSchemas(etree.Resolver):
    """Serve the known schema URLs (remote or local) from ``directory``; refuse and record everything else."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.loaded: set[str] = set()
        self.refused: list[str] = []

    def local_file(self, url: str) -> Path | None:
        if url in REMOTE_LOCATIONS:
            return self.directory / REMOTE_LOCATIONS[url]
        parts = urlsplit(url)
        path = Path(unquote(parts.path)) if parts.scheme in ("", "file") and not parts.netloc else None
        if path is not None and path.parent == self.directory and path.name in NAMESPACE_FILES.values():
            return path
        return None

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        path = self.local_file(system_url or "")
        if path is None:
            self.refused.append(f"{system_url!r} (public id {public_id!r})")
            # Never fall through to libxml2's default loader: hand it a document that cannot parse.
            return self.resolve_string("", context)
        self.loaded.add(path.name)
        return self.resolve_filename(str(path), context)


def _build(directory: Path) -> etree.XMLSchema:
    resolver = _LocalSchemas(directory)
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False, dtd_validation=False)
    parser.resolvers.add(resolver)
    wrapper = etree.Element(f"{{{_XS}}}schema", nsmap={"xs": _XS})
    for namespace, filename in NAMESPACE_FILES.items():
        etree.SubElement(wrapper, f"{{{_XS}}}import", namespace=namespace,
                         schemaLocation=(directory / filename).as_uri())
    # Re-parse through ``parser`` so that libxml2's loading of the imports goes through ``resolver``.
    document = etree.fromstring(etree.tostring(wrapper), parser, base_url=(directory / "fedsim-wrapper.xsd").as_uri())
    try:
        compiled = etree.XMLSchema(document)
    except etree.XMLSchemaParseError as exc:
        unresolved = "".join(f"unresolvable schema location {url}; " for url in resolver.refused)
        raise RuntimeError(f"cannot build the SAML schema set from {directory}: {unresolved}"
                           f"{_log(exc.error_log)}") from exc
    problems = [f"unresolvable schema location {url}" for url in resolver.refused]
    problems += [f"{name} was never loaded" for name in sorted(set(NAMESPACE_FILES.values()) - resolver.loaded)]
    for entry in compiled.error_log:
        skipped = _SKIPPED_IMPORT.search(entry.message)
        if entry.type_name == "SCHEMAP_WARN_SKIP_SCHEMA" and skipped:
            # Harmless only if the skipped location is the very file already loaded for that namespace.
            path = resolver.local_file(skipped.group(1))
            if path is not None and path.name == NAMESPACE_FILES.get(skipped.group(2)):
                continue
        problems.append(_log([entry]))
    if problems:
        raise RuntimeError(f"SAML schema set from {directory} is incomplete: {'; '.join(problems)}")
    return compiled


def schema() -> etree.XMLSchema:
    """The compiled SAML schema set, built on first use (thread-safe)."""
    global _schema
    if _schema is None:
        with _build_lock:
            if _schema is None:
                with as_file(files(saml2.data.schemas)) as directory:
                    _schema = _build(Path(directory).resolve())
    return _schema


def _parser(decoded: bool) -> etree.XMLParser:
    """Per-thread hardened parsers: no DTD, no entities, no network. ``decoded``: the input was a str."""
    name = "str_parser" if decoded else "bytes_parser"
    parser = getattr(_local, name, None)
    if parser is None:
        # collect_ids=False is left out on purpose: lxml implements it with libxml2's XML_SKIP_IDS, a
        # ``loadsubset`` flag, and with it libxml2 reads external parameter entities despite load_dtd=False.
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
            encoding="utf-8" if decoded else None,
        )
        parser.resolvers.add(NothingExternal())
        setattr(_local, name, parser)
    return parser


def _log(entries: Any) -> str:
    return " | ".join(f"line {e.line}:{e.column}: {e.type_name}: {e.message}" for e in entries) or "(empty log)"


def validate(doc: str | bytes) -> None:
    """Validate ``doc`` (the XML text of one document) against the SAML schemas; raise XMLSchemaError if invalid.

    A drop-in for ``saml2.xml.schema.validate(doc)``: whatever that refuses, this refuses (same XSD files and
    namespaces; xs:base64Binary re-checked with xmlschema's rule, which libxml2 relaxes). It is stricter in a
    few corners: any DOCTYPE (even the bytes ``<!DOCTYPE`` inside a comment), xs:anyURI values that are not
    RFC 3986 references (libxml2), xs:dateTime/xs:duration values with surrounding white space (libxml2), and
    malformed base64 in a ds:/xenc: element that xmlschema leaves unchecked under a lax wildcard.
    Thread-safe; calls are serialised around libxml2's validation (~0.1 ms for a SAML Response).
    """
    if isinstance(doc, str):
        # A str is already decoded: encode it back as UTF-8 and tell libxml2 so, whatever the declaration says.
        data, decoded = doc.encode("utf-8"), True
    elif isinstance(doc, (bytes, bytearray, memoryview)):
        data, decoded = bytes(doc), False
    else:
        raise TypeError(f"validate() takes the XML text as str or bytes, not {type(doc).__name__}")
    schema()  # built (or its failure raised) before any input is looked at
    if b"<!DOCTYPE" in data:  # refused before libxml2 sees it (ASCII-compatible encodings; others: below)
        raise XMLSchemaError("DOCTYPE declarations are not allowed")
    try:
        tree = etree.fromstring(data, _parser(decoded)).getroottree()
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise XMLSchemaError(f"not well-formed XML: {exc}") from exc
    validate_tree(tree)


def validate_tree(tree: etree._ElementTree) -> None:
    """Validate an already parsed document (no copy, no re-parse) as :func:`validate` does."""
    compiled = schema()
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise XMLSchemaError("DOCTYPE declarations are not allowed")
    with _validate_lock:  # an XMLSchema's error log is per validator, not per call
        valid = compiled.validate(tree)
        message = "" if valid else _log(compiled.error_log)
    if not valid:
        raise XMLSchemaError(f"schema validation failed: {message}")
    for element in tree.iter(*BASE64_ELEMENTS):
        # Simple content (libxml2 checked that): the element's text nodes, around any comment or PI.
        text = (element.text or "") + "".join(child.tail or "" for child in element)
        if not _is_base64("".join(text.split())):  # white space dropped as xmlschema does (Python's \s)
            raise XMLSchemaError(f"schema validation failed: line {element.sourceline}: {element.tag}: "
                                 f"{text[:40]!r} is not a valid xs:base64Binary value")


def _is_base64(text: str) -> bool:
    """Whether ``text`` (without white space) is in xs:base64Binary's lexical space: whole quads of the
    alphabet, the last one possibly padded."""
    if len(text) % 4:
        return False
    if not text:
        return True
    last = len(text) - 4
    return _ALPHABET.fullmatch(text, 0, last) is not None and _LAST_QUAD.fullmatch(text, last) is not None


def install() -> None:
    """Make pysaml2 validate with :func:`validate`. Idempotent.

    ``saml2.sigver`` does ``from saml2.xml.schema import validate as validate_doc_with_schema``; that
    module-level name is its only use of the schema validator (pysaml2 7.5.5).
    """
    import saml2.sigver

    schema()  # build now: a broken schema set fails at start-up, not on the first login
    saml2.sigver.validate_doc_with_schema = validate  # type: ignore[assignment]
