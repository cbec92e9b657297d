"""CSAM's single sign-on session: whether the person's authentication may
still answer a service silently (SSO_SESSION_MAX_AGE since it happened,
SSO_SESSION_IDLE since CSAM last answered with it), when it really happened
(the AuthnInstant), when it ends (SessionNotOnOrAfter), its SessionIndex,
and which services it answered under which NameID (Single Logout).

It lives in the person's session: ``authenticated`` (written by
idp_csam.authn.complete, with ``at``; ``seen`` and ``session_index`` added
here) and ``sso_sps``. Functions take that mapping as their first argument."""
from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from fedsim import clock
from fedsim.saml.idp import new_session_index

AUTHENTICATED = "authenticated"
SERVED = "sso_sps"


@dataclass(frozen=True)
class Lifetime:
    max_age: timedelta  # since the authentication
    idle: timedelta     # since CSAM last answered with it

    @classmethod
    def from_config(cls, config: MutableMapping) -> "Lifetime":
        """SSO_SESSION_MAX_AGE, SSO_SESSION_IDLE: timedeltas, or seconds (environment)."""
        return cls(clock.duration(config["SSO_SESSION_MAX_AGE"]), clock.duration(config["SSO_SESSION_IDLE"]))


def _instant(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def authenticated_at(auth: dict) -> datetime:
    """When the person really authenticated (the AuthnInstant)."""
    return _instant(auth.get("at")) or clock.now()


def ends_at(auth: dict, lifetime: Lifetime) -> datetime:
    """The end of the SSO session at the latest (SessionNotOnOrAfter)."""
    return authenticated_at(auth) + lifetime.max_age


def current(store: MutableMapping, lifetime: Lifetime) -> dict | None:
    """The person's authentication if it may still answer silently; an
    expired one is forgotten (with the services it answered), so the next
    request authenticates the person again."""
    auth = store.get(AUTHENTICATED)
    if not auth:
        return None
    at = _instant(auth.get("at"))
    seen = max(filter(None, (at, _instant(auth.get("seen")))), default=None)
    now = clock.now()
    if at is None or now - at > lifetime.max_age or now - seen > lifetime.idle:
        forget(store)
        return None
    return auth


def forget(store: MutableMapping) -> None:
    store.pop(AUTHENTICATED, None)
    store.pop(SERVED, None)


def session_index(store: MutableMapping) -> str:
    """The SessionIndex of the current authentication (made on first use; a
    new authentication gets a new one)."""
    auth = dict(store[AUTHENTICATED])
    if not auth.get("session_index"):
        auth["session_index"] = new_session_index()
        store[AUTHENTICATED] = auth
    return auth["session_index"]


def answered(store: MutableMapping, sp_entity_id: str, name_id: str, name_id_format: str) -> None:
    """CSAM answered ``sp_entity_id`` with this authentication: it was in
    use (idle clock restarts), and that service is logged out with it."""
    auth = dict(store[AUTHENTICATED])
    auth["seen"] = clock.now().isoformat()
    store[AUTHENTICATED] = auth
    served = dict(store.get(SERVED) or {})
    served[sp_entity_id] = {"name_id": name_id, "format": name_id_format, "session_index": session_index(store)}
    store[SERVED] = served


def served(store: MutableMapping, sp_entity_id: str) -> dict | None:
    """What CSAM told ``sp_entity_id`` with the current authentication:
    ``name_id``, ``format``, ``session_index``; None if nothing."""
    found = (store.get(SERVED) or {}).get(sp_entity_id)
    auth = store.get(AUTHENTICATED) or {}
    if found is None or found.get("session_index") != auth.get("session_index"):
        return None
    return found
