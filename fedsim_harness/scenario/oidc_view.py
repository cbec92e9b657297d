"""OpenID Connect messages seen crossing the browser (the itsme leg of CSAM:
the authorization request with its signed request object, and the
authorization response), decoded for reports as a person reads them.

The ID token and the token exchange travel on the back channel (CSAM to the
OP), never through the browser: reports show what the browser carried. JWTs
are decoded, not verified (the OP verifies the request object, CSAM the ID
token); an encrypted JWT (JWE) is shown by its header only.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

JWT_PARAMETERS = ("request", "id_token", "logout_token", "id_token_hint")


@dataclass(frozen=True)
class OidcMessage:
    """An OIDC front-channel message; ``kind``, ``url`` and ``xml`` (the
    readable text) as SamlMessage has them, for failure reports."""
    kind: str
    url: str
    xml: str
    parameters: tuple[tuple[str, str], ...] = ()
    tokens: tuple[tuple[str, dict, dict | None], ...] = field(default=())  # (parameter, header, claims or None)


def decode_jwt(token: str) -> tuple[dict, dict | None]:
    """(header, claims) of a JWS; (header, None) for a JWE (5 parts: encrypted)."""
    parts = token.split(".")

    def part(text: str) -> dict:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError):
            return {"(undecodable)": text[:80]}
        return decoded if isinstance(decoded, dict) else {"(value)": decoded}

    if len(parts) not in (3, 5):
        return {"(not a JWT)": token[:80]}, None
    return part(parts[0]), (part(parts[1]) if len(parts) == 3 else None)


def decode_oidc(url: str, data: dict[str, str] | None) -> list[OidcMessage]:
    """The OIDC message a request carries, if any (query or form)."""
    params = dict(parse_qsl(urlsplit(url).query))
    params.update(data or {})
    if "client_id" in params and "response_type" in params:
        kind = "OIDC authorization request"
    elif "code" in params and "state" in params:
        kind = "OIDC authorization response"
    elif "error" in params and "state" in params:
        kind = "OIDC error response"
    else:
        return []
    tokens = tuple((name, *decode_jwt(params[name])) for name in JWT_PARAMETERS if params.get(name))
    shown = tuple((k, v if k not in JWT_PARAMETERS else f"(JWT, {len(v)} characters)") for k, v in params.items())
    text = json.dumps({"parameters": dict(shown),
                       "tokens": {name: {"header": header, "claims": claims if claims is not None else "(encrypted)"}
                                  for name, header, claims in tokens}}, indent=2, ensure_ascii=False)
    return [OidcMessage(kind, url.split("?")[0], text, shown, tokens)]


def facts(message: OidcMessage) -> list[tuple[str, str]]:
    """The lines a person reads first: who asks whom, for what."""
    params = dict(message.parameters)
    rows = [("Endpoint", message.url)]
    for name in ("client_id", "response_type", "scope", "redirect_uri", "acr_values", "state", "code", "error",
                 "error_description"):
        if params.get(name):
            rows.append((name, params[name]))
    for name, header, claims in message.tokens:
        rows.append((f"{name} header", ", ".join(f"{k}={v}" for k, v in header.items())))
        if claims is None:
            rows.append((f"{name} claims", "encrypted (JWE): not readable here"))
            continue
        for key in ("iss", "aud", "sub", "acr", "nonce", "exp", "iat"):
            if key in claims:
                rows.append((f"{name} {key}", str(claims[key])))
        if "claims" in claims:
            rows.append((f"{name} requested claims", json.dumps(claims["claims"], ensure_ascii=False)))
    return rows
