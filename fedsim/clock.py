"""One clock for the whole federation.

Every expiry (SAML validity, activation links, PIN lockouts) asks this module
for the time, so tests can move it with freezegun and a demo can run "in the
future" by setting ``FEDSIM_CLOCK_OFFSET`` (seconds, may be negative).

Processes that serve one federation together (``fedsim up`` on gunicorn: a
master and workers per app) share a further shift through a file named by
``FEDSIM_CLOCK_FILE`` (seconds), which the trainer console writes: each
process looks at the file at most every half second.
"""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

SHARED_FILE_VARIABLE = "FEDSIM_CLOCK_FILE"
_LOOK_EVERY = 0.5  # seconds between two looks at the shared file


class _SharedShift:
    """The shift read from the shared file, cached per process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.path: str | None = None
        self.looked_at = float("-inf")
        self.seconds = 0.0

    def get(self) -> float:
        path = os.environ.get(SHARED_FILE_VARIABLE)
        if not path:
            return 0.0
        now = time.monotonic()
        with self.lock:
            if path != self.path or not 0 <= now - self.looked_at < _LOOK_EVERY:
                self.path, self.looked_at, self.seconds = path, now, _read_seconds(Path(path))
            return self.seconds

    def forget(self) -> None:
        with self.lock:
            self.looked_at = float("-inf")


def _read_seconds(path: Path) -> float:
    try:
        return float(path.read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError, UnicodeDecodeError):
        return 0.0


_shared = _SharedShift()


def shared_shift() -> float:
    """The shift (seconds) every process of the federation applies on top of
    ``FEDSIM_CLOCK_OFFSET``; 0 without a shared file."""
    return _shared.get()


def set_shared_shift(seconds: float) -> None:
    """Move the clock of every process sharing ``FEDSIM_CLOCK_FILE`` (0: no
    shift). ``RuntimeError`` when no shared file is configured."""
    path = os.environ.get(SHARED_FILE_VARIABLE)
    if not path:
        raise RuntimeError(f"{SHARED_FILE_VARIABLE} is not set: no clock shared between processes")
    target = Path(path)
    if seconds:
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(repr(float(seconds)), encoding="ascii")
        os.replace(temporary, target)
    else:
        target.unlink(missing_ok=True)
    _shared.forget()


def _offset_seconds() -> float:
    raw = os.environ.get("FEDSIM_CLOCK_OFFSET")
    try:
        seconds = float(raw) if raw is not None else 0.0
    except ValueError:
        seconds = 0.0
    return seconds + _shared.get()


def now() -> datetime:
    """Aware UTC now, shifted by the configured offset."""
    current = datetime.now(timezone.utc)
    shift = _offset_seconds()
    return current + timedelta(seconds=shift) if shift else current  # no shift, the usual case: no timedelta


def naive_utc_now() -> datetime:
    """UTC now without tzinfo, the form SQLite columns round-trip."""
    return now().replace(tzinfo=None)


def duration(value: timedelta | int | float) -> timedelta:
    """A configured duration: a timedelta, or seconds (from an environment variable)."""
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))
