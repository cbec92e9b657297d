"""Modigia defaults; override with the mapping given to ``create_app`` or
``MODIGIA_*`` environment variables."""
from __future__ import annotations

import os
from datetime import timedelta

from fedsim.federation import Settings


def defaults(settings: Settings) -> dict:
    instance = settings.instance_dir / "modigia_sp"
    return {
        "FEDSIM_SETTINGS": settings,
        "DATABASE_URL": os.environ.get("MODIGIA_DATABASE_URL", f"sqlite:///{instance / 'modigia.sqlite3'}"),
        "SESSION_COOKIE_NAME": "modigia_session",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_IDLE_TIMEOUT": timedelta(hours=1),  # server-side session (fedsim.sessions)
        "SESSION_MAX_AGE": timedelta(hours=12),
        "PURGE_INTERVAL": timedelta(minutes=5),  # expired sessions and SAML requests (fedsim.purge)
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": settings.smtp_port,
        "MAIL_SENDER": "noreply@modigia.cfwb.be",
        "CONTACT_MAILBOX": "Modigia@cfwb.be",
        "HELP_CENTRE_URL": settings.base_url("monespace") + "/centre-aide/",
        "ACCEPTED_TIME_DIFF": 60,  # seconds of clock skew tolerated on NotBefore / NotOnOrAfter
        "POLICIES_FILE": None,
        "COURSES_FILE": None,
        # Encrypted assertions (MODIGIA_WANT_ASSERTIONS_ENCRYPTED): publish an
        # encryption key (certs/modigia-sp-enc.*) in the metadata and refuse a
        # plain Assertion. Set the environment variable for every process, so
        # that Cerbère reads the metadata with that key when it starts.
        "WANT_ASSERTIONS_ENCRYPTED": False,
        # Another identity provider instead of Cerbère Citoyen (MODIGIA_IDP_*):
        # its metadata (a file path or an http(s) URL) and entity ID; unset:
        # the built-in Cerbère. IDP_MAPPING: the attribute and level mapping
        # file (fedsim.saml.mapping); unset: data/idp_mapping.yaml (Cerbère's names).
        "IDP_METADATA": None,
        "IDP_ENTITY_ID": None,
        "IDP_MAPPING": None,
    }
