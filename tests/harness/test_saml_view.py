"""fedsim_harness.scenario.saml_view: SAML messages read for reports, on
real signed messages (fedsim.saml's IdP and SP with keys made under
tmp_path): what they say, and whether their signatures verify against the
federation's metadata — a tampered message, or one signed with another
key, must be shown as NOT verified."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from cryptography import x509
from sqlalchemy.orm import Session

from fedsim import trust
from fedsim.db import make_engine
from fedsim.federation import Settings, entities
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.state import SamlStateBase
from fedsim_harness.scenario import saml_view
from fedsim_harness.scenario.browser import SamlMessage, decode_saml
from fedsim_harness.scenario.saml_view import Trust

LEVEL = "urn:be:fedict:iam:fas:Level500"
ATTRIBUTES = {"egovNRN": ["85031215431"], "givenName": ["Naïma"], "surname": ["Mremi"]}


def _settings(root: Path) -> Settings:
    settings = dataclasses.replace(Settings(), certs_dir=root / "certs", instance_dir=root / "instance")
    trust.ensure(settings)
    return settings


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _settings(tmp_path_factory.mktemp("genuine"))


@pytest.fixture(scope="module")
def federation_trust(settings: Settings) -> Trust:
    return Trust.from_certs_dir(settings.certs_dir)


@dataclasses.dataclass
class Exchange:
    request: SamlMessage  # the SP's AuthnRequest, HTTP-Redirect
    response: SamlMessage  # the IdP's Response, HTTP-POST
    idp: IdentityProvider
    sp: ServiceProvider


def exchange(settings: Settings, db: Session, signed_by: Settings | None = None) -> Exchange:
    """A real login: the SP's signed AuthnRequest and the IdP's signed
    Response, as the browser carried them. ``signed_by``: the IdP uses that
    federation's keys (same entity IDs, other keys)."""
    sp = ServiceProvider(trust.entity_config(settings, "monespace-sp"),
                         idp_entity_id=entities(settings)["csam-idp"].entity_id)
    idp = IdentityProvider(trust.entity_config(settings, "csam-idp"))
    signer = IdentityProvider(trust.entity_config(signed_by, "csam-idp")) if signed_by else idp
    url, _relay_state = sp.start_login(db, "/tableau-de-bord")
    info = idp.parse_redirect(dict(parse_qsl(urlsplit(url).query)))
    form = signer.respond(info, subject="pairwise-subject", attributes=ATTRIBUTES, authn_context=LEVEL)
    [request] = decode_saml(url, None)
    [response] = decode_saml(form.action, form.fields)
    return Exchange(request, response, idp, sp)


@pytest.fixture
def db(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sp.sqlite3'}")
    SamlStateBase.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def fingerprint(settings: Settings, name: str) -> str:
    cert = x509.load_pem_x509_certificate((settings.certs_dir / f"{name}.crt").read_bytes())
    digest = hashlib.sha256(cert.public_bytes(encoding=_der())).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, 16, 2))


def _der():  # noqa: ANN202
    from cryptography.hazmat.primitives.serialization import Encoding
    return Encoding.DER


def tampered(message: SamlMessage, old: str, new: str) -> SamlMessage:
    assert old in message.raw
    return dataclasses.replace(message, raw=message.raw.replace(old, new), xml=message.xml.replace(old, new))


# -- what a genuine Response says ----------------------------------------------------------


def test_a_genuine_response_read_and_its_signatures_verified(settings: Settings, federation_trust: Trust,
                                                             db: Session) -> None:
    login = exchange(settings, db)
    view = saml_view.read(login.response, federation_trust)

    assert (view.kind, view.parameter, view.binding) == ("Response", "SAMLResponse", "HTTP-POST")
    assert view.issuer == login.idp.entity_id and view.issuer_name == "csam-idp (CSAM)"
    assert view.destination == login.sp.acs_url and view.status == "Success"
    assert view.in_response_to and view.issue_instant
    [assertion] = view.assertions
    assert assertion.issuer == login.idp.entity_id
    assert assertion.audiences == (login.sp.entity_id,)
    assert (assertion.name_id, saml_view.short_uri(assertion.name_id_format)) == ("pairwise-subject", "persistent")
    assert assertion.level == (LEVEL,)
    assert assertion.not_before and assertion.not_on_or_after > assertion.not_before
    assert "bearer" in assertion.confirmation and login.sp.acs_url in assertion.confirmation
    assert dict(assertion.attributes)["givenName"] == ("Naïma",)
    assert dict(assertion.attributes)["egovNRN"] == ("85031215431",)

    checks = [*view.signatures, assertion.signature]
    assert [c.what for c in checks] == ["Response", "Assertion"]
    short = fingerprint(settings, "csam-idp")
    for check in checks:
        assert check.verified is True, check.reason
        assert check.algorithm == "RSA-SHA256"
        assert check.signer.startswith("csam-idp (CSAM)") and short in check.signer
        assert check.summary.startswith("signature verified")
    assert view.verified is True
    assert "<ns1:Assertion" in view.xml or ":Assertion" in view.xml
    assert "\n  <" in view.xml  # pretty-printed
    assert "SignatureValue" in view.xml  # the XML as sent, signatures included


def test_the_authn_request_and_its_query_string_signature(settings: Settings, federation_trust: Trust,
                                                          db: Session) -> None:
    login = exchange(settings, db)
    view = saml_view.read(login.request, federation_trust)

    assert (view.kind, view.binding) == ("AuthnRequest", "HTTP-Redirect")
    assert view.issuer == login.sp.entity_id and view.issuer_name == "monespace-sp (Mon Espace)"
    assert view.acs_url == login.sp.acs_url and view.sig_alg == "RSA-SHA256" and view.relay_state
    [check] = view.signatures
    assert check.what == "AuthnRequest (query string)"
    assert check.verified is True and fingerprint(settings, "monespace-sp") in check.signer


# -- what must not verify -----------------------------------------------------------------------


def test_a_tampered_response_is_not_verified_and_shows_what_it_says(settings: Settings, federation_trust: Trust,
                                                                   db: Session) -> None:
    login = exchange(settings, db)
    view = saml_view.read(tampered(login.response, "Naïma", "Mallory"), federation_trust)

    assert dict(view.assertions[0].attributes)["givenName"] == ("Mallory",)
    assert view.verified is False
    for check in (*view.signatures, view.assertions[0].signature):
        assert check.verified is False
        assert check.summary.startswith("signature NOT verified")
        assert "csam-idp" not in check.signer


def test_a_response_signed_with_a_key_not_in_metadata_is_not_verified(settings: Settings, federation_trust: Trust,
                                                                      db: Session, tmp_path: Path) -> None:
    impostor = _settings(tmp_path / "impostor")  # same entity IDs, other keys
    login = exchange(settings, db, signed_by=impostor)
    view = saml_view.read(login.response, federation_trust)

    assert view.issuer == login.idp.entity_id  # it says it is CSAM…
    [check] = view.signatures
    assert check.verified is False and "does not verify" in check.reason
    assert check.claimed.startswith("KeyInfo carries a certificate SHA-256 ")  # …with a key nobody publishes
    assert fingerprint(impostor, "csam-idp") in check.claimed


def test_a_tampered_query_string_is_not_verified(settings: Settings, federation_trust: Trust, db: Session) -> None:
    login = exchange(settings, db)
    params = dict(parse_qsl(login.request.query))
    params["RelayState"] = "elsewhere"
    forged = dataclasses.replace(login.request, query=urlencode(params))
    [check] = saml_view.read(forged, federation_trust).signatures
    assert check.verified is False and check.summary.startswith("signature NOT verified")


def test_a_response_without_signatures_is_not_verified(settings: Settings, federation_trust: Trust,
                                                       db: Session) -> None:
    import re

    login = exchange(settings, db)
    bare = re.sub(r"<(\w+:)?Signature\b.*?</\1Signature>", "", login.response.raw, flags=re.DOTALL)
    view = saml_view.read(dataclasses.replace(login.response, raw=bare), federation_trust)
    assert [c.reason for c in view.signatures] == ["the Response is not signed"]
    assert view.assertions[0].signature.reason == "the Assertion is not signed"
    assert view.verified is False


# -- what cannot be checked, said so ----------------------------------------------------------


def test_without_metadata_or_a_signed_copy_signatures_are_not_checked(settings: Settings, db: Session) -> None:
    login = exchange(settings, db)
    assert {c.verified for c in saml_view.read(login.response).signatures} == {None}
    old_trace = SamlMessage(login.response.kind, login.response.url, login.response.xml)  # no raw kept
    view = saml_view.read(old_trace, Trust.from_certs_dir(settings.certs_dir))
    assert view.verified is None and "no signed copy" in view.signatures[0].reason
    assert dict(view.assertions[0].attributes)["surname"] == ("Mremi",)


def test_an_unreadable_message_says_why() -> None:
    for message in (SamlMessage("SAMLResponse", "http://sp/acs", "(undecodable: bad)", raw="(undecodable: bad)"),
                    SamlMessage("SAMLResponse", "http://sp/acs", "<a>", raw="<a>"),
                    SamlMessage("SAMLResponse", "http://sp/acs", "x", raw='<!DOCTYPE a [<!ENTITY e "x">]><a/>')):
        view = saml_view.read(message, Trust())
        assert view.error and not view.assertions


def test_trust_from_the_certs_folder_names_each_entity(settings: Settings, federation_trust: Trust) -> None:
    table = entities(settings)
    for name in ("csam-idp", "monespace-sp", "cerbere-idp", "modigia-sp"):
        [cert] = federation_trust.of(table[name].entity_id)
        assert cert.name == name and fingerprint(settings, name) in cert.label
    assert federation_trust.name_of(table["cerbere-idp"].entity_id) == "cerbere-idp (Cerbère Citoyen)"
    pem = (settings.certs_dir / "csam-idp.crt").read_text()
    assert federation_trust.named(Trust.from_mapping({"x": [pem]}).certificates[0].certificate).name == "csam-idp"
    assert base64.b64decode(federation_trust.of(table["csam-idp"].entity_id)[0].certificate)
