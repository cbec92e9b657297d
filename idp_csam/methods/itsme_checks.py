"""What CSAM accepts from itsme (idp_csam.methods.itsme): an ID token, and a
userinfo answer, each signed by the OP (RS256) then encrypted for CSAM
(RSA-OAEP + A256GCM), from the OP, for CSAM; userinfo about the ID token's
subject, its claims equal to the ID token's. And CSAM's private_key_jwt
client assertion for the token endpoint."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from jose import jwe, jwt
from jose.exceptions import JOSEError

from fedsim import clock
from idp_csam.i18n import gettext as _
from idp_csam.itsme_backchannel import Reply
from idp_csam.itsme_jose import ExpiredToken, check_times, public_jwk, verify_jws
from idp_csam.itsme_oidc import NRN_CLAIM

ASSERTION_LIFETIME = 60  # seconds
# Claims that both the ID token and userinfo may carry: they must agree.
SHARED_CLAIMS = (NRN_CLAIM, "given_name", "family_name", "email")


class IdTokenRefused(Exception):
    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message, self.detail = message, detail


class UserInfoRefused(IdTokenRefused):
    pass


@dataclass(frozen=True)
class Expected:
    issuer: str
    client_id: str
    nonce: str
    acr_values: tuple[str, ...]


def _decrypt_then_verify(token: str, enc_key_pem: str, op_jwks: dict) -> dict:
    """The claims of a JWE (RSA-OAEP + A256GCM only) for ``enc_key_pem``
    whose content is a JWS signed RS256 by a key of ``op_jwks``; JOSEError
    (or ValueError, UnicodeDecodeError) otherwise."""
    header = jwe.get_unverified_header(token)
    if header.get("alg") != "RSA-OAEP" or header.get("enc") != "A256GCM":
        raise JOSEError(f"JWE {header.get('alg')}/{header.get('enc')} refused")
    return verify_jws(jwe.decrypt(token, enc_key_pem).decode(), op_jwks)


def _audiences(claims: dict) -> list:
    audience = claims.get("aud")
    return audience if isinstance(audience, list) else [audience]


def verify_id_token(id_token: str, *, enc_key_pem: str, op_jwks: dict, expected: Expected) -> dict:
    """The claims of an ID token that itsme signed (RS256) then encrypted
    for CSAM (RSA-OAEP + A256GCM); anything else is refused."""
    tampered = _("La réponse d'itsme a été modifiée ou n'est pas signée par itsme : connexion refusée.")
    if id_token.count(".") != 4:
        raise IdTokenRefused(_("La réponse d'itsme n'est pas chiffrée pour CSAM : connexion refusée."),
                             "ID token is not a compact JWE")
    try:
        claims = _decrypt_then_verify(id_token, enc_key_pem, op_jwks)
    except (JOSEError, ValueError, UnicodeDecodeError) as exc:
        raise IdTokenRefused(tampered, str(exc)) from None
    try:
        check_times(claims)
    except ExpiredToken:
        raise IdTokenRefused(_("La réponse d'itsme a expiré : recommencez la connexion."), "exp passed") from None
    except JOSEError as exc:
        raise IdTokenRefused(tampered, str(exc)) from None
    audiences = _audiences(claims)
    if claims.get("iss") != expected.issuer:
        raise IdTokenRefused(tampered, f"iss {claims.get('iss')!r}")
    if expected.client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != expected.client_id):
        raise IdTokenRefused(_("La réponse d'itsme n'est pas destinée à CSAM : connexion refusée."),
                             f"aud {claims.get('aud')!r}")
    if claims.get("nonce") != expected.nonce:
        raise IdTokenRefused(_("La réponse d'itsme ne correspond pas à cette connexion (nonce)."), "nonce")
    if claims.get("acr") not in expected.acr_values:
        raise IdTokenRefused(_("itsme n'a pas confirmé le niveau de sécurité demandé."), f"acr {claims.get('acr')!r}")
    if not str(claims.get(NRN_CLAIM, "")).isdigit():
        raise IdTokenRefused(_("itsme n'a pas communiqué votre numéro de registre national."), "no NRN claim")
    return claims


def verify_userinfo(reply: Reply, *, enc_key_pem: str, op_jwks: dict, issuer: str, client_id: str,
                    id_claims: dict) -> dict:
    """The claims of a userinfo answer that itsme signed (RS256) then
    encrypted for CSAM (application/jwt, RSA-OAEP + A256GCM), issued by
    ``issuer`` for ``client_id``, about the subject of the ID token
    ``id_claims`` and agreeing with it; anything else is refused."""
    if reply.status != 200:
        raise UserInfoRefused(_("itsme n'a pas communiqué vos données (userinfo) : connexion refusée."),
                              f"userinfo HTTP {reply.status}")
    unprotected = _("La réponse userinfo d'itsme n'est pas signée et chiffrée pour CSAM : connexion refusée.")
    tampered = _("La réponse userinfo d'itsme a été modifiée ou n'est pas signée par itsme : connexion refusée.")
    if reply.content_type != "application/jwt":
        raise UserInfoRefused(unprotected, f"content type {reply.content_type or 'absent'!r}, not application/jwt")
    token = reply.body.decode("ascii", "replace").strip()
    if token.count(".") != 4:
        raise UserInfoRefused(unprotected, "userinfo is not a compact JWE")
    try:
        claims = _decrypt_then_verify(token, enc_key_pem, op_jwks)
    except (JOSEError, ValueError, UnicodeDecodeError) as exc:
        raise UserInfoRefused(tampered, str(exc)) from None
    if claims.get("iss") != issuer:
        raise UserInfoRefused(tampered, f"iss {claims.get('iss')!r}")
    if client_id not in _audiences(claims):
        raise UserInfoRefused(_("La réponse userinfo d'itsme n'est pas destinée à CSAM : connexion refusée."),
                              f"aud {claims.get('aud')!r}")
    if not isinstance(claims.get("sub"), str) or claims["sub"] != id_claims.get("sub"):
        raise UserInfoRefused(_("La réponse userinfo d'itsme concerne une autre personne que celle qui s'est "
                                "connectée : connexion refusée."), "sub differs from the ID token's")
    if not str(claims.get(NRN_CLAIM, "")).isdigit():
        raise UserInfoRefused(_("itsme n'a pas communiqué votre numéro de registre national."),
                              "no NRN claim in userinfo")
    differing = [name for name in SHARED_CLAIMS if name in claims and name in id_claims
                 and claims[name] != id_claims[name]]
    if differing:
        raise UserInfoRefused(_("Les données d'itsme (userinfo) ne correspondent pas à son jeton d'identité : "
                                "connexion refusée."), f"differs from the ID token: {', '.join(differing)}")
    return claims


def client_assertion(sig_pem: str, client_id: str, token_endpoint: str) -> str:
    now = int(clock.now().timestamp())
    return jwt.encode({"iss": client_id, "sub": client_id, "aud": token_endpoint, "iat": now,
                       "exp": now + ASSERTION_LIFETIME, "jti": str(uuid.uuid4())},
                      sig_pem, algorithm="RS256",
                      headers={"kid": public_jwk(sig_pem, "RS256", "sig")["kid"]})
