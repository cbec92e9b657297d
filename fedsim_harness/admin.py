"""The harness's administration endpoint, on the mailbox app (the harness's
own app, port 5025): ``POST /admin/reset`` puts the federation back to the
state it was built in (``fedsim reset``, ``fedsim scenario run --running``).

Local only: refused (403) unless the client is on this machine (a loopback
address), and refused to a page of another site that makes the visitor's
browser post to it (an ``Origin`` header naming another origin); a Host
header that is not a name of the federation (DNS rebinding) is refused (400)
by the mailbox app before this view runs (fedsim.mailbox.app). Answers
JSON: ``{"reset": true, "ms": 12.3}``.

:func:`request_reset` is the client side."""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Flask, current_app, jsonify, request

bp = Blueprint("fedsim_admin", __name__, url_prefix="/admin")

RESET = "fedsim.reset"  # app.extensions key: the federation's reset, () -> milliseconds


def install(mailbox: Flask, reset: Callable[[], float]) -> None:
    """Serve ``POST /admin/reset`` from ``mailbox``, calling ``reset``."""
    mailbox.extensions[RESET] = reset
    mailbox.register_blueprint(bp)


def is_loopback(address: str | None) -> bool:
    """Whether a client address is this machine's (IPv4/IPv6 loopback)."""
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _cross_site() -> bool:
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc != request.host


@bp.post("/reset")
def reset():
    if not is_loopback(request.remote_addr):
        return jsonify(reset=False, error=f"refused: only a client on this machine may reset the federation "
                                          f"(this request came from {request.remote_addr})"), 403
    if _cross_site():
        return jsonify(reset=False, error="refused: a page of another site may not reset the federation"), 403
    try:
        ms = current_app.extensions[RESET]()
    except Exception as exc:  # noqa: BLE001 - whatever failed, the caller gets one readable line
        current_app.logger.exception("reset failed")
        return jsonify(reset=False, error=f"the reset failed: {type(exc).__name__}: {exc}"), 500
    return jsonify(reset=True, ms=round(ms, 1))


class ResetUnavailable(RuntimeError):
    """The federation at that URL could not be reset; the message says why, in one line."""


def request_reset(mailbox_url: str, timeout: float = 30) -> float:
    """Ask the federation whose mailbox is at ``mailbox_url`` to reset;
    returns the milliseconds the reset took there."""
    try:
        answer = requests.post(f"{mailbox_url}/admin/reset", timeout=timeout)
    except requests.ConnectionError:
        raise ResetUnavailable(f"No federation is running at {mailbox_url} — start one with `fedsim up`.") from None
    except requests.RequestException as exc:
        raise ResetUnavailable(f"The federation at {mailbox_url} did not answer the reset: "
                               f"{type(exc).__name__}.") from None
    try:
        said = answer.json()
    except (ValueError, json.JSONDecodeError):
        said = None
    if not isinstance(said, dict) or "reset" not in said:
        raise ResetUnavailable(f"The server at {mailbox_url} is not a fedsim mailbox that can reset "
                               f"(HTTP {answer.status_code} to POST /admin/reset).")
    if answer.status_code != 200 or said.get("reset") is not True:
        raise ResetUnavailable(f"The federation at {mailbox_url} did not reset (HTTP {answer.status_code}): "
                               f"{said.get('error', 'no reason given')}.")
    return float(said.get("ms", 0.0))
