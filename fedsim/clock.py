"""One clock for the whole federation.

Every expiry (SAML validity, activation links, PIN lockouts) asks this module
for the time, so tests can move it with freezegun and a demo can run "in the
future" by setting ``FEDSIM_CLOCK_OFFSET`` (seconds, may be negative).
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone


def _offset() -> timedelta:
    raw = os.environ.get("FEDSIM_CLOCK_OFFSET", "0")
    try:
        return timedelta(seconds=float(raw))
    except ValueError:
        return timedelta(0)


def now() -> datetime:
    """Aware UTC now, shifted by the configured offset."""
    return datetime.now(timezone.utc) + _offset()


def naive_utc_now() -> datetime:
    """UTC now without tzinfo, the form SQLite columns round-trip."""
    return now().replace(tzinfo=None)


def duration(value: timedelta | int | float) -> timedelta:
    """A configured duration: a timedelta, or seconds (from an environment variable)."""
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))
