"""A headless, script-driven browser: follows redirects, auto-submits the
SAML POST forms (as the page's script would), clicks links and buttons by
their text, fills and submits forms. Two transports: WSGI apps in-process
(keyed by host:port), or real HTTP."""
from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from lxml import etree
from lxml import html as lxml_html
from werkzeug.test import Client


@dataclass(frozen=True)
class Page:
    """One HTTP answer. Its tree and texts are computed once, on first use
    (a Page never changes): callers read the tree, none may modify it."""
    url: str
    status: int
    headers: dict[str, str]
    body: str

    @property
    def is_markup(self) -> bool:
        """False for a binary body (a PDF, an image): it has no text to parse."""
        kind = next((v for k, v in self.headers.items() if k.lower() == "content-type"), "text/html").lower()
        return kind.startswith("text/") or any(t in kind for t in ("html", "xml", "json"))

    @cached_property
    def tree(self):  # noqa: ANN201 - lxml element
        return lxml_html.fromstring(self.body if self.body and self.is_markup else "<html></html>", base_url=self.url)

    @cached_property
    def text(self) -> str:
        """What the page shows, as one line: adjacent blocks and table cells
        kept apart by a space; no script, style or title."""
        return visible_text(self.tree) if self.body else ""

    @cached_property
    def main_text(self) -> str:
        """The text of <main> (what a failure report quotes), else the body."""
        mains = self.tree.xpath("//main") if self.body else []
        return visible_text(mains[0]) if mains else self.text

    def __getstate__(self) -> dict:
        """Pickled without what was computed from the body (an lxml tree does not pickle)."""
        return {name: self.__dict__[name] for name in ("url", "status", "headers", "body")}


# Elements that start a new line or cell when rendered: their text is kept
# apart from their neighbours'. Inline elements (a, span, strong…) are not.
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "legend", "li", "main", "nav", "ol", "option", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul",
})
_HIDDEN = frozenset({"script", "style", "title", "template", "head"})
# The blocks that `click(…, within=…)` narrows to.
_HOLDERS = frozenset({"tr", "li", "section", "article", "div", "form"})
# What the browser looks for on every page, compiled once.
_BUTTONS = etree.XPath(".//button|.//input[@type='submit']")
_CONTROLS = etree.XPath("//a[@href]|//button|//input[@type='submit']")
_AUTOSUBMIT = etree.XPath("//form[@data-autosubmit]")


# visible_text as a stylesheet: libxslt walks the tree without making a
# Python object of each element (5x faster on a whole page than a walk in
# Python). A hidden element yields nothing, a block is wrapped in spaces,
# comments and processing instructions yield nothing; every text node,
# the tails of hidden elements included, is output as it is.
_VISIBLE_TEXT = etree.XSLT(etree.XML(f"""\
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="utf-8"/>
  <xsl:template match="{'|'.join(sorted(_HIDDEN))}"/>
  <xsl:template match="{'|'.join(sorted(_BLOCKS))}">
    <xsl:text> </xsl:text><xsl:apply-templates/><xsl:text> </xsl:text>
  </xsl:template>
</xsl:stylesheet>"""), access_control=etree.XSLTAccessControl.DENY_ALL)


def visible_text(element) -> str:  # noqa: ANN001 - lxml element
    """The text of ``element`` on one line, blocks and cells apart."""
    if not isinstance(element.tag, str) or element.tag in _HIDDEN:  # a comment, processing instruction, script…
        return ""
    if not len(element):  # no children (most links and buttons): its own text
        return " ".join((element.text or "").split())
    return " ".join(str(_VISIBLE_TEXT(element)).split())  # the element's own tail is not part of it


class Transport(Protocol):
    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page: ...


class WsgiTransport:
    """In-process: one werkzeug Client (with its cookie jar) per host:port."""

    def __init__(self, apps_by_netloc: dict) -> None:
        self.clients = {netloc: Client(app) for netloc, app in apps_by_netloc.items()}

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        parts = urlsplit(url)
        client = self.clients.get(parts.netloc)
        if client is None:
            raise BrowserError(f"no application at {parts.scheme}://{parts.netloc} (URL {url})")
        response = client.open(parts.path or "/", method=method, query_string=parts.query, data=data,
                               base_url=f"{parts.scheme}://{parts.netloc}")
        body = response.get_data().decode("utf-8", "replace")  # a PDF is not UTF-8
        return Page(url, response.status_code, dict(response.headers), body)


class HttpTransport:
    """Against running servers."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        try:
            response = self.session.request(method, url, data=data, allow_redirects=False, timeout=30)
        except requests.ConnectionError:
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
            raise BrowserError(f"nothing answers at {origin} (connection refused): is `fedsim up` running?") from None
        except requests.Timeout:
            raise BrowserError(f"no answer from {url.split('?')[0]} within 30 s") from None
        return Page(url, response.status_code, dict(response.headers), response.text)


class BrowserError(AssertionError):
    pass


@dataclass(frozen=True)
class SamlMessage:
    """A SAML message seen crossing the browser, decoded for reports."""
    kind: str  # "SAMLRequest" or "SAMLResponse"
    url: str
    xml: str
    raw: str = ""  # the XML as sent, signatures included (reports verify them: fedsim_harness.scenario.saml_view)
    query: str = ""  # HTTP-Redirect binding: the query string as sent (SigAlg, Signature); "" for HTTP-POST


def decode_saml(url: str, data: dict[str, str] | None) -> list[SamlMessage]:
    """SAML messages carried by a request: Redirect binding (deflated in the
    query) or POST binding (base64 in the form)."""
    found = []
    query = dict(parse_qsl(urlsplit(url).query))
    for kind in ("SAMLRequest", "SAMLResponse"):
        try:
            if kind in query:
                xml = zlib.decompress(base64.b64decode(query[kind]), -15).decode("utf-8", "replace")
            elif data and kind in data:
                xml = base64.b64decode(data[kind]).decode("utf-8", "replace")
            else:
                continue
        except (ValueError, zlib.error) as exc:
            xml = f"(undecodable: {exc})"
        found.append(SamlMessage(kind, url.split("?")[0], _SIGNATURE.sub(r"<\1Signature>…</\1Signature>", xml),
                                 raw=xml, query=urlsplit(url).query if kind in query else ""))
    return found


def decode_messages(url: str, data: dict[str, str] | None) -> list:
    """The SAML and OpenID Connect messages a request carries."""
    from fedsim_harness.scenario.oidc_view import decode_oidc

    if not data and "?" not in url:  # no query string, no form: nothing to decode
        return []
    return [*decode_saml(url, data), *decode_oidc(url, data)]


# Signature blocks (base64 values, certificates) make a trace unreadable;
# a report keeps only the fact that the element was signed.
_SIGNATURE = re.compile(r"<(\w+:)?Signature\b.*?</\1Signature>", re.DOTALL)


class Browser:
    def __init__(self, transport: Transport, max_hops: int = 20) -> None:
        self.transport = transport
        self.max_hops = max_hops
        self.page: Page | None = None
        self.history: list[str] = []
        self.saml_trace: list[SamlMessage] = []

    # -- navigation ----------------------------------------------------------

    def open(self, url: str, method: str = "GET", data: dict[str, str] | None = None) -> Page:
        for _ in range(self.max_hops):
            self.saml_trace.extend(decode_messages(url, data))
            page = self.transport.request(method, url, data)
            self.history.append(f"{method} {url.split('?')[0]} -> {page.status}")
            location = page.headers.get("Location")
            if page.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                if page.status not in (307, 308):
                    method, data = "GET", None
                continue
            self.page = page
            form = self._autosubmit_form(page)
            if form is None:
                return page
            url, method, data = self._form_request(form, {})
        raise BrowserError(f"more than {self.max_hops} redirects/auto-posts, last URL {url}")

    def click(self, text: str, within: str | None = None) -> Page:
        """Follow the link, or press the button, whose text contains ``text``
        (inside the smallest block containing ``within`` when given)."""
        scope = self._scope(within)
        for link in scope.iter("a"):
            if link.get("href") and text in visible_text(link):
                return self.open(urljoin(self.page.url, link.get("href")))
        for button in _BUTTONS(scope):
            label = visible_text(button) or button.get("value", "")
            if text in label:
                form = next(button.iterancestors("form"), None)
                if form is None:
                    raise BrowserError(f"button « {text} » is not in a form")
                extra = {button.get("name"): button.get("value", "")} if button.get("name") else {}
                return self.open(*self._form_request(form, extra))
        raise BrowserError(f"no link or button « {text} » on {self.page.url}")

    def has(self, text: str) -> bool:
        """Is there a link or button whose text contains ``text``?"""
        tree = self.page.tree
        return any(text in (visible_text(el) or el.get("value", ""))
                   for el in _CONTROLS(tree))

    def submit(self, fields: dict[str, str], button: str | None = None) -> Page:
        """Fill the form holding the named fields and submit it."""
        forms = [f for f in self.page.tree.forms if all(f.xpath(f".//*[@name='{n}']") for n in fields)]
        if not forms:
            raise BrowserError(f"no form with fields {sorted(fields)} on {self.page.url}")
        form = forms[0]
        extra: dict[str, str] = {}
        if button:
            matches = [b for b in _BUTTONS(form)
                       if button in (visible_text(b) or b.get("value", ""))]
            if not matches:
                raise BrowserError(f"no button « {button} » in the form on {self.page.url}")
            if matches[0].get("name"):
                extra[matches[0].get("name")] = matches[0].get("value", "")
        return self.open(*self._form_request(form, {**fields, **extra}))

    # -- helpers -------------------------------------------------------------

    def _scope(self, within: str | None):  # noqa: ANN202
        tree = self.page.tree
        if within is None:
            return tree
        holders = [el for el in tree.iter() if el.tag in _HOLDERS and within in visible_text(el)]
        if not holders:
            raise BrowserError(f"no block containing « {within} » on {self.page.url}")
        return min(holders, key=lambda el: len(el.text_content()))

    @staticmethod
    def _autosubmit_form(page: Page):  # noqa: ANN205
        if "data-autosubmit" not in page.body:
            return None
        forms = _AUTOSUBMIT(page.tree)
        return forms[0] if forms else None

    def _form_request(self, form, values: dict[str, str]) -> tuple[str, str, dict[str, str]]:  # noqa: ANN001
        data: dict[str, str] = {}
        for field in form.inputs:
            name = field.get("name")
            if not name or field.tag == "button" or field.get("type") == "submit":
                continue
            if field.get("type") == "checkbox":
                if field.checked:
                    data[name] = field.get("value", "on")
                continue
            data[name] = field.value or ""
        data.update(values)
        action = urljoin(self.page.url, form.get("action") or self.page.url)
        method = (form.get("method") or "GET").upper()
        if method == "GET":
            from urllib.parse import urlencode
            return f"{action.split('?')[0]}?{urlencode(data)}", "GET", None
        return action, "POST", data
