"""What every method does once the person is authenticated, and which
methods satisfy a request's level of assurance."""
from __future__ import annotations

from flask import redirect, session, url_for
from werkzeug.wrappers import Response

from fedsim import clock, sessions
from fedsim.saml.idp import AuthnRequestInfo, context_satisfies
from idp_csam.methods import FAS_ORDER, Method


def meets(level: str, info: AuthnRequestInfo | None) -> bool:
    if info is None:
        return True
    return context_satisfies(level, info.requested_contexts, info.comparison, FAS_ORDER)


def complete(nrn: str, method: Method, level: str | None = None) -> Response:
    """The person is authenticated: remember it in the CSAM session and
    answer the pending SAML request. ``level`` overrides the method's own
    (eIDAS, whose level depends on the foreign LoA). The session gets a new id."""
    sessions.regenerate()
    session["authenticated"] = {"nrn": nrn, "method": method.code, "level": level or method.level,
                                "at": clock.now().isoformat()}
    return redirect(url_for("sso.answer"))
