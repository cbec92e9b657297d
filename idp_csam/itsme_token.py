"""The itsme OP's token and userinfo endpoints (served by idp_csam.itsme_op):
the client authenticates with private_key_jwt (RS256, aud = the token
endpoint, short-lived, single-use jti), the code is exchanged once for an
access token and an ID token signed (RS256) then encrypted for the client
(RSA-OAEP + A256GCM); userinfo answers the bearer of the access token with a
JWT (application/jwt) signed then encrypted the same way."""
from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime

from flask import current_app, jsonify, make_response, request
from jose import jwt
from jose.exceptions import JOSEError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from fedsim import clock
from fedsim.db import Database
from idp_csam.itsme_jose import (
    check_times,
    pick_key,
    private_key,
    sign_then_encrypt,
    verify_jws,
)
from idp_csam.itsme_models import (
    ItsmeAccessToken,
    ItsmeAssertionJti,
    ItsmeAuthorization,
    ItsmePhone,
)
from idp_csam.itsme_oidc import (
    ASSERTION_TYPE,
    BACK,
    MAX_ASSERTION_LIFETIME,
    NRN_CLAIM,
    SUPPORTED_CLAIMS,
    TOKEN_LIFETIME,
    Client,
    ClientKeysUnavailable,
    OAuthError,
    client_jwks,
    clients,
    endpoint_url,
    issuer,
    json_error,
    log_step,
)
from idp_csam.models import Citizen

SIGNED_THEN_ENCRYPTED = "signed (RS256) then encrypted (RSA-OAEP, A256GCM)"


def requested_claims(wanted: dict) -> dict[str, list[str]]:
    """The supported claims a request object's ``claims`` parameter asks for,
    for the ID token and for userinfo (stored as JSON with the request)."""
    return {target: [c for c in wanted.get(target) or {} if c in SUPPORTED_CLAIMS]
            if isinstance(wanted.get(target), dict) else [] for target in ("id_token", "userinfo")}


def _stored_claims(auth: ItsmeAuthorization, target: str) -> list[str]:
    stored = json.loads(auth.claims)
    if isinstance(stored, list):  # stored before userinfo claims were kept apart: the same for both
        return stored
    return list(stored.get(target, []))


def authenticate_client(db: Session, form) -> Client:
    """private_key_jwt: an RS256 assertion by the client, aud = the token
    endpoint, short-lived, its jti used once."""
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        raise OAuthError("invalid_client", "private_key_jwt client assertion required", 401)
    try:
        unverified = jwt.get_unverified_claims(form["client_assertion"])
    except JOSEError:
        raise OAuthError("invalid_client", "malformed client assertion", 401) from None
    client = clients().get(str(unverified.get("iss", "")))
    if client is None or form.get("client_id", client.client_id) != client.client_id:
        raise OAuthError("invalid_client", "unknown client", 401)
    try:
        claims = verify_jws(form["client_assertion"], client_jwks(client))
        check_times(claims, max_lifetime=MAX_ASSERTION_LIFETIME)
    except ClientKeysUnavailable as exc:
        raise OAuthError("invalid_client", str(exc), 401) from None
    except (JOSEError, ValueError) as exc:
        raise OAuthError("invalid_client", f"client assertion refused: {exc}", 401) from None
    if claims.get("sub") != client.client_id or claims.get("aud") != endpoint_url("token"):
        raise OAuthError("invalid_client", "client assertion: wrong sub or aud", 401)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise OAuthError("invalid_client", "client assertion without jti", 401)
    if db.get(ItsmeAssertionJti, jti) is not None:
        raise OAuthError("invalid_client", "client assertion replayed (jti already used)", 401)
    db.add(ItsmeAssertionJti(jti=jti, expires_at=datetime.fromtimestamp(claims["exp"], UTC)
                             .replace(tzinfo=None)))
    return client


def _person_claims(db: Session, auth: ItsmeAuthorization) -> dict:
    citizen = db.get(Citizen, db.get(ItsmePhone, auth.phone).nrn)
    return {"sub": hashlib.sha256(f"{auth.client_id}:{citizen.nrn}".encode()).hexdigest(),
            NRN_CLAIM: citizen.nrn, "given_name": citizen.given_name, "family_name": citizen.surname,
            "email": citizen.email}


def id_token_claims(db: Session, auth: ItsmeAuthorization) -> dict:
    values = _person_claims(db, auth)
    now = int(clock.now().timestamp())
    claims = {"iss": issuer(), "aud": auth.client_id, "iat": now, "exp": now + int(TOKEN_LIFETIME.total_seconds()),
              "nonce": auth.nonce, "acr": auth.acr, "amr": ["mobile-app"], "sub": values["sub"]}
    claims.update({name: values[name] for name in _stored_claims(auth, "id_token") if name in values})
    return claims


def userinfo_claims(db: Session, auth: ItsmeAuthorization) -> dict:
    """What userinfo answers: sub and the claims asked for userinfo, with iss
    and aud (a signed userinfo names who issued it and for whom)."""
    values = _person_claims(db, auth)
    claims = {"iss": issuer(), "aud": auth.client_id, "iat": int(clock.now().timestamp()), "sub": values["sub"]}
    claims.update({name: values[name] for name in _stored_claims(auth, "userinfo") if name in values})
    return claims


def _client_enc_key(client: Client) -> dict:
    try:
        return pick_key(client_jwks(client), None, "enc", "RSA-OAEP")
    except ClientKeysUnavailable as exc:
        raise OAuthError("invalid_client", str(exc), 401) from None
    except JOSEError:
        raise OAuthError("invalid_client", "the client publishes no RSA-OAEP encryption key") from None


def token_endpoint() -> Response:
    """POST /itsme-op/token: the authorization code for the tokens."""
    db = Database.session()
    try:
        client = authenticate_client(db, request.form)
        if request.form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "authorization_code only")
        code = request.form.get("code", "")
        auth = db.scalars(select(ItsmeAuthorization).where(ItsmeAuthorization.code == code)).first() if code else None
        if auth is None or auth.client_id != client.client_id:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if auth.code_used_at is not None:
            # A replayed code: refuse it and revoke what the first use obtained.
            for access in db.scalars(select(ItsmeAccessToken).where(ItsmeAccessToken.authorization_id == auth.id)):
                access.revoked = True
            db.commit()
            raise OAuthError("invalid_grant", "authorization code already used")
        if clock.naive_utc_now() >= auth.code_expires_at:
            raise OAuthError("invalid_grant", "authorization code expired")
        if request.form.get("redirect_uri") != auth.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        enc_key = _client_enc_key(client)
        auth.code_used_at = clock.naive_utc_now()
        access_token = secrets.token_urlsafe(32)
        db.add(ItsmeAccessToken(digest=hashlib.sha256(access_token.encode()).hexdigest(), authorization_id=auth.id,
                                expires_at=clock.naive_utc_now() + TOKEN_LIFETIME))
        id_token = sign_then_encrypt(id_token_claims(db, auth), private_key(current_app, "itsme-op-sig"), enc_key)
        db.commit()
    except OAuthError as exc:
        db.rollback()
        log_step("TokenRequest", "", request.form.get("client_id", "?")[:100], "refused",
                 f"{exc.error}: {exc.description}", binding=BACK)
        return json_error(exc)
    log_step("IDToken", auth.id, client.client_id, "issued", SIGNED_THEN_ENCRYPTED, binding=BACK, to_client=True)
    response = jsonify(access_token=access_token, token_type="Bearer",
                       expires_in=int(TOKEN_LIFETIME.total_seconds()), id_token=id_token)
    response.headers["Cache-Control"] = "no-store"
    return response


def userinfo_endpoint() -> Response:
    """GET or POST /itsme-op/userinfo: the person's claims as a JWT
    (application/jwt), signed by the OP then encrypted for the client."""
    db = Database.session()
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header.startswith("Bearer ") else ""
    access = db.get(ItsmeAccessToken, hashlib.sha256(bearer.encode()).hexdigest()) if bearer else None
    if access is None or access.revoked or clock.naive_utc_now() >= access.expires_at:
        log_step("UserInfoRequest", "", "?", "refused", "unknown, revoked or expired access token", binding=BACK)
        response = json_error(OAuthError("invalid_token", "unknown, revoked or expired access token", 401))
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    auth = db.get(ItsmeAuthorization, access.authorization_id)
    try:
        enc_key = _client_enc_key(clients()[auth.client_id])
    except OAuthError as exc:
        log_step("UserInfoRequest", auth.id, auth.client_id, "refused", f"{exc.error}: {exc.description}",
                 binding=BACK)
        return json_error(exc)
    answer = sign_then_encrypt(userinfo_claims(db, auth), private_key(current_app, "itsme-op-sig"), enc_key)
    log_step("UserInfo", auth.id, auth.client_id, "issued", SIGNED_THEN_ENCRYPTED, binding=BACK, to_client=True)
    response = make_response(answer)
    response.headers["Content-Type"] = "application/jwt"
    response.headers["Cache-Control"] = "no-store"
    return response
