"""The itsme OP's JOSE (idp_csam.itsme_op): its RSA keys and JWKS, RS256
signatures checked against a JWKS, token times on the federation clock, and
the ID token signed then encrypted (RS256, then JWE RSA-OAEP + A256GCM)."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from flask import Flask
from jose import jwe, jwk, jws, jwt
from jose.exceptions import JOSEError

from fedsim import certs, clock


def private_key(app: Flask, name: str) -> str:
    """PEM of the RSA key ``name`` under certs_dir, made on first use."""
    cache = app.extensions.setdefault("itsme.keys", {})
    if name not in cache:
        pair = certs.ensure(app.config["FEDSIM_SETTINGS"].certs_dir, name, name)
        cache[name] = pair.key_file.read_text()
    return cache[name]


def public_jwk(pem: str, alg: str, use: str) -> dict:
    public = jwk.construct(pem, alg).public_key().to_dict()
    kid = hashlib.sha256(public["n"].encode()).hexdigest()[:16]
    return {**public, "kid": kid, "use": use, "alg": alg}


def op_jwks(app: Flask) -> dict:
    return {"keys": [public_jwk(private_key(app, "itsme-op-sig"), "RS256", "sig")]}


def pick_key(jwks: dict, token_kid: str | None, use: str, alg: str) -> dict:
    """The key of ``jwks`` for this use and algorithm (by kid when the token names one)."""
    keys = [k for k in jwks.get("keys", []) if k.get("use", use) == use and k.get("alg", alg) == alg
            and k.get("kty") == "RSA" and (token_kid is None or k.get("kid") == token_kid)]
    if len(keys) != 1:
        raise JOSEError(f"no single {use} key {token_kid or ''} in the JWKS")
    return keys[0]


def verify_jws(token: str, jwks: dict) -> dict:
    """Claims of a compact JWS signed RS256 by a key of ``jwks``; times are
    not checked here (the caller checks them on the federation clock)."""
    header = jws.get_unverified_header(token)
    if header.get("alg") != "RS256":
        raise JOSEError(f"signature algorithm {header.get('alg')!r} refused (RS256 only)")
    key = pick_key(jwks, header.get("kid"), "sig", "RS256")
    claims = json.loads(jws.verify(token, key, algorithms=["RS256"]))
    if not isinstance(claims, dict):
        raise JOSEError("the payload is not a JSON object")
    return claims


def check_times(claims: dict, *, max_lifetime: timedelta | None = None) -> None:
    now = clock.now().timestamp()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)):
        raise JOSEError("no exp")
    if exp <= now:
        raise ExpiredToken("expired")
    if max_lifetime is not None and exp > now + max_lifetime.total_seconds():
        raise JOSEError("exp too far in the future")
    iat = claims.get("iat")
    if isinstance(iat, (int, float)) and iat > now + 60:
        raise JOSEError("iat in the future")


class ExpiredToken(JOSEError):
    pass


def sign_then_encrypt(claims: dict, sig_pem: str, enc_jwk: dict) -> str:
    """RS256 JWS with ``sig_pem``, then JWE RSA-OAEP + A256GCM for ``enc_jwk``."""
    signed = jwt.encode(claims, sig_pem, algorithm="RS256",
                        headers={"kid": public_jwk(sig_pem, "RS256", "sig")["kid"]})
    return jwe.encrypt(signed, enc_jwk, algorithm="RSA-OAEP", encryption="A256GCM", cty="JWT",
                       kid=enc_jwk.get("kid")).decode()
