"""Signatures of the HTTP-Redirect binding (SAML bindings §3.4.4.1), checked
on the raw query string exactly as it was sent — never on re-encoded values
(an SP may percent-encode differently, e.g. lower-case hex, and still sign
correctly). Also: reading such a query, and writing one from decoded values.
"""
from __future__ import annotations

import base64
import functools
import re
import zlib
from collections.abc import Mapping
from urllib.parse import unquote_plus, urlencode

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from saml2.xmldsig import SIG_RSA_SHA256, SIG_RSA_SHA384, SIG_RSA_SHA512

from fedsim.saml.errors import SamlRefused
from fedsim.saml.texts import said

HASHES = {SIG_RSA_SHA256: hashes.SHA256, SIG_RSA_SHA384: hashes.SHA384, SIG_RSA_SHA512: hashes.SHA512}


MAX_INFLATED = 256 * 1024  # bytes a deflated SAML message may inflate to


def inflate(message_b64: str, limit: int = MAX_INFLATED) -> bytes:
    """A base64 DEFLATE message of the HTTP-Redirect binding, inflated to at
    most ``limit`` bytes: beyond, SamlRefused (a few kB inflate to MB)."""
    try:
        data = base64.b64decode(message_b64)
        inflater = zlib.decompressobj(wbits=-15)
        xml = inflater.decompress(data, limit)
        over = bool(inflater.unconsumed_tail) or bool(inflater.decompress(inflater.unconsumed_tail, 1))
    except (ValueError, zlib.error) as exc:
        raise SamlRefused(said("Message SAML illisible (base64, DEFLATE ou XML invalide)."),
                          f"{type(exc).__name__}: {exc}"[:500]) from None
    if over:
        raise SamlRefused(said("Message SAML trop volumineux : une fois décompressé, il dépasse la"
                               " limite de %(kib)s Kio (%(bytes)s octets).",
                               kib=limit // 1024, bytes=limit))
    return xml


def _raw_params(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        if name in params:
            raise SamlRefused(said("Paramètre %(name)s répété dans l'URL : message refusé.",
                                   name=name))
        params[name] = value
    return params


def parse(raw_query: str) -> dict[str, str]:
    """The decoded parameters of a raw query string; a repeated one is refused."""
    return {name: unquote_base64(value) for name, value in _raw_params(raw_query).items() if name}


_ESCAPED_BASE64 = re.compile(r"[A-Za-z0-9%]*")


def unquote_base64(value: str) -> str:
    """``unquote_plus(value)``; for URL-encoded base64 (letters, digits and
    the escapes of ``+``, ``/``, ``=`` in either case: the SAML message and
    its signature) without decoding byte by byte. Anything else: unquote_plus."""
    if _ESCAPED_BASE64.fullmatch(value):
        decoded = (value.replace("%2B", "+").replace("%2b", "+").replace("%2F", "/").replace("%2f", "/")
                   .replace("%3D", "=").replace("%3d", "="))
        if "%" not in decoded:  # every escape was one of those: what unquote_plus gives
            return decoded
    return unquote_plus(value)


def query_string(args: Mapping[str, str]) -> str:
    """A query string from decoded values, encoded the way pysaml2 signs
    (``urlencode``: upper-case hex), SAML parameters first in the order
    the signature covers them."""
    order = ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature")
    names = [n for n in order if n in args] + [n for n in args if n not in order]
    return "&".join(urlencode({name: args[name]}) for name in names)


@functools.lru_cache(maxsize=128)
def _public_key(cert_b64: str):  # noqa: ANN202 - any of cryptography's public key types
    """The public key of a certificate from metadata, read once per certificate."""
    return x509.load_der_x509_certificate(base64.b64decode(cert_b64)).public_key()


def verify(raw_query: str, certificates_b64: list[str]) -> None:
    """Raise SamlRefused unless the query is signed by one of the certificates
    (base64 DER, as metadata carries them) with RSA-SHA256 or stronger."""
    params = _raw_params(raw_query)
    kind = "SAMLRequest" if "SAMLRequest" in params else "SAMLResponse"
    if kind not in params:
        raise SamlRefused(said("Aucun message SAML dans l'URL."))
    if "Signature" not in params or "SigAlg" not in params:
        raise SamlRefused(said("Message SAML non signé : la signature est obligatoire."))
    algorithm = unquote_plus(params["SigAlg"])
    if algorithm not in HASHES:
        raise SamlRefused(said("Algorithme de signature refusé : RSA-SHA256 ou plus fort est exigé."), algorithm)
    signed = f"{kind}={params[kind]}"
    if "RelayState" in params:
        signed += f"&RelayState={params['RelayState']}"
    signed += f"&SigAlg={params['SigAlg']}"
    try:
        signature = base64.b64decode(unquote_base64(params["Signature"]), validate=True)
    except ValueError:
        raise SamlRefused(said("Signature illisible (base64 invalide).")) from None
    for cert_b64 in certificates_b64:
        key = _public_key("".join(cert_b64.split()))
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, signed.encode("ascii"), padding.PKCS1v15(), HASHES[algorithm]())
        except InvalidSignature:
            continue
        return
    raise SamlRefused(said("Signature absente ou invalide : le message n'est pas signé par une clé de l'émetteur "
                           "publiée dans ses métadonnées, ou il a été modifié."))
