"""The machines' side of CSAM's OpenID Provider: discovery, JWKS, the token
endpoint and userinfo.

Token endpoint: the client authenticates as it registered
(client_secret_basic, client_secret_post, or none for a public client, whose
PKCE verifier is then its proof); the code is single-use — a second
redemption is refused and revokes the access tokens the first one obtained
(RFC 6749 4.1.2) —, short-lived, and bound to its client, its redirect_uri
and the PKCE challenge. Access tokens are stored as SHA-256 digests with
their expiry. Every refusal is OAuth error JSON with a precise
error_description."""
from __future__ import annotations

import base64
import binascii
import re
import secrets
from urllib.parse import unquote

from flask import current_app, jsonify, request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fedsim import clock
from fedsim.db import Database
from fedsim.levels import FAS_ORDER
from idp_csam.models import Citizen
from idp_csam.oidc import tokens
from idp_csam.oidc.clients import AUTH_METHODS, SCOPES, Client
from idp_csam.oidc.common import (
    BACK,
    SCOPE_CLAIMS,
    OAuthError,
    bp,
    endpoint_url,
    issuer,
    json_error,
    lifetime,
    log_step,
)
from idp_csam.oidc.common import (
    client as find_client,
)
from idp_csam.oidc.front import subject
from idp_csam.oidc.models import OidcAccessToken, OidcAuthorization

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 4.1
# RFC 8176 authentication method references of CSAM's keys
AMR = {"eid": ["hwk", "sc", "pin", "mfa"], "itsme": ["swk", "pin", "mfa"], "app-code": ["pwd", "otp", "mfa"],
       "email_code": ["pwd", "otp", "mfa"], "email-code": ["pwd", "otp", "mfa"], "eidas": ["fed"]}


@bp.get("/.well-known/openid-configuration")
def discovery():
    return jsonify({
        "issuer": issuer(),
        "authorization_endpoint": endpoint_url("authorize"),
        "token_endpoint": endpoint_url("token"),
        "userinfo_endpoint": endpoint_url("userinfo"),
        "jwks_uri": endpoint_url("jwks"),
        "end_session_endpoint": endpoint_url("logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "scopes_supported": list(SCOPES),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
                             *[c for claims in SCOPE_CLAIMS.values() for c in claims]],
        "acr_values_supported": list(FAS_ORDER),
        "prompt_values_supported": ["none", "login"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": False,
    })


@bp.get("/oidc/jwks.json")
def jwks_document():
    return jsonify(tokens.jwks(current_app))


def _basic_credentials() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed Basic authorization header", 401) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "malformed Basic authorization header", 401)
    return unquote(client_id), unquote(secret)  # RFC 6749 2.3.1: form-urlencoded, then Basic


def authenticate_client(form) -> Client:
    """The client, authenticated the way it registered."""
    basic = _basic_credentials()
    if basic is not None:
        used, (client_id, secret) = "client_secret_basic", basic
        if form.get("client_secret"):
            raise OAuthError("invalid_request", "client credentials given twice (Basic and form)")
    elif form.get("client_secret"):
        used, client_id, secret = "client_secret_post", form.get("client_id", ""), form["client_secret"]
    else:
        used, client_id, secret = "none", form.get("client_id", ""), ""
    if form.get("client_id") and form["client_id"] != client_id:
        raise OAuthError("invalid_client", "client_id of the form differs from the authenticated client", 401)
    client = find_client(client_id)
    if client is None:
        raise OAuthError("invalid_client", "unknown client", 401)
    if used != client.token_endpoint_auth_method:
        raise OAuthError("invalid_client", f"this client authenticates with {client.token_endpoint_auth_method}, "
                                           f"not {used}", 401)
    if used != "none" and not client.secret_matches(secret):
        raise OAuthError("invalid_client", "wrong client secret", 401)
    return client


def _redeem(db: Session, client: Client, form) -> OidcAuthorization:
    """The authorization of the code, now used; OAuthError otherwise."""
    if form.get("grant_type") != "authorization_code":
        raise OAuthError("unsupported_grant_type", "authorization_code only")
    code = form.get("code", "")
    auth = db.scalars(select(OidcAuthorization).where(
        OidcAuthorization.code_digest == tokens.digest(code))).first() if code else None
    if auth is None or auth.client_id != client.client_id:
        raise OAuthError("invalid_grant", "unknown authorization code (or issued to another client)")
    if auth.code_used_at is not None:
        raise OAuthError("invalid_grant", "authorization code already used: the tokens it gave are revoked")
    if clock.naive_utc_now() >= auth.code_expires_at:
        raise OAuthError("invalid_grant", "authorization code expired")
    if form.get("redirect_uri") != auth.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
    verifier = form.get("code_verifier", "")
    if auth.code_challenge is None:
        if verifier:
            raise OAuthError("invalid_grant", "code_verifier sent but the authorization request had no "
                                              "code_challenge")
    elif not VERIFIER.match(verifier):
        raise OAuthError("invalid_grant", "code_verifier missing or malformed (43–128 characters, RFC 7636)")
    elif not secrets.compare_digest(tokens.s256(verifier), auth.code_challenge):
        raise OAuthError("invalid_grant", "PKCE verification failed: code_verifier does not match the "
                                          "code_challenge (S256)")
    # single use, also against a concurrent redemption: only one UPDATE finds it unused
    used = db.execute(update(OidcAuthorization).where(OidcAuthorization.id == auth.id,
                                                      OidcAuthorization.code_used_at.is_(None))
                      .values(code_used_at=clock.naive_utc_now())).rowcount
    if used != 1:
        raise OAuthError("invalid_grant", "authorization code already used: the tokens it gave are revoked")
    return auth


def _revoke_after_replay(db: Session, form) -> None:
    """RFC 6749 4.1.2: a code used twice revokes the tokens it gave."""
    code = form.get("code", "")
    auth = db.scalars(select(OidcAuthorization).where(
        OidcAuthorization.code_digest == tokens.digest(code))).first() if code else None
    if auth is not None and auth.code_used_at is not None:
        db.execute(update(OidcAccessToken).where(OidcAccessToken.authorization_id == auth.id)
                   .values(revoked=True))
        db.commit()


def person_claims(citizen: Citizen, auth: OidcAuthorization) -> dict:
    """The claims of the scopes granted: profile, email; egovNRN only with egovnrn."""
    values = {"given_name": citizen.given_name, "family_name": citizen.surname,
              "name": f"{citizen.given_name} {citizen.surname}", "locale": citizen.language,
              "email": citizen.email, "egovNRN": citizen.nrn}
    scopes = auth.scope.split()
    return {claim: values[claim] for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}


def id_token_claims(citizen: Citizen, auth: OidcAuthorization, access_token: str) -> dict:
    now = int(clock.now().timestamp())
    claims = {"iss": issuer(), "sub": subject(citizen.fedid, auth.client_id), "aud": auth.client_id,
              "azp": auth.client_id, "iat": now, "exp": now + int(lifetime("OIDC_ID_TOKEN_LIFETIME").total_seconds()),
              "auth_time": int(auth.auth_time.replace(tzinfo=clock.now().tzinfo).timestamp()),
              "acr": auth.acr, "amr": AMR.get(auth.method or "", [auth.method or "unknown"]),
              "sid": auth.sid, "at_hash": tokens.at_hash(access_token)}
    if auth.nonce:
        claims["nonce"] = auth.nonce
    return {**claims, **person_claims(citizen, auth)}


@bp.post("/oidc/token")
def token():
    db = Database.session()
    form = request.form
    try:
        client = authenticate_client(form)
        try:
            auth = _redeem(db, client, form)
        except OAuthError as exc:
            db.rollback()
            if exc.error == "invalid_grant" and "already used" in exc.description:
                _revoke_after_replay(db, form)
            raise
        citizen = db.get(Citizen, auth.nrn)
        if citizen is None:
            raise OAuthError("invalid_grant", "the authenticated person is no longer known")
        access_token = secrets.token_urlsafe(32)
        expires_in = int(lifetime("OIDC_ACCESS_TOKEN_LIFETIME").total_seconds())
        db.add(OidcAccessToken(digest=tokens.digest(access_token), authorization_id=auth.id,
                               expires_at=clock.naive_utc_now() + lifetime("OIDC_ACCESS_TOKEN_LIFETIME")))
        id_token = tokens.sign(current_app, id_token_claims(citizen, auth, access_token))
        db.commit()
    except OAuthError as exc:
        db.rollback()
        log_step("TokenRequest", "", form.get("client_id", "")[:100] or "?", "refused",
                 f"{exc.error}: {exc.description}", binding=BACK)
        return json_error(exc)
    log_step("IDToken", auth.id, client.client_id, "issued", f"signed RS256; acr {auth.acr}; scope {auth.scope}",
             binding=BACK, to_client=True)
    response = jsonify(access_token=access_token, token_type="Bearer", expires_in=expires_in, id_token=id_token,
                       scope=auth.scope)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo():
    db = Database.session()
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header.startswith("Bearer ") else ""
    access = db.get(OidcAccessToken, tokens.digest(bearer)) if bearer else None
    if access is None or access.revoked or clock.naive_utc_now() >= access.expires_at:
        log_step("UserInfoRequest", "", "?", "refused", "unknown, revoked or expired access token", binding=BACK)
        return json_error(OAuthError("invalid_token", "unknown, revoked or expired access token", 401))
    auth = db.get(OidcAuthorization, access.authorization_id)
    citizen = db.get(Citizen, auth.nrn)
    if citizen is None:
        return json_error(OAuthError("invalid_token", "the person of this token is no longer known", 401))
    log_step("UserInfo", auth.id, auth.client_id, "sent", f"scope {auth.scope}", binding=BACK,
             to_client=True)
    response = jsonify({"sub": subject(citizen.fedid, auth.client_id), **person_claims(citizen, auth)})
    response.headers["Cache-Control"] = "no-store"
    return response
