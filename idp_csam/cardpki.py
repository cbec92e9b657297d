"""The simulated Belgian eID PKI (G03).

Two authorities, « Belgium Root CA4 (simulateur) » → « Citizen CA
(simulateur) », issue one authentication certificate per card, whose subject
is ``CN=<Given> <Surname> (Authentication)`` with ``serialNumber=<NRN>``, as
on a real card. Everything lives under ``<certs_dir>/eid/`` and is made once:

- ``root-ca.key|crt``, ``citizen-ca.key|crt``: the authorities;
- ``card-<number>.key|crt``: each card's key pair, i.e. its chip (the private
  key never leaves the "card": only :class:`Chip` reads it, to sign);
- ``citizen-ca.crl``: the citizen CA's certificate revocation list, signed
  again whenever it is published.

Keys are ECDSA P-384 with SHA-384, like recent Belgian cards (and fast to
make for every test federation). :class:`CardVerifier` is CSAM's side: it
trusts only the root and checks a card's signature, chain, dates (from
:mod:`fedsim.clock`) and the CRL, then returns the NRN read from the
certificate.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fedsim import clock, nrn
from idp_csam.i18n import N_
from idp_csam.i18n import gettext as _

ROOT_CN = "Belgium Root CA4 (simulateur)"
CITIZEN_CN = "Citizen CA (simulateur)"
CARD_YEARS = 10  # a Belgian eID is valid ten years
HASH = hashes.SHA384


class CertificateRefused(Exception):
    """CSAM refuses a card's certificate or signature; ``reason`` is a code
    for tests and logs, ``message`` what the person reads."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# -- making keys and certificates ------------------------------------------------------


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


# Parsed once per content: certificates and CRLs are immutable, and the
# same bytes always parse to the same object (a file written again with
# other bytes is parsed again).
@lru_cache(maxsize=512)
def _certificate(data: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data)


@lru_cache(maxsize=16)
def _crl(data: bytes) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl(data)


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def card_subject(given_name: str, surname: str, national_number: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{given_name} {surname} (Authentication)"),
        x509.NameAttribute(NameOID.SURNAME, surname),
        x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, national_number),
    ])


def issue_ca(subject: str, key: ec.EllipticCurvePrivateKey, *, issuer: x509.Certificate | None = None,
             issuer_key: ec.EllipticCurvePrivateKey | None = None, not_before: datetime,
             not_after: datetime, path_length: int | None = None) -> x509.Certificate:
    """A CA certificate; self-signed when ``issuer`` is None."""
    name = _ca_name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     key_cert_sign=True, crl_sign=True, encipher_only=False,
                                     decipher_only=False), critical=True)
    )
    return builder.sign(issuer_key or key, HASH())


def issue_card(subject: x509.Name, public_key: ec.EllipticCurvePublicKey, ca: x509.Certificate,
               ca_key: ec.EllipticCurvePrivateKey, *, not_before: datetime,
               not_after: datetime) -> x509.Certificate:
    """A card's authentication certificate (keyUsage digitalSignature)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(ca.subject)
        .public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     key_cert_sign=False, crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .sign(ca_key, HASH())
    )


def issue_crl(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
              revoked: list[tuple[int, datetime]], *, now: datetime) -> x509.CertificateRevocationList:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
               .last_update(now).next_update(now + timedelta(days=7)))
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    return builder.sign(ca_key, HASH())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# -- the PKI on disk -------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    """What a card's chip holds: its key (never shown) and certificates.
    ``sign`` is what the card does once its PIN is accepted."""
    key_file: Path
    certificate: x509.Certificate
    ca_certificate: x509.Certificate  # the citizen CA, carried on the card as on a real one

    def sign(self, challenge: bytes) -> bytes:
        return _read_key(self.key_file).sign(challenge, ec.ECDSA(HASH()))


class CardPki:
    """The authorities and the cards' chips under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / name

    def _ca(self, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        return (_certificate(self._path(f"{name}.crt").read_bytes()),
                _read_key(self._path(f"{name}.key")))

    def ensure_authorities(self) -> None:
        if self._path("root-ca.crt").is_file() and self._path("citizen-ca.crt").is_file():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        now = clock.now()
        root_key, citizen_key = _new_key(), _new_key()
        root = issue_ca(ROOT_CN, root_key, not_before=now - timedelta(days=365 * 12),
                        not_after=now + timedelta(days=365 * 25), path_length=1)
        citizen = issue_ca(CITIZEN_CN, citizen_key, issuer=root, issuer_key=root_key,
                           not_before=now - timedelta(days=365 * 12), not_after=now + timedelta(days=365 * 15),
                           path_length=0)
        for name, key, cert in (("root-ca", root_key, root), ("citizen-ca", citizen_key, citizen)):
            _write_key(self._path(f"{name}.key"), key)
            self._path(f"{name}.crt").write_bytes(pem(cert))

    @property
    def root(self) -> x509.Certificate:
        return _certificate(self._path("root-ca.crt").read_bytes())

    def ensure_card(self, number: str, given_name: str, surname: str, national_number: str, *,
                    expired: bool = False, follow: bool = False, reissue: bool = False) -> x509.Certificate:
        """The card's key pair and certificate, made on first call. An
        ``expired`` card was issued eleven years ago (valid ten). With
        ``follow``, a certificate on disk whose dates do not say what
        ``expired`` says is issued again (same key, new serial); with
        ``reissue``, it is issued again anyway (a card taken off the CRL)."""
        cert_file, key_file = self._path(f"card-{number}.crt"), self._path(f"card-{number}.key")
        if cert_file.is_file() and key_file.is_file():
            cert = _certificate(cert_file.read_bytes())
            is_expired = clock.now() > cert.not_valid_after_utc
            if not reissue and not (follow and is_expired != expired):
                return cert
            key = _read_key(key_file)
        else:
            key = _new_key()
            _write_key(key_file, key)
        ca, ca_key = self._ca("citizen-ca")
        now = clock.now()
        start = now - timedelta(days=365 * (CARD_YEARS + 1)) if expired else now - timedelta(days=365 * 2)
        cert = issue_card(card_subject(given_name, surname, national_number), key.public_key(), ca, ca_key,
                          not_before=start, not_after=start + timedelta(days=365 * CARD_YEARS))
        cert_file.write_bytes(pem(cert))
        return cert

    def verifier(self) -> CardVerifier:
        return CardVerifier(self.root)

    def card_certificate(self, number: str) -> x509.Certificate | None:
        """The certificate on the card's chip, as it is on disk now (None: no chip)."""
        try:
            return _certificate(self._path(f"card-{number}.crt").read_bytes())
        except FileNotFoundError:
            return None

    def chip(self, number: str) -> Chip | None:
        certificate = self.card_certificate(number)
        if certificate is None:
            return None
        return Chip(self._path(f"card-{number}.key"), certificate,
                    _certificate(self._path("citizen-ca.crt").read_bytes()))

    def publish_crl(self, revoked: list[tuple[int, datetime]]) -> x509.CertificateRevocationList:
        ca, ca_key = self._ca("citizen-ca")
        crl = issue_crl(ca, ca_key, revoked, now=clock.now())
        self._path("citizen-ca.crl").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return crl

    def crl(self) -> x509.CertificateRevocationList | None:
        path = self._path("citizen-ca.crl")
        try:
            return _crl(path.read_bytes())
        except FileNotFoundError:
            return None


# -- CSAM's side: verifying a card -----------------------------------------------------


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _der(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return item.public_bytes(serialization.Encoding.DER)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate, what: str,
               verified: set[tuple[bytes, bytes]]) -> None:
    """``issuer`` signed ``cert`` (and is named its issuer). ``verified``
    remembers the pairs of certificates (exact DER bytes) already checked:
    a signature over the same bytes does not change. A refusal is never
    remembered; dates and revocation are not part of this check."""
    pair = (_der(cert), _der(issuer))
    if pair in verified:
        return
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateRefused("chain", _("Le certificat de la carte eID n'a pas été émis par une autorité "
                                            "belge reconnue (%(what)s).", what=_(what))) from exc
    _remember(verified, pair)


VERIFIED_MAX = 4096  # pairs remembered per verifier; past it, forgotten all at once


def _remember(verified: set[tuple[bytes, bytes]], pair: tuple[bytes, bytes]) -> None:
    if len(verified) >= VERIFIED_MAX:
        verified.clear()
    verified.add(pair)


def _format_date(when: datetime) -> str:
    return when.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class CardVerifier:
    """Trusts ``root`` only; ``crl`` is the citizen CA's current list.

    Signatures already verified over the same bytes (the chain's
    certificates, a CRL by its CA) are remembered per verifier; the CA rules,
    every date and the card's revocation are checked at each login."""
    root: x509.Certificate
    _verified: set[tuple[bytes, bytes]] = field(default_factory=set, init=False, repr=False, compare=False)

    def verify(self, certificate: x509.Certificate, ca_certificate: x509.Certificate, challenge: bytes,
               signature: bytes, crl: x509.CertificateRevocationList | None) -> str:
        """Check everything, then return the NRN of the certificate's subject."""
        now = clock.now()
        self.verify_chain(certificate, ca_certificate, crl, now=now)
        public_key = certificate.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise CertificateRefused("key", _("La clé de la carte eID n'est pas reconnue."))
        try:
            public_key.verify(signature, challenge, ec.ECDSA(HASH()))
        except InvalidSignature as exc:
            raise CertificateRefused("signature", _("La signature de la carte eID est invalide : "
                                                    "recommencez l'identification.")) from exc
        return national_number(certificate)

    def verify_chain(self, certificate: x509.Certificate, ca_certificate: x509.Certificate,
                     crl: x509.CertificateRevocationList | None, *, now: datetime) -> None:
        # the anchor, then the citizen CA, then the card: signatures and CA rules
        _issued_by(self.root, self.root, N_("racine"), self._verified)
        _issued_by(ca_certificate, self.root, N_("autorité des citoyens"), self._verified)
        _issued_by(certificate, ca_certificate, N_("carte"), self._verified)
        for ca in (self.root, ca_certificate):
            constraints, usage = _basic_constraints(ca), _key_usage(ca)
            if constraints is None or not constraints.ca or (usage is not None and not usage.key_cert_sign):
                raise CertificateRefused("chain", _("Une autorité de la chaîne de certificats n'est pas une "
                                                    "autorité de certification."))
        constraints, usage = _basic_constraints(certificate), _key_usage(certificate)
        if (constraints is not None and constraints.ca) or usage is None or not usage.digital_signature:
            raise CertificateRefused("usage", _("Ce certificat ne sert pas à l'authentification."))
        # dates: the authorities, then the card
        for ca in (self.root, ca_certificate):
            if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
                raise CertificateRefused("chain", _("Le certificat d'une autorité belge n'est pas valide à "
                                                    "cette date."))
        if now > certificate.not_valid_after_utc:
            raise CertificateRefused(
                "expired", _("Le certificat de votre carte eID a expiré le %(date)s : cette carte ne permet "
                             "plus de s'identifier. Demandez une nouvelle carte à votre commune.",
                             date=_format_date(certificate.not_valid_after_utc)))
        if now < certificate.not_valid_before_utc:
            raise CertificateRefused("not-yet-valid", _("Le certificat de votre carte eID n'est pas encore valide."))
        # revocation: the CRL must come from the citizen CA
        if crl is None or crl.issuer != ca_certificate.subject or not self._crl_signed(crl, ca_certificate):
            raise CertificateRefused("crl", _("La liste de révocation des cartes eID est indisponible : "
                                              "réessayez plus tard."))
        if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
            raise CertificateRefused(
                "revoked", _("Le certificat de votre carte eID a été révoqué : cette carte ne permet plus de "
                             "s'identifier. Adressez-vous à votre commune."))
        national_number(certificate)

    def _crl_signed(self, crl: x509.CertificateRevocationList, ca_certificate: x509.Certificate) -> bool:
        """The CA signed this CRL (a valid signature over the same bytes is remembered)."""
        pair = (_der(crl), _der(ca_certificate))
        if pair in self._verified:
            return True
        if not crl.is_signature_valid(ca_certificate.public_key()):
            return False
        _remember(self._verified, pair)
        return True


def national_number(certificate: x509.Certificate) -> str:
    """The NRN in the subject's serialNumber: eleven digits, valid checksum."""
    values = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    raw = str(values[0].value) if len(values) == 1 else ""
    try:
        if len(raw) != 11 or not raw.isdigit():
            raise nrn.InvalidNRN(raw)
        return nrn.parse(raw).digits
    except nrn.InvalidNRN as exc:
        raise CertificateRefused("nrn", _("Le certificat de la carte eID ne contient pas de numéro de registre "
                                          "national valide.")) from exc
