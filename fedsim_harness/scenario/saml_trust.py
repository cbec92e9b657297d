"""Whose keys a report verifies SAML signatures with: the signing
certificates the federation publishes in its metadata files (its ``certs/``
folder: ``<entity>.xml``, and ``<entity>.crt`` whose common name is the
entity ID), each named after its entity and the short SHA-256 fingerprint
of its certificate. Plain picklable data."""
from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from lxml import etree

from fedsim.xmlsafe import hardened_parser

__all__ = ["NamedCertificate", "Trust", "short_fingerprint"]

DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"ds": DS, "md": MD}


@dataclass(frozen=True)
class NamedCertificate:
    """A signing certificate published for an entity."""
    name: str  # what the federation calls it: the metadata file's stem (csam-idp…)
    entity_id: str
    certificate: str  # base64 DER, as metadata carries it
    display_name: str = ""  # md:OrganizationDisplayName (CSAM, Mon Espace…)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(_der(self.certificate)).hexdigest().upper()

    @property
    def label(self) -> str:
        """« csam-idp (CSAM), certificate SHA-256 1A:2B:3C:4D:5E:6F:70:81… »"""
        who = f"{self.name} ({self.display_name})" if self.display_name and self.display_name != self.name \
            else self.name
        return f"{who}, certificate {short_fingerprint(self.certificate)}"


def short_fingerprint(certificate_b64: str) -> str:
    digest = hashlib.sha256(_der(certificate_b64)).hexdigest().upper()
    return "SHA-256 " + ":".join(digest[i:i + 2] for i in range(0, 16, 2)) + "…"


def _der(certificate_b64: str) -> bytes:
    return base64.b64decode("".join(certificate_b64.split()))


@dataclass(frozen=True)
class Trust:
    """The signing certificates a report verifies against, by entity ID."""
    certificates: tuple[NamedCertificate, ...] = ()

    def of(self, entity_id: str) -> list[NamedCertificate]:
        return [c for c in self.certificates if c.entity_id == entity_id]

    def named(self, certificate_b64: str) -> NamedCertificate | None:
        """Whose published certificate this is (None: nobody's in this federation)."""
        try:
            wanted = _der(certificate_b64)
        except (binascii.Error, ValueError):
            return None
        return next((c for c in self.certificates if _der(c.certificate) == wanted), None)

    def name_of(self, entity_id: str) -> str:
        """« csam-idp (CSAM) » for a known entity ID, else ""."""
        known = self.of(entity_id)
        if not known:
            return ""
        first = known[0]
        return f"{first.name} ({first.display_name})" if first.display_name else first.name

    @classmethod
    def from_mapping(cls, certificates: Mapping[str, Iterable[str]]) -> "Trust":
        """From {entity ID: [certificate, …]} (base64 DER or PEM)."""
        return cls(tuple(NamedCertificate(entity_id, entity_id, _b64(cert))
                         for entity_id, certs in certificates.items() for cert in certs))

    @classmethod
    def from_certs_dir(cls, folder: Path) -> "Trust":
        """Every signing certificate of the metadata files ``<entity>.xml`` of
        ``folder`` (the federation's ``certs/``), and of its ``<entity>.crt``
        files (their common name is the entity ID) that no metadata file
        already names. A file that does not parse is skipped."""
        found: list[NamedCertificate] = []
        for path in sorted(Path(folder).glob("*.xml")):
            found.extend(_from_metadata(path))
        for path in sorted(Path(folder).glob("*.crt")):
            try:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            except (OSError, ValueError):
                continue
            b64 = _b64(path.read_text(encoding="ascii", errors="replace"))
            if names and not any(_der(c.certificate) == _der(b64) for c in found):
                found.append(NamedCertificate(path.stem, str(names[0].value), b64))
        return cls(tuple(found))


def _b64(certificate: str) -> str:
    """Base64 DER of a certificate given as PEM or base64 DER."""
    lines = [line.strip() for line in certificate.strip().splitlines()]
    return "".join(line for line in lines if line and not line.startswith("-----"))


def _from_metadata(path: Path) -> list[NamedCertificate]:
    try:
        root = etree.fromstring(path.read_bytes(), hardened_parser())
    except (OSError, ValueError, etree.LxmlError):
        return []
    descriptors = [root] if root.tag == f"{{{MD}}}EntityDescriptor" else root.findall(".//md:EntityDescriptor", NS)
    found = []
    for descriptor in descriptors:
        entity_id = descriptor.get("entityID", "")
        shown = descriptor.findtext("md:Organization/md:OrganizationDisplayName", "", NS).strip()
        name = path.stem if len(descriptors) == 1 else entity_id
        for key in descriptor.iterfind(".//md:KeyDescriptor", NS):
            if key.get("use") not in (None, "signing"):
                continue
            for cert in key.iterfind(".//ds:X509Certificate", NS):
                b64 = "".join((cert.text or "").split())
                if b64 and not any(c.entity_id == entity_id and c.certificate == b64 for c in found):
                    found.append(NamedCertificate(name, entity_id, b64, shown))
    return found
