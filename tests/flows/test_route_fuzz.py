"""Hostile input to every route of every app: the three apps and the mailbox.

The routes come from each app's URL map (``app.url_map.iter_rules()``: its
methods and its converters), so a new route is fuzzed without editing this
file. For each route and method, hypothesis sends a few requests whose path
arguments, query parameters, form fields, headers and cookies are hostile:
empty, 10 kB, NUL, CR/LF, ``%00``, ``%0d%0a``, non-UTF-8 bytes, unicode
oddities, ``../``, ``//evil.example``, ``javascript:``, XML with a DOCTYPE
and entities, base64 and deflated garbage, and random text. Every answer must
be below 500 with no traceback in its body, and a refusal (4xx) must leave
every stored row of every app as it was. An odd Host header is fuzzed on its
own: the apps answer only for their trusted hosts (400 otherwise).

Bounded for CI (derandomized, a few examples per route): about a minute on
two cores."""
from __future__ import annotations

import base64
import os
import re
import zlib
from dataclasses import dataclass
from urllib.parse import quote, quote_from_bytes

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text
from sqlalchemy.orm import sessionmaker
from test_bad_input import snapshot
from werkzeug.routing import Rule
from werkzeug.test import Client, TestResponse

from fedsim_harness.stack import Federation, start_in_process
from idp_csam import i18n as csam_i18n

EXAMPLES_PER_ROUTE = int(os.environ.get("FEDSIM_FUZZ_EXAMPLES", "5"))
FUZZ = settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], print_blob=True)

# -- hostile values -------------------------------------------------------------


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)  # raw DEFLATE, as the SAML Redirect binding
    return compressor.compress(data) + compressor.flush()


XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">'
       b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
       b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0">'
       b'&x;&b;</samlp:AuthnRequest>')
GARBAGE = bytes(range(256)) * 3

HOSTILE: list[bytes] = [
    b"", b"A" * 10240, b"\x00", b"a\x00b", b"\r\n", b"x\r\nSet-Cookie: evil=1\r\n\r\n<h1>",
    b"%00", b"%0d%0a", b"%", b"%zz", b"%%41",
    b"\xff\xfe\xc3\x28", b"\x80", b"\xed\xa0\x80",  # not UTF-8 (the last one: an encoded surrogate)
    "\u202eevil\u200b\ufeff".encode(), "\U0001F4A9".encode(), "e\u0301\u0000".encode(), "ＡＤＭＩＮ".encode(),
    b"../../../../etc/passwd", b"..%2f..%2fetc%2fpasswd", b"//evil.example", b"https://evil.example/x",
    b"/\\evil.example", b"\\\\evil.example", b"javascript:alert(1)", b" JaVaScRiPt:alert(1)",
    b"<script>alert(1)</script>", b"{{7*7}}", b"'\"--", b"-1", b"0", b"99999999999999999999999999",
    b"NaN", b"[]", b"{}", b"null",
    XXE, base64.b64encode(XXE), base64.b64encode(_deflate(XXE)),
    b"!!!not*base64===", base64.b64encode(GARBAGE), base64.b64encode(_deflate(GARBAGE)), GARBAGE[:64],
]

value = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40).map(str.encode), st.binary(max_size=40))

QUERY_NAMES = ["next", "SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature", "lang", "pays",
               "to", "subject", "code", "token", "id", "page", "q", "contexte", "limit"]
FORM_NAMES = QUERY_NAMES + ["csrf_token", "username", "password", "pin", "card", "phone", "email", "accept"]
HEADERS = ["Referer", "Origin", "Accept-Language", "User-Agent", "Accept", "X-Forwarded-For",
           "X-Forwarded-Proto", "X-Forwarded-Host", "X-Requested-With", "Authorization", "If-None-Match",
           "Range"]
random_name = st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), min_size=1, max_size=12)


def encoded(raw: bytes, how: str) -> bytes:
    """``raw`` as it goes into a URL or form: percent-encoded as browsers do,
    or verbatim (a literal ``%00`` stays one; raw bytes reach the app)."""
    return quote_from_bytes(raw, safe="").encode("ascii") if how == "quoted" else raw


@st.composite
def pairs(draw: st.DrawFn, names: list[str]) -> bytes:
    """``name=value&…`` for a few of ``names`` and one random name."""
    chosen = draw(st.lists(st.one_of(st.sampled_from(names), random_name), max_size=4, unique=True))
    parts = []
    for name in chosen:
        how = draw(st.sampled_from(["quoted", "quoted", "raw"]))
        parts.append(quote(name, safe="").encode() + b"=" + encoded(draw(value), how))
    return b"&".join(parts)


def header_value(raw: bytes) -> str:
    """A header as a WSGI server hands it over: one line (no server passes
    CR, LF or NUL in a header), any other byte, decoded as latin-1 (PEP 3333)."""
    return raw.translate(None, b"\r\n\x00").decode("latin-1")


# -- routes -----------------------------------------------------------------------

ARGUMENT = re.compile(r"<(?:(?P<converter>[a-zA-Z_]\w*)(?:\([^)]*\))?:)?(?P<name>\w+)>")
FUZZED_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}  # HEAD and OPTIONS: Flask's own answers


def skipped(rule: Rule) -> str | None:
    """Why a route is not fuzzed, or None."""
    if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
        return "static files: Werkzeug's send_from_directory, no app code, no state"
    if rule.rule.startswith("/admin/"):
        return "the harness's admin API: loopback-only, resets or rewires the federation by design " \
               "(tested in tests/harness)"
    return None


def routes(app: Flask) -> list[tuple[Rule, str]]:
    return sorted(((rule, method) for rule in app.url_map.iter_rules() if skipped(rule) is None
                   for method in sorted(rule.methods & FUZZED_METHODS)), key=lambda rm: (rm[0].rule, rm[1]))


@st.composite
def path_for(draw: st.DrawFn, rule: Rule) -> str:
    """The rule's path with every argument filled: a plausible value (digits
    for ``int``) or a hostile one, percent-encoded as a browser sends it."""
    def fill(match: re.Match) -> str:
        converter = match.group("converter") or "default"
        if converter in ("int", "float") and draw(st.booleans()):
            return str(draw(st.one_of(st.integers(0, 10), st.integers(0, 2 ** 80))))
        raw = draw(value)
        return quote_from_bytes(raw, safe="/" if converter == "path" else "")
    return ARGUMENT.sub(fill, rule.rule)


@dataclass(frozen=True)
class Hostile:
    method: str
    path: str
    query: bytes
    body: bytes | None
    content_type: str | None
    headers: dict[str, str]


BODY_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded",
              "multipart/form-data; boundary=zz", "text/xml", "application/json", None]


@st.composite
def hostile_request(draw: st.DrawFn, app: Flask, rule: Rule, method: str) -> Hostile:
    body = content_type = None
    if method != "GET":
        content_type = draw(st.sampled_from(BODY_TYPES))
        body = draw(pairs(FORM_NAMES)) if content_type == "application/x-www-form-urlencoded" else draw(value)
    headers = {f"HTTP_{name.upper().replace('-', '_')}": header_value(draw(value))
               for name in draw(st.lists(st.sampled_from(HEADERS), max_size=3, unique=True))}
    cookie_names = [app.config.get("SESSION_COOKIE_NAME", "session"), csam_i18n.LANG_COOKIE,
                    csam_i18n.CONSENT_COOKIE]
    cookies = draw(st.lists(st.one_of(st.sampled_from(cookie_names), random_name), max_size=3, unique=True))
    if cookies:
        headers["HTTP_COOKIE"] = "; ".join(f"{name}={header_value(draw(value))}" for name in cookies)
    return Hostile(method, draw(path_for(rule)), draw(pairs(QUERY_NAMES)), body, content_type, headers)


# -- the federation and its stored state ----------------------------------------------


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    """One federation for the module (hypothesis runs many examples in one
    test: the plugin's per-test fixture would not reset between them)."""
    fed = start_in_process(tmp_path_factory.mktemp("route-fuzz"))
    yield fed
    fed.close()


def everything(federation: Federation) -> dict[str, dict[str, list[str]]]:
    """Every stored row of the three apps (but their server-side sessions,
    see ``snapshot``) and of the mailbox (a refused request sends no mail)."""
    state = {name: snapshot(app) for name, app in federation.apps.items()}
    sessions: sessionmaker = federation.mailbox.extensions["mailbox.sessions"]
    with sessions() as db:
        names = inspect(db.get_bind()).get_table_names()
        state["mailbox"] = {name: sorted(repr(tuple(row)) for row in db.execute(text(f'SELECT * FROM "{name}"')))
                            for name in names}
    return state


def send(federation: Federation, name: str, app: Flask, request: Hostile, host: str | None = None) -> TestResponse:
    environ = {**request.headers, "QUERY_STRING": request.query.decode("latin-1")}  # the bytes as sent (PEP 3333)
    if host is not None:
        environ["HTTP_HOST"] = host
    return Client(app, use_cookies=False).open(
        request.path, base_url=federation.urls[name], method=request.method,
        data=request.body, content_type=request.content_type, environ_overrides=environ)


def check(federation: Federation, name: str, app: Flask, request: Hostile, host: str | None = None) -> int:
    federation.reset()
    before = everything(federation)
    response = send(federation, name, app, request, host)
    body = response.get_data()
    where = f"{name} {request.method} {request.path}"
    assert response.status_code < 500, f"{where}: HTTP {response.status_code}: {body[:600]!r}"
    assert b"Traceback" not in body, f"{where}: a traceback in the answer: {body[:600]!r}"
    if 400 <= response.status_code < 500:
        after = everything(federation)
        changed = sorted(f"{app_name}.{table}" for app_name in before
                         for table in set(before[app_name]) | set(after[app_name])
                         if before[app_name].get(table) != after[app_name].get(table))
        assert not changed, f"{where}: refused with HTTP {response.status_code} but changed {changed}"
    return response.status_code


def all_apps(federation: Federation) -> dict[str, Flask]:
    return {**federation.apps, "mailbox": federation.mailbox}


# -- tests --------------------------------------------------------------------------------

APPS = ["idp_csam", "monespace", "modigia_sp", "mailbox"]


def test_every_route_is_found(federation: Federation) -> None:
    """The URL maps are read, and only static files and the admin API are left out."""
    for name, app in all_apps(federation).items():
        found = routes(app)
        assert len(found) >= 3, f"{name}: only {found} in its URL map"
        left_out = [rule.rule for rule in app.url_map.iter_rules() if skipped(rule)]
        assert all(r.startswith(("/static/", "/mailbox-static/", "/admin/")) for r in left_out), left_out
    assert any(rule.rule == "/saml/sso" for rule, _ in routes(federation.apps["idp_csam"]))


@pytest.mark.parametrize("name", APPS)
def test_hostile_input_never_breaks_a_route(federation: Federation, name: str) -> None:
    app = all_apps(federation)[name]
    for rule, method in routes(app):
        @FUZZ
        @given(request=hostile_request(app, rule, method))
        def fuzz(request: Hostile) -> None:
            check(federation, name, app, request)

        fuzz()


ODD_HOSTS = ["evil.example", "localhost.evil.example", "[::1", "localhost\x00",
             "A" * 10240, "a" * 64 + ".example",  # labels of 64+ characters: no valid name (BadHost)
             "xn--lcalhost-0za", "localhost:5000:5000"]


@pytest.mark.parametrize("name", APPS)
def test_odd_host_header(federation: Federation, name: str) -> None:
    """An unknown Host is refused (400) before any view runs, on every route;
    the mailbox has no list of trusted hosts (a local tool): it must just not
    break. A trusted name with an odd port is served as usual."""
    app = all_apps(federation)[name]
    trusted = app.config.get("FEDSIM_TRUSTED_HOSTS")
    for i, (rule, method) in enumerate(routes(app)):
        request = Hostile(method, ARGUMENT.sub("1", rule.rule), b"", None, None, {})
        host = ODD_HOSTS[i % len(ODD_HOSTS)]
        status = check(federation, name, app, request, host=host)
        if trusted is not None:
            assert status == 400, f"{name} {method} {rule.rule} for Host {host[:40]!r}: HTTP {status}"
        for served in ("localhost:notaport", ""):  # no Host at all: the server's name (WSGI SERVER_NAME)
            check(federation, name, app, request, host=served)
