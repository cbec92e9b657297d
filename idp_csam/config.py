"""CSAM defaults. Anything here can be overridden by the mapping given to
``create_app`` or by ``IDP_CSAM_*`` environment variables."""
from __future__ import annotations

import os

from fedsim.federation import Settings


def defaults(settings: Settings) -> dict:
    instance = settings.instance_dir / "idp_csam"
    return {
        "FEDSIM_SETTINGS": settings,
        "DATABASE_URL": os.environ.get("IDP_CSAM_DATABASE_URL", f"sqlite:///{instance / 'csam.sqlite3'}"),
        "SESSION_COOKIE_NAME": "csam_session",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "PIN_MAX_TRIES": 3,
        "PERSONAS_FILE": None,  # None: the bundled fedsim/data/personas.yaml
    }
