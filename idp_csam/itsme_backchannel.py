"""The itsme back-channel: the server-to-server calls between CSAM (the
relying party, idp_csam.methods.itsme) and the simulated itsme OP
(idp_csam.itsme_op) — the token endpoint, the JWKS of either side, userinfo.

Two ways, chosen by the app's ``ITSME_BACKCHANNEL`` setting:

- ``"http"``: real HTTP with requests (timeouts; an OP that does not answer
  is ``Unreachable``, never a hang). ``fedsim up`` and every federation served
  on ports (fedsim_harness.serve) use it: the calls leave the process and come
  back through the served port, as between two real parties.
- ``"in-process"`` (the default): through the app's WSGI test client — the
  same endpoints, without a socket — for federations that serve no port
  (tests, in-process scenarios), where nobody would answer an HTTP call.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import Flask, current_app

from idp_csam.i18n import gettext as _

MODES = ("http", "in-process")
CONNECT_TIMEOUT, READ_TIMEOUT = 3.0, 10.0  # seconds
USER_AGENT = "fedsim-itsme-backchannel/1"
MAX_BODY = 256 * 1024  # a back-channel answer is a few kilobytes


class Unreachable(Exception):
    """The other side did not answer (refused, timed out, unreadable); the
    message says which URL and why, for the log and the person."""


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str  # without parameters, lower case: "application/jwt"
    body: bytes

    def json(self) -> dict:
        """The body as a JSON object ({} when it is not one)."""
        try:
            document = json.loads(self.body)
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}


def _media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


class InProcess:
    """Through the app's WSGI test client: the real endpoints, no socket."""
    mode = "in-process"

    def __init__(self, app: Flask) -> None:
        self.app = app

    def request(self, method: str, url: str, *, data: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        parts = urlsplit(url)
        with self.app.test_client() as client:
            response = client.open(parts.path, method=method, query_string=parts.query, data=data,
                                   headers=headers or {}, base_url=f"{parts.scheme}://{parts.netloc}")
        return Reply(response.status_code, _media_type(response.headers.get("Content-Type")), response.get_data())


class Http:
    """Over HTTP with requests: one connection per call (no pool to go
    stale across a reset), connect and read timeouts, no redirects."""
    mode = "http"

    def __init__(self, connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT) -> None:
        self.timeouts = (connect_timeout, read_timeout)

    def request(self, method: str, url: str, *, data: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        sent = {"User-Agent": USER_AGENT, "Connection": "close", **(headers or {})}
        where = url.split("?")[0]
        try:
            response = requests.request(method, url, data=data, headers=sent, timeout=self.timeouts,
                                        allow_redirects=False, stream=True)
            with response:
                body = b""
                for chunk in response.iter_content(16 * 1024):
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise Unreachable(_("%(url)s : réponse trop longue", url=where))
        except requests.Timeout:
            raise Unreachable(_("%(url)s : pas de réponse en %(seconds)s s", url=where,
                                 seconds=f"{self.timeouts[1]:g}")) from None
        except requests.ConnectionError:
            raise Unreachable(_("%(url)s : connexion refusée ou impossible", url=where)) from None
        except (requests.RequestException, OSError) as exc:
            raise Unreachable(f"{where} : {type(exc).__name__}") from None
        return Reply(response.status_code, _media_type(response.headers.get("Content-Type")), body)


def backchannel(app: Flask | None = None) -> InProcess | Http:
    """The back-channel the app is configured for (``ITSME_BACKCHANNEL``)."""
    app = app or current_app._get_current_object()
    if mode(app) == "http":
        return Http(read_timeout=timeout(app))
    return InProcess(app)


def mode(app: Flask) -> str:
    """``ITSME_BACKCHANNEL``, checked (``ValueError`` names the bad value)."""
    value = str(app.config.get("ITSME_BACKCHANNEL", "in-process")).strip().lower()
    if value not in MODES:
        raise ValueError(f"ITSME_BACKCHANNEL must be one of {', '.join(MODES)}, not {value!r}")
    return value


def timeout(app: Flask) -> float:
    """``ITSME_BACKCHANNEL_TIMEOUT`` in seconds, checked (``ValueError`` names the bad value)."""
    raw = app.config.get("ITSME_BACKCHANNEL_TIMEOUT", READ_TIMEOUT)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = 0.0
    if not 0 < value <= 300:
        raise ValueError(f"ITSME_BACKCHANNEL_TIMEOUT must be a number of seconds between 0 and 300, not {raw!r}")
    return value


def check(app: Flask) -> None:
    """Both settings, when the app is created: a bad one stops it there, named."""
    mode(app)
    timeout(app)
