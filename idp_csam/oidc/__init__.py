"""CSAM as an OpenID Provider (OpenID Connect Core 1.0, authorization code
flow with PKCE), besides SAML, as the real FAS offers both.

- ``/.well-known/openid-configuration``, ``/oidc/jwks.json``: discovery and
  the signing key (RS256, certs/csam-oidc-sig.key).
- ``/oidc/authorize`` → the key chooser of idp_csam.login (only keys that
  reach the ``acr_values``) → ``/oidc/answer`` → the client's redirect_uri
  with a code (idp_csam.oidc.front); silent when the CSAM session already
  meets the request.
- ``/oidc/token``, ``/oidc/userinfo`` (idp_csam.oidc.back).
- ``/oidc/logout``: RP-initiated logout, ends the CSAM session.

Clients: idp_csam.oidc.clients (YAML; ``fedsim oidc register``). Tables:
idp_csam.oidc.models. Scopes: openid, profile, email, egovnrn (the national
register number, ``egovNRN``). ``acr`` is the FAS level reached."""
from __future__ import annotations

from flask import Flask

from idp_csam.oidc import back, front
from idp_csam.oidc.clients import BUNDLED_FILE, Registry, registration_file
from idp_csam.oidc.common import REGISTRY, bp
from idp_csam.oidc.models import purge

__all__ = ["init_app", "purge"]


def init_app(app: Flask) -> None:
    """The blueprint, its clients, and the token endpoints exempt from CSRF
    (machine-to-machine POSTs, authenticated by the client or the token)."""
    app.extensions[REGISTRY] = Registry((BUNDLED_FILE, registration_file(app.config)))
    app.register_blueprint(bp)
    csrf = app.extensions["csrf"]
    csrf.exempt(back.token)
    csrf.exempt(back.userinfo)
    csrf.exempt(front.authorize)   # an RP may POST the authorization request (OIDC Core 3.1.2.1)
    csrf.exempt(front.end_session)  # likewise the logout request
