"""The scripted browser's pages: parsed once, read the same way every time;
links, buttons and blocks found by what a person sees; the SAML and OIDC
messages of each request kept for reports."""
from __future__ import annotations

import base64
import pickle
import zlib
from urllib.parse import urlencode

import pytest
from flask import Flask, request
from lxml import html as lxml_html

from fedsim_harness.scenario.browser import (
    Browser,
    BrowserError,
    Page,
    WsgiTransport,
    decode_messages,
    visible_text,
)

BODY = ("<html><head><title>T</title></head><body><main><h1>Titre</h1>"
        "<p>Bonjour <!-- note -->Ada<script>var x = 1;</script> et bienvenue</p></main></body></html>")


def test_a_page_is_parsed_once_and_its_text_is_the_same_each_time():
    page = Page("http://x/", 200, {"Content-Type": "text/html"}, BODY)
    assert page.tree is page.tree  # one parse, shared by every reader
    assert page.text == page.text == "Titre Bonjour Ada et bienvenue"  # the comment's tail is text, the script not
    assert page.main_text == "Titre Bonjour Ada et bienvenue"


def test_a_read_page_still_pickles_and_compares_by_its_answer():
    page = Page("http://x/", 200, {"Content-Type": "text/html"}, BODY)
    assert page.text  # its tree was built: it is not part of the page's state
    again = pickle.loads(pickle.dumps(page))
    assert again == page and again.text == page.text and again.tree is not page.tree


def test_an_unparseable_body_fails_each_time_it_is_read():
    page = Page("http://x/", 200, {"Content-Type": "text/html"}, "   ")
    for _ in range(2):  # nothing half-built is kept
        with pytest.raises(Exception, match="Document is empty"):
            _ = page.text


@pytest.mark.parametrize(("markup", "text"), [
    ("<a href='/x'>  Se\n   connecter </a>", "Se connecter"),  # no children: its own text, spaces folded
    ("<button></button>", ""),
    ("<script>var a = 1;</script>", ""),  # hidden, children or not
    ("<p>un<br>deux <span>trois</span><style>p{}</style>quatre</p>", "un deux troisquatre"),
    ("<div>a<!-- c -->b<div>c</div>d</div>", "ab c d"),
])
def test_visible_text_is_what_a_person_reads(markup: str, text: str):
    assert visible_text(lxml_html.fragment_fromstring(markup)) == text


def app() -> Flask:
    site = Flask(__name__)

    @site.get("/")
    def home():
        return ("<main><ul><li>Cours A <a href='/ouvrir?c=a'>Ouvrir</a></li>"
                "<li>Cours B <a>Ouvrir</a> <a href='/ouvrir?c=b'><span>Ouvrir</span></a></li></ul>"
                "<form method='post' action='/envoi'><input name='x' value='1'>"
                "<button name='choix' value='oui'>Envoyer <em>maintenant</em></button></form></main>")

    @site.get("/ouvrir")
    def opened():
        return f"<main><p>Cours {request.args['c']}</p></main>"

    @site.post("/envoi")
    def sent():
        return f"<main><p>Reçu {request.form['x']} {request.form['choix']}</p></main>"

    return site


def test_click_follows_the_link_with_an_address_inside_the_smallest_block():
    browser = Browser(WsgiTransport({"site.test": app()}))
    home = browser.open("http://site.test/")
    assert browser.has("Ouvrir") and browser.has("Envoyer maintenant") and not browser.has("Cours A")
    assert browser.click("Ouvrir", within="Cours B").text == "Cours b"  # the link without href is skipped
    browser.page = home
    assert browser.click("Envoyer maintenant").text == "Reçu 1 oui"
    browser.page = home
    with pytest.raises(BrowserError, match="no block containing « Cours C » on http://site.test/"):
        browser.click("Ouvrir", within="Cours C")
    with pytest.raises(BrowserError, match="no link or button « Fermer » on http://site.test/"):
        browser.click("Fermer")


def test_only_requests_that_carry_a_message_give_one():
    xml = '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1"/>'
    deflated = zlib.compress(xml.encode())[2:-4]
    redirect = "http://idp.test/sso?" + urlencode({"SAMLRequest": base64.b64encode(deflated).decode()})
    [message] = decode_messages(redirect, None)
    assert (message.kind, message.url, message.xml) == ("SAMLRequest", "http://idp.test/sso", xml)
    posted = decode_messages("http://sp.test/acs", {"SAMLResponse": base64.b64encode(xml.encode()).decode()})
    assert [(m.kind, m.url) for m in posted] == [("SAMLResponse", "http://sp.test/acs")]
    oidc = decode_messages("http://rp.test/cb?code=c&state=s", None)
    assert [m.kind for m in oidc] == ["OIDC authorization response"]
    assert decode_messages("http://sp.test/", None) == decode_messages("http://sp.test/", {}) == []
