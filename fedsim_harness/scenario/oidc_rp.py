"""An OpenID Connect relying party of CSAM played by Authlib's own client
(independent of the OP, which is built on python-jose): discovery, the
authorization URL with PKCE S256, state and nonce, the token exchange, and
the ID token checked against the JWKS of discovery (RS256 signature with
joserfc, then iss, aud, nonce, acr, at_hash with authlib.oidc.core's
CodeIDToken), userinfo. For the OIDC steps of scenarios (``oidc_login``,
``oidc_callback``) and for tests.

Its HTTP (discovery, JWKS, token, userinfo) goes through a requests session:
real HTTP against served apps, or the in-process apps through
``WsgiAdapter`` (the back channel, without the browser's cookies)."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.base import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.test import Client

from fedsim import clock

DEMO_CLIENT = "fedsim-scenario-rp"  # CSAM's bundled public client (idp_csam/oidc/data/demo_clients.yaml)
DEMO_REDIRECT = "https://rp.example/oidc/callback"
ACR_LEVELS = ("urn:be:fedict:iam:fas:Level100", "urn:be:fedict:iam:fas:Level200", "urn:be:fedict:iam:fas:Level300",
              "urn:be:fedict:iam:fas:Level400", "urn:be:fedict:iam:fas:Level450", "urn:be:fedict:iam:fas:Level500")


class RelyingPartyError(AssertionError):
    """The OP's answer is not what a relying party accepts; the message says why."""


class WsgiAdapter(requests.adapters.BaseAdapter):
    """requests → in-process WSGI apps, by host:port (a werkzeug Client each, its own cookies)."""

    def __init__(self, apps_by_netloc: dict) -> None:
        super().__init__()
        self.clients = {netloc: Client(app) for netloc, app in apps_by_netloc.items()}

    def send(self, request, **kwargs) -> requests.Response:
        parts = urlsplit(request.url)
        client = self.clients.get(parts.netloc)
        if client is None:
            raise requests.ConnectionError(f"no application at {parts.netloc}")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = client.open(parts.path or "/", method=request.method, query_string=parts.query,
                             headers=dict(request.headers), data=body or b"",
                             base_url=f"{parts.scheme}://{parts.netloc}")
        response = requests.Response()
        response.status_code, response.url, response.request = answer.status_code, request.url, request
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        response.raw = io.BytesIO(answer.get_data())
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def wsgi_session(apps_by_netloc: dict) -> requests.Session:
    http = requests.Session()
    adapter = WsgiAdapter(apps_by_netloc)
    for netloc in apps_by_netloc:
        http.mount(f"http://{netloc}/", adapter)
    return http


@dataclass
class Login:
    """What the relying party got: the tokens and the checked ID token's claims."""
    token: dict
    claims: dict
    userinfo: dict = field(default_factory=dict)

    def describe(self) -> str:
        """The claims as a page would show them, for the scenario's checks."""
        return ("ID token validated (RS256, iss, aud, nonce, acr).\n"
                + "\n".join(f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
                            for k, v in sorted(self.claims.items()))
                + "\nuserinfo: " + json.dumps(self.userinfo, ensure_ascii=False, sort_keys=True))


class RelyingParty:
    def __init__(self, issuer: str, client_id: str, redirect_uri: str, *, client_secret: str | None = None,
                 auth_method: str = "none", http: requests.Session | None = None) -> None:
        self.issuer, self.client_id, self.redirect_uri = issuer.rstrip("/"), client_id, redirect_uri
        self.http = http or requests.Session()
        self.metadata = self._json(self.http.get(f"{self.issuer}/.well-known/openid-configuration", timeout=30),
                                   "discovery")
        if self.metadata.get("issuer") != self.issuer:
            raise RelyingPartyError(f"discovery names issuer {self.metadata.get('issuer')!r}, not {self.issuer!r}")
        self.oauth = OAuth2Session(client_id, client_secret, redirect_uri=redirect_uri,
                                   code_challenge_method="S256", token_endpoint_auth_method=auth_method)
        self.oauth.adapters = self.http.adapters  # the same transport (HTTP or in-process)
        self.state = self.nonce = self.verifier = ""
        self.acr_values: tuple[str, ...] = ()

    @staticmethod
    def _json(response: requests.Response, what: str) -> dict:
        if response.status_code != 200:
            raise RelyingPartyError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
        return response.json()

    def authorization_url(self, scope: str = "openid profile email", acr_values: str = "", **extra: str) -> str:
        self.nonce, self.verifier = generate_token(32), generate_token(64)
        self.acr_values = tuple(acr_values.split())
        params = {"nonce": self.nonce, **extra}
        if acr_values:
            params["acr_values"] = acr_values
        url, self.state = self.oauth.create_authorization_url(
            self.metadata["authorization_endpoint"], scope=scope, code_verifier=self.verifier, **params)
        return url

    def callback(self, url: str, *, code_verifier: str | None = None, redirect_uri: str | None = None) -> Login:
        """Redeem the code of the redirect ``url`` and check the ID token; RelyingPartyError if refused."""
        answer = dict(parse_qsl(urlsplit(url).query))
        if "error" in answer:
            raise RelyingPartyError(f"the OP answered {answer['error']}: {answer.get('error_description', '')}")
        if answer.get("iss") not in (None, self.issuer):
            raise RelyingPartyError(f"authorization response from issuer {answer.get('iss')!r} (RFC 9207)")
        try:
            token = self.oauth.fetch_token(self.metadata["token_endpoint"], authorization_response=url,
                                           state=self.state, code_verifier=code_verifier or self.verifier,
                                           redirect_uri=redirect_uri or self.redirect_uri)
        except (OAuthError, OAuth2Error, requests.RequestException, ValueError) as exc:  # the OP's refusal
            raise RelyingPartyError(f"token request refused: {exc}") from None
        claims = self.check_id_token(token["id_token"], token["access_token"])
        userinfo = self._json(self.oauth.get(self.metadata["userinfo_endpoint"], timeout=30), "userinfo")
        if userinfo.get("sub") != claims["sub"]:
            raise RelyingPartyError("userinfo's sub differs from the ID token's")
        return Login(token=dict(token), claims=dict(claims), userinfo=userinfo)

    def check_id_token(self, id_token: str, access_token: str | None = None) -> CodeIDToken:
        keys = KeySet.import_key_set(self._json(self.http.get(self.metadata["jwks_uri"], timeout=30), "JWKS"))
        try:
            decoded = jwt.decode(id_token, keys, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:  # a bad signature, an unknown key, not a JWT
            raise RelyingPartyError(f"ID token signature refused: {exc}") from None
        options = {"iss": {"essential": True, "value": self.issuer}, "aud": {"essential": True,
                                                                            "value": self.client_id}}
        if self.acr_values:
            wanted = min((v for v in self.acr_values if v in ACR_LEVELS), key=ACR_LEVELS.index, default=None)
            options["acr"] = {"essential": True,
                              "values": list(ACR_LEVELS[ACR_LEVELS.index(wanted):]) if wanted else []}
        claims = CodeIDToken(decoded.claims, decoded.header, options=options,
                             params={"nonce": self.nonce, "client_id": self.client_id, "access_token": access_token})
        try:
            claims.validate(now=int(clock.now().timestamp()), leeway=30)
        except JoseError as exc:  # joserfc's claim errors (iss, aud, nonce, acr, exp…)
            raise RelyingPartyError(f"ID token refused: {type(exc).__name__}: {exc}") from None
        return claims

    def logout_url(self, id_token: str, post_logout_redirect_uri: str | None = None, state: str = "") -> str:
        from urllib.parse import urlencode
        params = {"id_token_hint": id_token}
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        if state:
            params["state"] = state
        return f"{self.metadata['end_session_endpoint']}?{urlencode(params)}"


def html_page(url: str, text: str):
    from fedsim_harness.scenario.browser import Page

    body = "<html><body><main><pre>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</pre></main></body></html>"
    return Page(url, 200, {"Content-Type": "text/html; charset=utf-8"}, body)


class RelyingPartyHost:
    """A browser transport that plays the relying party's host(s): a request
    there (the OP's redirect back) is answered by a small page saying what
    came back, instead of going out; everything else goes to ``inner``."""

    def __init__(self, inner, netlocs: set[str]) -> None:
        self.inner, self.netlocs = inner, set(netlocs)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def request(self, method: str, url: str, data: dict[str, str] | None = None):
        if urlsplit(url).netloc not in self.netlocs:
            return self.inner.request(method, url, data)
        answer = dict(parse_qsl(urlsplit(url).query))
        lines = [f"Relying party {urlsplit(url).netloc}: redirect received"]
        lines += [f"{k}: {v}" for k, v in answer.items() if k != "code"] + (["code: (received)"] if "code" in answer
                                                                          else [])
        return html_page(url, "\n".join(lines))
