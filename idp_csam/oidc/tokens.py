"""The JOSE of CSAM's OpenID Provider: its own RS256 signing key
(certs/csam-oidc-sig.key, one key per purpose, made on first use), its JWKS,
signed ID tokens, and the check of an ID token it issued (id_token_hint)."""
from __future__ import annotations

import base64
import hashlib

from flask import Flask
from jose import jwt

from idp_csam.itsme_jose import private_key, public_jwk, verify_jws

KEY_NAME = "csam-oidc-sig"


def signing_key(app: Flask) -> str:
    return private_key(app, KEY_NAME)


def jwks(app: Flask) -> dict:
    return {"keys": [public_jwk(signing_key(app), "RS256", "sig")]}


def sign(app: Flask, claims: dict) -> str:
    pem = signing_key(app)
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": public_jwk(pem, "RS256", "sig")["kid"]})


def verify_own(app: Flask, token: str) -> dict:
    """The claims of an ID token CSAM signed (RS256, its key); JOSEError or
    ValueError when it is not one. Times are not checked (a logout hint may
    have expired)."""
    return verify_jws(token, jwks(app))


def at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6: the left half of SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def digest(secret: str) -> str:
    """How codes and access tokens are stored: their SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def s256(verifier: str) -> str:
    """RFC 7636 4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
