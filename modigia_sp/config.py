"""Modigia defaults; override with the mapping given to ``create_app`` or
``MODIGIA_*`` environment variables."""
from __future__ import annotations

import os

from fedsim.federation import Settings


def defaults(settings: Settings) -> dict:
    instance = settings.instance_dir / "modigia_sp"
    return {
        "FEDSIM_SETTINGS": settings,
        "DATABASE_URL": os.environ.get("MODIGIA_DATABASE_URL", f"sqlite:///{instance / 'modigia.sqlite3'}"),
        "SESSION_COOKIE_NAME": "modigia_session",
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "POLICIES_FILE": None,
        "COURSES_FILE": None,
    }
