"""CSAM defaults. Anything here can be overridden by the mapping given to
``create_app`` or by ``IDP_CSAM_*`` environment variables."""
from __future__ import annotations

import os
from datetime import timedelta

from fedsim.federation import Settings


def defaults(settings: Settings) -> dict:
    instance = settings.instance_dir / "idp_csam"
    return {
        "FEDSIM_SETTINGS": settings,
        "DATABASE_URL": os.environ.get("IDP_CSAM_DATABASE_URL", f"sqlite:///{instance / 'csam.sqlite3'}"),
        "SESSION_COOKIE_NAME": "csam_session",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        # The server-side session (fedsim.sessions); how long CSAM's single
        # sign-on lasts is the protocol's business (the "authenticated" entry).
        "SESSION_IDLE_TIMEOUT": timedelta(hours=12),
        "SESSION_MAX_AGE": timedelta(hours=24),
        "PURGE_INTERVAL": timedelta(minutes=5),  # expired sessions, requests, codes (fedsim.purge)
        # CSAM's single sign-on: past either limit it authenticates the person
        # again instead of answering silently (idp_csam.sso_session).
        "SSO_SESSION_MAX_AGE": timedelta(hours=8),   # since the authentication
        "SSO_SESSION_IDLE": timedelta(minutes=30),   # since CSAM last answered for it
        "PIN_MAX_TRIES": 3,
        "PERSONAS_FILE": None,  # None: the bundled fedsim/data/personas.yaml
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": settings.smtp_port,
        "MAIL_SENDER": "noreply@csam.belgium.be",
        "EMAIL_CODE_LIFETIME": timedelta(minutes=10),     # security code by e-mail (G05, G21)
        "EMAIL_CODE_MAX_ATTEMPTS": 5,
        "EMAIL_CODE_RESEND_DELAY": timedelta(seconds=30),
        "BEL_ACTIVATION_LIFETIME": timedelta(days=7),     # BEL activation link and paper code (G20)
        # CSAM as an OpenID Provider (idp_csam.oidc): None → <instance>/idp_csam/oidc_clients.yaml
        "OIDC_CLIENTS_FILE": None,
        "OIDC_REQUEST_LIFETIME": timedelta(minutes=10),   # authorization request waiting for the person
        "OIDC_CODE_LIFETIME": timedelta(seconds=60),      # authorization code, single use
        "OIDC_ACCESS_TOKEN_LIFETIME": timedelta(minutes=10),
        "OIDC_ID_TOKEN_LIFETIME": timedelta(minutes=10),
        # itsme's back-channel (idp_csam.itsme_backchannel): "http" when served on ports
        # (fedsim_harness.serve sets it), else through the app's test client.
        "ITSME_BACKCHANNEL": "in-process",
        "ITSME_BACKCHANNEL_TIMEOUT": 10.0,  # seconds an HTTP back-channel call may wait for its answer
        # « Connexion rapide », the simulator's shortcut for developers (idp_csam.quick_login):
        # off by default, never in trainer mode. IDP_CSAM_QUICK_LOGIN=1 or `fedsim up --quick-login`.
        "QUICK_LOGIN": False,
    }
