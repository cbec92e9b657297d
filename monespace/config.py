"""Mon Espace defaults; override with the mapping given to ``create_app`` or
``MONESPACE_*`` environment variables."""
from __future__ import annotations

import os
from datetime import timedelta

from fedsim.federation import Settings


def defaults(settings: Settings) -> dict:
    instance = settings.instance_dir / "monespace"
    return {
        "FEDSIM_SETTINGS": settings,
        "DATABASE_URL": os.environ.get("MONESPACE_DATABASE_URL", f"sqlite:///{instance / 'monespace.sqlite3'}"),
        "SESSION_COOKIE_NAME": "monespace_session",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": settings.smtp_port,
        "MAIL_SENDER": "noreply@monespace.fw-b.be",
        "ACTIVATION_LINK_LIFETIME": timedelta(hours=48),
        "IDLE_TIMEOUT": timedelta(minutes=30),  # logged out after this (monespace.logout)
        # The server-side session (fedsim.sessions) outlives IDLE_TIMEOUT, so
        # that the home page can still say the login expired.
        "SESSION_IDLE_TIMEOUT": timedelta(hours=2),
        "SESSION_MAX_AGE": timedelta(hours=12),
        "PURGE_INTERVAL": timedelta(minutes=5),  # expired sessions and SAML requests (fedsim.purge)
        "PERSONAS_FILE": None,
        "DEMARCHES_FILE": None,
        # Another identity provider upstream instead of CSAM (MONESPACE_CSAM_*):
        # its metadata (a file path or an http(s) URL) and entity ID; unset:
        # the built-in CSAM. CSAM_MAPPING: the attribute and level mapping
        # file (fedsim.saml.mapping); unset: data/csam_mapping.yaml (CSAM's names).
        "CSAM_METADATA": None,
        "CSAM_ENTITY_ID": None,
        "CSAM_MAPPING": None,
        # Encrypted assertions from CSAM (MONESPACE_SAML_SP_WANT_ASSERTIONS_ENCRYPTED):
        # the SP toward CSAM publishes an encryption key (certs/monespace-sp-enc.*)
        # in its metadata and refuses a plain Assertion. Set the environment
        # variable for every process, so that CSAM reads that key when it starts.
        "SAML_SP_WANT_ASSERTIONS_ENCRYPTED": False,
    }
