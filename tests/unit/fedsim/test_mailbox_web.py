"""The web mailbox (fedsim.mailbox): HTML mail shown sanitised in a
sandboxed iframe, security headers, malformed mail that breaks nothing, and
the JSON API. Mails go over real SMTP to the sink on a free port."""
from __future__ import annotations

import html
import re
import smtplib
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import sessionmaker

from fedsim.db import make_engine
from fedsim.mailbox import sink
from fedsim.mailbox.app import create_app
from fedsim.mailbox.store import MailboxBase

HOST = "127.0.0.1"
EVIL_HTML = """<html><body><p id="kept">Bonjour</p>
<script>alert('script')</script>
<img src="x" onerror="alert('onerror')">
<a href="javascript:alert('js-link')">Cliquez</a>
<a href="https://example.org/activer?t=1">Activer</a>
<svg onload="alert('svg')"></svg><iframe src="https://evil.example/"></iframe>
</body></html>"""


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker:
    engine = make_engine(f"sqlite:///{tmp_path / 'mailbox.sqlite3'}")
    MailboxBase.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def smtp_port(sessions: sessionmaker):
    controller = sink.start(sessions, HOST, 0)
    yield sink.bound_port(controller)
    controller.stop()


@pytest.fixture
def client(sessions: sessionmaker) -> FlaskClient:
    return create_app(sessions).test_client()


def send(port: int, raw: bytes | str, to: str = "naima@example.org") -> None:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    with smtplib.SMTP(HOST, port, timeout=10) as smtp:
        smtp.sendmail("noreply@fedsim.test", [to], data)


def mime(subject: str, content_type: str, body: str, extra: str = "") -> str:
    return (f"From: noreply@fedsim.test\r\nTo: naima@example.org\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: {content_type}\r\n{extra}\r\n{body}\r\n")


def ids(client: FlaskClient) -> list[int]:
    answer = client.get("/api/messages")
    assert answer.status_code == 200
    return [m["id"] for m in answer.json["messages"]]


def iframe(page: str) -> tuple[str, str]:
    """The sandbox attribute and the (unescaped) srcdoc of the page's only iframe."""
    found = re.findall(r'<iframe[^>]*\ssandbox="([^"]*)"[^>]*\ssrcdoc="([^"]*)"', page)
    assert len(found) == 1, page
    return found[0][0], html.unescape(found[0][1])


def test_html_mail_is_sanitised_and_sandboxed(smtp_port: int, client: FlaskClient):
    send(smtp_port, mime("Piégé", 'text/html; charset="utf-8"', EVIL_HTML))
    [message_id] = ids(client)
    page = client.get(f"/messages/{message_id}").get_data(as_text=True)
    for survivor in ("alert(", "<script", "onerror", "onload", "javascript:", "evil.example"):
        assert survivor not in page.lower(), survivor
    sandbox, srcdoc = iframe(page)
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    assert '<base target="_blank">' in srcdoc
    assert '<p id="kept">Bonjour</p>' in srcdoc or "Bonjour" in srcdoc
    assert 'href="https://example.org/activer?t=1"' in srcdoc
    for survivor in ("<script", "onerror", "onload", "javascript:", "<iframe", "<svg"):
        assert survivor not in srcdoc.lower(), survivor
    assert page.count("<a ") == 1, "the mail's links are inside the iframe only (the page's own header link aside)"


def test_security_headers_on_mailbox_responses(smtp_port: int, client: FlaskClient):
    send(smtp_port, mime("Bonjour", 'text/html; charset="utf-8"', "<p>Bonjour</p>"))
    [message_id] = ids(client)
    for url in ("/", f"/messages/{message_id}", "/api/messages", f"/api/messages/{message_id}",
                "/messages/999", "/nowhere", "/mailbox-static/mailbox.css"):
        answer = client.get(url)
        answer.close()
        csp = answer.headers.get("Content-Security-Policy", "")
        for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
            assert directive in csp, (url, directive)
        assert "unsafe-inline" not in csp and "script-src" not in csp.replace("default-src", "")
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", url
        assert answer.headers.get("Referrer-Policy") == "no-referrer", url
    assert "<style" not in client.get("/").get_data(as_text=True), "no inline style: the CSP would block it"


MALFORMED = {
    "unknown charset": mime("Charset inconnu", 'text/plain; charset="x-no-such-charset"', "caf\u00e9".encode(
        "utf-8").decode("ascii", errors="replace"), "Content-Transfer-Encoding: 8bit\r\n").encode("utf-8"),
    "unknown charset, html": mime("Charset inconnu HTML", 'text/html; charset="x-klingon"',
                                  "PHA+Y2Fmw6k8L3A+", "Content-Transfer-Encoding: base64\r\n").encode(),
    "empty html part": mime("HTML vide", 'text/html; charset="utf-8"', "").encode(),
    "whitespace html part": mime("HTML blanc", 'text/html; charset="utf-8"', "   \r\n<!-- -->").encode(),
    "broken mime": ("From: x@y\r\nTo: naima@example.org\r\nSubject: MIME cassé\r\nMIME-Version: 1.0\r\n"
                    "Content-Type: multipart/alternative; boundary=\"nope\r\n\r\n--nope\r\nContent-Type: text/html\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@\r\n--other--\r\n").encode(),
    "multipart without boundary": ("From: x@y\r\nTo: naima@example.org\r\nSubject: Sans frontière\r\n"
                                   "Content-Type: multipart/mixed\r\n\r\nplain text\r\n").encode(),
    "no subject": b"From: x@y\r\nTo: naima@example.org\r\n\r\nsans objet\r\n",
    "no headers at all": b"\r\njust a body\r\n",
    "non-utf-8 headers": b"From: Andr\xe9 <x@y>\r\nTo: naima@example.org\r\nSubject: R\xe9sum\xe9 \xff\xfe\r\n"
                         b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                         b"Caf\xe9\r\n",
    "bad encoded word": b"From: x@y\r\nTo: naima@example.org\r\nSubject: =?x-bogus?Q?caf=E9?= =?utf-8?B?####?=\r\n\r\nx\r\n",
    "huge html (long lines, within SMTP's 1000)": mime(
        "Énorme", 'text/html; charset="utf-8"', ("<p>" + "x" * 990 + "</p>\r\n") * 2000).encode(),
}


def test_malformed_mails_break_nothing(smtp_port: int, client: FlaskClient):
    send(smtp_port, mime("Avant", 'text/html; charset="utf-8"', '<a href="https://example.org/a">Avant</a>'))
    for raw in MALFORMED.values():
        send(smtp_port, raw)
    send(smtp_port, mime("Après", 'text/html; charset="utf-8"', '<a href="https://example.org/b">Après</a>'))
    listed = client.get("/api/messages?limit=500").json["messages"]
    assert len(listed) == len(MALFORMED) + 2
    assert listed[0]["subject"] == "Après" and listed[0]["links"] == [{"text": "Après", "href": "https://example.org/b"}]
    assert listed[-1]["subject"] == "Avant" and listed[-1]["links"] == [{"text": "Avant", "href": "https://example.org/a"}]
    page = client.get("/")
    assert page.status_code == 200 and "Avant" in page.get_data(as_text=True)
    for message in listed:
        assert client.get(f"/messages/{message['id']}").status_code == 200, message["subject"]
        assert client.get(f"/api/messages/{message['id']}").status_code == 200, message["subject"]
    by_subject = {m["subject"]: m for m in listed}
    assert "" in by_subject, "no Subject reads as empty"
    assert by_subject["Charset inconnu HTML"]["html"] == "<p>café</p>", "unknown charset read as UTF-8"
    latin = next(m for m in listed if m["subject"].startswith("R"))
    assert latin["subject"].startswith("R\ufffdsum\ufffd"), "non-UTF-8 bytes become U+FFFD"
    assert client.get("/api/messages?subject=Apr").json["messages"][0]["subject"] == "Après"


def test_a_line_over_smtp_limit_is_refused_and_the_sink_goes_on(smtp_port: int, client: FlaskClient):
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(smtp_port, mime("Ligne géante", "text/plain", "y" * 200_000).encode())
    assert refused.value.smtp_code == 500
    send(smtp_port, mime("Ensuite", "text/plain", "ok"))
    assert [m["subject"] for m in client.get("/api/messages").json["messages"]] == ["Ensuite"]


def test_api_reads_one_message(smtp_port: int, client: FlaskClient):
    send(smtp_port, mime("Code", 'text/plain; charset="utf-8"', "Votre code : 123456"))
    [message_id] = ids(client)
    one = client.get(f"/api/messages/{message_id}")
    assert one.status_code == 200 and one.json["subject"] == "Code" and "123456" in one.json["text"]
    missing = client.get(f"/api/messages/{message_id + 1}")
    assert missing.status_code == 404 and missing.is_json


def test_delete_all_only_from_loopback_and_same_site(smtp_port: int, client: FlaskClient):
    send(smtp_port, mime("Un", "text/plain", "1"))
    send(smtp_port, mime("Deux", "text/plain", "2"))
    assert client.delete("/api/messages", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    for origin in ("http://evil.example", "http://localhost:5000", "null"):
        assert client.delete("/api/messages", headers={"Origin": origin}).status_code == 403, origin
    assert len(ids(client)) == 2, "nothing deleted by a refused request"
    assert client.delete("/api/messages", headers={"Origin": "http://localhost"}).json == {"deleted": 2}
    assert ids(client) == []
    assert client.delete("/api/messages", environ_base={"REMOTE_ADDR": "::1"}).json == {"deleted": 0}


README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_endpoint_documented_in_readme_answers(smtp_port: int, client: FlaskClient):
    send(smtp_port, mime("Doc", "text/plain", "x"))
    [message_id] = ids(client)
    rows = re.findall(r"^\| `(GET|DELETE) (/api/messages[^`]*)` \|", README.read_text(encoding="utf-8"), re.MULTILINE)
    assert {method for method, _ in rows} == {"GET", "DELETE"} and len(rows) >= 3, rows
    for method, path in rows:
        url = path.replace("<id>", str(message_id)).replace("{id}", str(message_id))
        answer = client.open(url, method=method)
        assert answer.status_code == 200 and answer.is_json, (method, path, answer.status_code)
