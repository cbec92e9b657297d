"""The ``url_for`` of every app's templates, remembered per app
(``fedsim.web.configure_shared`` installs it).

A page builds the same links on every request (the layout's menu and
stylesheet, Mon Espace's démarches « Démarrer » and « Détails », CSAM's
digital keys): Werkzeug builds each one again, which can cost more than the
rest of the page. A link
only depends on its endpoint, its arguments and the script root (the URLs
are relative), so the templates' ``url_for`` remembers each link it built
for those. Calls it cannot answer alike from memory go to Flask's
``url_for`` as before: outside a request, an ``_external``/``_anchor``/…
option, a relative endpoint (``.name``), an argument that is not a plain
str/int/None.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_request_context, request, url_for

LINKS = "fedsim.links"  # the app's extension: the links it remembers
LINKS_MAX = 4096  # links remembered per app; past it, new ones are built each time
_PLAIN = (str, int, type(None))


def _key(endpoint: str, values: dict[str, Any]) -> tuple | None:
    if not has_request_context() or endpoint.startswith(".") or any(name.startswith("_") for name in values):
        return None
    if not all(type(value) in _PLAIN for value in values.values()):
        return None
    return (request.script_root, endpoint, tuple(sorted(values.items())))


def link(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)``, built once per app for the same arguments."""
    key = _key(endpoint, values)
    if key is None:
        return url_for(endpoint, **values)
    links: dict = current_app.extensions[LINKS]
    url = links.get(key)
    if url is None:
        url = url_for(endpoint, **values)
        if len(links) < LINKS_MAX:
            links[key] = url
    return url


def install(app: Flask) -> None:
    """Templates' ``url_for`` is ``link`` (the links of this app only)."""
    app.extensions[LINKS] = {}
    app.jinja_env.globals["url_for"] = link
