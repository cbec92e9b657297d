"""A deliberately weak SAML SP, written to be caught by the hostile-IdP
catalogue: it verifies no signature, checks no time, audience, destination
or request, reads the first NameID and attributes it finds (text up to the
first comment or entity), and sends the browser wherever RelayState says.
``rotate=False`` also keeps the session id across the login.
``encryption_key`` (a PEM private key file): it decrypts an
EncryptedAssertion with it (``fedsim.saml.encryption``'s decrypter, so
only AES-GCM and RSA-OAEP) and reads the result as above — and, though it
says it wants encrypted assertions, it takes a plain one just as well."""
from __future__ import annotations

import base64
import secrets
import zlib
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, make_response, redirect, request
from lxml import etree

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
HOST = "weak.example"
ENTITY_ID = f"http://{HOST}/metadata"
ACS = f"http://{HOST}/acs"


def create_app(idp_sso_url: str, *, rotate: bool = True, encryption_key: Path | None = None) -> Flask:
    from fedsim.saml.encryption import ENCRYPTED_ASSERTION, Decrypter
    from fedsim.saml.errors import SamlRefused

    app = Flask(__name__)
    decrypter = Decrypter.from_file(encryption_key) if encryption_key else None
    sessions: dict[str, dict] = {}

    def session_id() -> str | None:
        return request.cookies.get("weak_session")

    @app.get("/login")
    def login():
        request_id = "_" + secrets.token_hex(16)
        xml = (f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
               f'xmlns:saml="{SAML}" ID="{request_id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" '
               f'Destination="{idp_sso_url}" AssertionConsumerServiceURL="{ACS}">'
               f'<saml:Issuer>{ENTITY_ID}</saml:Issuer></samlp:AuthnRequest>')
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        encoded = base64.b64encode(deflate.compress(xml.encode()) + deflate.flush()).decode()
        query = urlencode({"SAMLRequest": encoded, "RelayState": request.args.get("next", "/home")})
        answer = make_response(redirect(f"{idp_sso_url}?{query}"))
        sid = session_id() or secrets.token_hex(16)
        sessions.setdefault(sid, {})
        answer.set_cookie("weak_session", sid)
        return answer

    @app.post("/acs")
    def acs():
        try:
            data = base64.b64decode(request.form.get("SAMLResponse", ""))
            root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        except Exception:  # noqa: BLE001 - weak, but not broken: garbage is a 400
            return "unreadable", 400
        for encrypted in list(root.iter(ENCRYPTED_ASSERTION)) if decrypter else ():
            try:
                hidden = etree.fromstring(decrypter.decrypt(encrypted),
                                          etree.XMLParser(resolve_entities=False, no_network=True))
            except (SamlRefused, etree.XMLSyntaxError):
                return "undecryptable", 400
            encrypted.getparent().replace(encrypted, hidden)
        name_id = next(root.iter(f"{{{SAML}}}NameID"), None)
        if name_id is None:
            return "no NameID", 400
        first = {}
        for attribute in root.iter(f"{{{SAML}}}Attribute"):
            value = next(attribute.iter(f"{{{SAML}}}AttributeValue"), None)
            first.setdefault(attribute.get("Name"), value.text if value is not None else "")
        sid = session_id() if not rotate and session_id() else secrets.token_hex(16)
        sessions[sid] = {"name_id": name_id.text, "name": f"{first.get('givenName')} {first.get('surname')}"}
        answer = make_response(redirect(request.form.get("RelayState") or "/home"))
        answer.set_cookie("weak_session", sid)
        return answer

    @app.get("/home")
    def home():
        user = sessions.get(session_id() or "", {})
        if not user.get("name_id"):
            return redirect("/login?next=/home")
        return f"<html><body><main>Bonjour {user['name']}</main></body></html>"

    return app
