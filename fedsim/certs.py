"""Keys and self-signed certificates for the SAML entities, made on first run.

Files live in ``certs/`` (never committed): ``<name>.key`` (PKCS#8 PEM, 0600)
and ``<name>.crt``; an SP's encryption key pair (one key per purpose: not
its signing key) is ``<name>-enc.key|.crt``. Existing files are kept unless
``force`` is set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from fedsim import clock


@dataclass(frozen=True)
class KeyPair:
    key_file: Path
    cert_file: Path

    def exists(self) -> bool:
        return self.key_file.is_file() and self.cert_file.is_file()


def key_pair(certs_dir: Path, name: str) -> KeyPair:
    return KeyPair(certs_dir / f"{name}.key", certs_dir / f"{name}.crt")


def encryption_name(name: str) -> str:
    """The file stem of an entity's encryption key pair."""
    return f"{name}-enc"


def self_signed(common_name: str, *, years: int = 10) -> tuple[bytes, bytes]:
    """Return (key PEM, certificate PEM) for an RSA-2048 self-signed cert."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FWB federation simulator"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    start = clock.now() - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def ensure(certs_dir: Path, name: str, common_name: str, *, force: bool = False) -> KeyPair:
    pair = key_pair(certs_dir, name)
    if pair.exists() and not force:
        return pair
    certs_dir.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = self_signed(common_name)
    fd = os.open(pair.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    pair.cert_file.write_bytes(cert_pem)
    return pair
