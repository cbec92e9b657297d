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


def reaches(level: str, minimum: str | None) -> bool:
    """Whether ``level`` is at least ``minimum`` on FAS_ORDER (an OIDC request's
    acr_values, idp_csam.oidc); no minimum: any level."""
    if minimum is None:
        return True
    return level in FAS_ORDER and minimum in FAS_ORDER and FAS_ORDER.index(level) >= FAS_ORDER.index(minimum)


def complete(nrn: str, method: Method, level: str | None = None) -> Response:
    """The person is authenticated: remember it in the CSAM session and
    answer the pending SAML request — or the request ``session["after_authn"]``
    names (the endpoint of an OIDC answer, idp_csam.oidc). ``level`` overrides
    the method's own (eIDAS, whose level depends on the foreign LoA). The
    session gets a new id."""
    sessions.regenerate()
    session["authenticated"] = {"nrn": nrn, "method": method.code, "level": level or method.level,
                                "at": clock.now().isoformat()}
    return redirect(url_for(session.pop("after_authn", None) or "sso.answer"))
