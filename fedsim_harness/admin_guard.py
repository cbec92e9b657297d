"""The guard of the harness's admin pages on the mailbox app (``/admin/sps``,
``/admin/attack``): they are for this machine only.

A request is refused when its client is not on this machine (a loopback
address), when its Host header is not a name of this machine (DNS
rebinding: the mailbox app refuses such a Host first, 400, for every page
it serves — fedsim.mailbox.app — and the admin pages check again), or when
it is a POST whose Origin (or, without one, Referer) is not the page's own
origin (another site's page making the visitor's browser post a form).

``refusal(hosts)`` says why, in one sentence, or None; each page renders
the sentence its own way (403)."""
from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from flask import request

from fedsim_harness.admin import is_loopback


def local_host(hosts: Collection[str]) -> bool:
    """The Host header names this machine: one of ``hosts`` or a loopback address."""
    host = urlsplit(f"//{request.host}").hostname or ""
    return host in hosts or is_loopback(host)


def same_origin() -> bool:
    """The request says it comes from a page of this very origin."""
    said = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return said not in ("", "null") and urlsplit(said).netloc == request.host


def refusal(hosts: Collection[str]) -> str | None:
    """Why the current request may not reach an admin page, or None."""
    if not is_loopback(request.remote_addr):
        return (f"Refused: this page is for this machine only (the request came from "
                f"{request.remote_addr}).")
    if not local_host(hosts):
        return f"Refused: {request.host} is not a name of this machine."
    if request.method == "POST" and not same_origin():
        return ("Refused: a form must be sent from this page (its Origin or Referer header is missing "
                "or names another site).")
    return None
