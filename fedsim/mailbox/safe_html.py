"""HTML mail made safe to show: sanitised with nh3 (Ammonia), then shown in
a sandboxed iframe's ``srcdoc``.

nh3's defaults keep formatting tags and links; they drop ``<script>``,
``<style>``, ``<iframe>``, forms, every ``on*`` attribute, ``style``
attributes, and URLs whose scheme is not in a safe list (no ``javascript:``,
no ``data:``), and give links ``rel="noopener noreferrer"``. The page's
Content-Security-Policy (fedsim.mailbox.app) applies inside the srcdoc too:
remote images do not load (no tracking pixels)."""
from __future__ import annotations

import nh3

# Scripts off (no allow-scripts) and an opaque origin (no allow-same-origin):
# even HTML nh3 let through cannot touch the mailbox or its API. Links open
# in a new tab (<base target="_blank"> below): allow-popups permits that,
# allow-popups-to-escape-sandbox makes the new tab an ordinary page, as if
# the link had been pasted in the address bar, so that the activation links
# the apps send work there (a sandboxed tab would have no cookies nor scripts).
SANDBOX = "allow-popups allow-popups-to-escape-sandbox"


def clean(html: str) -> str:
    return nh3.clean(html)


def srcdoc(html: str) -> str:
    """The document for the iframe: sanitised HTML, links in a new tab."""
    return f'<!doctype html><meta charset="utf-8"><base target="_blank">{clean(html)}'
