"""The browser's side of CSAM's OpenID Provider: the authorization endpoint,
the answer once the person has authenticated (the same key chooser and
methods as SAML: idp_csam.login, idp_csam.authn.complete), and RP-initiated
logout.

The authorization request is checked in this order: an unknown client or a
redirect_uri it did not register gets an error page (never a redirect);
every other fault goes back to that redirect_uri as an OAuth error
(RFC 6749 4.1.2.1) with the request's state. The request waits in the
database (``oidc_authorization``); the session holds its id only
(``pending_oidc``) and tells idp_csam.authn.complete to come back here
(``after_authn``)."""
from __future__ import annotations

import re
import secrets
from typing import NoReturn

from flask import current_app, redirect, render_template, request, session, url_for
from jose.exceptions import JOSEError
from sqlalchemy import select
from werkzeug.wrappers import Response

from fedsim import clock, keys, sessions
from fedsim.db import Database
from fedsim.levels import FAS_ORDER
from fedsim.saml.idp import pairwise_id
from fedsim.web import UserError
from idp_csam import sso_session
from idp_csam.authn import reaches
from idp_csam.i18n import gettext as _
from idp_csam.models import Citizen
from idp_csam.oidc import tokens
from idp_csam.oidc.clients import Client
from idp_csam.oidc.common import (
    ERROR_TITLE,
    OAuthError,
    bp,
    issuer,
    lifetime,
    log_step,
    redirect_error,
    with_query,
)
from idp_csam.oidc.common import (
    client as find_client,
)
from idp_csam.oidc.models import OidcAuthorization

PENDING = "pending_oidc"      # the session key: the id of the request waiting for the person
AFTER_AUTHN = "after_authn"   # where idp_csam.authn.complete goes next (default: the SAML answer)
CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # BASE64URL(SHA-256): 43 characters
PROMPTS = {"none", "login", "consent", "select_account"}


def subject(fedid: str, client_id: str) -> str:
    """The pairwise ``sub`` of a person for a client (OIDC Core 8.1): no two clients can correlate."""
    return pairwise_id(keys.key("pairwise"), fedid, f"oidc:{client_id}")


def _available_levels() -> set[str]:
    return {m.level for m in current_app.extensions["idp_csam.methods"] if m.available}


def _acr_minimum(acr_values: str) -> str | None:
    """The weakest FAS level of ``acr_values`` (the request's minimum), None
    when none is asked; OAuthError when no key of CSAM can reach it."""
    asked = acr_values.split()
    if not asked:
        return None
    known = [v for v in asked if v in FAS_ORDER]
    if not known:
        raise OAuthError("unmet_authentication_requirements",
                         f"acr_values {acr_values!r}: no FAS level CSAM knows (it knows {' '.join(FAS_ORDER)})")
    minimum = min(known, key=FAS_ORDER.index)
    if not any(reaches(level, minimum) for level in _available_levels()):
        raise OAuthError("unmet_authentication_requirements",
                         f"no digital key of CSAM reaches {minimum} (acr_values {acr_values!r})")
    return minimum


def _check_request(args, client: Client) -> dict:
    """The authorization request's values, or OAuthError saying what is wrong."""
    if args.get("request") or args.get("request_uri"):
        raise OAuthError("request_not_supported", "request objects are not supported: send plain parameters")
    if args.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "only the authorization code flow (response_type=code)")
    scopes = args.get("scope", "").split()
    if "openid" not in scopes:
        raise OAuthError("invalid_scope", "scope must contain openid")
    refused = [s for s in scopes if s not in client.scopes]
    if refused:
        raise OAuthError("invalid_scope", f"scope {' '.join(refused)} not allowed for this client "
                                          f"(allowed: {' '.join(client.scopes)})")
    method = args.get("code_challenge_method", "plain" if args.get("code_challenge") else "")
    challenge = args.get("code_challenge", "")
    if challenge or method:
        if method != "S256":
            raise OAuthError("invalid_request", f"code_challenge_method {method!r} refused: S256 only")
        if not CHALLENGE.match(challenge):
            raise OAuthError("invalid_request", "code_challenge must be BASE64URL(SHA-256(code_verifier)), "
                                                "43 characters")
    elif client.public:
        raise OAuthError("invalid_request", "a public client must use PKCE (code_challenge, S256)")
    prompt = set(args.get("prompt", "").split())
    if not prompt <= PROMPTS or ("none" in prompt and len(prompt) > 1):
        raise OAuthError("invalid_request", f"prompt {args.get('prompt')!r} refused (none alone, or login)")
    max_age = args.get("max_age", "")
    if max_age and not (max_age.isdigit() and len(max_age) <= 9):
        raise OAuthError("invalid_request", "max_age must be a number of seconds")
    for name, limit in (("nonce", 500), ("state", 500)):
        if len(args.get(name, "")) > limit:
            raise OAuthError("invalid_request", f"{name} longer than {limit} characters")
    return {"scope": " ".join(dict.fromkeys(scopes)), "nonce": args.get("nonce", ""), "code_challenge": challenge or None,
            "acr_min": _acr_minimum(args.get("acr_values", "")),
            "prompt": "none" if "none" in prompt else ("login" if "login" in prompt else ""),
            "max_age": int(max_age) if max_age else None}


@bp.route("/oidc/authorize", methods=["GET", "POST"])
def authorize():
    args = request.values
    client_id = args.get("client_id", "")
    client = find_client(client_id)
    if client is None:
        log_step("AuthorizationRequest", "", client_id[:100] or "?", "refused", "unknown client_id")
        raise UserError(_("Application cliente inconnue de CSAM (client_id non enregistré) : la demande de "
                          "connexion OpenID Connect est refusée."), title=_(ERROR_TITLE))
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        log_step("AuthorizationRequest", "", client.client_id, "refused", "redirect_uri not registered")
        raise UserError(_("L'adresse de retour (redirect_uri) n'est pas enregistrée pour cette application "
                          "cliente : CSAM n'y renvoie pas."), title=_(ERROR_TITLE))
    state = args.get("state", "")[:500]
    try:
        values = _check_request(args, client)
    except OAuthError as exc:
        log_step("AuthorizationRequest", "", client.client_id, "refused", f"{exc.error}: {exc.description}")
        return redirect_error(redirect_uri, state, exc)
    now = clock.naive_utc_now()
    auth = OidcAuthorization(id=secrets.token_urlsafe(24), client_id=client.client_id, redirect_uri=redirect_uri,
                             state=state, created_at=now, expires_at=now + lifetime("OIDC_REQUEST_LIFETIME"),
                             status="pending", **values)
    db = Database.session()
    db.add(auth)
    db.commit()
    session[PENDING] = auth.id
    session.pop("pending_authn", None)  # the newest request is the one the person answers
    log_step("AuthorizationRequest", auth.id, client.client_id, "accepted",
             f"scope {auth.scope}; acr ≥ {auth.acr_min or 'any'}; prompt {auth.prompt or '-'}; "
             f"PKCE {'S256' if auth.code_challenge else 'no'}")
    return redirect(url_for("oidc.answer"))


def pending_minimum() -> str | None:
    """The level the waiting OIDC request asks for, when the person is
    authenticating for one (the key chooser offers only keys that reach it)."""
    if session.get(AFTER_AUTHN) != "oidc.answer" or not session.get(PENDING):
        return None
    auth = Database.session().get(OidcAuthorization, session[PENDING])
    return auth.acr_min if auth is not None and auth.status == "pending" else None


def _refuse(db, auth: OidcAuthorization, exc: OAuthError) -> Response:
    auth.status = "refused"
    db.commit()
    session.pop(PENDING, None)
    session.pop(AFTER_AUTHN, None)
    log_step("AuthorizationResponse", auth.id, auth.client_id, "refused", f"{exc.error}: {exc.description}",
             to_client=True)
    return redirect_error(auth.redirect_uri, auth.state, exc)


def _authenticate(db, auth: OidcAuthorization, why: str) -> Response:
    """The person must (again) authenticate: the key chooser, or login_required with prompt=none."""
    if auth.prompt == "none":
        return _refuse(db, auth, OAuthError("login_required", f"prompt=none but {why}"))
    session[AFTER_AUTHN] = "oidc.answer"
    return redirect(url_for("login.choose"))


@bp.get("/oidc/answer")
def answer():
    db = Database.session()
    auth = db.get(OidcAuthorization, session.get(PENDING) or "")
    if auth is None or auth.status != "pending":
        session.pop(PENDING, None)
        raise UserError(_("Aucune demande de connexion OpenID Connect n'est en cours dans ce navigateur (déjà "
                          "traitée ou inconnue) : recommencez depuis l'application."), code=409,
                        title=_(ERROR_TITLE))
    session.pop(AFTER_AUTHN, None)
    now = clock.naive_utc_now()
    if now >= auth.expires_at:
        return _refuse(db, auth, OAuthError("access_denied", "the authorization request expired before the "
                                                               "person authenticated"))
    current = sso_session.current(session, sso_session.Lifetime.from_config(current_app.config))
    if current is None:
        return _authenticate(db, auth, "nobody is authenticated at CSAM")
    at = sso_session.authenticated_at(current).replace(tzinfo=None)
    fresh = at >= auth.created_at
    if auth.prompt == "login" and not fresh:
        return _authenticate(db, auth, "prompt=login")
    if auth.max_age is not None and (now - at).total_seconds() > auth.max_age and not fresh:
        return _authenticate(db, auth, f"the authentication is older than max_age={auth.max_age}")
    if not reaches(current["level"], auth.acr_min):
        if not fresh:
            return _authenticate(db, auth, f"the CSAM session's level {current['level']} is below {auth.acr_min}")
        return _refuse(db, auth, OAuthError("unmet_authentication_requirements",
                                            f"the person authenticated at {current['level']}, below {auth.acr_min}"))
    citizen = db.get(Citizen, current["nrn"])
    if citizen is None:
        sso_session.forget(session)
        return _refuse(db, auth, OAuthError("access_denied", "the authenticated person is no longer known"))
    code = secrets.token_urlsafe(32)
    auth.status, auth.nrn, auth.method, auth.acr = "answered", citizen.nrn, current["method"], current["level"]
    auth.auth_time, auth.sid = at, sso_session.session_index(session)
    auth.code_digest, auth.code_expires_at = tokens.digest(code), now + lifetime("OIDC_CODE_LIFETIME")
    db.commit()
    sso_session.answered(session, auth.client_id, subject(citizen.fedid, auth.client_id), "oidc:pairwise")
    session.pop(PENDING, None)
    log_step("AuthorizationResponse", auth.id, auth.client_id, "sent",
             f"code for acr {auth.acr} ({'new authentication' if fresh else 'single sign-on'})", to_client=True)
    return redirect(with_query(auth.redirect_uri, {"code": code, "state": auth.state or None, "iss": issuer()}))


def _logout_error(message: str, client_id: str, reason: str) -> NoReturn:
    log_step("LogoutRequest", "", client_id or "?", "refused", reason)
    raise UserError(message, title=_(ERROR_TITLE))


@bp.route("/oidc/logout", methods=["GET", "POST"])
def end_session():
    """RP-initiated logout 1.0: ends the CSAM session, then back to a
    registered post_logout_redirect_uri (with state) or a page saying so."""
    args = request.values
    hint, target = args.get("id_token_hint", ""), args.get("post_logout_redirect_uri", "")
    client_id = args.get("client_id", "")
    claims: dict = {}
    if hint:
        try:
            claims = tokens.verify_own(current_app, hint)
        except (JOSEError, ValueError) as exc:
            _logout_error(_("Le jeton id_token_hint n'a pas été émis par CSAM ou a été modifié : la "
                            "déconnexion est refusée."), client_id, f"id_token_hint refused: {exc}")
        audience = claims.get("aud")
        if claims.get("iss") != issuer() or not isinstance(audience, str) or client_id not in ("", audience):
            _logout_error(_("Le jeton id_token_hint ne correspond pas à cette application cliente."), client_id,
                          "id_token_hint: wrong iss, aud or client_id")
        client_id = audience
    client = find_client(client_id)
    if target and (client is None or target not in client.post_logout_redirect_uris):
        _logout_error(_("L'adresse post_logout_redirect_uri n'est pas enregistrée pour cette application "
                        "cliente : CSAM n'y renvoie pas."), client_id, "post_logout_redirect_uri not registered")
    current = session.get(sso_session.AUTHENTICATED)
    if current and claims:
        citizen = Database.session().scalars(select(Citizen.fedid).where(Citizen.nrn == current["nrn"])).first()
        if citizen is None or subject(citizen, client_id) != claims.get("sub"):
            _logout_error(_("Le jeton id_token_hint désigne une autre personne que celle connectée à CSAM : "
                            "la déconnexion est refusée."), client_id, "id_token_hint: another person than the session's")
    sessions.destroy()  # the CSAM single sign-on ends, on the server
    log_step("LogoutRequest", str(claims.get("sid", "")), client_id or "?", "accepted",
             "CSAM session ended" + (f", back to {target}" if target else ""))
    if target:
        return redirect(with_query(target, {"state": args.get("state", "")[:500] or None}))
    return render_template("idp_csam/oidc/logged_out.html")
