"""The back-channel leg of CSAM's itsme login (idp_csam.methods.itsme), once
the browser is back with a code: the code for the tokens (private_key_jwt),
the OP's keys, the ID token checked, userinfo fetched with the access token
and checked against the ID token (idp_csam.methods.itsme_checks). Each step
is a protocol-log line; the first failure is ``LoginRefused``, with what to
tell the person."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from fedsim import protocol_log
from idp_csam.i18n import gettext as _
from idp_csam.itsme_backchannel import Http, InProcess, Unreachable
from idp_csam.itsme_oidc import ASSERTION_TYPE, BACK
from idp_csam.methods.itsme_checks import (
    Expected,
    IdTokenRefused,
    client_assertion,
    verify_id_token,
    verify_userinfo,
)

log = logging.getLogger("idp_csam.methods.itsme")


class LoginRefused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class RelyingParty:
    """CSAM as itsme's client (its registration and keys) and the OP's URLs."""
    client_id: str
    redirect_uri: str
    sig_pem: str
    enc_pem: str
    issuer: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    acr_values: tuple[str, ...]


@dataclass
class Exchange:
    rp: RelyingParty
    channel: InProcess | Http
    state: str  # the login's state: the message id of its log lines

    def _log(self, event: str, outcome: str, reason: str) -> None:
        protocol_log.log_step(event, message_id=self.state[:64], issuer=self.rp.issuer, destination=self.rp.client_id,
                              binding=BACK, outcome=outcome, reason=reason)

    def _refuse(self, event: str, message: str, detail: str, status: int = 400) -> LoginRefused:
        log.warning("itsme: %s refused: %s", event, detail)
        self._log(event, "refused", f"{message} ({detail})")
        return LoginRefused(message, status)

    def _call(self, event: str, method: str, url: str, **kwargs):
        try:
            return self.channel.request(method, url, **kwargs)
        except Unreachable as exc:
            raise self._refuse(event, _("itsme ne répond pas (%(detail)s) : vous n'êtes pas connecté. "
                                        "Réessayez dans un instant.", detail=str(exc)),
                               f"itsme unreachable: {exc}", 502) from None

    def run(self, code: str, nonce: str) -> dict:
        """The person's userinfo claims, every check passed; ``LoginRefused`` otherwise."""
        rp = self.rp
        reply = self._call("TokenRequest", "POST", rp.token_endpoint, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "client_id": rp.client_id, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(rp.sig_pem, rp.client_id, rp.token_endpoint)})
        answer = reply.json()
        if reply.status != 200 or not isinstance(answer.get("id_token"), str) \
                or not isinstance(answer.get("access_token"), str):
            raise self._refuse("TokenRequest", _("itsme n'a pas accepté l'échange du code d'autorisation (code "
                                                 "expiré ou déjà utilisé) : recommencez la connexion."),
                               f"token endpoint HTTP {reply.status}: {answer.get('error_description', '?')}")
        keys = self._call("JWKS", "GET", rp.jwks_uri)
        if keys.status != 200:
            raise self._refuse("JWKS", _("Les clés publiques d'itsme sont indisponibles : réessayez dans un "
                                         "instant."), f"OP JWKS HTTP {keys.status}", 502)
        try:
            claims = verify_id_token(answer["id_token"], enc_key_pem=rp.enc_pem, op_jwks=keys.json(),
                                     expected=Expected(rp.issuer, rp.client_id, nonce, rp.acr_values))
        except IdTokenRefused as refused:
            raise self._refuse("IDToken", refused.message, refused.detail) from None
        self._log("IDToken", "accepted", f"acr {claims.get('acr')} ({self.channel.mode} back-channel)")
        info_reply = self._call("UserInfo", "GET", rp.userinfo_endpoint,
                                headers={"Authorization": f"Bearer {answer['access_token']}"})
        try:
            info = verify_userinfo(info_reply, enc_key_pem=rp.enc_pem, op_jwks=keys.json(), issuer=rp.issuer,
                                   client_id=rp.client_id, id_claims=claims)
        except IdTokenRefused as refused:
            raise self._refuse("UserInfo", refused.message, refused.detail) from None
        self._log("UserInfo", "accepted", "signed then encrypted, sub and claims as the ID token's "
                                          f"({self.channel.mode} back-channel)")
        return info
